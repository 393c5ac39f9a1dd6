r"""Checks for the exercises of lesson 03 (matrix factorization).

``ex03_sgd_epoch(users, items, ratings, mu, b_user, b_item, P, Q, lr, reg)``
    One epoch of stochastic gradient descent for biased matrix factorization
    :math:`\hat r_{ui} = \mu + b_u + b_i + \mathbf p_u^\top \mathbf q_i`, visiting the ratings in
    the given order. For each :math:`(u, i, r)`:

    .. math::

        e &= r - (\mu + b_u + b_i + \mathbf p_u^\top \mathbf q_i) \\
        b_u &\leftarrow b_u + \eta\,(e - \lambda b_u), \qquad
        b_i \leftarrow b_i + \eta\,(e - \lambda b_i) \\
        \mathbf p_u &\leftarrow \mathbf p_u + \eta\,(e\,\mathbf q_i - \lambda \mathbf p_u), \qquad
        \mathbf q_i \leftarrow \mathbf q_i + \eta\,(e\,\mathbf p_u - \lambda \mathbf q_i)

    where the two factor updates use the *old* :math:`\mathbf p_u, \mathbf q_i` (simultaneous
    update) and :math:`\mu` stays fixed. Returns ``(b_user, b_item, P, Q)`` (new arrays or the
    updated inputs).

``ex03_ials_user_update(Q, item_index, values, alpha, reg)``
    The closed-form iALS update of one user (Hu, Koren & Volinsky 2008) given the item
    factors :math:`Q \in \mathbb R^{n \times f}`, the user's items and their values
    :math:`r_{ui}` (preference :math:`p_{ui} = 1`, confidence :math:`c_{ui} = 1 + \alpha r_{ui}`;
    every other item has :math:`p_{ui} = 0, c_{ui} = 1`):

    .. math::

        \mathbf x_u = \bigl(Q^\top Q + Q^\top (C^u - I) Q + \lambda I\bigr)^{-1} Q^\top C^u \mathbf p(u)

``ex03_train_ials(R, factors, alpha, reg, n_iters, seed)``
    A training loop: iALS by alternating the user and the item updates from random ``N(0, 0.1^2)``
    factors; returns ``(X, Y)``. Judged by the model it trains: on a fixed split of a small simulated shop
    (:func:`training_split`) the NDCG@10 of ``X @ Y.T`` must reach 80% of the reference's (and so beat
    MostPopular) within the case's 60 s.

Expected answers come from the reference implementations below, written independently of
:mod:`coursekit.models` (the tests also check them against a direct dense computation).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from coursekit.exercises.checks import Case, Exercise, Mistake, register
from coursekit.exercises.compare import compare_array, compare_arrays, same_array, same_arrays, show_array, show_arrays

SEED = 20240303


# ---------------------------------------------------------------------------- reference solutions
def reference_sgd_epoch(users: np.ndarray, items: np.ndarray, ratings: np.ndarray, mu: float, b_user: np.ndarray,
                        b_item: np.ndarray, P: np.ndarray, Q: np.ndarray, lr: float,
                        reg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""One SGD epoch of biased MF in the given order; returns new ``(b_user, b_item, P, Q)``.

    >>> bu, bi, P, Q = reference_sgd_epoch([0], [0], [4.0], 3.0, np.zeros(1), np.zeros(1),
    ...                                    np.ones((1, 1)), np.ones((1, 1)), 0.1, 0.0)
    >>> float(bu[0]), float(P[0, 0])   # e = 4 - (3 + 0 + 0 + 1) = 0: nothing moves
    (0.0, 1.0)
    """
    b_user, b_item = np.array(b_user, dtype=np.float64), np.array(b_item, dtype=np.float64)
    P, Q = np.array(P, dtype=np.float64), np.array(Q, dtype=np.float64)
    for u, i, r in zip(np.asarray(users), np.asarray(items), np.asarray(ratings, dtype=np.float64)):
        e = r - (mu + b_user[u] + b_item[i] + P[u] @ Q[i])
        b_user[u] += lr * (e - reg * b_user[u])
        b_item[i] += lr * (e - reg * b_item[i])
        p_old = P[u].copy()
        P[u] += lr * (e * Q[i] - reg * P[u])
        Q[i] += lr * (e * p_old - reg * Q[i])
    return b_user, b_item, P, Q


def reference_ials_user(Q: np.ndarray, item_index: np.ndarray, values: np.ndarray, alpha: float,
                        reg: float) -> np.ndarray:
    r"""Closed-form iALS user vector with the Gram-matrix trick (cost :math:`O(f^2 n_u + f^3)`).

    >>> Q = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> reference_ials_user(Q, [0], [1.0], alpha=1.0, reg=0.0).tolist()   # (1 + 1) * 1 / (1 + 1)
    [1.0, 0.0]
    """
    Q = np.asarray(Q, dtype=np.float64)
    idx = np.asarray(item_index, dtype=np.int64)
    c = 1.0 + alpha * np.asarray(values, dtype=np.float64)
    Qu = Q[idx]
    A = Q.T @ Q + (Qu.T * (c - 1.0)) @ Qu + reg * np.eye(Q.shape[1])
    b = Qu.T @ c
    return np.linalg.solve(A, b)


# ---------------------------------------------------------------------------- comparison
SGD_NAMES = ("b_user", "b_item", "P", "Q")


def compare_sgd(expected: tuple, got: Any) -> str | None:
    """``None`` when ``got`` is the tuple ``(b_user, b_item, P, Q)`` of ``expected`` up to rounding."""
    return compare_arrays(expected, got, SGD_NAMES)


def show_sgd(value: Any) -> str:
    """The four arrays of an SGD epoch, one per line."""
    return show_arrays(value, SGD_NAMES)


# ---------------------------------------------------------------------------- SGD cases
def _sgd_problem(n_users: int, n_items: int, n_ratings: int, f: int, seed: int, lr: float, reg: float):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n_ratings)
    items = rng.integers(0, n_items, n_ratings)
    ratings = rng.integers(1, 11, n_ratings) / 2.0
    mu = float(ratings.mean())
    b_user = rng.normal(0, 0.1, n_users)
    b_item = rng.normal(0, 0.1, n_items)
    P = rng.normal(0, 0.1, (n_users, f))
    Q = rng.normal(0, 0.1, (n_items, f))
    return (users, items, ratings, mu, b_user, b_item, P, Q, lr, reg)


def _sgd_cases() -> list[Case]:
    one = ([0], [1], [5.0], 3.0, np.array([0.5]), np.array([0.0, -0.5]), np.array([[1.0, 0.0]]),
           np.array([[0.0, 0.0], [1.0, 1.0]]), 0.1, 0.0)
    # hand: e = 5 - (3 + 0.5 - 0.5 + 1) = 1; b_u = 0.6; b_1 = -0.4; p = [1, 0] + 0.1 [1, 1] = [1.1, 0.1];
    #       q_1 = [1, 1] + 0.1 [1, 0] = [1.1, 1.0]
    twice = ([0, 0], [0, 0], [4.0, 4.0], 3.0, np.zeros(1), np.zeros(1), np.array([[0.5]]), np.array([[0.5]]),
             0.5, 0.1)
    cases = [
        Case("one rating, by hand (e = 1)", one, lambda: reference_sgd_epoch(*one)),
        Case("the same rating twice: the order matters", twice, lambda: reference_sgd_epoch(*twice),
             hint="Update after every rating, so the second visit already sees the first update."),
    ]
    for j, (nu, ni, n, f, lr, reg) in enumerate([(5, 6, 20, 2, 0.05, 0.02), (20, 15, 150, 3, 0.01, 0.1),
                                                  (50, 40, 600, 8, 0.02, 0.05)]):
        prob = _sgd_problem(nu, ni, n, f, SEED + j, lr, reg)
        cases.append(Case(f"random: {n} ratings, {f} factors, lr={lr}, reg={reg}", prob,
                          lambda prob=prob: reference_sgd_epoch(*prob)))
    return cases


def _sgd_sequential(users, items, ratings, mu, b_user, b_item, P, Q, lr, reg):
    b_user, b_item = np.array(b_user, dtype=float), np.array(b_item, dtype=float)
    P, Q = np.array(P, dtype=float), np.array(Q, dtype=float)
    for u, i, r in zip(users, items, ratings):
        e = r - (mu + b_user[u] + b_item[i] + P[u] @ Q[i])
        b_user[u] += lr * (e - reg * b_user[u])
        b_item[i] += lr * (e - reg * b_item[i])
        P[u] += lr * (e * Q[i] - reg * P[u])
        Q[i] += lr * (e * P[u] - reg * Q[i])
    return b_user, b_item, P, Q


def _sgd_no_reg(users, items, ratings, mu, b_user, b_item, P, Q, lr, reg):
    return reference_sgd_epoch(users, items, ratings, mu, b_user, b_item, P, Q, lr, 0.0)


def _sgd_no_bias(users, items, ratings, mu, b_user, b_item, P, Q, lr, reg):
    b_user, b_item = np.array(b_user, dtype=float), np.array(b_item, dtype=float)
    _, _, P, Q = reference_sgd_epoch(users, items, ratings, mu, b_user, b_item, P, Q, lr, reg)
    return b_user, b_item, P, Q


def _sgd_sign(users, items, ratings, mu, b_user, b_item, P, Q, lr, reg):
    b_user, b_item = np.array(b_user, dtype=float), np.array(b_item, dtype=float)
    P, Q = np.array(P, dtype=float), np.array(Q, dtype=float)
    for u, i, r in zip(users, items, ratings):
        e = (mu + b_user[u] + b_item[i] + P[u] @ Q[i]) - r
        b_user[u] += lr * (e - reg * b_user[u])
        b_item[i] += lr * (e - reg * b_item[i])
        p_old = P[u].copy()
        P[u] += lr * (e * Q[i] - reg * P[u])
        Q[i] += lr * (e * p_old - reg * Q[i])
    return b_user, b_item, P, Q


register(Exercise(
    name="ex03_sgd_epoch",
    title="One SGD epoch of biased matrix factorization",
    cases=_sgd_cases,
    compare=compare_sgd,
    same=same_arrays,
    show=show_sgd,
    hint="Loop over zip(users, items, ratings) in the given order. For each rating compute the error "
         "e = r - (mu + b_user[u] + b_item[i] + P[u] @ Q[i]), update both biases, then P[u] and Q[i] from a "
         "copy of the OLD P[u]. Work on copies of the arrays (np.array(x, dtype=float)) and return them.",
    mistakes=[
        Mistake(_sgd_sequential, "Q[i] was updated with the NEW P[u]. Both factor updates use the old vectors: "
                                 "keep p_old = P[u].copy() before updating P[u]."),
        Mistake(_sgd_no_reg, "The regularisation is missing: each update subtracts lr * reg * (the parameter)."),
        Mistake(_sgd_no_bias, "The biases b_user[u] and b_item[i] must be updated too: b += lr * (e - reg * b)."),
        Mistake(_sgd_sign, "The error is e = r - prediction (observed minus predicted); with the opposite sign "
                           "every step goes uphill."),
    ],
))


# ---------------------------------------------------------------------------- iALS cases
def _ials_cases() -> list[Case]:
    Q2 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    cases = [
        # hand: c = 2; A = I + (2 - 1) e0 e0^T + 0.5 I = diag(2.5, 1.5); b = 2 e0; x = [0.8, 0]
        Case("hand: orthonormal factors, one item", (Q2[:2], np.array([0]), np.array([1.0]), 1.0, 0.5),
             np.array([0.8, 0.0])),
        Case("3 items, 2 factors", (Q2, np.array([0, 2]), np.array([1.0, 3.0]), 2.0, 0.5),
             lambda: reference_ials_user(Q2, [0, 2], [1.0, 3.0], 2.0, 0.5)),
        Case("a user with no items gets the zero vector", (Q2, np.array([], dtype=np.int64), np.array([]), 5.0, 0.1),
             np.zeros(2), hint="With no items, the right-hand side Q^T C^u p(u) is zero, so x_u = 0."),
    ]
    for j, (n, f, nu, alpha, reg) in enumerate([(30, 4, 5, 10.0, 0.1), (200, 8, 20, 40.0, 1.0),
                                                (500, 16, 60, 1.0, 0.01)]):
        rng = np.random.default_rng(SEED + j)
        Q = rng.normal(0, 0.3, (n, f))
        idx = np.sort(rng.choice(n, nu, replace=False))
        vals = rng.integers(1, 4, nu).astype(np.float64)
        args = (Q, idx, vals, alpha, reg)
        cases.append(Case(f"random: {n} items, {f} factors, {nu} user items, alpha={alpha}, reg={reg}", args,
                          lambda args=args: reference_ials_user(*args)))
    return cases


def _ials_user_items_only(Q, item_index, values, alpha, reg):
    Q = np.asarray(Q, dtype=float)
    Qu = Q[np.asarray(item_index, dtype=int)]
    c = 1.0 + alpha * np.asarray(values, dtype=float)
    return np.linalg.solve((Qu.T * c) @ Qu + reg * np.eye(Q.shape[1]), Qu.T @ c)


def _ials_rhs_without_c(Q, item_index, values, alpha, reg):
    Q = np.asarray(Q, dtype=float)
    Qu = Q[np.asarray(item_index, dtype=int)]
    c = 1.0 + alpha * np.asarray(values, dtype=float)
    A = Q.T @ Q + (Qu.T * (c - 1.0)) @ Qu + reg * np.eye(Q.shape[1])
    return np.linalg.solve(A, Qu.sum(axis=0))


def _ials_conf(Q, item_index, values, alpha, reg):
    # confidence c = alpha * r (forgot the 1 +)
    Q = np.asarray(Q, dtype=float)
    Qu = Q[np.asarray(item_index, dtype=int)]
    c = alpha * np.asarray(values, dtype=float)
    A = Q.T @ Q + (Qu.T * (c - 1.0)) @ Qu + reg * np.eye(Q.shape[1])
    return np.linalg.solve(A, Qu.T @ c)


def _ials_no_reg(Q, item_index, values, alpha, reg):
    return reference_ials_user(Q, item_index, values, alpha, 0.0)


register(Exercise(
    name="ex03_ials_user_update",
    title="The closed-form iALS user update",
    cases=_ials_cases,
    compare=compare_array,
    same=same_array,
    show=show_array,
    hint="c = 1 + alpha * values; Qu = Q[item_index]; A = Q.T @ Q + (Qu.T * (c - 1)) @ Qu + reg * I; "
         "b = Qu.T @ c (p_ui = 1 on the user's items, 0 elsewhere); return np.linalg.solve(A, b).",
    mistakes=[
        Mistake(_ials_user_items_only, "You used only the user's items in the Gram matrix. Every item counts: the "
                                       "items the user did not touch have p = 0 with confidence 1, which gives the "
                                       "Q.T @ Q term (the 'Gram-matrix trick' adds only the user's items' extra "
                                       "confidence c - 1 on top)."),
        Mistake(_ials_rhs_without_c, "The right-hand side is Q^T C^u p(u) = sum over the user's items of c_ui q_i, "
                                     "weighted by the confidence, not the plain sum of q_i."),
        Mistake(_ials_conf, "Confidence is c_ui = 1 + alpha * r_ui (the 1 keeps every observed item at least as "
                            "confident as an unobserved one)."),
        Mistake(_ials_no_reg, "The regularisation lambda * I is missing from the matrix to invert."),
    ],
))


# ---------------------------------------------------------------------------- exercise 3: an iALS training loop
TRAIN_SIZES = dict(n_users=800, n_items=200, n_events=40_000)
TRAIN_PARAMS = dict(factors=8, alpha=3.0, reg=0.1, n_iters=8)
TRAIN_BAR_SHARE = 0.8       # the student's NDCG@10 must reach 80% of the reference's (and beat MostPopular)


def reference_train_ials(R: Any, factors: int, alpha: float, reg: float, n_iters: int,
                         seed: int) -> tuple[np.ndarray, np.ndarray]:
    r"""iALS by alternating closed-form solves; returns user factors ``X`` (n_users, f) and item factors ``Y``.

    Starts from ``N(0, 0.1^2)`` factors drawn with ``numpy.random.default_rng(seed)`` (``X`` first), then
    ``n_iters`` times solves every user with ``Y`` fixed, then every item with ``X`` fixed (the same
    formula on ``R.T``), confidence ``c = 1 + alpha * r``.

    >>> import scipy.sparse as sp
    >>> X, Y = reference_train_ials(sp.csr_matrix(np.eye(3)), 2, 1.0, 0.1, 2, seed=0)
    >>> X.shape, Y.shape
    ((3, 2), (3, 2))
    """
    import scipy.sparse as sp

    R = sp.csr_matrix(R, dtype=np.float64)
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 0.1, (R.shape[0], factors))
    Y = rng.normal(0, 0.1, (R.shape[1], factors))
    Rt = R.T.tocsr()

    def solve_all(M: Any, fixed: np.ndarray) -> np.ndarray:
        gram = fixed.T @ fixed + reg * np.eye(factors)
        out = np.zeros((M.shape[0], factors))
        for r in range(M.shape[0]):
            idx = M.indices[M.indptr[r]:M.indptr[r + 1]]
            c = 1.0 + alpha * M.data[M.indptr[r]:M.indptr[r + 1]]
            F = fixed[idx]
            out[r] = np.linalg.solve(gram + (F.T * (c - 1.0)) @ F, F.T @ c)
        return out

    for _ in range(n_iters):
        X = solve_all(R, Y)
        Y = solve_all(Rt, X)
    return X, Y


def training_split(seed: int = 3, holdout: float = 0.2) -> tuple[Any, Any]:
    """The fixed small split of the training exercise: ``(train, test)`` user x item csr count matrices.

    A small simulated shop (:func:`coursekit.datasets.make_shop`, 800 users, 200 items, 40,000 events),
    counts of (user, item) pairs; a random 20% of the pairs (``default_rng(0)``) are held out.
    """
    import scipy.sparse as sp

    from coursekit.datasets import make_shop

    inter = make_shop(**TRAIN_SIZES, seed=seed).interactions
    users = np.unique(inter["user_id"].to_numpy(), return_inverse=True)[1]
    items = np.unique(inter["item_id"].to_numpy(), return_inverse=True)[1]
    R = sp.coo_matrix(sp.csr_matrix((np.ones(len(users)), (users, items))))
    held = np.random.default_rng(0).random(R.nnz) < holdout
    pick = lambda m: sp.csr_matrix((R.data[m], (R.row[m], R.col[m])), shape=R.shape)  # noqa: E731
    return pick(~held), pick(held)


def ndcg_at_10(scores: np.ndarray, train: Any, test: Any, k: int = 10) -> float:
    """Mean NDCG@k over users with held-out items, training items excluded from the ranking."""
    S = np.array(scores, dtype=np.float64)
    S[train.toarray() > 0] = -np.inf
    top = np.argsort(-S, axis=1, kind="stable")[:, :k]
    T = test.toarray() > 0
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    n_rel = T.sum(axis=1)
    users = np.flatnonzero(n_rel > 0)
    dcg = (np.take_along_axis(T, top, axis=1)[users] * disc).sum(axis=1)
    idcg = np.array([disc[:min(n, k)].sum() for n in n_rel[users]])
    return float(np.mean(dcg / idcg))


class _TrainingJudge:
    """Expected answer of the training exercise: the bar, with the reference's and MostPopular's NDCG@10."""

    def __init__(self, train: Any, test: Any, seed: int):
        X, Y = reference_train_ials(train, seed=seed, **TRAIN_PARAMS)
        self.train, self.test = train, test
        self.reference = ndcg_at_10(X @ Y.T, train, test)
        pop = np.asarray(train.sum(axis=0)).ravel().astype(float)
        self.popular = ndcg_at_10(np.tile(pop, (train.shape[0], 1)), train, test)
        self.bar = TRAIN_BAR_SHARE * self.reference

    def __repr__(self) -> str:
        return (f"NDCG@10 >= {self.bar:.3f} (80% of the reference's {self.reference:.3f}; "
                f"MostPopular gets {self.popular:.3f})")


def _train_cases() -> list[Case]:
    train, test = training_split()
    p = TRAIN_PARAMS
    return [Case(f"shop 800 x 200, {train.nnz} training pairs, f={p['factors']}, {p['n_iters']} iterations, "
                 f"seed={seed}", (train, p["factors"], p["alpha"], p["reg"], p["n_iters"], seed),
                 lambda train=train, test=test, seed=seed: _TrainingJudge(train, test, seed))
            for seed in (0,)]


def compare_training(expected: _TrainingJudge, got: Any) -> str | None:
    """``None`` when the factors ``(X, Y)`` rank the held-out items with NDCG@10 at least at the bar."""
    n_users, n_items = expected.train.shape
    if not isinstance(got, tuple) or len(got) != 2:
        return f"return the tuple (X, Y) of user and item factors, got {type(got).__name__}."
    try:
        X, Y = (np.asarray(a, dtype=np.float64) for a in got)
    except (TypeError, ValueError) as e:
        return f"X and Y must be numeric arrays ({e})."
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != n_users or Y.shape[0] != n_items or X.shape[1] != Y.shape[1]:
        return (f"expected X of shape ({n_users}, f) and Y of shape ({n_items}, f), got {X.shape} and {Y.shape}.")
    if not (np.isfinite(X).all() and np.isfinite(Y).all()):
        return "your factors contain NaN or inf (a division by zero? a diverging update?)."
    got_ndcg = ndcg_at_10(X @ Y.T, expected.train, expected.test)
    if got_ndcg + 1e-12 < expected.bar:
        worse = " - worse than recommending the most popular items" if got_ndcg < expected.popular else ""
        return (f"your factors reach NDCG@10 = {got_ndcg:.3f}{worse}; the bar is {expected.bar:.3f} "
                f"(the reference reaches {expected.reference:.3f}).")
    return None


def _train_users_only(R, factors, alpha, reg, n_iters, seed):  # never updates the item factors
    import scipy.sparse as sp

    R = sp.csr_matrix(R, dtype=np.float64)
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(0, 0.1, (R.shape[0], factors)), rng.normal(0, 0.1, (R.shape[1], factors))
    for _ in range(n_iters):
        X = np.array([reference_ials_user(Y, R[u].indices, R[u].data, alpha, reg) for u in range(R.shape[0])])
    return X, Y


def _train_no_negatives(R, factors, alpha, reg, n_iters, seed):  # Gram of the observed items only
    import scipy.sparse as sp

    R = sp.csr_matrix(R, dtype=np.float64)
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(0, 0.1, (R.shape[0], factors)), rng.normal(0, 0.1, (R.shape[1], factors))

    def solve(M, F):
        out = np.zeros((M.shape[0], factors))
        for r in range(M.shape[0]):
            idx, c = M[r].indices, 1.0 + alpha * M[r].data
            out[r] = np.linalg.solve((F[idx].T * c) @ F[idx] + reg * np.eye(factors), F[idx].T @ c)
        return out

    for _ in range(n_iters):
        X = solve(R, Y)
        Y = solve(R.T.tocsr(), X)
    return X, Y


register(Exercise(
    name="ex03_train_ials",
    title="Train iALS: alternate the user and the item updates",
    cases=_train_cases,
    compare=compare_training,
    show=lambda v: repr(v) if isinstance(v, _TrainingJudge) else (
        f"X of shape {np.shape(v[0])}, Y of shape {np.shape(v[1])}" if isinstance(v, tuple) and len(v) == 2
        else repr(v)),
    same=lambda a, b: False,
    hint="Initialise X and Y with small random numbers (rng = np.random.default_rng(seed); "
         "rng.normal(0, 0.1, ...)); then n_iters times: solve every user with Y fixed (your ials_user_update on "
         "R's row: R.indices / R.data between R.indptr[u] and R.indptr[u + 1]), then every item with X fixed (the "
         "same update on R.T.tocsr()). Common mistakes: updating only the users (random item factors rank "
         "nothing); leaving out the unobserved items (the Q.T @ Q term is iALS's negative feedback: without it "
         "every score is high); forgetting the confidence 1 + alpha * r.",
    points=2,
    time_limit=60,
))
