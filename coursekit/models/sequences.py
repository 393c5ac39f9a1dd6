r"""A user's events as a token sequence: the inputs of SASRec and BERT4Rec.

Items are tokens: index 0 is padding and item index :math:`j` is token :math:`j + 1`. A
user's sequence is their training items in time order (:func:`user_sequences`, the tie rule of
:func:`coursekit.interactions.user_time_order`); the models read left-padded windows of it
(:func:`left_padded_windows`), and BERT4Rec learns to recover masked positions (:func:`bert4rec_mask`).

>>> left_padded_windows(np.array([4, 5]), np.array([0, 2]), np.array([0]), np.array([2]), 3).tolist()
[[0, 5, 6]]
"""
from __future__ import annotations

import numpy as np

from coursekit.interactions import Interactions, user_time_order

__all__ = ["user_sequences", "left_padded_windows", "bert4rec_mask"]


def user_sequences(train: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Every user's training items in time order, as ``(items, indptr)`` (CSR-like).

    ``items[indptr[u]:indptr[u + 1]]`` are user ``u``'s item indices, oldest first.

    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [9, 3, 4], "timestamp": [7, 7, 1]})
    >>> items, ptr = user_sequences(Interactions.from_frame(log))
    >>> items.tolist(), ptr.tolist()     # tie at t=7: item 9 (index 2) after item 3 (index 0)
    ([0, 2, 1], [0, 2, 3])
    """
    order, _, _ = user_time_order(train, missing="row")   # no timestamps: the row order is the time order
    counts = np.bincount(train.user_index, minlength=train.n_users)
    return train.item_index[order].astype(np.int64), np.r_[0, np.cumsum(counts)].astype(np.int64)


def left_padded_windows(items: np.ndarray, indptr: np.ndarray, users: np.ndarray, ends: np.ndarray,
                        length: int) -> np.ndarray:
    r"""Token windows (``len(users)``, ``length``): the ``length`` items of each user before ``ends``.

    Row :math:`r` holds tokens ``items[ends[r] - length : ends[r]] + 1`` restricted to the user's
    own range, left-padded with 0 (vectorised gather, no loop over users).

    >>> left_padded_windows(np.array([4, 5, 6, 7]), np.array([0, 3, 4]), np.array([0, 1]),
    ...                     np.array([3, 4]), 3).tolist()
    [[5, 6, 7], [0, 0, 8]]
    """
    pos = ends[:, None] - length + np.arange(length)[None, :]
    valid = pos >= indptr[users][:, None]
    tok = items[np.clip(pos, 0, max(len(items) - 1, 0))] + 1 if len(items) else np.zeros(pos.shape, np.int64)
    return np.where(valid, tok, 0).astype(np.int64)


def bert4rec_mask(tokens: np.ndarray, mask_token: int, mask_prob: float, rng: np.random.Generator,
                  mask_last_prob: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    r"""The masked-item objective's inputs and targets.

    Each non-padding position is masked with probability ``mask_prob`` (every row gets at least
    one masked position; with probability ``mask_last_prob`` a row masks only its last item, the
    situation at inference). Masked inputs become ``mask_token``; targets are the hidden tokens
    there and 0 (ignored) elsewhere.

    >>> inp, tgt = bert4rec_mask(np.array([[0, 5, 6, 7]]), 99, 0.0, np.random.default_rng(0))
    >>> inp.tolist(), tgt.tolist()      # mask_prob 0: still one masked position, the last item
    ([[0, 5, 6, 99]], [[0, 0, 0, 7]])
    """
    valid = tokens > 0
    masked = valid & (rng.random(tokens.shape) < mask_prob)
    only_last = rng.random(tokens.shape[0]) < mask_last_prob
    masked[only_last] = False
    masked[:, -1] |= (only_last | ~masked.any(axis=1)) & valid[:, -1]
    return np.where(masked, mask_token, tokens), np.where(masked, tokens, 0)

