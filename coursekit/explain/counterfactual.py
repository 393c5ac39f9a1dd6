r"""Counterfactual explanations: the fewest of the user's own history items whose removal changes the top-1.

Let :math:`t` be the top-1 recommendation from the full history (seen items excluded) and
:math:`m(z) = s_t(z) - \max_{i \ne t,\, i \notin H_u} s_i(z)` its **margin** under the mask
:math:`z`; the top-1 changes exactly when :math:`m(z) < 0` (ties keep the lower item index, as
:func:`coursekit.models.top_k` does). We look for

.. math:: \min_{R \subseteq H_u} |R| \quad\text{s.t.}\quad m(\mathbf 1 - \mathbb 1_R) < 0 .

**Greedy**: remove, one at a time, the item whose removal lowers the margin most, until it is
negative (:math:`O(M)` masks per step). **Exact**: breadth-first over subsets of size 1, 2, ...
(:math:`\sum_{k \le K}\binom{M}{k}` masks), for short histories; it shows how far greedy is from
the optimum. Items removed from the history stay excluded from the list (the user did see them).

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> from coursekit.models import ItemKNN
>>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": [10, 20, 10, 30, 20, 40]})
>>> model = ItemKNN(k=5).fit(Interactions.from_frame(log))
>>> cf = counterfactual(model, user=1)
>>> cf.removed.tolist(), cf.top1, cf.new_top1, cf.valid
([10], 30, 40, True)
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from coursekit.explain.history import HistoryScorer, history_scorer

if TYPE_CHECKING:
    from coursekit.models.base import Recommender

__all__ = ["Counterfactual", "counterfactual", "margins"]


@dataclass
class Counterfactual:
    """A counterfactual: removing ``removed`` (external ids) turns top-1 ``top1`` into ``new_top1``.

    ``valid`` is False when no set within the size limit flips the top-1 (``removed`` then holds
    the greedy path tried). ``n_masks`` counts the masked histories scored.
    """

    removed: np.ndarray
    top1: int
    new_top1: int
    valid: bool
    method: str
    n_masks: int

    @property
    def size(self) -> int:
        return len(self.removed)


def margins(hs: HistoryScorer, masks: np.ndarray, target_col: int) -> np.ndarray:
    r"""Margin :math:`m(z)` of the target (internal column) under each mask; negative = top-1 changed."""
    s = hs.scores(masks)
    s[:, hs.seen] = -np.inf
    t = s[:, target_col].copy()
    s[:, target_col] = -np.inf
    best = np.max(s, axis=1)
    lower = np.argmax(s, axis=1) < target_col        # a tie with a lower index wins the tie
    return np.where(lower & (best == t), -1e-12, t - best)


def _top1_col(hs: HistoryScorer, mask: np.ndarray) -> int:
    s = hs.scores(mask[None, :])[0]
    s[hs.seen] = -np.inf
    return int(np.argmax(s))


def counterfactual(model: Recommender, user: int, item: int | None = None, method: str = "greedy",
                   max_size: int | None = None, scorer: HistoryScorer | None = None) -> Counterfactual:
    """Smallest history subset whose removal changes ``user``'s top-1 (``method`` "greedy" or "exact").

    ``item`` (external id), when given, must be the user's top-1. ``max_size`` bounds the set
    (default: the whole history for greedy, 4 for exact).
    """
    from coursekit._validation import CourseKitError, check_choice

    check_choice(method, "method", ["greedy", "exact"])
    hs = scorer or history_scorer(model, user)
    M = hs.n_features
    full = np.ones(M, dtype=bool)
    t = _top1_col(hs, full)
    if item is not None and int(hs.model.items_.ids[t]) != int(item):
        raise CourseKitError(f"item {item} is not user {user}'s top-1 (that is {hs.model.items_.ids[t]}); "
                             "a counterfactual explains why the top-1 is the top-1.")
    ids = hs.history_ids
    before = hs.n_calls
    if method == "exact":
        K = min(M, 4 if max_size is None else int(max_size))
        for k in range(1, K + 1):
            combos = np.array(list(itertools.combinations(range(M), k)), dtype=np.int64)
            for start in range(0, len(combos), 2048):
                part = combos[start:start + 2048]
                Z = np.ones((len(part), M), dtype=bool)
                Z[np.arange(len(part))[:, None], part] = False
                m = margins(hs, Z, t)
                hit = np.nonzero(m < 0)[0]
                if hit.size:
                    z = Z[hit[0]]
                    return Counterfactual(ids[~z], int(hs.model.items_.ids[t]),
                                          int(hs.model.items_.ids[_top1_col(hs, z)]), True, "exact",
                                          hs.n_calls - before)
        return Counterfactual(np.zeros(0, ids.dtype), int(hs.model.items_.ids[t]), int(hs.model.items_.ids[t]),
                              False, "exact", hs.n_calls - before)
    K = M if max_size is None else min(M, int(max_size))
    z = full.copy()
    removed: list[int] = []
    for _ in range(K):
        cand = np.nonzero(z)[0]
        Z = np.repeat(z[None, :], len(cand), axis=0)
        Z[np.arange(len(cand)), cand] = False
        m = margins(hs, Z, t)
        j = int(np.argmin(m))
        z[cand[j]] = False
        removed.append(int(cand[j]))
        if m[j] < 0:
            return Counterfactual(ids[removed], int(hs.model.items_.ids[t]),
                                  int(hs.model.items_.ids[_top1_col(hs, z)]), True, "greedy", hs.n_calls - before)
    return Counterfactual(ids[removed], int(hs.model.items_.ids[t]), int(hs.model.items_.ids[t]), False,
                          "greedy", hs.n_calls - before)
