"""The item catalogue: attributes, popularity, release times, and the texts (titles, copy, reviews).

Titles are short ("Bluestem Willow vase"); descriptions are product copy in which every
attribute appears in one of several surface forms (:mod:`coursekit.datasets.shop.vocabulary`),
in random order and sentence shapes, mixed with filler sentences. Reviews name the item word
the reviewer likes (or dislikes) most. The texts are drawn from their own random stream, so
the wording never changes the events.

>>> cols = item_columns(np.array([0]), np.array([1]), np.array([2]), np.array([[0, 1, 2]]))
>>> np.flatnonzero(attribute_matrix(cols)[0]).tolist()
[0, 9, 30, 31, 32, 33]
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from coursekit.datasets.shop.params import DAY, EPOCH, ShopParams
from coursekit.datasets.shop.vocabulary import (
    BAND_FORMS,
    BAND_OFFSET,
    BRAND_OFFSET,
    BRANDS,
    CATEGORIES,
    CATEGORY_FORMS,
    FILLERS,
    LINE_NAMES,
    N_ATTRIBUTES,
    N_BRANDS,
    N_CATEGORIES,
    N_PRICE_BANDS,
    N_WORDS,
    N_WORDS_PER_ITEM,
    NOUN_FORMS,
    PRICE_BANDS,
    WORD_FORMS,
    WORD_OFFSET,
    WORDS,
)

__all__ = ["item_columns", "attribute_matrix", "make_items", "item_table", "review_texts"]

_OPENERS_ADJ = (
    "The {brand} {line} is a {adjs} {noun}.", "Meet the {line}: a {adjs} {noun} from {brand}.",
    "A {adjs} {noun} by {brand}.", "Introducing the {brand} {line}, our {adjs} {noun}.",
    "{brand} {line}: the {adjs} {noun} you have been waiting for.",
)
_OPENERS_PLAIN = ("{brand} presents the {line} {noun}.", "{line} {noun} by {brand}.", "This {noun} comes from {brand}.")
_LISTS = ("It is {a}.", "{A}, as promised.", "Wonderfully {a}.", "{A} and {b}.", "Features: {a}, {b}.",
          "It is {a} and {b}.", "{A}, {b} and {c}.", "{A}, {b}, and {c} as well.")
_CATEGORY_SENTENCES = ("Part of our {cat} range.", "Find more in {cat}.", "A favourite in our {cat} shop.")
_REVIEWS = {  # by sentiment: 0 negative (1-2 stars), 1 mixed (3), 2 positive (4-5)
    0: ("Disappointed: too {wd} for me, and not worth it for a {band} {noun}.",
        "Returned it. I do not want a {wd} {noun}, even from {brand}.",
        "The {wd} design put me off; I expected more from {brand}.",
        "Not for me. The {noun} is {wd} and that is a deal-breaker."),
    1: ("Decent {noun}. I like that it is {wl}, but the {wd} part is meh.",
        "Okay for a {band} item. {WL} as promised, nothing special otherwise.",
        "It does the job. {WL} is nice, {wd} less so."),
    2: ("Love the {wl} {noun}, great value for a {band} item.",
        "{brand} got it right: {wl} and exactly as described.",
        "Really happy with this {noun}. The {wl} feel is just what I wanted.",
        "Would buy again. {WL} and well made."),
}
_REVIEW_TAILS = ("", "", "", " Arrived quickly.", " Bought it as a gift.", " Packaging was fine.",
                 " Delivery took a while.", " My second one already.")

def item_columns(category: np.ndarray, brand: np.ndarray, band: np.ndarray, words: np.ndarray) -> np.ndarray:
    """(n_items, 6) int array: the attribute columns that are 1 for each item."""
    return np.column_stack([category, BRAND_OFFSET + brand, BAND_OFFSET + band, WORD_OFFSET + words])


def attribute_matrix(cols: np.ndarray) -> np.ndarray:
    """Dense binary (n_items, F) matrix from the active columns."""
    x = np.zeros((cols.shape[0], N_ATTRIBUTES), dtype=np.int8)
    x[np.arange(cols.shape[0])[:, None], cols] = 1
    return x


# ------------------------------------------------------------------ helpers
def _top_k_random(rng: np.random.Generator, logits: np.ndarray, k: int) -> np.ndarray:
    """k distinct indices per row, drawn without replacement with P proportional to exp(logits) (Gumbel top-k)."""
    keys = logits + rng.gumbel(size=logits.shape)
    return np.argsort(-keys, axis=1, kind="stable")[:, :k]


def _render(templates: tuple[str, ...], choice: np.ndarray, fields: dict[str, np.ndarray]) -> np.ndarray:
    """Fill ``templates[choice[r]]`` with row r of ``fields``, vectorized per template.

    >>> _render(("{a}-{b}", "{b}!"), np.array([0, 1]), {"a": np.array(["x", "y"]), "b": np.array(["1", "2"])}).tolist()
    ['x-1', '2!']
    """
    import string

    out = np.empty(len(choice), dtype=object)
    for k, template in enumerate(templates):
        rows = np.flatnonzero(choice == k)
        if rows.size == 0:
            continue
        text = np.full(rows.size, "", dtype=object)
        for literal, name, _, _ in string.Formatter().parse(template):
            text = text + literal
            if name is not None:
                text = text + np.asarray(fields[name], dtype=object)[rows]
        out[rows] = text
    return out


def _cap(words) -> np.ndarray:
    return np.array([w[:1].upper() + w[1:] for w in words], dtype=object)

# ------------------------------------------------------------------ catalogue
def make_items(rng: np.random.Generator, n_items: int, days: int, late_frac: float,
                params: ShopParams) -> dict[str, Any]:
    category = rng.choice(N_CATEGORIES, size=n_items, p=rng.dirichlet(np.full(N_CATEGORIES, 5.0)))
    brand_band = rng.integers(N_PRICE_BANDS, size=N_BRANDS)  # each brand has a usual price band
    brand = rng.integers(N_BRANDS, size=n_items)
    band = np.where(rng.random(n_items) < 0.6, brand_band[brand], rng.integers(N_PRICE_BANDS, size=n_items))
    word_pref = np.log(rng.dirichlet(np.full(N_WORDS, 0.5), size=N_CATEGORIES) + 1e-12)  # per category
    words = _top_k_random(rng, word_pref[category], N_WORDS_PER_ITEM)

    rank = rng.permutation(n_items) + 1
    quality = np.round(-params.zipf_exponent * np.log(rank), 4)
    # rating bias (quality as judged by raters): correlated with popularity, not equal to it
    z = -np.log(rank)
    z = (z - z.mean()) / (z.std() or 1.0)
    rho = params.item_bias_popularity_corr
    rating_bias = np.round(params.item_bias_sd * (rho * z + np.sqrt(1.0 - rho**2) * rng.normal(size=n_items)), 4)

    release = np.zeros(n_items, dtype=np.int64)
    late = rng.permutation(n_items)[: int(round(late_frac * n_items))]
    release[late] = rng.integers(int(days * DAY / 6), int(days * DAY * 5 / 6), size=late.size)
    return dict(category=category, brand=brand, band=band, words=words, quality=quality,
                rating_bias=rating_bias, release=EPOCH + release)


def _describe_item(rng: np.random.Generator, brand: str, line: str, noun: str, category: str, band: str,
                   words: list[str]) -> str:
    """One product description: every attribute in one of its surface forms, in random order, plus filler."""
    noun_form = NOUN_FORMS[noun][rng.integers(len(NOUN_FORMS[noun]))]
    attrs = [BAND_FORMS[band]] + [WORD_FORMS[w] for w in words]
    order = rng.permutation(len(attrs))
    # each attribute is an adjective in the opener, an item of a list sentence, or a sentence of its own
    slot = rng.choice(3, size=len(attrs), p=[0.35, 0.35, 0.3])
    in_opener = [k for k in order if slot[k] == 0][:2]
    listed = [k for k in order if slot[k] == 1 or (slot[k] == 0 and k not in in_opener)]
    alone = [k for k in order if slot[k] == 2]

    def adj(k: int) -> str:
        forms = attrs[k][0]
        return forms[rng.integers(len(forms))]

    if in_opener:
        template = _OPENERS_ADJ[rng.integers(len(_OPENERS_ADJ))]
        adjs = " ".join(adj(k) for k in in_opener) if len(in_opener) == 1 or rng.random() < 0.5 \
            else ", ".join(adj(k) for k in in_opener)
    else:
        template = _OPENERS_PLAIN[rng.integers(len(_OPENERS_PLAIN))]
        adjs = ""
    opener = template.format(brand=brand, line=line, noun=noun_form, adjs=adjs)
    opener = opener[:1].upper() + opener[1:]
    body: list[str] = []
    while listed:
        n = min(len(listed), int(rng.integers(1, 4)))
        part, listed = listed[:n], listed[n:]
        options = [t for t in _LISTS if t.count("{") == n]
        values = [adj(k) for k in part] + ["", ""]
        text = options[rng.integers(len(options))].format(a=values[0], A=values[0][:1].upper() + values[0][1:],
                                                          b=values[1], c=values[2])
        body.append(text)
    for k in alone:
        forms = attrs[k][1]
        body.append(forms[rng.integers(len(forms))])
    if rng.random() < 0.4:
        cat = CATEGORY_FORMS[category]
        body.append(_CATEGORY_SENTENCES[rng.integers(len(_CATEGORY_SENTENCES))].format(cat=cat[rng.integers(len(cat))]))
    n_fill = int(rng.choice(3, p=[0.35, 0.45, 0.2]))
    body += [FILLERS[j] for j in rng.choice(len(FILLERS), size=n_fill, replace=False)]
    body = [body[j] for j in rng.permutation(len(body))]
    return _articles(" ".join([opener, *body]))


_AN = re.compile(r"\b([Aa]) (?=[aeiouAEIO])")


def _articles(text: str) -> str:
    """'a' -> 'an' before a vowel sound ("an affordable mug"; "a USB-rechargeable lamp" stays).

    >>> _articles("A airy vest and a USB-rechargeable lamp, a organic mug.")
    'An airy vest and a USB-rechargeable lamp, an organic mug.'
    """
    return _AN.sub(lambda m: m.group(1) + "n ", text)


def item_table(it: dict[str, Any], rng: np.random.Generator) -> pd.DataFrame:
    """Readable item table (short title, product copy, attributes, release time); ``rng`` draws only the text."""
    n = len(it["category"])
    cat_names = np.array(list(CATEGORIES), dtype=object)
    nouns = _nouns(it["category"], it["noun"])
    words = np.array(WORDS, dtype=object)
    brands = np.array(BRANDS, dtype=object)[it["brand"]]
    lines = np.array(LINE_NAMES, dtype=object)[it["line"]]
    bands = np.array(PRICE_BANDS, dtype=object)[it["band"]]
    text = [_describe_item(rng, brands[j], lines[j], nouns[j], cat_names[it["category"][j]], bands[j],
                           words[it["words"][j]].tolist()) for j in range(n)]
    title = brands + " " + lines + " " + nouns
    return pd.DataFrame({
        "item_id": np.arange(1, n + 1, dtype=np.int64),
        "title": pd.array(title, dtype="str"),
        "text": pd.array(np.array(text, dtype=object), dtype="str"),
        "category": pd.array(cat_names[it["category"]], dtype="str"),
        "brand": pd.array(brands, dtype="str"),
        "price_band": pd.array(bands, dtype="str"),
        "words": list(words[it["words"]].tolist()),
        "release_time": it["release"].astype(np.int64),
    })


def _pick_form(rng: np.random.Generator, forms: list[tuple[str, ...]], index: np.ndarray) -> np.ndarray:
    """For each entry of ``index``, one of ``forms[index]`` drawn uniformly (vectorized)."""
    table = np.array([list(f) + [""] * (max(map(len, forms)) - len(f)) for f in forms], dtype=object)
    count = np.array([len(f) for f in forms])
    return table[index, (rng.random(index.size) * count[index]).astype(np.int64)]


def review_texts(rng: np.random.Generator, rating: np.ndarray, word_weights: np.ndarray,
             item_words: np.ndarray, it: dict[str, Any], item: np.ndarray) -> np.ndarray:
    """Review texts: sentiment from the rating; names the item word the user likes (dislikes) most,
    each in one of its surface forms (:data:`WORD_FORMS`)."""
    rows = np.arange(item.size)
    best = np.argmax(word_weights, axis=1)
    others = word_weights.astype(float)  # the disliked word is another of the item's words
    others[rows, best] = np.inf
    word_adj = [WORD_FORMS[w][0] for w in WORDS]
    liked = _pick_form(rng, word_adj, item_words[rows, best])
    disliked = _pick_form(rng, word_adj, item_words[rows, np.argmin(others, axis=1)])
    noun_forms = [NOUN_FORMS[n] for v in CATEGORIES.values() for n in v]
    sentiment = np.where(rating >= 4, 2, np.where(rating >= 3, 1, 0))
    fields = {
        "wl": liked, "WL": _cap(liked), "wd": disliked,
        "noun": _pick_form(rng, noun_forms, it["category"][item] * 4 + it["noun"][item]),
        "band": _pick_form(rng, [BAND_FORMS[b][0] for b in PRICE_BANDS], it["band"][item]),
        "brand": np.array(BRANDS, dtype=object)[it["brand"][item]],
    }
    out = np.empty(item.size, dtype=object)
    for s, templates in _REVIEWS.items():
        rows = np.flatnonzero(sentiment == s)
        choice = rng.integers(len(templates), size=rows.size)
        out[rows] = _render(templates, choice, {k: v[rows] for k, v in fields.items()})
    tails = np.array(_REVIEW_TAILS, dtype=object)
    out = out + tails[rng.integers(len(tails), size=item.size)]
    return np.asarray(pd.Series(out, dtype=object).str.replace(_AN, lambda m: m.group(1) + "n ", regex=True),
                      dtype=object)


def _nouns(category: np.ndarray, noun: np.ndarray) -> np.ndarray:
    """The product noun of each item ("jacket", "yoga mat", ...)."""
    return np.array([list(v) for v in CATEGORIES.values()], dtype=object)[category, noun]

