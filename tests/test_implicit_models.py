"""Implicit-feedback models: iALS (solvers, loss, fold-in), EASE (closed form, explanations), BPR."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit._validation import CourseKitError
from coursekit.interactions import Interactions
from coursekit.models import BPR, EASE, IALS
from coursekit.models.bpr import sample_negatives
from coursekit.models.ease import ease_weights
from coursekit.models.ials_solvers import confidence_matrix, ials_loss, least_squares_cg, least_squares_cholesky


def _planted(seed: int = 0, n_users: int = 60, n_items: int = 40, per_user: int = 8) -> Interactions:
    """Two taste groups: even users pick items 0-19, odd users items 20-39 (90% of the time)."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    half = n_items // 2
    in_group = rng.random(users.size) < 0.9
    items = np.where(in_group, (users % 2) * half + rng.integers(0, half, users.size),
                     rng.integers(0, n_items, users.size))
    frame = pd.DataFrame({"user_id": users, "item_id": items, "timestamp": np.arange(users.size)})
    return Interactions.from_frame(frame, users=np.arange(n_users), items=np.arange(n_items))


def _random_problem(seed: int, n_rows: int = 7, n_cols: int = 12, f: int = 4, density: float = 0.4):
    rng = np.random.default_rng(seed)
    counts = sp.random(n_rows, n_cols, density=density, random_state=seed, format="csr",
                       data_rvs=lambda n: rng.integers(1, 4, n).astype(float))
    return confidence_matrix(counts, alpha=3.0), rng.normal(size=(n_cols, f))


# ---------------------------------------------------------------------------- iALS
def test_cholesky_step_equals_dense_solve_with_explicit_confidence():
    conf, Y = _random_problem(0)
    reg = 0.3
    X = least_squares_cholesky(conf, Y, reg)
    dense = conf.toarray()
    for u in range(conf.shape[0]):
        c_u = np.where(dense[u] > 0, dense[u], 1.0)          # confidence 1 on unobserved cells
        p_u = (dense[u] > 0).astype(float)
        Cu = np.diag(c_u)
        expected = np.linalg.solve(Y.T @ Cu @ Y + reg * np.eye(Y.shape[1]), Y.T @ Cu @ p_u)
        np.testing.assert_allclose(X[u], expected, rtol=1e-10, atol=1e-12)


def test_cholesky_long_and_short_rows_agree(monkeypatch):
    """Rows assembled by padded batched matmuls and by the sparse-dense product give the same systems."""
    import coursekit.models.ials_solvers as ials

    conf, Y = _random_problem(1, n_rows=30, n_cols=50, f=5, density=0.3)
    monkeypatch.setattr(ials, "_LONG_ROW", 1)       # every row through padded matmuls
    a = ials.least_squares_cholesky(conf, Y, 0.1)
    monkeypatch.setattr(ials, "_LONG_ROW", 10**9)   # every row through the sparse product
    b = ials.least_squares_cholesky(conf, Y, 0.1)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_cg_with_f_steps_reaches_cholesky_solution(seed):
    conf, Y = _random_problem(seed)
    exact = least_squares_cholesky(conf, Y, 0.5)
    x0 = np.random.default_rng(seed).normal(size=(conf.shape[0], Y.shape[1]))
    cg = least_squares_cg(conf, Y, x0, 0.5, steps=3 * Y.shape[1])
    np.testing.assert_allclose(cg, exact, rtol=1e-7, atol=1e-9)


def test_cg_few_steps_reduce_the_error():
    conf, Y = _random_problem(3, n_rows=20, n_cols=60, f=16)
    exact = least_squares_cholesky(conf, Y, 0.1)
    x0 = np.zeros_like(exact)
    err = [np.linalg.norm(least_squares_cg(conf, Y, x0, 0.1, steps=s) - exact) for s in (1, 3, 8)]
    assert err[0] > err[1] > err[2]


def test_loss_matches_dense_objective():
    conf, Y = _random_problem(4)
    X = np.random.default_rng(4).normal(size=(conf.shape[0], Y.shape[1]))
    dense = conf.toarray()
    C = np.where(dense > 0, dense, 1.0)
    P = (dense > 0).astype(float)
    expected = np.sum(C * (P - X @ Y.T) ** 2) + 0.7 * (np.sum(X ** 2) + np.sum(Y ** 2))
    assert ials_loss(conf, X, Y, 0.7) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_ials_loss_decreases(solver):
    model = IALS(factors=8, iterations=8, reg=0.1, alpha=5.0, solver=solver).fit(_planted())
    loss = model.loss_history_
    assert loss.shape == (8,)
    assert loss[-1] < loss[0]
    if solver == "cholesky":  # exact alternating minimization never increases the objective
        assert np.all(np.diff(loss) <= 1e-9 * loss[:-1])


def test_ials_ranks_planted_structure():
    data = _planted()
    model = IALS(factors=4, iterations=10, reg=0.1, alpha=5.0).fit(data)
    ids, _ = model.recommend(np.arange(0, 60, 2), k=5)     # even users: items 0-19
    assert np.mean(ids < 20) > 0.8


def test_user_factors_reproduce_training_user_vector():
    data = _planted(seed=1)
    model = IALS(factors=6, iterations=20, reg=0.05, alpha=4.0, solver="cholesky").fit(data)
    counts = data.matrix("count")
    for u in (0, 1, 17, 42):
        row = counts[u]
        x = model.user_factors(data.items.ids[row.indices], row.data)
        np.testing.assert_allclose(x, model.user_factors_[u], rtol=1e-6, atol=1e-8)
    # repeated item ids add up their counts
    x_rep = model.user_factors(data.items.ids[np.repeat(counts[0].indices, counts[0].data.astype(int))])
    np.testing.assert_allclose(x_rep, model.user_factors_[0], rtol=1e-6, atol=1e-8)
    batch = model.user_factors_batch(counts[[0, 1, 17]])
    np.testing.assert_allclose(batch, model.user_factors_[[0, 1, 17]], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("solver", ["cholesky", "cg"])
def test_fold_in_equals_score_of_a_training_user(solver):
    data = _planted(seed=1)
    model = IALS(factors=6, iterations=20, reg=0.05, alpha=4.0, solver=solver).fit(data)
    counts = data.matrix("count")
    for u in (0, 17):
        row = counts[u]
        scores = model.fold_in(data.items.ids[row.indices], row.data)
        # cholesky: the stored vectors are exact solves; cg: a few CG steps away from them
        np.testing.assert_allclose(scores, model.score([data.users.ids[u]])[0],
                                   atol=1e-8 if solver == "cholesky" else 0.05)
    np.testing.assert_array_equal(model.fold_in([]), data.item_counts())
    assert np.array_equal(model.user_factors([]), np.zeros(6))


def test_fold_in_log_confidence_and_bad_input():
    from coursekit import UnknownIdError

    data = _planted(seed=2)
    model = IALS(factors=4, iterations=6, confidence="log", solver="cholesky").fit(data)
    row = data.matrix("count")[3]
    np.testing.assert_allclose(model.user_factors(data.items.ids[row.indices], row.data), model.user_factors_[3],
                               rtol=1e-6, atol=1e-8)
    with pytest.raises(UnknownIdError):
        model.user_factors([0, 10_000])
    with pytest.raises(UnknownIdError):
        model.fold_in([0, 10_000])
    with pytest.raises(CourseKitError, match="positive"):
        model.fold_in([0, 1], values=[1.0, -2.0])
    with pytest.raises(CourseKitError, match="one value per item|one number per item"):
        model.fold_in([0, 1], values=[1.0])
    with pytest.raises(CourseKitError, match="one number per item"):
        model.user_factors([0, 1], values=[1.0, 2.0, 3.0])


def test_ials_bad_params():
    for bad in (dict(solver="svd"), dict(factors=0), dict(alpha=-1.0), dict(confidence="exp")):
        with pytest.raises(CourseKitError):
            IALS(**bad).fit(_planted())


# ---------------------------------------------------------------------------- EASE
def test_ease_equals_direct_dense_computation():
    X = (np.random.default_rng(0).random((25, 9)) < 0.35).astype(float)
    reg = 2.5
    P = np.linalg.inv(X.T @ X + reg * np.eye(9))
    expected = np.eye(9) - P @ np.diag(1.0 / np.diag(P))
    B = ease_weights(X.T @ X, reg)
    np.testing.assert_allclose(B, expected, atol=1e-12)
    assert np.all(np.diag(B) == 0)
    # the constrained optimum: gradient of ||X - XB||^2 + reg ||B||^2 vanishes off the diagonal
    grad = -2 * X.T @ (X - X @ B) + 2 * reg * B
    off = ~np.eye(9, dtype=bool)
    np.testing.assert_allclose(grad[off], 0.0, atol=1e-10)


def test_ease_model_scores_and_contributions():
    data = _planted(seed=3)
    model = EASE(reg=5.0).fit(data)
    X = data.matrix().toarray().astype(float)
    active = X.sum(0) > 0
    B = ease_weights(X[:, active].T @ X[:, active], 5.0)
    expected = np.zeros_like(X)
    expected[:, active] = X[:, active] @ B
    scores = model.score(data.users.ids)
    np.testing.assert_allclose(scores, expected, atol=1e-10)
    for u, i in [(0, 3), (5, 30), (11, 0)]:
        history, shares = model.history_contributions(data.users.ids[u], data.items.ids[i])
        np.testing.assert_array_equal(history, np.nonzero(X[u])[0])
        assert shares.sum() == pytest.approx(scores[u, i], abs=1e-10)


def test_ease_fold_in_equals_score():
    from coursekit import UnknownIdError

    data = _planted(seed=3)
    model = EASE(reg=5.0).fit(data)
    seen = data.matrix("count")
    for u in (0, 5, 11):
        items = data.items.ids[np.repeat(seen[u].indices, seen[u].data.astype(int))]   # repeats: presence only
        np.testing.assert_array_equal(model.fold_in(items), model.score([data.users.ids[u]])[0])
    with pytest.raises(UnknownIdError):
        model.fold_in([10_000])
    with pytest.raises(CourseKitError):
        model.fold_in([0, 1], values=[1.0])


def test_ease_rejects_bad_reg():
    with pytest.raises(CourseKitError, match="reg"):
        EASE(reg=0).fit(_planted())


# ---------------------------------------------------------------------------- BPR
def test_negative_sampling_never_returns_seen_items():
    data = _planted(seed=4)
    seen = data.matrix()
    users = np.repeat(np.arange(seen.shape[0]), 50)
    neg = sample_negatives(seen, users, np.random.default_rng(0))
    assert (neg >= 0).all()
    assert not np.asarray(seen[users, neg]).any()


def _auc(model: BPR, data: Interactions) -> float:
    """Planted AUC: in-group items should outscore out-of-group items, per user."""
    scores = model.score(data.users.ids)
    group = (np.arange(data.n_users) % 2)[:, None] == (np.arange(data.n_items) // 20)[None, :]
    pos = np.where(group, scores, np.nan)
    neg = np.where(~group, scores, np.nan)
    wins = (pos[:, :, None] > neg[:, None, :])
    valid = ~np.isnan(pos)[:, :, None] & ~np.isnan(neg)[:, None, :]
    return float(wins[valid].mean())


def test_bpr_loss_falls_and_learns_planted_structure():
    data = _planted(seed=5)
    model = BPR(factors=8, epochs=20, batch_size=128, lr=0.02, reg=1e-4, device="cpu", seed=0).fit(data)
    loss = model.loss_history_
    assert loss[-1] < 0.7 * loss[0]
    assert _auc(model, data) > 0.8


def test_bpr_bad_params():
    for bad in (dict(optimizer="rmsprop"), dict(lr=0.0), dict(epochs=0)):
        with pytest.raises(CourseKitError):
            BPR(device="cpu", **bad).fit(_planted())
