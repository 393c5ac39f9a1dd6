r"""The evaluation harness: a model (or a score matrix) against a test set, as a tidy table.

Protocol of :func:`evaluate` (full ranking, the honest one):

1. **Candidates**: every item of the universe except the user's training items, which are
   excluded from the ranking (as ``recommend(..., exclude_seen=True)`` does).
2. **Relevant items** :math:`R_u`: the user's test items (optionally only ratings
   :math:`\ge` ``min_rating``), *minus* items the user already has in training: those can never
   be recommended under exclusion, so counting them would cap recall below 1. Their number is
   reported in ``df.attrs["n_test_pairs_seen_in_train"]``.
3. **Users**: only users with at least one relevant item are evaluated (the ranking metrics are
   undefined otherwise). Test users without a relevant item are *not* silently dropped: their
   number is ``df.attrs["n_test_users_without_relevant"]``. Users without training events
   (*cold users*) are evaluated and reported in their own rows, ``group == "cold users"``; all
   others are ``group == "warm users"``. Every value is the mean of the per-user values over the
   group's users, and ``users`` says how many that was.
4. **Beyond accuracy** (coverage, Gini, novelty, personalization, and intra-list diversity when
   ``item_vectors`` are given) is computed on the warm users' top-``k`` lists.

:func:`evaluate_sampled` implements the common shortcut (rank each test item among 100 sampled
items); it exists to show why it misleads.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coursekit._validation import (CourseKitError, NotFittedError, check_batch_size, check_choice,
                                   check_positive_int, check_seed)
from coursekit.interactions import Interactions
from coursekit.metrics import (auc, average_precision_at_k, catalog_coverage, gini_index, hit_rate_at_k,
                               intra_list_diversity, ndcg_at_k, novelty, personalization, precision_at_k,
                               recall_at_k, reciprocal_rank_at_k)
from coursekit.models.base import Recommender, top_k

__all__ = ["evaluate", "evaluate_per_user", "evaluate_sampled", "evaluate_sampled_per_user", "relevance_matrix",
           "DEFAULT_METRICS", "WARM", "COLD"]

WARM, COLD = "warm users", "cold users"
DEFAULT_METRICS = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate")
_RANKING = {
    "precision": precision_at_k, "recall": recall_at_k, "ndcg": ndcg_at_k,
    "map": average_precision_at_k, "mrr": reciprocal_rank_at_k, "hit_rate": hit_rate_at_k,
}
_SAMPLED = ("hit_rate", "ndcg", "mrr")
COLUMNS = ["metric", "k", "value", "users", "group"]


# ---------------------------------------------------------------------------- checks
def check_same_universe(train: Interactions, test: Interactions) -> None:
    """Raise unless ``train`` and ``test`` are Interactions over the same users and items."""
    for name, obj in (("train", train), ("test", test)):
        if not isinstance(obj, Interactions):
            raise CourseKitError(f"{name} must be coursekit Interactions, got {type(obj).__name__}.")
    for kind in ("users", "items"):
        a, b = getattr(train, kind), getattr(test, kind)
        if a is not b and not np.array_equal(a.ids, b.ids):
            raise CourseKitError(
                f"train and test have different {kind} universes ({len(a)} vs {len(b)} {kind}), so their "
                "indices do not line up. Cut both from one Interactions with coursekit.splits (e.g. "
                "user_temporal_split(inter)), or build them with the same users=/items= IdMaps."
            )


def _check_ks(ks) -> tuple[int, ...]:
    if isinstance(ks, (int, np.integer)) and not isinstance(ks, bool):
        ks = (ks,)
    if not isinstance(ks, Iterable) or isinstance(ks, str):
        raise CourseKitError(f"ks must be a list of positive integers such as (5, 10, 20), got {ks!r}.")
    ks = tuple(sorted({check_positive_int(k, "each k in ks") for k in ks}))
    if not ks:
        raise CourseKitError("ks is empty; pass at least one cutoff, e.g. ks=(10,).")
    return ks


def _ranking_at(metric: str, top: np.ndarray, rel: sp.csr_matrix, k: int, graded: bool = False) -> np.ndarray:
    """Per-user ``metric`` at cutoff ``k`` from lists clipped to the catalogue (``top.shape[1] <= n_items``).

    A list never holds more than ``n_items`` entries (``recommend`` clips ``k`` the same way), so for
    ``k > n_items`` every metric equals its value at ``n_items`` except precision, which divides by
    the requested ``k``; this gives the exact value at ``k`` without allocating ``k`` columns.
    """
    k_list = min(k, max(top.shape[1], 1))
    vals = ndcg_at_k(top, rel, k_list, graded=True) if graded else _RANKING[metric](top, rel, k_list)
    return vals * (k_list / k) if metric == "precision" else vals


def _check_metrics(metrics, allowed: Sequence[str], default: Sequence[str]) -> tuple[str, ...]:
    if metrics is None:
        return tuple(default)
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    for m in metrics:
        check_choice(m, "each metric", list(allowed))
    return metrics


def _check_model_universe(model: Recommender, train: Interactions, test: Interactions | None = None) -> None:
    if not hasattr(model, "seen_"):
        raise NotFittedError(f"{type(model).__name__} is not fitted yet: call .fit(train) before evaluating.")
    if not (np.array_equal(model.users_.ids, train.users.ids) and np.array_equal(model.items_.ids, train.items.ids)):
        raise CourseKitError(
            f"the model was fitted on a different user/item universe ({len(model.users_)} users, "
            f"{len(model.items_)} items) than train ({train.n_users} users, {train.n_items} items). "
            "Fit it on the train set of the same split you evaluate on."
        )
    if test is not None:
        _check_model_history(model, train, test)


def _check_model_history(model: Recommender, train: Interactions, test: Interactions) -> None:
    """Raise when the model was fitted on test pairs, warn when it was fitted on other data than ``train``.

    The model excludes its own training items (``model.seen_``) from every list, the harness
    those of ``train``; they must be the same pairs, or the metrics are silently wrong.
    """
    seen = sp.csr_matrix(model.seen_, dtype=bool, copy=True)
    seen.sum_duplicates()  # canonical: sorted indices, as train.matrix()
    seen.eliminate_zeros()
    ref = train.matrix().astype(bool)
    if seen.nnz == ref.nnz and np.array_equal(seen.indptr, ref.indptr) and np.array_equal(seen.indices, ref.indices):
        return
    extra = (seen.astype(np.int8) - seen.multiply(ref).astype(np.int8)).tocsr()
    extra.eliminate_zeros()
    missing = int(ref.nnz - seen.multiply(ref).nnz)
    leaked = int(extra.multiply(test.matrix().astype(bool)).nnz)
    if leaked:
        raise CourseKitError(
            f"train is not the data the model was fitted on: model.seen_ holds {leaked} (user, item) pairs of "
            "test that train does not. The model never recommends its own training items, so those test items "
            "can never be hit and every metric drops toward 0. Fit the model on the train part only and pass "
            "that same part: model.fit(split.train); evaluate(model, split.train, split.test) "
            "(are train and test swapped?)."
        )
    warnings.warn(
        f"train differs from the data the model was fitted on ({int(extra.nnz)} pairs in model.seen_ not in "
        f"train, {missing} pairs of train not in model.seen_), so the model and the harness exclude different "
        "items. Pass as train the data the model was fitted on: model.fit(train); evaluate(model, train, test).",
        UserWarning, stacklevel=4,
    )


def _checked_model_or_scores(model_or_scores, train: Interactions, test: Interactions):
    """A fitted model over ``train``'s universe, or a valid dense score array (returned as an array)."""
    if isinstance(model_or_scores, Recommender):
        _check_model_universe(model_or_scores, train, test)
        return model_or_scores
    return _check_scores(model_or_scores, train)


def _check_sampled_k(kmax: int, n_negatives) -> int:
    """``n_negatives`` as a positive int, refusing a cutoff longer than the sampled list."""
    n_neg = check_positive_int(n_negatives, "n_negatives")
    if kmax > n_neg + 1:
        raise CourseKitError(f"k={kmax} exceeds the {n_neg + 1} ranked items (1 test item + {n_neg} "
                             "negatives); lower k or raise n_negatives.")
    return n_neg


def _check_scores(scores, train: Interactions) -> np.ndarray:
    s = np.asarray(scores)
    if s.shape != (train.n_users, train.n_items):
        raise CourseKitError(
            f"the score array has shape {s.shape}, expected (n_users, n_items) = "
            f"{(train.n_users, train.n_items)} over the universe of train (row = user index, column = item index)."
        )
    if not np.issubdtype(s.dtype, np.number) or np.isnan(s).any():
        raise CourseKitError("the score array must be numeric and free of NaN.")
    return s


# ---------------------------------------------------------------------------- relevance
def relevance_matrix(train: Interactions, test: Interactions, relevance: str = "binary",
                     min_rating: float | None = None) -> tuple[sp.csr_matrix, int]:
    r"""Relevant test items per user (CSR, gains as values) and the number of test pairs dropped as seen in train.

    ``relevance="binary"``: gain 1 for every test item (with ``min_rating``: every test item
    rated :math:`\ge` ``min_rating``). ``relevance="rating"``: the gain is the test rating
    (only rated items; with ``min_rating`` only those rated at least that), used by graded NDCG.
    Items the user has in ``train`` are removed (they are excluded from every ranking).
    """
    check_choice(relevance, "relevance", ["binary", "rating"])
    if relevance == "rating" or min_rating is not None:
        if not test.has_ratings:
            raise CourseKitError(
                "relevance='rating' or min_rating needs ratings, but the test set has none; "
                "use relevance='binary' without min_rating for implicit feedback."
            )
        rel = test.matrix("rating", dtype=np.float64)
        if min_rating is not None:
            rel.data[rel.data < float(min_rating)] = 0.0
            rel.eliminate_zeros()
        if relevance == "binary":
            rel.data[:] = 1.0
        elif rel.nnz and (rel.data <= 0).any():
            raise CourseKitError("relevance='rating' needs positive ratings as gains; pass min_rating > 0 "
                                 "or shift the ratings.")
    else:
        rel = test.matrix("binary", dtype=np.float64)
    seen = train.matrix("binary", dtype=np.float64)
    overlap = rel.multiply(seen).tocsr()
    n_overlap = int(overlap.nnz)
    rel = (rel - overlap).tocsr()
    rel.eliminate_zeros()
    rel.sort_indices()
    return rel, n_overlap


# ---------------------------------------------------------------------------- ranking
def _top_lists(model_or_scores, users: np.ndarray, kmax: int, seen: sp.csr_matrix,
               batch_size: int | None) -> np.ndarray:
    """Top-``kmax`` item indices (-1 padded, exactly ``kmax`` columns) with training items excluded."""
    n_items = seen.shape[1]
    out = np.full((len(users), kmax), -1, dtype=np.int64)
    if len(users) == 0:
        return out
    if isinstance(model_or_scores, Recommender):
        idx, _ = model_or_scores.recommend_indices(users, kmax, exclude_seen=True, batch_size=batch_size)
        out[:, :idx.shape[1]] = idx
        return out
    batch = batch_size or max(1, int(2e7 // max(n_items, 1)))
    for start in range(0, len(users), batch):
        rows = users[start:start + batch]
        s = np.array(model_or_scores[rows], dtype=np.float64)
        r, c = seen[rows].nonzero()
        s[r, c] = -np.inf
        idx, _ = top_k(s, min(kmax, n_items))
        out[start:start + len(rows), :idx.shape[1]] = idx
    return out


def _score_rows(model_or_scores, users: np.ndarray) -> np.ndarray:
    if isinstance(model_or_scores, Recommender):
        return model_or_scores.score_indices(users)
    return np.asarray(model_or_scores[users], dtype=np.float64)


def _auc_values(model_or_scores, users, rel, seen, batch_size) -> np.ndarray:
    batch = batch_size or max(1, int(2e7 // max(rel.shape[1], 1)))
    parts = [auc(_score_rows(model_or_scores, users[s:s + batch]), rel[users[s:s + batch]],
                 exclude=seen[users[s:s + batch]]) for s in range(0, len(users), batch)]
    return np.concatenate(parts) if parts else np.zeros(0)


def _rows(metric: str, k, values: np.ndarray, group: str) -> dict:
    values = np.asarray(values, dtype=np.float64)
    n = int(np.isfinite(values).sum())
    return {"metric": metric, "k": k, "value": float(np.nanmean(values)) if n else np.nan,
            "users": n, "group": group}


def _frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["k"] = df["k"].astype("Int64")
    df["users"] = df["users"].astype(np.int64)
    return df


# ---------------------------------------------------------------------------- evaluate
def evaluate(model_or_scores, train: Interactions, test: Interactions, ks=(5, 10, 20),
             metrics: Sequence[str] | None = None, beyond: bool = True, item_vectors=None,
             relevance: str = "binary", min_rating: float | None = None,
             batch_size: int | None = None) -> pd.DataFrame:
    r"""Evaluate top-``k`` recommendations by full ranking; one tidy row per (group, metric, k).

    Parameters
    ----------
    model_or_scores : Recommender or array (n_users, n_items)
        A fitted coursekit model (its ``recommend_indices(users, max(ks), exclude_seen=True)``
        gives the lists; its own training items are excluded), or a dense score matrix over the
        universe of ``train`` (row = user index, column = item index), to which the harness applies
        the same exclusion of ``train`` items and :func:`~coursekit.models.base.top_k`
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
    ks = _check_ks(ks)
    metrics = _check_metrics(metrics, [*_RANKING, "auc"], DEFAULT_METRICS)
    batch_size = check_batch_size(batch_size)
    model_or_scores = _checked_model_or_scores(model_or_scores, train, test)
    rel_graded, n_overlap = relevance_matrix(train, test, relevance, min_rating)
    rel_binary = rel_graded.copy()
    rel_binary.data[:] = 1.0
    seen = train.matrix("binary", dtype=np.float64)

    train_counts = train.user_counts()
    has_rel = np.diff(rel_binary.indptr) > 0
    test_users = test.user_counts() > 0
    groups = {WARM: np.nonzero(has_rel & (train_counts > 0))[0],
              COLD: np.nonzero(has_rel & (train_counts == 0))[0]}
    kmax = min(max(ks), max(train.n_items, 1))  # longer lists cannot exist (see _ranking_at)
    rows: list[dict] = []
    lists = {}
    for group, users in groups.items():
        if len(users) == 0:
            continue
        top = _top_lists(model_or_scores, users, kmax, seen, batch_size)
        lists[group] = (users, top)
        rel_b, rel_g = rel_binary[users], rel_graded[users]
        for k in ks:
            for m in metrics:
                if m == "auc":
                    continue
                graded = m == "ndcg" and relevance == "rating"
                vals = _ranking_at(m, top, rel_g if graded else rel_b, k, graded)
                rows.append(_rows(m, k, vals, group))
        if "auc" in metrics:
            rows.append(_rows("auc", None, _auc_values(model_or_scores, users, rel_binary, seen, batch_size), group))
    if beyond and WARM in lists:
        rows += _beyond_rows(lists[WARM][1], ks, train, item_vectors)
    df = _frame(rows)
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


def evaluate_per_user(model_or_scores, train: Interactions, test: Interactions, metric: str = "ndcg",
                      k: int = 10, batch_size: int | None = None) -> pd.Series:
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
    metric = check_choice(metric, "metric", list(_RANKING))
    k = check_positive_int(k, "k")
    batch_size = check_batch_size(batch_size)
    model_or_scores = _checked_model_or_scores(model_or_scores, train, test)
    rel, _ = relevance_matrix(train, test)
    users = np.nonzero((np.diff(rel.indptr) > 0) & (train.user_counts() > 0))[0]
    top = _top_lists(model_or_scores, users, min(k, max(train.n_items, 1)), train.matrix("binary", dtype=np.float64),
                     batch_size)
    values = _ranking_at(metric, top, rel[users], k)
    return pd.Series(values, index=pd.Index(train.users.ids[users], name="user_id"), name=f"{metric}@{k}")


def _beyond_rows(top: np.ndarray, ks: tuple[int, ...], train: Interactions, item_vectors) -> list[dict]:
    n_items = train.n_items
    pop = train.matrix().getnnz(axis=0)
    n_train_users = max(int((train.user_counts() > 0).sum()), 1)
    if item_vectors is not None:
        item_vectors = np.asarray(item_vectors, dtype=np.float64)
        if item_vectors.ndim != 2 or item_vectors.shape[0] != n_items:
            raise CourseKitError(
                f"item_vectors must have one row per item of the universe ({n_items}), got shape "
                f"{item_vectors.shape}. Order the rows by item index: vectors[train.items.index(ids)]."
            )
    n = top.shape[0]
    rows = []
    for k in ks:
        t = top[:, :k]
        rows.append({"metric": "coverage", "k": k, "value": catalog_coverage(t, n_items), "users": n, "group": WARM})
        rows.append({"metric": "gini", "k": k, "value": gini_index(t, n_items), "users": n, "group": WARM})
        rows.append(_rows("novelty", k, novelty(t, pop, n_train_users, per_user=True), WARM))
        rows.append({"metric": "personalization", "k": k, "value": personalization(t, n_items),
                     "users": n, "group": WARM})
        if item_vectors is not None:
            rows.append(_rows("intra_list_diversity", k, intra_list_diversity(t, item_vectors), WARM))
    return rows


# ---------------------------------------------------------------------------- sampled
def _member(keys_sorted: np.ndarray, query: np.ndarray) -> np.ndarray:
    if keys_sorted.size == 0:
        return np.zeros(query.shape, bool)
    pos = np.minimum(np.searchsorted(keys_sorted, query), keys_sorted.size - 1)
    return keys_sorted[pos] == query


def _row_duplicates(a: np.ndarray) -> np.ndarray:
    """Mask of entries equal to an earlier-sorted entry of the same row (all but one copy)."""
    order = np.argsort(a, axis=1, kind="stable")
    s = np.take_along_axis(a, order, axis=1)
    dup_sorted = np.zeros_like(a, dtype=bool)
    dup_sorted[:, 1:] = s[:, 1:] == s[:, :-1]
    dup = np.zeros_like(dup_sorted)
    np.put_along_axis(dup, order, dup_sorted, axis=1)
    return dup


def _sample_negatives(pair_users: np.ndarray, known: sp.csr_matrix, n_neg: int,
                      rng: np.random.Generator) -> np.ndarray:
    """For each pair, ``n_neg`` distinct items the user has no train or test event with."""
    n_items = known.shape[1]
    rows = np.repeat(np.arange(known.shape[0], dtype=np.int64), np.diff(known.indptr))
    keys = rows * n_items + known.indices.astype(np.int64)
    neg = rng.integers(0, n_items, size=(len(pair_users), n_neg))
    todo = np.arange(len(pair_users))  # rows that may still hold a known item or a duplicate
    for _ in range(100):  # rejection rounds, vectorized over the rows still to fix
        sub = neg[todo]
        bad = _member(keys, pair_users[todo, None] * n_items + sub) | _row_duplicates(sub)
        rows_bad = bad.any(axis=1)
        if not rows_bad.any():
            return neg
        todo, sub, bad = todo[rows_bad], sub[rows_bad], bad[rows_bad]
        sub[bad] = rng.integers(0, n_items, size=int(bad.sum()))
        neg[todo] = sub
    # the few rows still unlucky (users who know nearly all items): draw them exactly
    for r in todo:  # rare fallback, bounded by the rows that failed 100 rounds
        u = pair_users[r]
        free = np.setdiff1d(np.arange(n_items), known.indices[known.indptr[u]:known.indptr[u + 1]])
        neg[r] = rng.choice(free, n_neg, replace=False)
    return neg


def _sampled_ranks(model, train: Interactions, test: Interactions, n_neg: int, seed: int,
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
    neg = _sample_negatives(pair_u, known, n_neg, rng)

    # rank each positive among its negatives, scoring users in batches (pairs are sorted by user)
    users = np.unique(pair_u)
    batch = batch_size or max(1, int(2e7 // max(train.n_items, 1)))
    rank = np.empty(len(pair_u), dtype=np.float64)
    bounds = np.searchsorted(pair_u, users)
    for start in range(0, len(users), batch):
        ub = users[start:start + batch]
        s = _score_rows(model, ub)
        lo = bounds[start]
        hi = bounds[start + len(ub)] if start + len(ub) < len(users) else len(pair_u)
        row = np.searchsorted(ub, pair_u[lo:hi])
        pos_s = s[row, pair_i[lo:hi]][:, None]
        neg_s = s[row[:, None], neg[lo:hi]]
        above = (neg_s > pos_s) | ((neg_s == pos_s) & (neg[lo:hi] < pair_i[lo:hi, None]))
        rank[lo:hi] = 1 + above.sum(axis=1)
    return rel, n_overlap, pair_u, rank


def evaluate_sampled(model, train: Interactions, test: Interactions, n_negatives: int = 100,
                     ks=(10,), seed: int = 0, metrics: Sequence[str] | None = None,
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
    ks = _check_ks(ks)
    metrics = _check_metrics(metrics, _SAMPLED, _SAMPLED)
    n_neg = _check_sampled_k(max(ks), n_negatives)
    model = _checked_model_or_scores(model, train, test)
    rel, n_overlap, pair_u, rank = _sampled_ranks(model, train, test, n_neg, seed, batch_size)
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
                rows.append(_rows(m, k, per_user[mask], group))
    df = _frame(rows)
    test_users = test.user_counts() > 0
    has_rel = np.diff(rel.indptr) > 0
    df.attrs.update({
        "n_warm_users": int(groups[WARM].sum()), "n_cold_users": int(groups[COLD].sum()),
        "n_test_users_without_relevant": int((test_users & ~has_rel).sum()),
        "n_test_pairs_seen_in_train": n_overlap, "n_pairs": int(len(pair_u)), "n_negatives": n_neg,
        "protocol": f"sampled: each test item vs {n_neg} random unknown items (biased, see docstring)",
    })
    return df


def evaluate_sampled_per_user(model, train: Interactions, test: Interactions, metric: str = "ndcg",
                              k: int = 10, n_negatives: int = 100, seed: int = 0,
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
    metric = check_choice(metric, "metric", list(_SAMPLED))
    k = check_positive_int(k, "k")
    n_neg = _check_sampled_k(k, n_negatives)
    model = _checked_model_or_scores(model, train, test)
    _, _, pair_u, rank = _sampled_ranks(model, train, test, n_neg, seed, batch_size)
    hit = rank <= k
    per_pair = {"hit_rate": hit.astype(float), "ndcg": hit / np.log2(rank + 1), "mrr": hit / rank}[metric]
    users = np.unique(pair_u)
    per_user = (np.bincount(pair_u, weights=per_pair, minlength=train.n_users)[users]
                / np.bincount(pair_u, minlength=train.n_users)[users])
    warm = train.user_counts()[users] > 0
    return pd.Series(per_user[warm], index=pd.Index(train.users.ids[users[warm]], name="user_id"),
                     name=f"sampled {metric}@{k}")
