r"""The iALS solvers: confidences, the exact and the conjugate-gradient half-sweep, and the objective.

One half-sweep of implicit ALS solves, for every row :math:`u` (a user, or an item when the
roles are swapped) with the other side :math:`Y` fixed,

.. math::

    x_u = \big(Y^\top Y + \lambda I + \textstyle\sum_{i \in I_u} (c_{ui} - 1)\, y_i y_i^\top\big)^{-1}
          \textstyle\sum_{i \in I_u} c_{ui}\, y_i ,

either exactly (:func:`least_squares_cholesky`) or by a few conjugate-gradient steps
(:func:`least_squares_cg`); :func:`ials_loss` is the objective both decrease. The model that
alternates them is :class:`coursekit.models.IALS` (:mod:`coursekit.models.ials`, where the
derivation and the Gram-matrix trick are written out).

>>> C = confidence_matrix(sp.csr_matrix(np.array([[1.0, 0.0]])), alpha=2.0)
>>> least_squares_cholesky(C, np.array([[1.0], [0.0]]), reg=1.0).round(4).tolist()   # (1 + 1 + 2) x = 3
[[0.75]]
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from coursekit._validation import check_choice

__all__ = ["confidence_matrix", "least_squares_cholesky", "least_squares_cg", "ials_loss"]

_CHUNK = 1 << 20  # observed cells processed at a time (bounds temporary memory)
_BLOCK_BYTES = 1 << 28  # bytes of f x f systems assembled at a time by the exact solver
_LONG_ROW = 32  # rows with at least this many cells use padded batched matmuls (exact solver)


# ---------------------------------------------------------------------------- building blocks
def confidence_matrix(counts: sp.csr_matrix, alpha: float, kind: str = "linear") -> sp.csr_matrix:
    r"""Confidences :math:`c_{ui}` on the observed cells of ``counts`` (CSR, float64).

    ``"linear"``: :math:`c = 1 + \alpha r`; ``"log"``: :math:`c = 1 + \alpha \log(1 + r)`.

    >>> C = confidence_matrix(sp.csr_matrix(np.array([[0.0, 2.0], [1.0, 0.0]])), alpha=10)
    >>> C.toarray()
    array([[ 0., 21.],
           [11.,  0.]])
    """
    check_choice(kind, "confidence", ["linear", "log"])
    conf = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    conf.eliminate_zeros()
    conf.sort_indices()
    conf.data = 1.0 + alpha * (conf.data if kind == "linear" else np.log1p(conf.data))
    return conf


def _row_of_nonzeros(m: sp.csr_matrix) -> np.ndarray:
    return np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))


def _pair_dots(m: sp.csr_matrix, rows: np.ndarray, X: np.ndarray, Y: np.ndarray,
               Y_gathered: np.ndarray | None = None) -> np.ndarray:
    r"""For each stored cell :math:`(u, i)` of ``m``: :math:`x_u^\top y_i` (chunked, no big temporaries).

    ``Y_gathered`` may hold ``Y[m.indices]`` precomputed (it is reused across CG steps).
    """
    out = np.empty(m.nnz, dtype=X.dtype)
    ones = np.ones(X.shape[1], dtype=X.dtype)
    for s in range(0, m.nnz, _CHUNK):
        e = min(s + _CHUNK, m.nnz)
        yg = Y[m.indices[s:e]] if Y_gathered is None else Y_gathered[s:e]
        xg = np.take(X, rows[s:e], axis=0)
        np.multiply(xg, yg, out=xg)
        out[s:e] = xg @ ones  # row sums by one BLAS matrix-vector product (faster than einsum)
    return out


class _CorrectionOperator:
    r"""The map :math:`P \mapsto \big[\sum_{i \in I_u} (c_{ui} - 1)(y_i^\top p_u)\, y_i\big]_u` for fixed :math:`Y`.

    Vectorized over all rows: gather, row-wise dot products, one sparse-dense product.
    """

    def __init__(self, conf: sp.csr_matrix, Y: np.ndarray):
        self.conf, self.Y = conf, Y
        self.rows = _row_of_nonzeros(conf)
        self.weights = (conf.data - 1.0).astype(Y.dtype)
        small = conf.nnz * Y.shape[1] * Y.itemsize <= _BLOCK_BYTES
        self.Y_gathered = Y[conf.indices] if small else None
        self.matrix = sp.csr_matrix((self.weights, conf.indices, conf.indptr), shape=conf.shape)

    def __call__(self, P: np.ndarray) -> np.ndarray:
        self.matrix.data = self.weights * _pair_dots(self.conf, self.rows, P, self.Y, self.Y_gathered)
        return self.matrix @ self.Y


def _padded_groups(conf: sp.csr_matrix, min_length: int, budget: int):
    """Yield ``(rows, idx, w)`` blocks of the rows with at least ``min_length`` observed cells.

    Rows are sorted by count (longest first). ``idx`` (B, L) holds each row's column indices
    padded with ``conf.shape[1]`` (a zero row), ``w`` (B, L) the weights :math:`c_{ui} - 1`
    padded with 0; ``B * L <= budget`` unless a single row is longer.
    """
    counts = np.diff(conf.indptr)
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] >= max(min_length, 1)]
    start = 0
    while start < len(order):
        length = int(counts[order[start]])
        rows = order[start:start + max(1, budget // length)]
        pos = np.arange(length)[None, :]
        valid = pos < counts[rows][:, None]
        src = np.minimum(conf.indptr[rows][:, None] + pos, conf.nnz - 1)
        yield rows, np.where(valid, conf.indices[src], conf.shape[1]), np.where(valid, conf.data[src] - 1.0, 0.0)
        start += len(rows)


def _short_row_corrections(conf: sp.csr_matrix, rows: np.ndarray, Y: np.ndarray) -> np.ndarray:
    r""":math:`\sum_{i \in I_u} (c_{ui}-1) y_i y_i^\top` for ``rows``, as one sparse-dense product.

    :math:`(C - 1)\,Z` with :math:`Z_i = \operatorname{vec}(y_i y_i^\top)`, restricted to the
    columns the rows touch and built in slices of the first factor index to bound memory.
    """
    f = Y.shape[1]
    sub = conf[rows]
    cols, local = np.unique(sub.indices, return_inverse=True)
    w = sp.csr_matrix((sub.data - 1.0, local, sub.indptr), shape=(len(rows), len(cols)))
    Yc = Y[cols]
    A = np.empty((len(rows), f, f))
    step = max(1, _BLOCK_BYTES // (8 * f * max(len(cols), 1)))
    for a in range(0, f, step):
        z = (Yc[:, a:a + step, None] * Yc[:, None, :]).reshape(len(cols), -1)
        A[:, a:a + step, :] = np.asarray(w @ z).reshape(len(rows), -1, f)
    return A


def least_squares_cholesky(conf: sp.csr_matrix, Y: np.ndarray, reg: float) -> np.ndarray:
    r"""Exact iALS half-sweep, all rows at once.

    :math:`x_u = (Y^\top Y + \lambda I + \sum_{i\in I_u}(c_{ui}-1) y_i y_i^\top)^{-1} \sum_{i\in I_u} c_{ui} y_i`.

    Parameters
    ----------
    conf : CSR (n_rows, n_cols)
        Confidences :math:`c_{ui}` of the observed cells (the preference is 1 there, 0 elsewhere).
    Y : array (n_cols, f)
        The fixed factors of the other side.
    reg : float
        :math:`\lambda`.

    Returns
    -------
    X : array (n_rows, f)
        Rows without observed cells get the zero vector.

    Notes
    -----
    Rows with many observed cells are sorted by count and cut into blocks; in a block the
    histories are padded to equal length :math:`L`, so the corrections
    :math:`\sum_i (c_{ui}-1) y_i y_i^\top = Y_{I_u}^\top W_u Y_{I_u}` are one batched matrix product
    of shape :math:`(B, f, L) \times (B, L, f)`, and the block's :math:`f \times f` systems are
    solved in one batched :func:`numpy.linalg.solve` (LU; the matrices are symmetric positive
    definite, so this is the same solution a Cholesky factorization gives). Rows with few cells
    (where tiny products would cost more in overhead than in arithmetic) get their corrections
    from one sparse-dense product instead (:func:`_short_row_corrections`).

    >>> Y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> C = sp.csr_matrix(np.array([[3.0, 0.0, 0.0]]))
    >>> x = least_squares_cholesky(C, Y, reg=0.0)   # ([[2, 1], [1, 2]] + 2 e1 e1')^-1 (3 e1)
    >>> (7 * x).round(6)
    array([[ 6., -3.]])
    """
    n_rows, f = conf.shape[0], Y.shape[1]
    Y = np.asarray(Y, dtype=np.float64)
    gram = Y.T @ Y + reg * np.eye(f)
    b = np.asarray(conf @ Y)
    X = np.zeros((n_rows, f))
    Y_pad = np.vstack([Y, np.zeros((1, f))])  # padding index -> a zero vector
    budget = max(1, _BLOCK_BYTES // 4 // (8 * f))     # padded cells per block (~64 MB of gathered factors)
    for rows, idx, w in _padded_groups(conf, min_length=_LONG_ROW, budget=budget):
        Yg = Y_pad[idx]                                      # (B, L, f)
        A = np.matmul((Yg * w[:, :, None]).transpose(0, 2, 1), Yg) + gram
        X[rows] = np.linalg.solve(A, b[rows, :, None])[:, :, 0]
    counts = np.diff(conf.indptr)
    short = np.nonzero((counts > 0) & (counts < _LONG_ROW))[0]
    block = max(1, _BLOCK_BYTES // (8 * f * f))
    for start in range(0, len(short), block):
        rows = short[start:start + block]
        A = _short_row_corrections(conf, rows, Y) + gram
        X[rows] = np.linalg.solve(A, b[rows, :, None])[:, :, 0]
    return X


def least_squares_cg(conf: sp.csr_matrix, Y: np.ndarray, X0: np.ndarray, reg: float,
                     steps: int = 3) -> np.ndarray:
    r"""iALS half-sweep by ``steps`` conjugate-gradient steps from ``X0``, all rows at once.

    Solves :math:`A_u x_u = b_u` with :math:`A_u = Y^\top Y + \lambda I + \sum_{i\in I_u}
    (c_{ui}-1) y_i y_i^\top` and :math:`b_u = \sum_{i\in I_u} c_{ui} y_i`, by the CG recursion

    .. math::

        r \leftarrow b - A x,\; p \leftarrow r;\quad
        \text{repeat: } a = \frac{r^\top r}{p^\top A p},\; x \mathrel{+}= a p,\;
        r' = r - a A p,\; p \leftarrow r' + \frac{r'^\top r'}{r^\top r} p,

    vectorized over users (each :math:`A p` is one dense and one sparse product).
    With ``steps >= f`` it reaches the exact solution (up to rounding). Computed in the dtype
    of ``X0`` (float32 halves the memory traffic of the gathers; float64 otherwise).

    >>> Y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> C = sp.csr_matrix(np.array([[3.0, 0.0, 0.0]]))
    >>> x = least_squares_cg(C, Y, np.zeros((1, 2)), reg=0.0, steps=2)  # f = 2 steps: exact
    >>> (7 * x).round(6)
    array([[ 6., -3.]])
    """
    dtype = np.asarray(X0).dtype if np.asarray(X0).dtype in (np.float32, np.float64) else np.float64
    Y = np.asarray(Y, dtype=dtype)
    f = Y.shape[1]
    gram = Y.T @ Y + np.asarray(reg * np.eye(f), dtype=dtype)
    correction = _CorrectionOperator(conf, Y)
    X = np.array(X0, dtype=dtype, copy=True)
    R = (conf @ Y).astype(dtype, copy=False) - X @ gram - correction(X)
    P = R.copy()
    rs = np.einsum("ij,ij->i", R, R)
    tiny = np.finfo(dtype).tiny
    for _ in range(steps):
        AP = P @ gram + correction(P)
        pap = np.einsum("ij,ij->i", P, AP)
        a = np.divide(rs, pap, out=np.zeros_like(rs), where=pap > tiny)
        X += a[:, None] * P
        R -= a[:, None] * AP
        rs_new = np.einsum("ij,ij->i", R, R)
        beta = np.divide(rs_new, rs, out=np.zeros_like(rs), where=rs > tiny)
        P = R + beta[:, None] * P
        rs = rs_new
    return X


def ials_loss(conf: sp.csr_matrix, X: np.ndarray, Y: np.ndarray, reg: float) -> float:
    r"""The iALS objective over *all* cells, in :math:`O(\mathrm{nnz}\, f + (|U|+|I|) f^2)`.

    .. math::

        L = \sum_{u,i} (x_u^\top y_i)^2 + \sum_{(u,i)\,\mathrm{obs}}
        \big[c_{ui}(1 - x_u^\top y_i)^2 - (x_u^\top y_i)^2\big]
        + \lambda(\lVert X\rVert_F^2 + \lVert Y\rVert_F^2),

    using :math:`\sum_{u,i} (x_u^\top y_i)^2 = \operatorname{tr}(X^\top X\, Y^\top Y)`.

    >>> X, Y = np.array([[1.0]]), np.array([[0.5], [2.0]])
    >>> C = sp.csr_matrix(np.array([[2.0, 0.0]]))
    >>> ials_loss(C, X, Y, reg=0.0)   # 2 (1 - 0.5)^2 + 1 * 2^2
    4.5
    """
    s = _pair_dots(conf, _row_of_nonzeros(conf), X, Y).astype(np.float64)
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    full = float(np.sum((X.T @ X) * (Y.T @ Y)))
    observed = float(np.sum(conf.data * (1.0 - s) ** 2 - s ** 2))
    return full + observed + reg * float(np.sum(X * X) + np.sum(Y * Y))
