r"""Explanations an LM writes, checked against the shop's truth: which attributes does it assert, and are they true?

An explanation of item :math:`i` for user :math:`u` *asserts* a set :math:`A` of attributes
(:func:`extract_attributes` reads them off the text: every surface form of the shop's vocabulary).
Against the item's true attributes :math:`X_i` and the user's liked ones :math:`L_u`
(:math:`\theta_u > 0`):

.. math:: \text{hallucinated} = |A \setminus X_i|, \qquad \text{agree} = |A \cap L_u|,

and over explanations :math:`e = 1 \dots n` the pooled hallucination rate is the ratio
:math:`\hat r = \sum_e h_e / \sum_e a_e` (:func:`hallucination_summary`), whose standard error is
the ratio estimator's (delta method)

.. math:: \mathrm{SE}(\hat r) = \frac{1}{\bar a}\sqrt{\frac{\sum_e (h_e - \hat r\, a_e)^2}{n(n-1)}} .

The baseline is lesson 07's template (:func:`template_explanations`): it names only attributes the
item has, so it hallucinates nothing by construction, and the question is what the LM adds or breaks.

>>> sorted(extract_attributes("A rainproof, fast-drying jacket from Lumen. Easy on the wallet."))
['brand=Lumen', 'category=outerwear', 'price=budget', 'word=quick-drying', 'word=waterproof']
>>> sorted(extract_attributes('It matches your taste for waterproof word and home category.'))
['category=home', 'word=waterproof']
"""
from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_positive_int, check_seed
from coursekit.datasets.shop.vocabulary import (
    BAND_FORMS,
    BRANDS,
    CATEGORIES,
    CATEGORY_FORMS,
    FILLERS,
    NOUN_FORMS,
    WORD_FORMS,
    attribute_names,
)
from coursekit.generative.lm import detokenize, review_prompt

__all__ = ["explanation_prompt", "generate_explanations", "surface_forms", "extract_attributes",
           "check_explanations", "hallucination_summary", "item_attribute_sets", "liked_attribute_sets",
           "template_explanations"]


def explanation_prompt(history_titles: Sequence[str], item_title: str) -> str:
    """The prompt an LM explanation continues: the start of a review document of the corpus.

    >>> explanation_prompt(["Lumen Willow mug"], "Nimbus Echo kettle")
    'A customer who bought Lumen Willow mug wrote about Nimbus Echo kettle:'
    """
    return review_prompt(history_titles, item_title)


def generate_explanations(model: Any, tokenizer: Any, prompts: Sequence[str], max_new_tokens: int = 30,
                          seed: int = 0, sample: bool = False, temperature: float = 1.0, top_k: int | None = None,
                          batch_size: int = 64) -> list[str]:
    """The text ``model.generate`` writes after each prompt, up to ``[EOS]`` (detokenised, prompt removed).

    ``sample=False`` is greedy decoding; ``sample=True`` draws with ``temperature`` (and ``top_k``), seeded
    by ``seed`` so the same call returns the same texts. Prompts are grouped by token length, so no
    padding is needed and each text is what the model writes for its prompt alone.
    """
    import torch

    from coursekit.text.encoder import quiet_loading

    max_new_tokens = check_positive_int(max_new_tokens, "max_new_tokens")
    batch_size = check_positive_int(batch_size, "batch_size")
    prompts = [str(p) for p in prompts]
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    ids = [[bos] + s for s in (tokenizer(prompts, add_special_tokens=False)["input_ids"] if prompts else [])]
    n_pos = int(model.config.n_positions)
    too_long = [r for r, s in enumerate(ids) if len(s) + max_new_tokens > n_pos]
    if too_long:
        raise CourseKitError(f"prompt {too_long[0]} has {len(ids[too_long[0]])} tokens; with max_new_tokens="
                             f"{max_new_tokens} it exceeds the model's context ({n_pos}). Shorten the history.")
    device = next(model.parameters()).device
    lengths = np.array([len(s) for s in ids])
    out = [""] * len(ids)
    extra: dict[str, Any] = {"do_sample": bool(sample)}
    if sample:
        extra.update(temperature=float(temperature), top_k=int(top_k) if top_k else 0)
    model.eval()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(check_seed(seed))
        for L in np.unique(lengths):
            rows = np.flatnonzero(lengths == L)
            for s in range(0, len(rows), batch_size):
                block = rows[s:s + batch_size]
                inp = torch.as_tensor([ids[r] for r in block], device=device)
                with quiet_loading():     # no "pass an attention_mask" notice for rows that already ended
                    gen = model.generate(input_ids=inp, attention_mask=torch.ones_like(inp),
                                         max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                         eos_token_id=tokenizer.eos_token_id, **extra)
                for r, row in zip(block, gen[:, int(L):].tolist()):
                    if tokenizer.eos_token_id in row:
                        row = row[:row.index(tokenizer.eos_token_id)]
                    out[r] = detokenize(tokenizer.decode(row, skip_special_tokens=True))
    return out


# ---------------------------------------------------------------------------- reading attributes off text
@functools.lru_cache(maxsize=1)
def surface_forms() -> dict[str, str | None]:
    """Every lower-cased surface form of the shop's vocabulary -> the attribute it names (``None``: filler).

    Adjective and sentence forms of the words and price bands, category names and product nouns
    (a "raincoat" is outerwear), brands, the canonical ``"<value> <kind>"`` wording of lesson 07's
    template ("waterproof word", "budget price") and the filler sentences, which name nothing
    ("Ships in recycled packaging." is not a claim that the item is recycled).

    >>> surface_forms()["keeps the rain out"], surface_forms()["trail boot"], surface_forms()["lumen brand"]
    ('word=waterproof', 'category=footwear', 'brand=Lumen')
    """
    forms: dict[str, str | None] = {}

    def add(text: str, name: str | None) -> None:
        forms[text.lower().rstrip(".").strip()] = name

    for word, (adjs, sentences) in WORD_FORMS.items():
        for f in (*adjs, *sentences):
            add(f, f"word={word}")
    for band, (adjs, sentences) in BAND_FORMS.items():
        for f in (*adjs, *sentences):
            add(f, f"price={band}")
    for cat, nouns in CATEGORIES.items():
        for f in (*CATEGORY_FORMS[cat], *(form for noun in nouns for form in NOUN_FORMS[noun])):
            add(f, f"category={cat}")
    for brand in BRANDS:
        add(brand, f"brand={brand}")
    for name in attribute_names():                      # lesson 07's template: "waterproof word", "home category"
        kind, value = name.split("=", 1)
        add(f"{value} {kind}", name)
    for f in FILLERS:
        add(f, None)
    return forms


@functools.lru_cache(maxsize=1)
def _pattern() -> re.Pattern:
    alternatives = sorted(surface_forms(), key=lambda f: (-len(f), f))      # longest match first
    body = "|".join(re.escape(f).replace(r"\ ", r"\s+") for f in alternatives)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE)


_QUOTED = re.compile(r'"[^"]*"')


def extract_attributes(text: str, ignore_quoted: bool = True) -> set[str]:
    """The attribute names (``"word=waterproof"``, ``"category=kitchen"``, ``"price=budget"``, ``"brand=Lumen"``)
    that ``text`` asserts, by matching every form of :func:`surface_forms`.

    Case-insensitive, on word boundaries (a hyphen is part of a word), longest form first at each position
    (so "quick-drying" is quick-drying and "Stainless steel that will not rust" one sentence form).
    ``ignore_quoted`` drops quoted titles first: lesson 07's template quotes the titles of the user's
    history, which name *other* items' brands and nouns. Spaces a word-level decoder put around
    punctuation are removed first (:func:`~coursekit.generative.lm.detokenize`).
    """
    if not isinstance(text, str):
        raise CourseKitError(f"text must be a string, got {type(text).__name__}.")
    if ignore_quoted:
        text = _QUOTED.sub(" ", text)
    forms = surface_forms()
    found = {forms[re.sub(r"\s+", " ", m.group(0).lower())] for m in _pattern().finditer(detokenize(text))}
    return {f for f in found if f is not None}


# ---------------------------------------------------------------------------- checking against the truth
def item_attribute_sets(truth: Mapping) -> dict[Any, set[str]]:
    """Item id -> the set of its true attribute names (from ``truth["item_attributes"]``)."""
    X = truth["item_attributes"]
    names = np.asarray(X.columns, dtype=object)
    M = X.to_numpy() > 0
    return {i: set(names[row]) for i, row in zip(X.index, M)}


def liked_attribute_sets(truth: Mapping, users: ArrayLike, top: int | None = None,
                         time: ArrayLike | None = None) -> list[set[str]]:
    """Per user, the attributes with positive taste :math:`\\theta_u > 0` (at ``time``, see ``taste_at``);
    ``top`` keeps only the ``top`` largest of them."""
    from coursekit.datasets.shop import taste_at

    theta = taste_at(truth, users, time)
    names = np.asarray(truth["attribute_names"], dtype=object)
    if top is not None:
        top = check_positive_int(top, "top")
        cut = -np.sort(-theta, axis=1)[:, min(top, theta.shape[1]) - 1:min(top, theta.shape[1])]
        keep = (theta > 0) & (theta >= cut)
    else:
        keep = theta > 0
    return [set(names[row]) for row in keep]


def check_explanations(asserted: Sequence[set], item_attrs: Sequence[set], user_likes: Sequence[set]) -> pd.DataFrame:
    """Per explanation: ``n_asserted``, ``n_true`` (asserted and the item has it), ``n_hallucinated`` (asserted,
    the item does not have it), ``n_agree`` (asserted and the user likes it) and the shares of the assertions.

    >>> f = check_explanations([{"word=soft", "brand=Lumen"}], [{"word=soft"}], [{"brand=Lumen"}])
    >>> f[["n_asserted", "n_hallucinated", "n_agree"]].iloc[0].tolist(), float(f["hallucination_share"].iloc[0])
    ([2, 1, 1], 0.5)
    """
    if not (len(asserted) == len(item_attrs) == len(user_likes)):
        raise CourseKitError(f"asserted, item_attrs and user_likes need one entry per explanation, got "
                             f"{len(asserted)}, {len(item_attrs)} and {len(user_likes)}.")
    a = np.array([len(set(s)) for s in asserted])
    t = np.array([len(set(s) & set(x)) for s, x in zip(asserted, item_attrs)])
    g = np.array([len(set(s) & set(u)) for s, u in zip(asserted, user_likes)])
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"n_asserted": a, "n_true": t, "n_hallucinated": a - t, "n_agree": g,
                             "hallucination_share": np.where(a > 0, (a - t) / a, np.nan),
                             "agree_share": np.where(a > 0, g / a, np.nan)})


def _ratio(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """Pooled ratio sum(num)/sum(den) and its delta-method SE over units (NaN when nothing is asserted)."""
    n, total = len(den), den.sum()
    if total == 0:
        return float("nan"), float("nan")
    r = num.sum() / total
    se = np.sqrt(((num - r * den) ** 2).sum() / (n * (n - 1))) / den.mean() if n > 1 else float("nan")
    return float(r), float(se)


def hallucination_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Pooled rates over explanations (rows of :func:`check_explanations`) with standard errors.

    Rows: ``hallucination_rate`` and ``agree_rate`` (assertions pooled over explanations; ratio-estimator
    SE, see the module docstring), ``any_hallucination`` (share of explanations asserting something that
    have at least one hallucinated attribute; binomial SE), ``asserts_nothing`` (share of all explanations)
    and ``attributes_per_explanation`` (mean with SE).
    """
    a = frame["n_asserted"].to_numpy(float)
    h, g = frame["n_hallucinated"].to_numpy(float), frame["n_agree"].to_numpy(float)
    some = a > 0

    def share(x: np.ndarray) -> tuple[float, float, int]:
        if len(x) == 0:
            return float("nan"), float("nan"), 0
        return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan"), len(x)

    rows = {"hallucination_rate": (*_ratio(h, a), len(a)), "agree_rate": (*_ratio(g, a), len(a)),
            "any_hallucination": share((h[some] > 0).astype(float)), "asserts_nothing": share((~some).astype(float)),
            "attributes_per_explanation": share(a)}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "se", "n"])


def template_explanations(model: Any, truth: Mapping, users: ArrayLike, items: ArrayLike, titles: Mapping,
                          method: str | None = None, k: int = 2, n_attributes: int = 2,
                          reg: float = 1.0) -> pd.DataFrame:
    """Lesson 07's template sentences for (user, item) pairs: :func:`coursekit.explain.templates.because` with the
    attributes of :func:`coursekit.explain.attributes.attribute_explanation` (the user's ridge weights on the
    item's attributes, :func:`~coursekit.explain.attributes.attribute_weights`).

    ``method`` (``"exact"``, ``"kernel_shap"``, ...) also names the history items with
    :func:`coursekit.explain.explain`; ``None`` names attributes only. Returns ``user_id``, ``item_id``,
    ``text`` and ``attributes`` (the set the sentence asserts, as ``because`` reports it).
    """
    from coursekit.explain import explain
    from coursekit.explain.attributes import attribute_explanation, attribute_weights
    from coursekit.explain.contributions import contributions_frame
    from coursekit.explain.templates import because

    users, items = np.asarray(users), np.asarray(items)
    if users.shape != items.shape or users.ndim != 1:
        raise CourseKitError(f"users and items must be 1-D and of the same length (one pair each), got shapes "
                             f"{users.shape} and {items.shape}.")
    names = list(truth["attribute_names"])
    X = truth["item_attributes"].loc[model.items_.ids].to_numpy(dtype=np.float64)
    uniq, inv = np.unique(users, return_inverse=True)
    W = attribute_weights(model.score(uniq), X, reg)
    x_items = truth["item_attributes"].loc[items].to_numpy()
    none = contributions_frame([], [], method="none")
    rows = []
    for r, (u, i) in enumerate(zip(users, items)):
        attrs = attribute_explanation(W[inv[r]], x_items[r], names)
        frame = explain(model, u, i, method) if method is not None else none
        text, facts = because(frame, titles, str(titles.get(i, i)), k=k, attributes=attrs, n_attributes=n_attributes)
        rows.append({"user_id": u, "item_id": i, "text": text, "attributes": set(facts["attributes"])})
    return pd.DataFrame(rows)
