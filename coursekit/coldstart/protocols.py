r"""Cold-start evaluation protocols that do not cheat.

Three questions, three protocols, all built on :mod:`coursekit.splits` and scored with
:func:`coursekit.evaluation.evaluate` (full ranking, training items excluded):

**Strict item cold start** (:func:`strict_cold_items`): held-out items lose *every* training
event (:func:`coursekit.splits.cold_item_split`, checked with ``check_no_leakage(cold="item")``).
The users who interacted with them later are ranked either

(a) among the cold items only (:math:`\mathcal C`, ``among="cold"``): "which new item?", or
(b) among the whole catalogue (``among="all"``): the new items compete with every warm item
    the user has not seen, which is how they would be served.

**New users** (:func:`onboarding_split`): whole users are held out
(:func:`coursekit.splits.cold_user_split`); for each, the :math:`k` *earliest* events
(time order and tie rule of :func:`coursekit.interactions.user_time_order`) are revealed as
onboarding answers, the rest is the target. Only users with more than :math:`\max k` events are
kept, so every :math:`k` is judged on the same users.

**Warm-up** (:func:`item_warmup_split`): the held-out items get their :math:`n` earliest events
back into training; quality as a function of :math:`n` shows where collaborative filtering
overtakes content.

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": [1, 2, 1, 3, 2, 3],
...                     "timestamp": [1, 2, 1, 2, 3, 4]})
>>> ob = onboarding_split(Interactions.from_frame(log), k=1, test_frac=0.34, seed=0, max_k=1)
>>> len(ob.new_users), len(ob.revealed), len(ob.target)
(1, 1, 1)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_choice
from coursekit.evaluation import evaluate
from coursekit.interactions import Interactions, user_time_order
from coursekit.models.base import Recommender
from coursekit.splits import Split, check_no_leakage, cold_item_split, cold_user_split

__all__ = [
    "strict_cold_items", "cold_item_mask", "restrict_scores", "evaluate_cold_items", "OnboardingSplit",
    "onboarding_split", "item_warmup_split", "item_time_order", "score_matrix", "cold_item_table",
    "per_user_ndcg", "paired_gap", "order_agreement",
]


# ---------------------------------------------------------------------------- item cold start
def strict_cold_items(inter: Interactions, test_frac: float = 0.2, seed: int = 0,
                      cold_items: ArrayLike | None = None) -> Split:
    """A strict cold-item split: every event of a held-out item is test, none is training.

    ``cold_items`` (external ids) chooses the held-out items yourself (e.g. the shop's
    late-released products); otherwise :func:`coursekit.splits.cold_item_split` draws
    ``test_frac`` of the active items at random. The guarantee is checked before returning.

    >>> log = pd.DataFrame({"user_id": [1, 2, 1, 3], "item_id": [1, 1, 2, 3]})
    >>> s = strict_cold_items(Interactions.from_frame(log), cold_items=[1])
    >>> sorted(s.test.frame.item_id), sorted(s.train.frame.item_id)
    ([1, 1], [2, 3])
    """
    if cold_items is None:
        split = cold_item_split(inter, test_frac=test_frac, seed=seed)
    else:
        held = np.zeros(inter.n_items, dtype=bool)
        held[inter.items.index(np.asarray(cold_items))] = True
        is_test = held[inter.item_index]
        if not is_test.any() or is_test.all():
            raise CourseKitError("cold_items must hold some, but not all, of the items with events.")
        split = Split(inter.subset(~is_test), inter.subset(is_test))
    check_no_leakage(split, cold="item")
    return split


def cold_item_mask(train: Interactions, test: Interactions) -> np.ndarray:
    """Boolean mask over the universe's items: items with test events and no training event.

    >>> log = pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2]})
    >>> inter = Interactions.from_frame(log)
    >>> cold_item_mask(inter.subset(np.array([True, False])), inter.subset(np.array([False, True]))).tolist()
    [False, True]
    """
    return (test.item_counts() > 0) & (train.item_counts() == 0)


def restrict_scores(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    r"""Scores with every non-candidate item set to :math:`-\infty` (never ranked).

    >>> restrict_scores(np.array([[1.0, 2.0]]), np.array([True, False])).tolist()
    [[1.0, -inf]]
    """
    out = np.array(scores, dtype=np.float64, copy=True)
    out[:, ~np.asarray(candidates, dtype=bool)] = -np.inf
    return out


def score_matrix(model: Recommender, n_users: int | None = None) -> np.ndarray:
    """All users' scores of a fitted model, shape ``(n_users, n_items)`` (internal indices)."""
    n = len(model.users_) if n_users is None else n_users
    return model.score_indices(np.arange(n))


def evaluate_cold_items(model_or_scores: Recommender | np.ndarray, train: Interactions, test: Interactions,
                        among: str = "cold", ks: Sequence[int] = (10,),
                        metrics: Sequence[str] = ("ndcg", "recall", "hit_rate")) -> pd.DataFrame:
    r"""Evaluate ranking for the users who interacted with cold items, among cold items or all items.

    Relevant items :math:`R_u` are the user's test items (all cold by construction). With
    ``among="cold"`` the candidates are the cold items :math:`\mathcal C` only; with ``"all"``
    every item the user has not interacted with in training competes. Rows of
    :func:`coursekit.evaluation.evaluate`, warm users only (users known from training).

    Parameters
    ----------
    model_or_scores : Recommender or array (n_users, n_items)
        Fitted on ``train`` (so it never saw a cold item's events).
    among : {"cold", "all"}
    """
    check_choice(among, "among", ["cold", "all"])
    scores = score_matrix(model_or_scores) if isinstance(model_or_scores, Recommender) else model_or_scores
    if among == "cold":
        scores = restrict_scores(scores, cold_item_mask(train, test))
    df = evaluate(scores, train, test, ks=ks, metrics=list(metrics), beyond=False)
    out = df[df["group"] == "warm users"].copy()
    out.attrs.update(df.attrs, among=among)
    return out


# ---------------------------------------------------------------------------- new users
class OnboardingSplit(NamedTuple):
    """``train`` (other users), ``revealed`` (k earliest events of the new users), ``target`` (the rest)."""

    train: Interactions
    revealed: Interactions
    target: Interactions
    new_users: np.ndarray  # internal indices of the evaluated new users


def onboarding_split(inter: Interactions, k: int, test_frac: float = 0.2, seed: int = 0,
                     max_k: int = 10) -> OnboardingSplit:
    r"""New-user cold start: hold out whole users, reveal their :math:`k` earliest events.

    Users drawn by :func:`coursekit.splits.cold_user_split` (``test_frac``, ``seed``) with more than
    ``max_k`` events are the new users; the others' events are dropped from evaluation. The same
    ``seed`` and ``max_k`` give the same users for every ``k``. Each new user's events are ordered
    by :func:`coursekit.interactions.user_time_order`; positions :math:`< k` are revealed, the rest target.
    """
    if not (isinstance(k, (int, np.integer)) and 0 <= k <= max_k):
        raise CourseKitError(f"k must be an integer in [0, max_k={max_k}], got {k!r}.")
    split = cold_user_split(inter, test_frac=test_frac, seed=seed)
    check_no_leakage(split, cold="user")
    test = split.test
    order, position, count = user_time_order(test)
    pos = np.empty(len(test), dtype=np.int64)
    cnt = np.empty(len(test), dtype=np.int64)
    pos[order], cnt[order] = position, count
    keep = cnt > max_k
    if not keep.any():
        raise CourseKitError(f"no held-out user has more than max_k={max_k} events; lower max_k.")
    revealed = test.subset(keep & (pos < k))
    target = test.subset(keep & (pos >= k))
    new_users = np.unique(test.user_index[keep])
    return OnboardingSplit(split.train, revealed, target, new_users)


# ---------------------------------------------------------------------------- warm-up
def item_time_order(inter: Interactions) -> np.ndarray:
    """0-based position of each event in its *item's* time line (ties: larger user index later).

    >>> log = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [5, 5, 6], "timestamp": [9, 1, 4]})
    >>> item_time_order(Interactions.from_frame(log)).tolist()
    [1, 0, 0]
    """
    if not inter.has_timestamps:
        raise CourseKitError("the warm-up view needs timestamps (the earliest events of an item come back first).")
    rows = np.arange(len(inter))
    order = np.lexsort((rows, inter.user_index, inter.timestamps, inter.item_index))
    counts = np.bincount(inter.item_index, minlength=inter.n_items)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.empty(len(inter), dtype=np.int64)
    pos[order] = rows - starts[inter.item_index[order]]
    return pos


def item_warmup_split(split: Split, n_reveal: int, min_rest: int = 1) -> tuple[Split, np.ndarray]:
    r"""Give each cold item of a strict cold-item ``split`` its ``n_reveal`` earliest events back.

    Returns the new split (train + revealed events, test = the rest) and the mask of the cold
    items still evaluated (those with at least ``min_rest`` test events left). With
    ``n_reveal = 0`` it is the strict split itself. Test users' revealed items are excluded
    from their rankings like any training item.
    """
    test = split.test
    pos = item_time_order(test)
    back = pos < n_reveal
    train = Interactions.from_frame(pd.concat([split.train.frame, test.frame[back]], ignore_index=True),
                                    users=split.train.users, items=split.train.items)
    rest = test.subset(~back)
    cold = cold_item_mask(split.train, test) & (rest.item_counts() >= min_rest)
    return Split(train, rest), cold


def cold_item_table(scores: dict, train: Interactions, test: Interactions, k: int = 10) -> pd.DataFrame:
    """NDCG@k, Recall@k among the cold items and among all items, one row per method.

    ``scores`` maps a method name to a fitted model or a score matrix over ``train``'s universe.
    """
    rows = []
    for name, s in scores.items():
        full = score_matrix(s) if isinstance(s, Recommender) else s
        row = {"method": name}
        for among in ("cold", "all"):
            df = evaluate_cold_items(full, train, test, among=among, ks=(k,), metrics=("ndcg", "recall"))
            for m in ("ndcg", "recall"):
                row[f"{m}@{k} ({among})"] = float(df.loc[df.metric == m, "value"].iloc[0])
            row["users"] = int(df["users"].iloc[0])
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def per_user_ndcg(scores: Recommender | np.ndarray, train: Interactions, test: Interactions, k: int = 10,
                  candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-user NDCG@k (the values :func:`coursekit.evaluation.evaluate` averages), for paired comparisons.

    Same protocol as ``evaluate``: training items excluded, relevant = test items not in training,
    users with training events and at least one relevant item. ``candidates`` (item mask) restricts the
    ranking. Returns ``(user_indices, values)``.
    """
    from coursekit.evaluation import relevance_matrix
    from coursekit.metrics import ndcg_at_k
    from coursekit.models.ranking import top_k

    s = score_matrix(scores) if isinstance(scores, Recommender) else np.array(scores, dtype=np.float64)
    if candidates is not None:
        s = restrict_scores(s, candidates)
    rel, _ = relevance_matrix(train, test)
    users = np.flatnonzero((np.diff(rel.indptr) > 0) & (train.user_counts() > 0))
    seen = train.matrix("binary")[users]
    s = s[users]
    r, c = seen.nonzero()
    s[r, c] = -np.inf
    top, _ = top_k(s, k)
    return users, ndcg_at_k(top, rel[users], k)


def paired_gap(values_a: np.ndarray, values_b: np.ndarray) -> tuple[float, float]:
    r"""Mean of the paired differences :math:`a_u - b_u` and its standard error :math:`\mathrm{sd}/\sqrt{n}`.

    >>> [round(v, 4) for v in paired_gap(np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0, 2.0]))]
    [0.6667, 0.3333]
    """
    d = np.asarray(values_a, dtype=np.float64) - np.asarray(values_b, dtype=np.float64)
    if d.size < 2:
        return float(d.mean()) if d.size else 0.0, float("nan")
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))


def order_agreement(scores: Recommender | np.ndarray, users: np.ndarray, candidates: np.ndarray) -> float:
    r"""How much the users agree on the order of the candidate items: 0 for independent orders, 1 for one order.

    The mean, over ``users``, of the Spearman correlation between the user's ranking of the
    ``candidates`` (boolean item mask) and the mean ranking over all these users. A model whose
    per-user scores of some items are all the same draw of noise (a new item's iALS vector) gives
    every user nearly the same order: one random order for everybody, whose luck (good or bad) is
    shared by all users at once, which a standard error over users does not see.

    >>> rng = np.random.default_rng(0)
    >>> shared = np.tile(rng.random(20), (50, 1))
    >>> order_agreement(shared, np.arange(50), np.ones(20, bool))
    1.0
    >>> abs(order_agreement(rng.random((50, 20)), np.arange(50), np.ones(20, bool))) < 0.3
    True
    """
    s = score_matrix(scores) if isinstance(scores, Recommender) else np.asarray(scores, dtype=np.float64)
    users = np.asarray(users)
    cand = np.flatnonzero(np.asarray(candidates, dtype=bool))
    if cand.size < 2 or users.size < 1:
        raise CourseKitError(f"need at least 2 candidate items and 1 user, got {cand.size} items and "
                             f"{users.size} users.")
    ranks = s[np.ix_(users, cand)].argsort(axis=1, kind="stable").argsort(axis=1).astype(np.float64)
    mean = ranks.mean(axis=0)
    rc = ranks - ranks.mean(axis=1, keepdims=True)
    mc = mean - mean.mean()
    denom = np.linalg.norm(rc, axis=1) * np.linalg.norm(mc)
    if np.linalg.norm(mc) == 0:
        return 0.0
    return float(np.mean(rc @ mc / np.maximum(denom, 1e-12)))
