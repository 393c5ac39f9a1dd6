"""The contract every coursekit recommender passes, in the spirit of scikit-learn's estimator checks.

Each ``check_*`` function takes a *factory* (a callable returning a new, unfitted,
small model) and raises ``AssertionError`` with a readable message when the model
breaks a rule of :mod:`coursekit.models.base`. ``tests/test_model_contract.py`` runs
every check against every factory in :data:`coursekit.models.CONTRACT_CASES`, so a new
model only has to register itself:

>>> from coursekit.models import MostPopular
>>> run_contract(MostPopular)  # raises AssertionError on the first broken rule
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, NotFittedError, UnknownIdError
from coursekit.interactions import Interactions
from coursekit.models.base import PAD_ID, Recommender

Factory = Callable[[], Recommender]

COLD_USER = 10_000  # in the universe, no events
COLD_ITEM = 90_000  # in the universe, no events


def contract_data(seed: int = 0) -> Interactions:
    """A small log with structure (two taste groups), ratings, timestamps, a cold user and a cold item.

    30 users x 40 items (+1 cold each); user 1 has interacted with every warm item but one,
    to exercise padding.
    """
    rng = np.random.default_rng(seed)
    n_users, n_items = 30, 40
    users = np.repeat(np.arange(1, n_users + 1), 12)
    group = users % 2
    items = np.where(rng.random(users.size) < 0.8, group * 20 + rng.integers(0, 20, users.size),
                     rng.integers(0, n_items, users.size)) + 100
    frame = pd.DataFrame({"user_id": users, "item_id": items})
    heavy = pd.DataFrame({"user_id": 1, "item_id": np.arange(100, 100 + n_items - 1)})
    frame = pd.concat([frame, heavy], ignore_index=True)
    frame["timestamp"] = rng.permutation(len(frame)) * 60 + 1_600_000_000
    frame["rating"] = rng.integers(1, 6, len(frame)).astype(float)
    return Interactions.from_frame(
        frame,
        users=np.r_[np.arange(1, n_users + 1), COLD_USER],
        items=np.r_[np.arange(100, 100 + n_items), COLD_ITEM],
    )


def _fitted(factory: Factory, data: Interactions | None = None) -> Recommender:
    return factory().fit(data if data is not None else contract_data())


def _raises(fn, exc_types, what: str) -> None:
    try:
        fn()
    except exc_types:
        return
    except Exception as e:  # noqa: BLE001 - we want to report what was raised instead
        raise AssertionError(f"{what}: raised {type(e).__name__}: {e} instead of a coursekit error") from e
    raise AssertionError(f"{what}: no error was raised")


# ---------------------------------------------------------------------------- checks
def check_fit_returns_self(factory: Factory) -> None:
    model = factory()
    assert model.fit(contract_data()) is model, "fit must return self"


def check_not_fitted(factory: Factory) -> None:
    _raises(lambda: factory().recommend([1], k=3), NotFittedError, "recommend before fit")


def check_fit_rejects_bad_input(factory: Factory) -> None:
    frame = contract_data().frame
    _raises(lambda: factory().fit(frame), CourseKitError, "fit on a DataFrame instead of Interactions")


def check_recommend_shapes_and_order(factory: Factory) -> None:
    data = contract_data()
    model = _fitted(factory, data)
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
    data = contract_data()
    model = _fitted(factory, data)
    users = data.users.ids[:30]
    ids, _ = model.recommend(users, k=10)
    seen = data.matrix()
    for row, u in enumerate(data.users.index(users)):
        seen_ids = data.items.ids[seen[u].indices]
        assert not np.isin(ids[row], seen_ids).any(), f"user {users[row]} was recommended a training item"
    ids_all, _ = model.recommend(users[:3], k=10, exclude_seen=False)
    assert (ids_all != PAD_ID).all(), "with exclude_seen=False no padding is needed"


def check_k_larger_than_catalogue(factory: Factory) -> None:
    data = contract_data()
    model = _fitted(factory, data)
    ids, scores = model.recommend([1, 2], k=10_000)
    assert ids.shape == (2, data.n_items), f"k > catalogue must give the whole catalogue, got {ids.shape}"
    n_unseen = data.n_items - data.matrix()[data.users.index([1])].nnz
    assert (ids[0] != PAD_ID).sum() == n_unseen, "user 1 must get exactly its unseen items, then padding"


def check_bad_k(factory: Factory) -> None:
    model = _fitted(factory)
    for k in (0, -1, 2.5, True, "10"):
        _raises(lambda k=k: model.recommend([1], k=k), CourseKitError, f"recommend with k={k!r}")


def check_unknown_ids(factory: Factory) -> None:
    model = _fitted(factory)
    _raises(lambda: model.recommend([123456789], k=3), UnknownIdError, "recommend for an unknown user")
    _raises(lambda: model.score([1], items=[123456789]), UnknownIdError, "score for an unknown item")


def check_cold_user_rule(factory: Factory) -> None:
    data = contract_data()
    model = _fitted(factory, data)
    ids, scores = model.recommend([COLD_USER], k=5)
    popularity = data.item_counts()
    expected = data.items.ids[np.argsort(-popularity, kind="stable")[:5]]
    assert np.array_equal(ids[0], expected), "a cold user must get the named 'popular' fallback"
    model.cold_users = "error"
    _raises(lambda: model.recommend([COLD_USER], k=5), CourseKitError, "cold user with cold_users='error'")


def check_scores_consistent(factory: Factory) -> None:
    data = contract_data()
    model = _fitted(factory, data)
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


def check_deterministic(factory: Factory) -> None:
    data = contract_data()
    a = _fitted(factory, data).score(data.users.ids)
    b = _fitted(factory, data).score(data.users.ids)
    np.testing.assert_array_equal(a, b, err_msg="two fits with the same seed must give identical scores")


def check_save_load_roundtrip(factory: Factory) -> None:
    data = contract_data()
    model = _fitted(factory, data)
    with tempfile.TemporaryDirectory() as folder:
        model.save(folder)
        loaded = Recommender.load(folder)
    assert type(loaded) is type(model), "load must return the same class"
    np.testing.assert_array_equal(loaded.score(data.users.ids), model.score(data.users.ids),
                                  err_msg="save/load must give identical scores")


def check_similar_items(factory: Factory) -> None:
    model = _fitted(factory)
    try:
        ids, scores = model.similar_items([100, 101], k=5)
    except CourseKitError:
        return  # the model has no notion of item similarity, and says so
    assert ids.shape == (2, 5), f"similar_items shape {ids.shape}"
    assert 100 not in ids[0] and 101 not in ids[1], "similar_items must not return the item itself"


def check_predict_rating(factory: Factory) -> None:
    model = _fitted(factory)
    try:
        pred = model.predict_rating([1, 2, COLD_USER], [100, 101, 102])
    except CourseKitError:
        return  # a ranking-only model, and it says so
    assert pred.shape == (3,) and np.isfinite(pred).all(), f"predict_rating gave {pred}"


CHECKS = [
    check_fit_returns_self, check_not_fitted, check_fit_rejects_bad_input,
    check_recommend_shapes_and_order, check_seen_items_excluded, check_k_larger_than_catalogue,
    check_bad_k, check_unknown_ids, check_cold_user_rule, check_scores_consistent,
    check_deterministic, check_save_load_roundtrip, check_similar_items, check_predict_rating,
]


def run_contract(factory: Factory) -> None:
    """Run every check against ``factory``; raise ``AssertionError`` on the first failure."""
    for check in CHECKS:
        check(factory)
