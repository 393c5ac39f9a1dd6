r"""Integrated gradients for the BERT cross-encoder (Sundararajan, Taly & Yan 2017), with captum.

The cross-encoder's logit :math:`F(e)` is a function of the token embeddings
:math:`e = (e_1, \dots, e_T)` of ``[CLS] history [SEP] candidate [SEP]``. Integrated gradients
attributes :math:`F(e) - F(e')` to the tokens along the straight path from a baseline :math:`e'`:

.. math::

    \mathrm{IG}_t = (e_t - e'_t)^\top \int_0^1 \nabla_{e_t} F\big(e' + \alpha (e - e')\big)\, d\alpha ,
    \qquad \sum_t \mathrm{IG}_t = F(e) - F(e') \quad (\text{completeness}),

approximated with ``n_steps`` Gauss-Legendre points (captum's ``LayerIntegratedGradients`` on the
word-embedding layer). The baseline keeps ``[CLS]`` and both ``[SEP]`` and replaces every other
token by ``[PAD]`` (positions and token types unchanged), so only the *words* are attributed.
The **convergence delta** :math:`\sum_t \mathrm{IG}_t - (F(e) - F(e'))` measures the integration
error and is returned (check it is small before reading the heat map; raise ``n_steps`` if not).

Token attributions are summed to **words** (the tokenizer's word ids) and to **history items**
(character spans of each item text in the history string; the candidate's tokens form one
group). Attributions explain the *logit* of this model; they are not causal effects of the
user's behaviour.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError

if TYPE_CHECKING:
    from coursekit.models.rerank import TwoStageRecommender

__all__ = ["IGResult", "integrated_gradients", "explain_reranker"]


@dataclass
class IGResult:
    """Token, word and history-item attributions of one (history, candidate) pair.

    ``tokens``: ``position, token, segment ("history"/"candidate"/"special"), word, item, attribution``;
    ``words`` and ``items``: summed attributions, sorted largest first. ``logit``/``baseline_logit``:
    :math:`F(e)`, :math:`F(e')`; ``delta``: the convergence delta.
    """

    tokens: pd.DataFrame
    words: pd.DataFrame
    items: pd.DataFrame
    logit: float
    baseline_logit: float
    delta: float


def _item_of_chars(starts: np.ndarray, history_items: Sequence[str], sep: str) -> tuple[np.ndarray, np.ndarray]:
    """Character spans ``[lo, hi)`` of each item in ``sep.join(history_items)``."""
    lengths = np.array([len(t) for t in history_items])
    lo = np.r_[0, np.cumsum(lengths + len(sep))[:-1]] if len(lengths) else np.zeros(0, int)
    return lo, lo + lengths


def integrated_gradients(cross_encoder: Any, history_items: Sequence[str], candidate: str, *, sep: str = " | ",
                         n_steps: int = 50, item_labels: Sequence | None = None) -> IGResult:
    """Integrated gradients of ``cross_encoder``'s logit for one pair (history = ``sep``-joined item texts)."""
    import torch
    from captum.attr import LayerIntegratedGradients

    from coursekit.text.pair_inputs import truncate_texts

    ce, tok = cross_encoder, cross_encoder.tokenizer
    history_items = [str(t) for t in history_items]
    labels = list(item_labels) if item_labels is not None else list(range(len(history_items)))
    if len(labels) != len(history_items):
        raise CourseKitError("item_labels must have one label per history item.")
    if not getattr(tok, "is_fast", False):
        raise CourseKitError("integrated_gradients needs a fast tokenizer (word ids and character offsets).")
    history = sep.join(history_items)
    cap = ce.max_candidate_tokens or ce.max_length // 2
    cand = truncate_texts(tok, [str(candidate)], cap)[0]
    enc = tok([history], [cand], truncation="only_first", max_length=ce.max_length, return_offsets_mapping=True,
              return_tensors="pt")
    seq_ids, word_ids = enc.sequence_ids(0), enc.word_ids(0)
    offsets = enc.pop("offset_mapping")[0].numpy()
    batch = {k: v.to(ce.device) for k, v in enc.items()}
    ids = batch["input_ids"]
    special = torch.tensor([s is None for s in seq_ids], device=ids.device)
    base_ids = torch.where(special[None, :], ids, torch.full_like(ids, tok.pad_token_id))
    net = ce.model
    net.eval()

    def forward(input_ids, attention_mask, token_type_ids):   # the scoring path, whatever the head pools
        return ce.forward_logits({"input_ids": input_ids, "attention_mask": attention_mask,
                                  "token_type_ids": token_type_ids})

    extra = (batch["attention_mask"], batch.get("token_type_ids", torch.zeros_like(ids)))
    lig = LayerIntegratedGradients(forward, net.get_input_embeddings())
    attr, delta = lig.attribute(ids, baselines=base_ids, additional_forward_args=extra, n_steps=int(n_steps),
                                return_convergence_delta=True, internal_batch_size=min(int(n_steps), 32))
    per_token = attr.sum(-1)[0].detach().float().cpu().numpy().astype(np.float64)
    with torch.no_grad():
        logit = float(forward(ids, *extra)[0])
        base_logit = float(forward(base_ids, *extra)[0])
    tokens = tok.convert_ids_to_tokens(ids[0].tolist())
    lo, hi = _item_of_chars(offsets, history_items, sep)
    seg, item, word = [], [], []
    for t, s in enumerate(seq_ids):
        if s is None:
            seg.append("special")
            item.append("[special]")
            word.append(tokens[t])
            continue
        a, b = offsets[t]
        if s == 0:
            k = np.nonzero((lo <= a) & (a < np.maximum(hi, lo + 1)))[0]
            seg.append("history")
            item.append(labels[int(k[0])] if k.size else "[separator]")
            word.append(history[a:b])
        else:
            seg.append("candidate")
            item.append("[candidate]")
            word.append(cand[a:b])
    frame = pd.DataFrame({"position": np.arange(len(tokens)), "token": tokens, "segment": seg,
                          "word_id": [(-1 if s is None else s, -1 if w is None else w)
                                      for s, w in zip(seq_ids, word_ids)],
                          "item": item, "attribution": per_token})
    # words: join sub-word pieces by (segment, word id); the text is the concatenated span
    frame["text"] = word
    grp = frame[frame["segment"] != "special"]
    words = (grp.groupby(["segment", "word_id"], sort=False)
             .agg(word=("text", "".join), item=("item", "first"), attribution=("attribution", "sum"))
             .reset_index().drop(columns="word_id")
             .sort_values("attribution", ascending=False, kind="stable").reset_index(drop=True))
    items = (frame[frame["segment"] != "special"].groupby("item", sort=False)["attribution"].sum()
             .rename("contribution").rename_axis("feature").reset_index()
             .sort_values("contribution", ascending=False, kind="stable").reset_index(drop=True))
    items.attrs.update(method="integrated_gradients", base=base_logit, score=logit)
    return IGResult(frame.drop(columns=["word_id", "text"]), words, items, logit, base_logit,
                    float(delta.detach().cpu()[0]))


def explain_reranker(model: TwoStageRecommender, user: int, item: int, n_steps: int = 50) -> IGResult:
    """Integrated gradients for a fitted :class:`~coursekit.models.TwoStageRecommender`'s re-ranker.

    Uses the history items the model itself reads whole (newest first, within its word budget *and*
    the pair's token budget: :func:`coursekit.explain.window.items_in_window`); history items are
    labelled by their external ids.
    """
    from coursekit.explain.window import items_in_window

    model.check_fitted()
    u = int(model.users_.index([user])[0])
    i = int(model.items_.index([item])[0])
    hist = model.history_items_[model.history_indptr_[u]:model.history_indptr_[u + 1]]
    texts = model.history_item_text(hist).tolist()
    candidate = model.item_text([i])[0]
    kept = max(items_in_window(model.reranker, texts, candidate, max_words=model.max_history_words), 1)
    return integrated_gradients(model.reranker, texts[:kept], candidate, n_steps=n_steps,
                                item_labels=model.items_.ids[hist[:kept]].tolist())
