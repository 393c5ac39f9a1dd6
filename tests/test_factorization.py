"""Explicit-feedback models: BaselineOnly and BiasedMF (SGD / ALS), fold-in, learning curves."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit import CourseKitError
from coursekit.interactions import Interactions
from coursekit.models import Recommender
from coursekit.models.baselines import BaselineOnly
from coursekit.models.factorization import BiasedMF
from coursekit.models.rating_solvers import als_half_step

NOISE = 0.1


def planted(seed: int = 0, n_users: int = 80, n_items: int = 60, rank: int = 3, density: float = 0.5):
    """Ratings mu + b_u + b_i + P Q^T + N(0, NOISE^2) on a random half of the cells; 80/20 train/test."""
    rng = np.random.default_rng(seed)
    P, Q = rng.normal(0, 0.7, (n_users, rank)), rng.normal(0, 0.7, (n_items, rank))
    bu, bi = rng.normal(0, 0.3, n_users), rng.normal(0, 0.3, n_items)
    u, i = np.nonzero(rng.random((n_users, n_items)) < density)
    r = 3.5 + bu[u] + bi[i] + np.einsum("nk,nk->n", P[u], Q[i]) + rng.normal(0, NOISE, u.size)
    inter = Interactions.from_frame(pd.DataFrame({"user_id": u + 1, "item_id": i + 1000, "rating": r}))
    test = rng.random(len(inter)) < 0.2
    return inter.subset(~test), inter.subset(test)


def pairs(inter: Interactions):
    return inter.users.ids[inter.user_index], inter.items.ids[inter.item_index], inter.ratings


def test_rmse(model, inter) -> float:
    u, i, r = pairs(inter)
    return float(np.sqrt(np.mean((model.predict_rating(u, i) - r) ** 2)))


test_rmse.__test__ = False  # a helper, not a test


def ridge_lstsq(Y: np.ndarray, t: np.ndarray, lam: float) -> np.ndarray:
    """Independent reference: argmin ||t - Y x||^2 + lam ||x||^2 via lstsq on the stacked system."""
    d = Y.shape[1]
    A = np.vstack([Y, np.sqrt(lam) * np.eye(d)])
    b = np.concatenate([t, np.zeros(d)])
    return np.linalg.lstsq(A, b, rcond=None)[0]


# ---------------------------------------------------------------------------- ALS building block
def test_als_half_step_equals_lstsq_on_toy_case():
    rng = np.random.default_rng(1)
    n_rows, n_cols, d, lam = 5, 7, 3, 0.3
    rows = np.array([0, 0, 0, 1, 1, 1, 1, 1, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4])  # row 2 has no ratings
    cols = rng.integers(0, n_cols, rows.size)
    cols[:2] = 5  # a repeated (row, col) pair counts twice
    t = rng.normal(size=rows.size)
    Y = rng.normal(size=(n_cols, d))
    got = als_half_step(rows, cols, t, Y, n_rows, lam)
    for r in range(n_rows):
        sel = rows == r
        expected = ridge_lstsq(Y[cols[sel]], t[sel], lam * sel.sum()) if sel.any() else np.zeros(d)
        np.testing.assert_allclose(got[r], expected, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 6), block=st.sampled_from([1, 50, 1 << 22]))
def test_als_half_step_property(seed, d, block):
    """Any block size (one row per block up to everything at once) gives the same exact ridge solutions."""
    rng = np.random.default_rng(seed)
    n_rows, n_cols = 6, 9
    rows = rng.integers(0, n_rows, 40)
    cols = rng.integers(0, n_cols, 40)
    t = rng.normal(size=40)
    Y = rng.normal(size=(n_cols, d))
    got = als_half_step(rows, cols, t, Y, n_rows, 0.5, block_elements=block)
    for r in range(n_rows):
        sel = rows == r
        expected = ridge_lstsq(Y[cols[sel]], t[sel], 0.5 * sel.sum()) if sel.any() else np.zeros(d)
        np.testing.assert_allclose(got[r], expected, atol=1e-9)


def test_als_user_step_in_model_is_closed_form_ridge():
    """After one ALS epoch (items, then users) each user's [p_u, b_u] is the ridge fit on [q_i, 1]."""
    train, _ = planted(seed=2, n_users=12, n_items=10)
    m = BiasedMF(factors=2, reg=0.2, n_epochs=1, solver="als").fit(train)
    Y = np.hstack([m.item_factors_, np.ones((train.n_items, 1))])
    for u in range(train.n_users):
        sel = train.user_index == u
        t = train.ratings[sel] - m.mu_ - m.item_bias_[train.item_index[sel]]
        x = ridge_lstsq(Y[train.item_index[sel]], t, 0.2 * sel.sum())
        np.testing.assert_allclose(m.user_factors_[u], x[:-1], atol=1e-10)
        np.testing.assert_allclose(m.user_bias_[u], x[-1], atol=1e-10)


# ---------------------------------------------------------------------------- learning
def test_als_objective_never_increases():
    train, valid = planted(seed=3)
    m = BiasedMF(factors=3, reg=0.05, n_epochs=12, solver="als").fit(train, valid=valid)
    obj = m.history_objective_
    assert np.all(np.diff(obj) <= 1e-9 * obj[:-1]), f"ALS objective went up: {obj}"
    assert obj[-1] < 0.5 * obj[0]
    assert np.isfinite(m.history_valid_rmse_).all() and m.history_valid_rmse_[-1] < m.history_valid_rmse_[0]


def test_sgd_objective_decreases():
    train, _ = planted(seed=4)
    m = BiasedMF(factors=3, reg=0.05, lr=0.01, n_epochs=30, solver="sgd", batch_size=64).fit(train)
    obj = m.history_objective_
    assert np.all(np.diff(obj) < 0), f"SGD objective went up: {obj}"
    assert obj[-1] < 0.6 * obj[0]
    assert np.isnan(m.history_valid_rmse_).all(), "no valid given: the valid curve stays NaN"


@pytest.mark.parametrize("solver, params", [("als", dict(n_epochs=15, reg=0.01)),
                                            ("sgd", dict(n_epochs=150, reg=0.01, lr=0.02, batch_size=128))])
def test_recovers_planted_low_rank_matrix(solver, params):
    train, test = planted(seed=5)
    m = BiasedMF(factors=3, solver=solver, seed=0, clip=False, **params).fit(train)
    base = BaselineOnly(reg=1.0).fit(train)
    err = test_rmse(m, test)
    assert err < 1.6 * NOISE, f"{solver}: test RMSE {err:.3f} is far above the noise level {NOISE}"
    assert test_rmse(base, test) > 5 * NOISE, "the biases alone cannot explain the planted factors"


def test_baseline_only_solves_its_ridge_problem():
    """BaselineOnly agrees with the dense least-squares solution of its objective (one-hot design)."""
    train, _ = planted(seed=6, n_users=15, n_items=12)
    lam = 3.0
    m = BaselineOnly(reg=lam, n_epochs=200).fit(train)
    u, i, r = train.user_index, train.item_index, train.ratings
    X = np.zeros((len(r), train.n_users + train.n_items))
    X[np.arange(len(r)), u] = 1
    X[np.arange(len(r)), train.n_users + i] = 1
    b = ridge_lstsq(X, r - r.mean(), lam)
    np.testing.assert_allclose(m.user_bias_, b[:train.n_users], atol=1e-8)
    np.testing.assert_allclose(m.item_bias_, b[train.n_users:], atol=1e-8)


# ---------------------------------------------------------------------------- fold-in
def test_user_factors_reproduce_als_user_vectors():
    train, _ = planted(seed=7)
    m = BiasedMF(factors=3, reg=0.05, n_epochs=30, solver="als").fit(train)
    for user in train.users.ids[[0, 5, 17, 42]]:
        sel = train.frame["user_id"].to_numpy() == user
        items, ratings = train.frame["item_id"].to_numpy()[sel], train.ratings[sel]
        p, b = m.user_factors(items, ratings)
        u = train.users.index([user])[0]
        np.testing.assert_allclose(p, m.user_factors_[u], atol=1e-6)
        assert abs(b - m.user_bias_[u]) < 1e-6
        np.testing.assert_allclose(m.score_user_vector(p, b), m.score([user])[0], atol=1e-6)
        np.testing.assert_array_equal(m.fold_in(items, ratings), m.score([user])[0])


def test_baseline_fold_in_equals_score():
    train, _ = planted(seed=7)
    m = BaselineOnly(reg=2.0, n_epochs=5).fit(train)
    for user in train.users.ids[[0, 5]]:
        sel = train.frame["user_id"].to_numpy() == user
        np.testing.assert_allclose(m.fold_in(train.frame["item_id"].to_numpy()[sel], train.ratings[sel]),
                                   m.score([user])[0], atol=1e-12)


def test_fold_in_edge_cases():
    train, _ = planted(seed=8)
    m = BiasedMF(factors=3, n_epochs=2, solver="als").fit(train)
    p, b = m.user_factors([], [])
    assert np.array_equal(p, np.zeros(3)) and b == 0.0
    with pytest.raises(CourseKitError, match="one rating per item"):
        m.user_factors([1000, 1001], [4.0])
    with pytest.raises(CourseKitError, match="one value per item"):
        m.fold_in([1000, 1001], [4.0])
    with pytest.raises(CourseKitError, match="finite"):
        m.user_factors([1000], [np.nan])
    with pytest.raises(CourseKitError, match="unknown item"):
        m.user_factors([5], [4.0])
    with pytest.raises(CourseKitError, match="values"):
        m.fold_in([1000, 1001])
    with pytest.raises(CourseKitError, match="values"):
        m.user_factors([1000, 1001])
    with pytest.raises(CourseKitError, match="shape"):
        m.score_user_vector(np.zeros(4))


# ---------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize("solver", ["sgd", "als"])
def test_deterministic_given_seed(solver):
    train, _ = planted(seed=9)
    a = BiasedMF(factors=3, n_epochs=3, solver=solver, seed=1).fit(train)
    b = BiasedMF(factors=3, n_epochs=3, solver=solver, seed=1).fit(train)
    c = BiasedMF(factors=3, n_epochs=3, solver=solver, seed=2).fit(train)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.history_objective_, b.history_objective_)
    assert not np.allclose(a.item_factors_, c.item_factors_)


@pytest.mark.parametrize("solver", ["sgd", "als"])
def test_cold_items_and_users_fall_back_to_biases(solver):
    frame = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 20, 10],
                          "rating": [5.0, 3.0, 4.0, 2.0, 3.0]})
    train = Interactions.from_frame(frame, users=[1, 2, 3, 4], items=[10, 20, 30])
    m = BiasedMF(factors=2, n_epochs=3, solver=solver).fit(train)
    assert np.array_equal(m.item_factors_[2], np.zeros(2)) and m.item_bias_[2] == 0
    assert np.array_equal(m.user_factors_[3], np.zeros(2)) and m.user_bias_[3] == 0
    np.testing.assert_allclose(m.predict_rating([1], [30]), m.mu_ + m.user_bias_[0])
    np.testing.assert_allclose(m.predict_rating([4], [10]), m.mu_ + m.item_bias_[0])


def test_predictions_clipped_to_training_range():
    train, _ = planted(seed=10)
    m = BiasedMF(factors=3, n_epochs=5, solver="als").fit(train)
    u, i, _ = pairs(train)
    pred = m.predict_rating(u, i)
    assert pred.min() >= train.ratings.min() and pred.max() <= train.ratings.max()
    raw = BiasedMF(factors=3, n_epochs=5, solver="als", clip=False).fit(train).predict_rating(u, i)
    np.testing.assert_allclose(np.clip(raw, train.ratings.min(), train.ratings.max()), pred)


def test_history_survives_save_load(tmp_path):
    train, valid = planted(seed=11)
    m = BiasedMF(factors=2, n_epochs=4, solver="sgd").fit(train, valid=valid)
    loaded = Recommender.load(m.save(tmp_path / "mf"))
    for key, curve in m.history_.items():
        np.testing.assert_array_equal(loaded.history_[key], curve)
    assert not hasattr(m, "_valid"), "the validation data must not stay attached to the model"


def test_clear_errors():
    train, _ = planted(seed=12)
    implicit = Interactions.from_frame(pd.DataFrame({"user_id": [1, 2], "item_id": [3, 4]}))
    for model in (BiasedMF(), BaselineOnly()):
        with pytest.raises(CourseKitError, match="explicit ratings"):
            model.fit(implicit)
    with pytest.raises(CourseKitError, match="solver"):
        BiasedMF(solver="adam").fit(train)
    with pytest.raises(CourseKitError, match="lr"):
        BiasedMF(lr=0).fit(train)
    with pytest.raises(CourseKitError, match="reg"):
        BiasedMF(reg=-1).fit(train)
    with pytest.raises(CourseKitError, match="universe"):
        BiasedMF(n_epochs=1).fit(train, valid=implicit)
    with pytest.raises(FloatingPointError, match="diverged"):
        BiasedMF(lr=50.0, n_epochs=20, batch_size=8).fit(train)


# ---------------------------------------------------------------------------- early stopping
@pytest.mark.parametrize("solver, params", [("sgd", dict(lr=0.05, reg=1e-4, factors=20)),
                                            ("als", dict(reg=1e-3, factors=20))])
def test_early_stopping_keeps_the_best_epoch(solver, params):
    """An over-fitting setting stops `patience` epochs after its lowest validation RMSE and keeps that epoch."""
    train, valid = planted(seed=21, n_users=40, n_items=30, density=0.3)
    m = BiasedMF(n_epochs=200, solver=solver, early_stopping=3, seed=0, **params).fit(train, valid=valid)
    curve = m.history_valid_rmse_
    assert m.n_epochs_run_ < 200 and len(curve) == m.n_epochs_run_ == len(m.history_train_rmse_)
    assert m.best_epoch_ == int(np.argmin(curve)) + 1 == m.n_epochs_run_ - 3
    # the parameters are those of the best epoch, not of the last one
    assert test_rmse(m, valid) == pytest.approx(curve.min(), abs=1e-10)
    assert test_rmse(m, valid) < curve[-1]
    # without early stopping the same model runs every epoch; best_epoch_ is then the last
    full = BiasedMF(n_epochs=m.n_epochs_run_, solver=solver, seed=0, **params).fit(train, valid=valid)
    np.testing.assert_allclose(full.history_valid_rmse_, curve)
    assert full.best_epoch_ == full.n_epochs_run_ == m.n_epochs_run_


def test_early_stopping_needs_a_validation_part_and_a_positive_patience():
    train, valid = planted(seed=22)
    needs_valid = r"early_stopping=3 needs a validation part: call fit\(train, valid=valid\)"
    with pytest.raises(CourseKitError, match=needs_valid):
        BiasedMF(n_epochs=5, early_stopping=3).fit(train)
    for bad in (0, -2, 2.5, "3"):
        with pytest.raises(CourseKitError, match="early_stopping must be a positive integer"):
            BiasedMF(n_epochs=5, early_stopping=bad).fit(train, valid=valid)


def test_scores_are_unclipped_predicted_ratings_and_similar_items_work():
    train, _ = planted(seed=13)
    m = BiasedMF(factors=3, n_epochs=3, solver="als", clip=False).fit(train)
    users = train.users.ids[:4]
    pred = m.predict_rating(np.repeat(users, train.n_items), np.tile(train.items.ids, len(users)))
    np.testing.assert_allclose(m.score(users), pred.reshape(len(users), -1), atol=1e-10)
    item = train.items.ids[0]
    ids, sims = m.similar_items([item], k=3)
    q = m.item_factors_ / np.linalg.norm(m.item_factors_, axis=1, keepdims=True)
    cos = q @ q[0]
    cos[0] = -np.inf
    assert item not in ids[0]
    np.testing.assert_allclose(sims[0], np.sort(cos)[::-1][:3], atol=1e-12)
