r"""Full-ranking evaluation, the honest protocol: every item not seen in training is a candidate.

See :mod:`coursekit.evaluation` for the protocol (candidates, relevant items, warm and cold users).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from coursekit._validation import check_batch_size, check_choice, check_positive_int
from coursekit.evaluation.beyond import beyond_rows
from coursekit.evaluation.checks import check_ks, check_metrics, checked_model_or_scores
from coursekit.evaluation.ranking import (
    COLD,
    DEFAULT_METRICS,
    RANKING_METRICS,
    WARM,
    auc_values,
    metric_row,
    metric_table,
    ranking_at,
    top_lists,
)
from coursekit.evaluation.relevance import relevance_matrix
from coursekit.interactions import Interactions, check_same_universe
from coursekit.models.base import Recommender

__all__ = ["evaluate", "evaluate_per_user"]


def evaluate(model_or_scores: Recommender | np.ndarray, train: Interactions, test: Interactions,
             ks: int | Sequence[int] = (5, 10, 20),
             metrics: Sequence[str] | None = None, beyond: bool = True, item_vectors: np.ndarray | None = None,
             relevance: str = "binary", min_rating: float | None = None,
             batch_size: int | None = None) -> pd.DataFrame:
    r"""Evaluate top-``k`` recommendations by full ranking; one tidy row per (group, metric, k).

    Parameters
    ----------
    model_or_scores : Recommender or array (n_users, n_items)
        A fitted coursekit model (its ``recommend_indices(users, max(ks), exclude_seen=True)``
        gives the lists; its own training items are excluded), or a dense score matrix over the
        universe of ``train`` (row = user index, column = item index), to which the harness applies
        the same exclusion of ``train`` items and :func:`~coursekit.models.ranking.top_k`
        (ties broken by lower item index).
    train, test : Interactions
        Cut from the same data (same universe), e.g. with :mod:`coursekit.splits`.
    ks : int or sequence of int
        Cutoffs; the lists are ranked once at ``max(ks)``, clipped to the catalogue as
        :meth:`~coursekit.models.base.Recommender.recommend` clips ``k`` (a list cannot hold more
        than ``n_items`` items). The metrics keep their definition at the requested ``k`` (precision
        divides by ``k``; the others equal their value at ``n_items``), so ``ks=(10**6,)`` costs no
        more memory than ``ks=(n_items,)``.
    metrics : sequence of str, optional
        Any of ``"precision", "recall", "ndcg", "map", "mrr", "hit_rate"`` (the default) and
        ``"auc"`` (over the full ranking; ``k`` is empty). See :mod:`coursekit.metrics.ranking`
        for the exact definitions (MAP normalised by :math:`\min(k, |R_u|)`).
    beyond : bool
        Add ``coverage``, ``gini``, ``novelty``, ``personalization`` (and
        ``intra_list_diversity`` if ``item_vectors`` is given) for the warm users' lists. Novelty
        uses the number of training users per item out of the users with training events.
    item_vectors : array (n_items, dim), optional
        Item representation for intra-list diversity (e.g. genre one-hots, text embeddings).
    relevance : {"binary", "rating"}
        ``"rating"``: NDCG uses graded linear gains (the test rating); other metrics stay binary.
    min_rating : float, optional
        Only test items rated at least this are relevant (explicit data).
    batch_size : int, optional
        Users scored at a time (a positive integer; ``None`` picks one).

    Notes
    -----
    In the model path, ``train`` must be the data the model was fitted on (``model.seen_``): a
    model fitted on test pairs (fitted on all the data, or ``train`` and ``test`` swapped) raises,
    one fitted on other data warns. Cold users get the model's own rule (``model.cold_users``: the named
    ``"popular"`` fallback, or ``"error"``, which then raises here as it would in ``recommend``).

    Returns
    -------
    DataFrame with columns ``metric, k, value, users, group``
        ``value`` is the mean over the ``users`` evaluated users of the group (``"warm users"`` or
        ``"cold users"``; the beyond-accuracy rows are warm only). ``df.attrs`` holds the counts:
        ``n_warm_users``, ``n_cold_users``, ``n_test_users_without_relevant``,
        ``n_test_pairs_seen_in_train``, and ``protocol``.

    Examples
    --------
    >>> import pandas as pd
    >>> from coursekit.interactions import Interactions
    >>> from coursekit.models import MostPopular
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": [10, 20, 10, 30, 20, 40]})
    >>> inter = Interactions.from_frame(log)
    >>> in_train = np.array([True, False, True, False, True, False])
    >>> train, test = inter.subset(in_train), inter.subset(~in_train)
    >>> df = evaluate(MostPopular().fit(train), train, test, ks=(1,), beyond=False)
    >>> # top-1 (training items excluded): user 1 -> 20 (hit), user 2 -> 20, user 3 -> 10 (misses)
    >>> df[df.metric == "hit_rate"][["k", "value", "users", "group"]].round(4).to_string(index=False)
    ' k  value  users      group\n 1 0.3333      3 warm users'
    """
    check_same_universe(train, test)
    ks = check_ks(ks)
    metrics = check_metrics(metrics, [*RANKING_METRICS, "auc"], DEFAULT_METRICS)
    batch_size = check_batch_size(batch_size)
    model_or_scores = checked_model_or_scores(model_or_scores, train, test)
    rel_graded, n_overlap = relevance_matrix(train, test, relevance, min_rating)
    rel_binary = rel_graded.copy()
    rel_binary.data[:] = 1.0
    seen = train.matrix("binary", dtype=np.float64)

    train_counts = train.user_counts()
    has_rel = np.diff(rel_binary.indptr) > 0
    test_users = test.user_counts() > 0
    groups = {WARM: np.nonzero(has_rel & (train_counts > 0))[0],
              COLD: np.nonzero(has_rel & (train_counts == 0))[0]}
    kmax = min(max(ks), max(train.n_items, 1))  # longer lists cannot exist (see ranking_at)
    rows: list[dict] = []
    lists = {}
    for group, users in groups.items():
        if len(users) == 0:
            continue
        top = top_lists(model_or_scores, users, kmax, seen, batch_size)
        lists[group] = (users, top)
        rel_b, rel_g = rel_binary[users], rel_graded[users]
        for k in ks:
            for m in metrics:
                if m == "auc":
                    continue
                graded = m == "ndcg" and relevance == "rating"
                vals = ranking_at(m, top, rel_g if graded else rel_b, k, graded)
                rows.append(metric_row(m, k, vals, group))
        if "auc" in metrics:
            values = auc_values(model_or_scores, users, rel_binary, seen, batch_size)
            rows.append(metric_row("auc", None, values, group))
    if beyond and WARM in lists:
        rows += beyond_rows(lists[WARM][1], ks, train, item_vectors)
    df = metric_table(rows)
    if not rows:
        warnings.warn("no test user has a relevant item, so nothing was evaluated (empty table); "
                      "check the split and min_rating.", stacklevel=2)
    df.attrs.update({
        "n_warm_users": int(len(groups[WARM])),
        "n_cold_users": int(len(groups[COLD])),
        "n_test_users_without_relevant": int((test_users & ~has_rel).sum()),
        "n_test_pairs_seen_in_train": n_overlap,
        "protocol": "full ranking, training items excluded",
    })
    return df


def evaluate_per_user(model_or_scores: Recommender | np.ndarray, train: Interactions, test: Interactions,
                      metric: str = "ndcg", k: int = 10, batch_size: int | None = None) -> pd.Series:
    r"""Per-user values of one ranking metric, for paired comparisons (:mod:`coursekit.claims`).

    Same protocol as :func:`evaluate` (full ranking, training items excluded), over the warm
    users with at least one relevant test item.

    Returns
    -------
    Series
        Indexed by external user id (name ``user_id``), one value per evaluated user; its mean
        equals the ``"warm users"`` row of :func:`evaluate`.

    Examples
    --------
    >>> from coursekit.interactions import Interactions
    >>> from coursekit.models import MostPopular
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": [10, 20, 10, 30, 20, 40]})
    >>> inter = Interactions.from_frame(log)
    >>> in_train = np.array([True, False, True, False, True, False])
    >>> train, test = inter.subset(in_train), inter.subset(~in_train)
    >>> evaluate_per_user(MostPopular().fit(train), train, test, "hit_rate", k=1).tolist()
    [1.0, 0.0, 0.0]
    """
    check_same_universe(train, test)
    metric = check_choice(metric, "metric", list(RANKING_METRICS))
    k = check_positive_int(k, "k")
    batch_size = check_batch_size(batch_size)
    model_or_scores = checked_model_or_scores(model_or_scores, train, test)
    rel, _ = relevance_matrix(train, test)
    users = np.nonzero((np.diff(rel.indptr) > 0) & (train.user_counts() > 0))[0]
    top = top_lists(model_or_scores, users, min(k, max(train.n_items, 1)), train.matrix("binary", dtype=np.float64),
                     batch_size)
    values = ranking_at(metric, top, rel[users], k)
    return pd.Series(values, index=pd.Index(train.users.ids[users], name="user_id"), name=f"{metric}@{k}")
