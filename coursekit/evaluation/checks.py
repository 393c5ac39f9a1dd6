"""Argument checks of the evaluation harness: cutoffs, metric names, and a model or score matrix that fits ``train``.

>>> check_ks(10), check_ks([20, 5, 5])
((10,), (5, 20))
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from coursekit._validation import CourseKitError, NotFittedError, check_choice, check_positive_int
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender


def check_ks(ks: int | Iterable[int]) -> tuple[int, ...]:
    if isinstance(ks, (int, np.integer)) and not isinstance(ks, bool):
        ks = (ks,)
    if not isinstance(ks, Iterable) or isinstance(ks, str):
        raise CourseKitError(f"ks must be a list of positive integers such as (5, 10, 20), got {ks!r}.")
    ks = tuple(sorted({check_positive_int(k, "each k in ks") for k in ks}))
    if not ks:
        raise CourseKitError("ks is empty; pass at least one cutoff, e.g. ks=(10,).")
    return ks


def check_metrics(metrics: str | Sequence[str] | None, allowed: Sequence[str],
                  default: Sequence[str]) -> tuple[str, ...]:
    if metrics is None:
        return tuple(default)
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    for m in metrics:
        check_choice(m, "each metric", list(allowed))
    return metrics


def check_model_universe(model: Recommender, train: Interactions, test: Interactions | None = None) -> None:
    if not hasattr(model, "seen_"):
        raise NotFittedError(f"{type(model).__name__} is not fitted yet: call .fit(train) before evaluating.")
    if not (np.array_equal(model.users_.ids, train.users.ids) and np.array_equal(model.items_.ids, train.items.ids)):
        raise CourseKitError(
            f"the model was fitted on a different user/item universe ({len(model.users_)} users, "
            f"{len(model.items_)} items) than train ({train.n_users} users, {train.n_items} items). "
            "Fit it on the train set of the same split you evaluate on."
        )
    if test is not None:
        check_model_history(model, train, test)


def check_model_history(model: Recommender, train: Interactions, test: Interactions) -> None:
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


def checked_model_or_scores(model_or_scores: Recommender | np.ndarray, train: Interactions,
                            test: Interactions) -> Recommender | np.ndarray:
    """A fitted model over ``train``'s universe, or a valid dense score array (returned as an array)."""
    if isinstance(model_or_scores, Recommender):
        check_model_universe(model_or_scores, train, test)
        return model_or_scores
    return check_scores(model_or_scores, train)


def check_sampled_k(kmax: int, n_negatives: int) -> int:
    """``n_negatives`` as a positive int, refusing a cutoff longer than the sampled list."""
    n_neg = check_positive_int(n_negatives, "n_negatives")
    if kmax > n_neg + 1:
        raise CourseKitError(f"k={kmax} exceeds the {n_neg + 1} ranked items (1 test item + {n_neg} "
                             "negatives); lower k or raise n_negatives.")
    return n_neg


def check_scores(scores: np.ndarray, train: Interactions) -> np.ndarray:
    s = np.asarray(scores)
    if s.shape != (train.n_users, train.n_items):
        raise CourseKitError(
            f"the score array has shape {s.shape}, expected (n_users, n_items) = "
            f"{(train.n_users, train.n_items)} over the universe of train (row = user index, column = item index)."
        )
    if not np.issubdtype(s.dtype, np.number) or np.isnan(s).any():
        raise CourseKitError("the score array must be numeric and free of NaN.")
    return s
