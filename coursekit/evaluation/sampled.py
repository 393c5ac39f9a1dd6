r"""The sampled-metrics protocol (each test item ranked among sampled items), kept to show why it misleads.

See :func:`evaluate_sampled` for the definition and the argument against it.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coursekit._validation import CourseKitError, check_batch_size, check_choice, check_positive_int, check_seed
from coursekit.evaluation.checks import check_ks, check_metrics, check_sampled_k, checked_model_or_scores
from coursekit.evaluation.ranking import COLD, WARM, metric_row, metric_table, score_rows
from coursekit.evaluation.relevance import relevance_matrix
from coursekit.interactions import Interactions, check_same_universe, sample_negatives
from coursekit.models.base import Recommender

__all__ = ["evaluate_sampled", "evaluate_sampled_per_user", "SAMPLED_METRICS"]

#: the metrics of the sampled protocol
SAMPLED_METRICS = ("hit_rate", "ndcg", "mrr")


def sampled_ranks(model: Recommender | np.ndarray, train: Interactions, test: Interactions, n_neg: int, seed: int,
                   batch_size: int | None) -> tuple[sp.csr_matrix, int, np.ndarray, np.ndarray]:
    """Relevance, overlap count, and for every relevant test pair (sorted by user) its user and sampled rank."""
    seed, batch_size = check_seed(seed), check_batch_size(batch_size)
    rel, n_overlap = relevance_matrix(train, test)
    known = ((train.matrix(dtype=np.float64) + test.matrix(dtype=np.float64)) > 0).tocsr()
    known.sort_indices()
    free = train.n_items - np.diff(known.indptr)
    pair_u = np.repeat(np.arange(rel.shape[0], dtype=np.int64), np.diff(rel.indptr))
    pair_i = rel.indices.astype(np.int64)
    short = np.unique(pair_u[free[pair_u] < n_neg])
    if short.size:
        raise CourseKitError(
            f"{short.size} user(s) (e.g. user id {train.users.ids[short[0]]}) have fewer than "
            f"n_negatives={n_neg} items they never interacted with; lower n_negatives."
        )
    rng = np.random.default_rng(seed)
    neg = sample_negatives(pair_u, known, n_neg, rng)

    # rank each positive among its negatives, scoring users in batches (pairs are sorted by user)
    users = np.unique(pair_u)
    batch = batch_size or max(1, int(2e7 // max(train.n_items, 1)))
    rank = np.empty(len(pair_u), dtype=np.float64)
    bounds = np.searchsorted(pair_u, users)
    for start in range(0, len(users), batch):
        ub = users[start:start + batch]
        s = score_rows(model, ub)
        lo = bounds[start]
        hi = bounds[start + len(ub)] if start + len(ub) < len(users) else len(pair_u)
        row = np.searchsorted(ub, pair_u[lo:hi])
        pos_s = s[row, pair_i[lo:hi]][:, None]
        neg_s = s[row[:, None], neg[lo:hi]]
        above = (neg_s > pos_s) | ((neg_s == pos_s) & (neg[lo:hi] < pair_i[lo:hi, None]))
        rank[lo:hi] = 1 + above.sum(axis=1)
    return rel, n_overlap, pair_u, rank


def evaluate_sampled(model: Recommender | np.ndarray, train: Interactions, test: Interactions, n_negatives: int = 100,
                     ks: int | Sequence[int] = (10,), seed: int = 0, metrics: Sequence[str] | None = None,
                     batch_size: int | None = None) -> pd.DataFrame:
    r"""The sampled-metrics protocol: each test item ranked against ``n_negatives`` random items.

    For each relevant test pair :math:`(u, i)` (test items not in the user's training items),
    draw ``n_negatives`` distinct items uniformly from those :math:`u` has no train or test event
    with, and rank :math:`i` among them by the model's scores (ties broken by lower item index, as
    in :func:`evaluate`):

    .. math:: \mathrm{rank}_{ui} = 1 + |\{j : s_{uj} > s_{ui}\}| + |\{j : s_{uj} = s_{ui}, j < i\}|

    Per pair, ``hit_rate`` :math:`= \mathbb{1}[\mathrm{rank} \le k]`, ``ndcg``
    :math:`= \mathbb{1}[\mathrm{rank} \le k] / \log_2(\mathrm{rank} + 1)` and ``mrr``
    :math:`= \mathbb{1}[\mathrm{rank} \le k] / \mathrm{rank}`; averaged over each user's pairs,
    then over users (same tidy shape and groups as :func:`evaluate`).

    **Why it misleads.** Krichene & Rendle ("On Sampled Metrics for Item Recommendation", KDD
    2020) show that sampled metrics are not consistent with the full-ranking metrics they stand
    for: with 100 negatives, being in the top 10 of 101 only requires beating ~90% of a random
    sample, which any item that is better than the *typical* item achieves. Uniform negatives are
    mostly obscure items, so a popularity ranker, which puts any popular item above them, looks
    strong, while on full ranking it must beat every popular item the user did not pick. The
    metric is a biased, high-variance estimate whose ordering of models can even flip. Use
    :func:`evaluate` (full ranking) for conclusions; this function is for demonstrating the pitfall.

    Parameters
    ----------
    model : Recommender or array (n_users, n_items)
        A fitted model or a dense score matrix over the universe of ``train``.
    n_negatives : int
        Sampled items per test pair (each user needs at least this many unknown items).
    ks : int or sequence of int
        Cutoffs, at most ``n_negatives + 1``.
    seed : int
        Seed of the negative sampling.
    metrics : sequence of str, optional
        Subset of ``("hit_rate", "ndcg", "mrr")`` (the default).

    Returns
    -------
    DataFrame with columns ``metric, k, value, users, group`` (``df.attrs`` as in :func:`evaluate`,
    plus ``n_pairs`` and ``n_negatives``).
    """
    check_same_universe(train, test)
    ks = check_ks(ks)
    metrics = check_metrics(metrics, SAMPLED_METRICS, SAMPLED_METRICS)
    n_neg = check_sampled_k(max(ks), n_negatives)
    model = checked_model_or_scores(model, train, test)
    rel, n_overlap, pair_u, rank = sampled_ranks(model, train, test, n_neg, seed, batch_size)
    users = np.unique(pair_u)

    train_counts = train.user_counts()
    groups = {WARM: train_counts[users] > 0, COLD: train_counts[users] == 0}
    n_pairs_user = np.bincount(pair_u, minlength=train.n_users)[users]
    rows = []
    for group, mask in groups.items():
        if not mask.any():
            continue
        for k in ks:
            hit = rank <= k
            per_pair = {"hit_rate": hit.astype(float), "ndcg": hit / np.log2(rank + 1), "mrr": hit / rank}
            for m in metrics:
                per_user = np.bincount(pair_u, weights=per_pair[m], minlength=train.n_users)[users] / n_pairs_user
                rows.append(metric_row(m, k, per_user[mask], group))
    df = metric_table(rows)
    test_users = test.user_counts() > 0
    has_rel = np.diff(rel.indptr) > 0
    df.attrs.update({
        "n_warm_users": int(groups[WARM].sum()), "n_cold_users": int(groups[COLD].sum()),
        "n_test_users_without_relevant": int((test_users & ~has_rel).sum()),
        "n_test_pairs_seen_in_train": n_overlap, "n_pairs": int(len(pair_u)), "n_negatives": n_neg,
        "protocol": f"sampled: each test item vs {n_neg} random unknown items (biased, see docstring)",
    })
    return df


def evaluate_sampled_per_user(model: Recommender | np.ndarray, train: Interactions, test: Interactions,
                              metric: str = "ndcg", k: int = 10, n_negatives: int = 100, seed: int = 0,
                              batch_size: int | None = None) -> pd.Series:
    r"""Per-user values of one sampled metric, for paired comparisons (:mod:`coursekit.claims`).

    The protocol of :func:`evaluate_sampled` (each relevant test item ranked against
    ``n_negatives`` items the user never touched, the per-pair values averaged per user), over
    the warm users, like :func:`evaluate_per_user` for the full ranking.

    Parameters
    ----------
    model : Recommender or array (n_users, n_items)
        A fitted model or a dense score matrix over the universe of ``train``.
    metric : {"ndcg", "hit_rate", "mrr"}
        The sampled metric.
    k : int
        Cutoff, at most ``n_negatives + 1``.
    n_negatives, seed : int
        As in :func:`evaluate_sampled` (the same seed draws the same negatives).

    Returns
    -------
    Series
        Indexed by external user id (name ``user_id``); its mean equals the ``"warm users"`` row
        of :func:`evaluate_sampled` with the same arguments.

    Examples
    --------
    >>> from coursekit.interactions import Interactions
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [10, 20, 10, 30]})
    >>> inter = Interactions.from_frame(log)
    >>> in_train = np.array([True, False, True, False])
    >>> train, test = inter.subset(in_train), inter.subset(~in_train)
    >>> scores = np.array([[0.0, 1.0, 0.5], [0.0, 0.5, 1.0]])     # each user's test item scores highest
    >>> evaluate_sampled_per_user(scores, train, test, "hit_rate", k=1, n_negatives=1).tolist()
    [1.0, 1.0]
    """
    check_same_universe(train, test)
    metric = check_choice(metric, "metric", list(SAMPLED_METRICS))
    k = check_positive_int(k, "k")
    n_neg = check_sampled_k(k, n_negatives)
    model = checked_model_or_scores(model, train, test)
    _, _, pair_u, rank = sampled_ranks(model, train, test, n_neg, seed, batch_size)
    hit = rank <= k
    per_pair = {"hit_rate": hit.astype(float), "ndcg": hit / np.log2(rank + 1), "mrr": hit / rank}[metric]
    users = np.unique(pair_u)
    per_user = (np.bincount(pair_u, weights=per_pair, minlength=train.n_users)[users]
                / np.bincount(pair_u, minlength=train.n_users)[users])
    warm = train.user_counts()[users] > 0
    return pd.Series(per_user[warm], index=pd.Index(train.users.ids[users[warm]], name="user_id"),
                     name=f"sampled {metric}@{k}")
