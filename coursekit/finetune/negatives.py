r"""Negatives for training pairs: uniform ones and "hard" ones from a retriever's top items.

Each positive pair :math:`(h_u, i^+)` is followed by ``n_neg`` negatives :math:`(h_u, j)`, items
:math:`j` the user never interacted with (the ``exclude`` row of the pairs), labelled 0.
Uniform negatives are drawn by :func:`coursekit.interactions.sample_negatives`, fresh each
batch; hard negatives are drawn from a pool such as the retrieval stage's top unseen items,
which is what a re-ranker meets at serving time.

>>> import pandas as pd
>>> from coursekit.finetune.pairs import make_pairs
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [1, 2, 3], "timestamp": [1, 2, 3]})
>>> p = make_pairs(Interactions.from_frame(log, items=[1, 2, 3, 4, 5]), None, {k: str(k) for k in range(1, 6)})
>>> histories, candidates, labels = with_negatives(p, np.array([0]), 2, np.random.default_rng(0))
>>> histories, labels.tolist()
(['1', '1', '1'], [1.0, 0.0, 0.0])
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.finetune.pairs import Pairs
from coursekit.interactions import sample_negatives

__all__ = ["sample_pair_negatives", "hard_negative_sample", "with_negatives"]


def sample_pair_negatives(pairs: Pairs, n_neg: int, rng: np.random.Generator) -> np.ndarray:
    """``(len(pairs), n_neg)`` distinct item indices per pair, none of them in the user's ``exclude`` row.

    >>> import pandas as pd
    >>> from coursekit.finetune.pairs import make_pairs
    >>> from coursekit.interactions import Interactions
    >>> log = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [1, 2, 3], "timestamp": [1, 2, 3]})
    >>> inter = Interactions.from_frame(log, items=[1, 2, 3, 4, 5])
    >>> p = make_pairs(inter, None, {k: str(k) for k in range(1, 6)})
    >>> np.sort(sample_pair_negatives(p, 2, np.random.default_rng(0)), axis=1).tolist()
    [[3, 4], [3, 4]]
    """
    n_neg = check_positive_int(n_neg, "n_neg")
    free = pairs.exclude.shape[1] - np.diff(pairs.exclude.indptr)[pairs.users]
    if len(pairs) and free.min() < n_neg:
        raise CourseKitError(f"a user has only {int(free.min())} items they never interacted with, fewer than "
                             f"n_neg={n_neg}; lower n_neg.")
    return sample_negatives(pairs.users, pairs.exclude, n_neg, rng)


def hard_negative_sample(pool: np.ndarray, users: np.ndarray, exclude: sp.csr_matrix, n_hard: int,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r"""Draw ``n_hard`` distinct items per row from each user's row of ``pool`` (e.g. a retriever's top items).

    ``pool`` is ``(n_users, m)`` item indices (``-1`` = empty slot). A slot is usable when it is
    not empty and its item is not in the user's ``exclude`` row; the draw is uniform among the
    usable slots (unusable ones are drawn only when fewer than ``n_hard`` are usable). Returns the
    drawn indices ``(len(users), n_hard)`` and their usable mask (callers fall back to uniform
    negatives where it is False).

    >>> pool = np.array([[4, 3, -1]])
    >>> ex = sp.csr_matrix(np.array([[0, 0, 0, 1, 0]]))
    >>> idx, ok = hard_negative_sample(pool, np.array([0]), ex, 3, np.random.default_rng(0))
    >>> sorted(idx[ok].tolist())
    [4]
    """
    pool = np.asarray(pool, dtype=np.int64)
    n_hard = min(check_positive_int(n_hard, "n_hard"), pool.shape[1])
    rows = pool[users]
    usable = rows >= 0
    if usable.any():
        r = np.repeat(users, rows.shape[1]).reshape(rows.shape)
        usable[usable] = np.asarray(exclude[r[usable], rows[usable]]).ravel() == 0
    # n_hard distinct slots per row, uniformly among the usable ones first (random keys, unusable keys + 2)
    cols = np.argsort(rng.random(rows.shape) + 2.0 * ~usable, axis=1)[:, :n_hard]
    return np.take_along_axis(rows, cols, axis=1), np.take_along_axis(usable, cols, axis=1)


def with_negatives(pairs: Pairs, idx: np.ndarray, n_neg: int, rng: np.random.Generator,
                   hard_pool: np.ndarray | None = None,
                   n_hard: int = 0) -> tuple[list[str], list[str], np.ndarray]:
    """Histories, candidates and 0/1 labels of positives ``idx`` each followed by ``n_neg`` negatives.

    With ``hard_pool`` the first ``n_hard`` negatives of a positive come from its user's pool row
    (:func:`hard_negative_sample`), the rest (and unusable pool draws) uniformly.
    """
    sub = pairs.subset(idx)
    neg = sample_pair_negatives(sub, n_neg, rng) if n_neg else np.zeros((len(idx), 0), np.int64)
    if hard_pool is not None and n_hard and n_neg:
        picked, ok = hard_negative_sample(hard_pool, sub.users, sub.exclude, min(n_hard, n_neg), rng)
        ok &= picked != sub.items[:, None]
        k = picked.shape[1]
        neg[:, :k] = np.where(ok, picked, neg[:, :k])
    cand_items = np.concatenate([sub.items[:, None], neg], axis=1).ravel()
    histories = [h for h in sub.histories for _ in range(1 + n_neg)]
    labels = np.tile(np.r_[1.0, np.zeros(n_neg)], len(idx))
    return histories, pairs.item_text[cand_items].tolist(), labels
