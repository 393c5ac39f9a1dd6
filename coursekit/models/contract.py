"""The contract every coursekit recommender passes, in the spirit of scikit-learn's estimator checks.

Each ``check_*`` function takes a *factory* (a callable returning a new, unfitted, small model)
and raises ``AssertionError`` with a readable message when the model breaks a rule of
:mod:`coursekit.models.base`. :func:`run_contract` runs them all; check a model of your own with

>>> from coursekit.models import MostPopular
>>> run_contract(MostPopular)  # raises AssertionError on the first broken rule

What is checked, besides shapes, ordering, padding, unknown ids and the cold-user rule:

* **Capabilities**: each optional ability (``ratings``, ``similar_items``, ``fold_in``, ``save``)
  works when declared in ``model.capabilities`` and raises a :class:`~coursekit.CourseKitError`
  when not: it raises *if and only if* it is not declared.
* **Fitting leaves its inputs alone**: ``get_params()`` is the same before and after ``fit`` (a
  wrapper fits a clone of its inner model, :func:`~coursekit.models.base.clone`), and the training
  data (its frame, index arrays and matrix) is not modified.
* **Refitting** on other data gives exactly the model a fresh fit on that data gives.
* **Batch independence**: a user's scores are the same in one batch or one user at a time.
* **Parameters**: ``get_params`` names constructor arguments, every constructor argument is
  stored under its own name, and ``clone`` rebuilds the same parameters.

The suite fits each factory once on :func:`~coursekit.models.contract_fixtures.contract_data`
and shares that fitted model among the checks (:func:`~coursekit.models.contract_fixtures.fitted`);
checks that need other fits make their own.
"""
from __future__ import annotations

import inspect
import tempfile

import numpy as np

from coursekit._validation import CourseKitError, NotFittedError, UnknownIdError
from coursekit.interactions import Interactions
from coursekit.models.base import CAPABILITIES, Recommender, clone
from coursekit.models.contract_fixtures import (
    COLD_USER,
    UNKNOWN,
    Factory,
    clear_cache,
    contract_data,
    fitted,
    same_value,
    snapshot_params,
)
from coursekit.models.ranking import PAD_ID

__all__ = ["CHECKS", "run_contract"]


def _raises(fn, exc_types, what: str) -> None:
    try:
        fn()
    except exc_types:
        return
    except Exception as e:  # noqa: BLE001 - we want to report what was raised instead
        raise AssertionError(f"{what}: raised {type(e).__name__}: {e} instead of a coursekit error") from e
    raise AssertionError(f"{what}: no error was raised")


def _works(fn, what: str):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - a declared ability must not fail
        raise AssertionError(f"{what} is declared in capabilities but raised {type(e).__name__}: {e}") from e


def _history(data: Interactions, user, ratings: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """External item ids (and ratings) of ``user``'s training events."""
    sel = data.user_index == data.users.index([user])[0]
    return data.items.ids[data.item_index[sel]], (data.ratings[sel] if ratings else None)


# ---------------------------------------------------------------------------- checks: fitting
def check_fit_returns_self(factory: Factory) -> None:
    model = factory()
    assert model.fit(contract_data()) is model, "fit must return self"


def check_not_fitted(factory: Factory) -> None:
    _raises(lambda: factory().recommend([1], k=3), NotFittedError, "recommend before fit")


def check_fit_rejects_bad_input(factory: Factory) -> None:
    frame = contract_data().frame
    _raises(lambda: factory().fit(frame), CourseKitError, "fit on a DataFrame instead of Interactions")


def check_get_params_matches_constructor(factory: Factory) -> None:
    model = factory()
    sig = inspect.signature(type(model).__init__)
    kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    assert not any(p.kind in kinds for p in sig.parameters.values()), \
        f"{type(model).__name__}.__init__ must list its arguments by name (no *args / **kwargs)"
    names = [p for p in sig.parameters if p != "self"]
    extra = set(model.get_params()) - set(names)
    assert not extra, f"get_params returns {sorted(extra)}, which are not constructor arguments"
    missing = [p for p in names if not hasattr(model, p)]
    assert not missing, f"constructor arguments {missing} are not stored as attributes of the same name"
    twin = clone(model)
    assert type(twin) is type(model) and same_value(snapshot_params(twin), snapshot_params(model)), \
        "clone(model) must give a model with the same get_params()"


def check_fit_keeps_params(factory: Factory) -> None:
    changed = fitted(factory).params_changed
    assert not changed, (f"fit changed constructor parameter(s) {sorted(changed)}; fit must only set attributes "
                         "ending in '_' (a wrapper fits clone(inner), not the inner model itself)")


def check_fit_keeps_data(factory: Factory) -> None:
    changed = fitted(factory).data_changed
    assert not changed, f"fit modified the training data ({', '.join(sorted(changed))}); work on a copy"


def check_refit_forgets_old_data(factory: Factory) -> None:
    data = contract_data()
    other = contract_data(seed=1, n_users=20)
    model = factory().fit(data).fit(other)
    fresh = factory().fit(other)
    assert np.array_equal(model.users_.ids, other.users.ids), "after a refit the users must be those of the new data"
    users = other.users.ids
    np.testing.assert_array_equal(model.score(users), fresh.score(users),
                                  err_msg="fit on A then B must give the same scores as a fresh fit on B")


def check_deterministic(factory: Factory) -> None:
    record = fitted(factory)
    users = record.data.users.ids
    again = factory().fit(contract_data())
    np.testing.assert_array_equal(record.model.score(users), again.score(users),
                                  err_msg="two fits with the same seed must give identical scores")


# ---------------------------------------------------------------------------- checks: scoring and ranking
def check_recommend_shapes_and_order(factory: Factory) -> None:
    record = fitted(factory)
    model, data = record.model, record.data
    users = data.users.ids[:5]
    ids, scores = model.recommend(users, k=7)
    assert ids.shape == (5, 7) and scores.shape == (5, 7), f"shapes {ids.shape}, {scores.shape} != (5, 7)"
    real = ids != PAD_ID
    assert np.isin(ids[real], data.items.ids).all(), "recommended ids must be external item ids of the universe"
    assert np.isfinite(scores[real]).all(), "scores of recommended items must be finite"
    assert np.isneginf(scores[~real]).all(), "padding must have score -inf"
    assert (scores[:, 1:] <= scores[:, :-1]).all(), "recommendations must be sorted best first"
    for row in ids:
        r = row[row != PAD_ID]
        assert len(set(r.tolist())) == len(r), "an item must not appear twice in one list"


def check_seen_items_excluded(factory: Factory) -> None:
    record = fitted(factory)
    model, data = record.model, record.data
    users = data.users.ids[:30]
    ids, _ = model.recommend(users, k=10)
    seen = data.matrix()
    for row, u in enumerate(data.users.index(users)):
        seen_ids = data.items.ids[seen[u].indices]
        assert not np.isin(ids[row], seen_ids).any(), f"user {users[row]} was recommended a training item"
    ids_all, _ = model.recommend(users[:3], k=10, exclude_seen=False)
    assert (ids_all != PAD_ID).all(), "with exclude_seen=False no padding is needed"


def check_k_larger_than_catalogue(factory: Factory) -> None:
    record = fitted(factory)
    model, data = record.model, record.data
    ids, scores = model.recommend([1, 2], k=10_000)
    assert ids.shape == (2, data.n_items), f"k > catalogue must give the whole catalogue, got {ids.shape}"
    n_unseen = data.n_items - data.matrix()[data.users.index([1])].nnz
    assert (ids[0] != PAD_ID).sum() == n_unseen, "user 1 must get exactly its unseen items, then padding"


def check_bad_k(factory: Factory) -> None:
    model = fitted(factory).model
    for k in (0, -1, 2.5, True, "10"):
        _raises(lambda k=k: model.recommend([1], k=k), CourseKitError, f"recommend with k={k!r}")


def check_unknown_ids(factory: Factory) -> None:
    model = fitted(factory).model
    _raises(lambda: model.recommend([UNKNOWN], k=3), UnknownIdError, "recommend for an unknown user")
    _raises(lambda: model.score([1], items=[UNKNOWN]), UnknownIdError, "score for an unknown item")


def check_cold_user_rule(factory: Factory) -> None:
    record = fitted(factory)
    model, data = record.model, record.data
    ids, scores = model.recommend([COLD_USER], k=5)
    popularity = data.item_counts()
    expected = data.items.ids[np.argsort(-popularity, kind="stable")[:5]]
    assert np.array_equal(ids[0], expected), "a cold user must get the named 'popular' fallback"
    saved = model.cold_users
    model.cold_users = "error"
    try:
        _raises(lambda: model.recommend([COLD_USER], k=5), CourseKitError, "cold user with cold_users='error'")
    finally:
        model.cold_users = saved


def check_scores_consistent(factory: Factory) -> None:
    record = fitted(factory)
    model, data = record.model, record.data
    users = data.users.ids[:6]
    full = model.score(users)
    assert full.shape == (6, data.n_items), f"score shape {full.shape}"
    assert np.isfinite(full).all(), "scores must be finite"
    some = data.items.ids[[3, 0, 7]]
    np.testing.assert_allclose(model.score(users, items=some), full[:, [3, 0, 7]], err_msg="score(items=...)")
    ids, top = model.recommend(users, k=1)
    masked = full.copy()
    masked[data.matrix()[data.users.index(users)].toarray() > 0] = -np.inf
    np.testing.assert_allclose(top[:, 0], masked.max(axis=1), err_msg="recommend must return the top score")


def check_batch_independent(factory: Factory) -> None:
    record = fitted(factory)
    model, data = record.model, record.data
    users = data.users.ids[:12]
    together = model.score(users)
    alone = np.vstack([model.score([u]) for u in users])
    reverse = model.score(users[::-1])[::-1]
    # float32 models may differ in the last bits between a matrix-vector and a matrix-matrix product
    np.testing.assert_allclose(alone, together, rtol=1e-5, atol=1e-6,
                               err_msg="a user's scores must not depend on the other users of the batch")
    np.testing.assert_allclose(reverse, together, rtol=1e-5, atol=1e-6,
                               err_msg="a user's scores must not depend on the order of the batch")
    top_one, _ = model.recommend_indices(data.users.index(users), k=5, batch_size=1)
    top_all, _ = model.recommend_indices(data.users.index(users), k=5)
    assert np.array_equal(top_one, top_all), "recommend must not depend on the batch size"


# ---------------------------------------------------------------------------- checks: capabilities
def check_capabilities_known(factory: Factory) -> None:
    caps = factory().capabilities
    assert isinstance(caps, (frozenset, set)) and all(isinstance(c, str) for c in caps), \
        f"capabilities must be a set of strings, got {caps!r}"
    unknown = set(caps) - CAPABILITIES
    assert not unknown, f"unknown capabilities {sorted(unknown)}; choose from {sorted(CAPABILITIES)}"


def check_ratings_iff_declared(factory: Factory) -> None:
    model = fitted(factory).model
    call = lambda: model.predict_rating([1, 2, COLD_USER], [100, 101, 102])  # noqa: E731
    if "ratings" not in model.capabilities:
        _raises(call, CourseKitError, "predict_rating without the 'ratings' capability")
        return
    pred = _works(call, "'ratings' (predict_rating)")
    assert np.shape(pred) == (3,) and np.isfinite(pred).all(), f"predict_rating gave {pred!r}"
    _raises(lambda: model.predict_rating([UNKNOWN], [100]), UnknownIdError, "predict_rating for an unknown user")


def check_similar_items_iff_declared(factory: Factory) -> None:
    model = fitted(factory).model
    call = lambda: model.similar_items([100, 101], k=5)  # noqa: E731
    if "similar_items" not in model.capabilities:
        _raises(call, CourseKitError, "similar_items without the 'similar_items' capability")
        return
    ids, scores = _works(call, "'similar_items'")
    assert ids.shape == (2, 5) and scores.shape == (2, 5), f"similar_items shapes {ids.shape}, {scores.shape}"
    assert 100 not in ids[0] and 101 not in ids[1], "similar_items must not return the item itself"
    real = ids != PAD_ID
    assert np.isfinite(scores[real]).all() and (scores[:, 1:] <= scores[:, :-1]).all(), \
        "similar_items scores must be finite and sorted best first"
    sim = _works(lambda: model.item_similarity([100]), "'similar_items' (item_similarity)")
    assert sim.shape == (1, model.n_items), f"item_similarity shape {sim.shape}"
    _raises(lambda: model.similar_items([UNKNOWN]), UnknownIdError, "similar_items of an unknown item")


def check_save_iff_declared(factory: Factory) -> None:
    record = fitted(factory)
    model, data = record.model, record.data
    with tempfile.TemporaryDirectory() as folder:
        if "save" not in model.capabilities:
            _raises(lambda: model.save(folder), CourseKitError, "save without the 'save' capability")
            return
        _works(lambda: model.save(folder), "'save'")
        loaded = _works(lambda: Recommender.load(folder), "'save' (Recommender.load)")
    assert type(loaded) is type(model), "load must return the same class"
    np.testing.assert_array_equal(loaded.score(data.users.ids), model.score(data.users.ids),
                                  err_msg="save/load must give identical scores")


def check_fold_in_iff_declared(factory: Factory) -> None:
    record = fitted(factory)
    model, data = record.model, record.data
    ratings = "ratings" in model.capabilities
    items, values = _history(data, 2, ratings)
    if "fold_in" not in model.capabilities:
        _raises(lambda: model.fold_in(items, values), CourseKitError, "fold_in without the 'fold_in' capability")
        return
    users = data.users.ids[:4]
    before = model.score(users)
    scores = _works(lambda: model.fold_in(items, values), "'fold_in'")
    assert isinstance(scores, np.ndarray) and scores.shape == (data.n_items,), \
        f"fold_in must return one score per item, shape ({data.n_items},), got {np.shape(scores)}"
    assert np.isfinite(scores).all(), "fold_in scores must be finite"
    np.testing.assert_array_equal(model.fold_in(items, values), scores, err_msg="fold_in must be deterministic")
    np.testing.assert_array_equal(model.score(users), before, err_msg="fold_in must not change the fitted model")
    empty = model.fold_in([], [] if ratings else None)
    np.testing.assert_array_equal(empty, data.item_counts().astype(np.float64),
                                  err_msg="fold_in of an empty history must give the training popularity")
    _raises(lambda: model.fold_in([UNKNOWN], [4.0] if ratings else None), UnknownIdError,
            "fold_in of an unknown item")
    _raises(lambda: model.fold_in(items[:2], np.ones(3)), CourseKitError, "fold_in with 2 items and 3 values")


CHECKS = [
    check_fit_returns_self, check_not_fitted, check_fit_rejects_bad_input, check_get_params_matches_constructor,
    check_fit_keeps_params, check_fit_keeps_data, check_refit_forgets_old_data, check_deterministic,
    check_recommend_shapes_and_order, check_seen_items_excluded, check_k_larger_than_catalogue,
    check_bad_k, check_unknown_ids, check_cold_user_rule, check_scores_consistent, check_batch_independent,
    check_capabilities_known, check_ratings_iff_declared, check_similar_items_iff_declared,
    check_save_iff_declared, check_fold_in_iff_declared,
]


def run_contract(factory: Factory) -> None:
    """Run every check against ``factory``; raise ``AssertionError`` on the first failure.

    ``factory`` is fitted afresh (the cache of :func:`fitted` is cleared before and after).
    """
    clear_cache()
    try:
        for check in CHECKS:
            check(factory)
    finally:
        clear_cache()
