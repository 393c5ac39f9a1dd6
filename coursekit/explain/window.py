r"""Which history items a cross-encoder actually reads: the window an explanation must cover.

A re-ranker's pair is ``[CLS] history [SEP] candidate [SEP]``, and the history passes two budgets
before the model sees it: the history text keeps whole items, most recent first, up to
``max_words`` words (:func:`coursekit.text.items.history_text`), then the tokenizer cuts the
history (``truncation="only_first"``) so that the pair fits ``max_length`` tokens, after the
candidate has been cut to ``max_candidate_tokens`` (default ``max_length // 2``). An item is
**read** when its whole text survives both cuts. With :math:`T` history tokens left for the pair,

.. math:: n_{\text{read}} = \max\{k : \mathrm{tokens}(h_1 \mid \dots \mid h_k) \le T\} ,

and an explanation whose features are the first :math:`M` history items covers what the model
reads only when :math:`M \le n_{\text{read}}`; items beyond the window get an attribution for
text the model never saw (or only saw when others were removed).

>>> from coursekit.text.cross_encoder import CrossEncoder
>>> ce = CrossEncoder.tiny(max_length=12)    # 3 special + 2 candidate tokens: 7 history tokens
>>> items_in_window(ce, ["red wool scarf", "blue hat", "green boots"], "red boot")
2
>>> items_in_window(ce, ["red wool scarf", "blue hat", "green boots"], "red boot", max_words=3)
1
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError

if TYPE_CHECKING:
    from coursekit.models.rerank import TwoStageRecommender

__all__ = ["items_in_window", "reranker_window"]


def items_in_window(cross_encoder: Any, history_items: Sequence[str], candidate: str, *,
                    max_words: int | None = None, sep: str = " | ") -> int:
    """How many of ``history_items`` (most recent first) the cross-encoder reads whole, next to ``candidate``.

    Parameters
    ----------
    cross_encoder : CrossEncoder
        Supplies ``tokenizer`` (a fast one), ``max_length`` and ``max_candidate_tokens``.
    history_items : sequence of str
        Item texts as they enter the history, most recent first.
    candidate : str
        The candidate's text (cut to ``max_candidate_tokens`` first, as in scoring).
    max_words : int, optional
        The history text's word budget (the re-ranker's ``max_history_words``); None: no word budget.
    sep : str
        The separator between items (that of :func:`coursekit.text.items.history_text`).

    Returns
    -------
    int
        The number of leading items whose every character reaches the model.
    """
    from coursekit.text.items import history_text
    from coursekit.text.pair_inputs import truncate_texts

    tok = cross_encoder.tokenizer
    if not getattr(tok, "is_fast", False):
        raise CourseKitError("items_in_window needs a fast tokenizer (character offsets).")
    texts = [str(t) for t in history_items]
    if not texts:
        return 0
    history = history_text(texts, max_words=max_words, sep=sep) if max_words is not None else sep.join(texts)
    ends = np.cumsum([len(t) + len(sep) for t in texts]) - len(sep)      # end (exclusive) of item k's characters
    max_length = int(cross_encoder.max_length)
    cap = cross_encoder.max_candidate_tokens or max_length // 2
    cand = truncate_texts(tok, [str(candidate)], cap)[0]
    enc = tok([history], [cand], truncation="only_first", max_length=max_length, return_offsets_mapping=True)
    seq = enc.sequence_ids(0)
    read = max((int(end) for (_, end), s in zip(enc["offset_mapping"][0], seq) if s == 0), default=0)
    # an item is read when the history string holds it whole and the tokens reach its last character
    whole = [k for k, e in enumerate(ends) if e <= len(history) and history[:e] == sep.join(texts[:k + 1])]
    return int(sum(1 for k in whole if ends[k] <= read))


def reranker_window(model: TwoStageRecommender, users: ArrayLike, targets: ArrayLike) -> pd.DataFrame:
    """Per (user, target): history items the re-ranker holds (the explainers' features) and items it reads.

    Returns a frame with ``user, target, n_features, n_read, covered`` (``covered``: every feature
    is read, ``n_read >= n_features``).
    """
    model.check_fitted()
    users, targets = np.asarray(users).ravel(), np.asarray(targets).ravel()
    if len(users) != len(targets):
        raise CourseKitError(f"users and targets must pair up, got {len(users)} users and {len(targets)} targets.")
    rows = []
    for user, target in zip(users, targets):
        u = int(model.users_.index([user])[0])
        i = int(model.items_.index([target])[0])
        hist = model.history_items_[model.history_indptr_[u]:model.history_indptr_[u + 1]]
        texts = model.history_item_text(hist).tolist()
        n_read = items_in_window(model.reranker, texts, model.item_text([i])[0], max_words=model.max_history_words)
        rows.append({"user": user, "target": target, "n_features": len(texts), "n_read": n_read,
                     "covered": n_read >= len(texts)})
    return pd.DataFrame(rows)
