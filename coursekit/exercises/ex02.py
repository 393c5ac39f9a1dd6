r"""Checks for the exercises of lesson 02 (collaborative filtering).

``ex02_cosine_item_similarity(R)``
    ``R`` is a ``scipy.sparse.csr_matrix`` of shape ``(n_users, n_items)`` (binary or ratings).
    Return the dense ``(n_items, n_items)`` array of cosine similarities between item columns,

    .. math::

        s_{ij} = \frac{\mathbf r_{:i}^\top \mathbf r_{:j}}{\lVert \mathbf r_{:i}\rVert_2\,
                 \lVert \mathbf r_{:j}\rVert_2},

    with :math:`s_{ij} = 0` whenever item :math:`i` or :math:`j` has no interaction (norm 0),
    and :math:`s_{ii} = 0` on the diagonal (an item is never its own neighbour: the convention of
    :func:`coursekit.models.similarity.similarity_matrix`).

``ex02_item_knn_score(R, S, user, k)``
    Item-based kNN score of every item for one user (row index ``user`` of ``R``):
    keep, in each column ``j`` of the similarity matrix ``S``, only the ``k`` largest
    similarities to other items (ties broken by the lower item index; the item itself is
    never its own neighbour), then

    .. math:: \hat s_{uj} = \sum_{i \in I_u \cap N_k(j)} r_{ui}\, s_{ij}.

    Returns a float array of length ``n_items`` (items the user already has are *not*
    excluded here: exclusion is the ranking step's job).

Expected answers come from the reference implementations below (numpy, written
independently of :mod:`coursekit.models`; ``tests/test_exercises_cf.py`` checks they agree
with ``coursekit.models.ItemKNN`` where the definitions match).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from coursekit.exercises.checks import Case, Exercise, Mistake, register
from coursekit.exercises.compare import compare_array, same_array, show_array

SEED = 20240202


# ---------------------------------------------------------------------------- reference solutions
def reference_cosine_item_similarity(R: sp.spmatrix | np.ndarray) -> np.ndarray:
    r"""Cosine similarity of the item columns of ``R`` (dense ``(n_items, n_items)``).

    >>> R = sp.csr_matrix(np.array([[1., 1., 0.], [1., 0., 0.]]))
    >>> reference_cosine_item_similarity(R).round(4).tolist()
    [[0.0, 0.7071, 0.0], [0.7071, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    R = sp.csr_matrix(R, dtype=np.float64)
    gram = (R.T @ R).toarray()
    norms = np.sqrt(np.asarray(R.multiply(R).sum(axis=0)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    sim = gram * inv[:, None] * inv[None, :]
    np.fill_diagonal(sim, 0.0)
    return sim


def reference_item_knn_score(R: sp.spmatrix | np.ndarray, S: np.ndarray, user: int, k: int) -> np.ndarray:
    r"""Item-kNN scores of one user: :math:`\sum_{i \in I_u \cap N_k(j)} r_{ui} s_{ij}` for every item j.

    >>> R = sp.csr_matrix(np.array([[1., 0., 0.], [1., 1., 1.]]))
    >>> S = np.array([[1., .5, .2], [.5, 1., .3], [.2, .3, 1.]])
    >>> # k = 1: N_1(0) = {1}, N_1(1) = {0} (0.5 > 0.3), N_1(2) = {1} (0.3 > 0.2); user 0 has item 0 only
    >>> reference_item_knn_score(R, S, 0, 1).tolist()   # item 0 is the top neighbour of item 1 only
    [0.0, 0.5, 0.0]
    >>> reference_item_knn_score(R, S, 0, 2).tolist()   # k = 2: every other item is a neighbour
    [0.0, 0.5, 0.2]
    """
    R = sp.csr_matrix(R, dtype=np.float64)
    S = np.array(S, dtype=np.float64)
    n = S.shape[0]
    masked = S.copy()
    np.fill_diagonal(masked, -np.inf)
    keep = np.zeros_like(S, dtype=bool)
    kk = min(k, n - 1)
    for j in range(n):  # column j: its k nearest other items; stable sort = lower index first on ties
        order = np.argsort(-masked[:, j], kind="stable")[:kk]
        keep[order, j] = True
    r_u = R[user].toarray().ravel()
    return r_u @ np.where(keep, S, 0.0)


# ---------------------------------------------------------------------------- comparison
def compare_matrix(expected: np.ndarray, got: Any, atol: float = 1e-8) -> str | None:
    """:func:`~coursekit.exercises.compare.compare_array`, explaining the NaN of an item without interactions."""
    return compare_array(expected, got, atol=atol, nan_problem="an item (or user) without interactions has norm 0; "
                                                              "give it similarity 0.")


# ---------------------------------------------------------------------------- cases
def toy_matrix() -> sp.csr_matrix:
    """The 5 users x 6 items toy rating matrix of lesson 02 (0 = no rating)."""
    return sp.csr_matrix(np.array([
        [5, 4, 0, 1, 0, 0],
        [4, 5, 1, 0, 0, 2],
        [1, 0, 5, 4, 0, 0],
        [0, 1, 4, 5, 3, 0],
        [0, 0, 0, 0, 4, 0],
    ], dtype=np.float64))


def _random_sparse(n_users: int, n_items: int, density: float, seed: int, binary: bool) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    m = sp.random(n_users, n_items, density=density, format="csr", random_state=rng,
                  data_rvs=lambda n: rng.integers(1, 6, n).astype(np.float64))
    if binary:
        m.data[:] = 1.0
    return m


def _cosine_cases() -> list[Case]:
    binary = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=np.float64))
    empty_item = sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 0]], dtype=np.float64))
    cases = [
        Case("binary 4 x 3 (hand: s_01 = 2 / (sqrt 3 * sqrt 3) = 2/3)", (binary,),
             lambda: reference_cosine_item_similarity(binary)),
        Case("the lesson's toy rating matrix", (toy_matrix(),), lambda: reference_cosine_item_similarity(toy_matrix())),
        Case("an item nobody interacted with", (empty_item,), lambda: reference_cosine_item_similarity(empty_item),
             hint="Item 1 has no interactions, so its norm is 0: define its similarities as 0 instead of "
                  "dividing by zero (np.divide(..., where=norms > 0) or replace 0 norms by 1)."),
    ]
    for j, (nu, ni, d, b) in enumerate([(40, 15, 0.2, True), (60, 25, 0.1, False), (300, 80, 0.03, True)]):
        m = _random_sparse(nu, ni, d, SEED + j, b)
        cases.append(Case(f"random sparse {nu} x {ni} ({'binary' if b else 'ratings'})", (m,),
                          lambda m=m: reference_cosine_item_similarity(m)))
    return cases


def _user_cosine(R):
    return reference_cosine_item_similarity(sp.csr_matrix(R).T)


def _no_sqrt(R):
    R = sp.csr_matrix(R, dtype=np.float64)
    gram = (R.T @ R).toarray()
    sq = np.asarray(R.multiply(R).sum(axis=0)).ravel()
    inv = np.divide(1.0, sq, out=np.zeros_like(sq), where=sq > 0)
    return gram * inv[:, None] * inv[None, :]


def _unnormalised(R):
    R = sp.csr_matrix(R, dtype=np.float64)
    return (R.T @ R).toarray()


def _keep_diagonal(R):
    s = reference_cosine_item_similarity(R)
    np.fill_diagonal(s, (np.asarray(sp.csr_matrix(R).multiply(R).sum(axis=0)).ravel() > 0).astype(float))
    return s


def _count_norms(R):
    R = sp.csr_matrix(R, dtype=np.float64)
    n = np.sqrt(np.diff(R.tocsc().indptr).astype(np.float64))
    inv = np.divide(1.0, n, out=np.zeros_like(n), where=n > 0)
    return (R.T @ R).toarray() * inv[:, None] * inv[None, :]


register(Exercise(
    name="ex02_cosine_item_similarity",
    title="Cosine item-item similarity on a sparse matrix",
    cases=_cosine_cases,
    compare=compare_matrix,
    same=same_array,
    show=show_array,
    hint="Items are the COLUMNS of R. The dot products of all pairs of columns are R.T @ R (sparse); the "
         "norm of column i is the square root of the sum of squares of column i. Divide entry (i, j) by "
         "norm_i * norm_j, with 0 where a norm is 0, and set the diagonal to 0. Return a dense array (.toarray()).",
    mistakes=[
        Mistake(_user_cosine, "That is the user-user similarity (rows of R). Items are the columns: use R.T @ R."),
        Mistake(_no_sqrt, "Divide by the norms, i.e. the square roots of the column sums of squares."),
        Mistake(_unnormalised, "That is the raw co-occurrence (dot product) matrix R.T @ R: divide entry (i, j) "
                               "by norm_i * norm_j."),
        Mistake(_keep_diagonal, "Set the diagonal to 0 (np.fill_diagonal(S, 0)): an item is never its own "
                                "neighbour, so its self-similarity of 1 must not count."),
        Mistake(_count_norms, "The norm of a column is sqrt(sum of squared values), not sqrt(number of "
                              "nonzeros): the two agree only on binary data."),
    ],
))


# ---------------------------------------------------------------------------- item kNN score
def _knn_cases() -> list[Case]:
    R = toy_matrix()
    S = reference_cosine_item_similarity(R)
    tie_S = np.array([[1.0, 0.5, 0.5, 0.5], [0.5, 1.0, 0.2, 0.3], [0.5, 0.2, 1.0, 0.1], [0.5, 0.3, 0.1, 1.0]])
    tie_R = sp.csr_matrix(np.array([[1.0, 1.0, 1.0, 0.0]]))
    cases = [
        Case("toy matrix, user 0, k = 2", (R, S, 0, 2), lambda: reference_item_knn_score(R, S, 0, 2)),
        Case("toy matrix, user 4 (one rating), k = 1", (R, S, 4, 1), lambda: reference_item_knn_score(R, S, 4, 1),
             hint="Item j's neighbourhood N_k(j) is the k items most similar to j (not to the user's items). "
                  "Only history items that are among j's k neighbours contribute."),
        Case("k larger than the catalogue", (R, S, 2, 50), lambda: reference_item_knn_score(R, S, 2, 50),
             hint="With k >= n_items - 1 every other item is a neighbour."),
        Case("ties: lower item index first", (tie_R, tie_S, 0, 1), lambda: reference_item_knn_score(tie_R, tie_S, 0, 1),
             hint="Ties in similarity are broken by the lower item index: np.argsort(-column, kind='stable')."),
    ]
    for j, (nu, ni, d, k) in enumerate([(30, 12, 0.3, 3), (50, 20, 0.15, 5)]):
        m = _random_sparse(nu, ni, d, SEED + 10 + j, False)
        s = reference_cosine_item_similarity(m)
        u = int(np.argmax(np.diff(m.indptr)))
        cases.append(Case(f"random {nu} x {ni}, k = {k}", (m, s, u, k),
                          lambda m=m, s=s, u=u, k=k: reference_item_knn_score(m, s, u, k)))
    return cases


def _knn_with_self(R, S, user, k):
    R = sp.csr_matrix(R, dtype=np.float64)
    S = np.array(S, dtype=np.float64)
    keep = np.zeros_like(S, dtype=bool)
    for j in range(S.shape[0]):
        keep[np.argsort(-S[:, j], kind="stable")[:k], j] = True
    return R[user].toarray().ravel() @ np.where(keep, S, 0.0)


def _knn_all(R, S, user, k):
    S = np.array(S, dtype=np.float64)
    np.fill_diagonal(S, 0.0)
    return sp.csr_matrix(R)[user].toarray().ravel() @ S


def _knn_binary(R, S, user, k):
    R = sp.csr_matrix(R, dtype=np.float64)
    R.data[:] = 1.0
    return reference_item_knn_score(R, S, user, k)


register(Exercise(
    name="ex02_item_knn_score",
    title="Item-based kNN scores for one user",
    cases=_knn_cases,
    compare=compare_matrix,
    same=same_array,
    show=show_array,
    hint="For each item j: take column j of S, set S[j, j] aside (an item is not its own neighbour), keep its k "
         "largest entries (ties: lower index first), and sum r_ui * s_ij over the user's items i among them.",
    mistakes=[
        Mistake(_knn_with_self, "The item itself must not count as one of its own k neighbours (its "
                                "self-similarity is 1, the largest)."),
        Mistake(_knn_all, "You used every item as a neighbour. Keep only the k most similar items of each "
                          "column (the neighbourhood N_k(j))."),
        Mistake(_knn_binary, "Weight each neighbour's similarity by the user's value r_ui (here a rating), "
                             "not by 1."),
    ],
))
