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
