r"""Implicit alternating least squares (iALS; Hu, Koren & Volinsky 2008).

Implicit feedback (views, clicks, plays) says *that* a user touched an item, not how much they
liked it. iALS turns each count :math:`r_{ui} \ge 0` into a binary **preference** and a
**confidence**

.. math::

    p_{ui} = \mathbb{1}[r_{ui} > 0], \qquad
    c_{ui} = 1 + \alpha\, r_{ui} \;\; (\text{"linear"}) \quad\text{or}\quad
    c_{ui} = 1 + \alpha \log(1 + r_{ui}) \;\; (\text{"log"}),

and fits user vectors :math:`x_u` and item vectors :math:`y_i` (:math:`f` factors) to *all*
:math:`|U| \times |I|` cells, the unobserved ones with preference 0 and confidence 1:

.. math::

    \min_{X, Y} \; \sum_{u, i} c_{ui} \, (p_{ui} - x_u^\top y_i)^2
    + \lambda \Big( \sum_u \lVert x_u \rVert^2 + \sum_i \lVert y_i \rVert^2 \Big).

With :math:`Y` fixed the problem splits into one ridge regression per user, solved exactly by

.. math::

    x_u = \big(Y^\top C_u Y + \lambda I\big)^{-1} Y^\top C_u\, p_u,
    \qquad C_u = \operatorname{diag}(c_{u1}, \dots, c_{u|I|}),

and symmetrically for the items. **The Gram-matrix trick**: :math:`C_u - I` is zero except on
the :math:`n_u` items the user touched, so

.. math::

    Y^\top C_u Y = \underbrace{Y^\top Y}_{\text{once per half-sweep}}
    + \sum_{i \in I_u} (c_{ui} - 1)\, y_i y_i^\top, \qquad
    Y^\top C_u p_u = \sum_{i \in I_u} c_{ui}\, y_i ,

which costs :math:`O(n_u f^2)` per user instead of :math:`O(|I| f^2)`.

Two solvers, both vectorized over all users at once (no Python loop over users):

``"cholesky"``
    Exact: the :math:`f \times f` systems of a block of users are assembled as one
    sparse-dense product and solved with one batched :func:`numpy.linalg.solve`.
``"cg"``
    A few steps of conjugate gradient per half-sweep, warm-started at the previous
    vectors (Takács, Pilászy & Tikk 2011; what the ``implicit`` library does). Each step needs
    only :math:`A_u p_u = (Y^\top Y + \lambda I) p_u + \sum_{i \in I_u} (c_{ui}-1)(y_i^\top p_u)\, y_i`,
    a dense product plus one sparse matrix product, never the :math:`f \times f` matrices.

Each iteration solves the items given the users, then the users given the items, so after
``fit`` the user vectors are the solutions for the final item vectors (exact with
``"cholesky"``): :meth:`IALS.fold_in` of a training user's history reproduces its row of
``user_factors_``.

References
----------
Y. Hu, Y. Koren, C. Volinsky. Collaborative Filtering for Implicit Feedback Datasets. ICDM 2008.
G. Takács, I. Pilászy, D. Tikk. Applications of the conjugate gradient method for implicit
feedback collaborative filtering. RecSys 2011.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from coursekit._validation import CourseKitError, check_choice, check_positive_int, check_seed
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender

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
    for s in range(0, m.nnz, _CHUNK):
        e = min(s + _CHUNK, m.nnz)
        yg = Y[m.indices[s:e]] if Y_gathered is None else Y_gathered[s:e]
        out[s:e] = np.einsum("ij,ij->i", X[rows[s:e]], yg)
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
    r"""Exact iALS half-sweep: :math:`x_u = (Y^\top Y + \lambda I + \sum_{i\in I_u}(c_{ui}-1) y_i y_i^\top)^{-1} \sum_{i\in I_u} c_{ui} y_i`.

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


# ---------------------------------------------------------------------------- the model
class IALS(Recommender):
    r"""Implicit ALS matrix factorization (Hu, Koren & Volinsky 2008); scores :math:`\hat s_{ui} = x_u^\top y_i`.

    See the module docstring for the objective, the Gram-matrix trick and the two solvers.

    Parameters
    ----------
    factors : int
        Latent dimension :math:`f`.
    reg : float
        L2 regularization :math:`\lambda` (>= 0). The defaults ``reg=30, alpha=1`` did well on the
        validation parts of both course data sets (the shop and ml-latest-small; lesson 03 tunes
        them per data set); a larger :math:`\alpha` with a small :math:`\lambda` over-fits there.
    alpha : float
        Confidence slope :math:`\alpha` (>= 0).
    iterations : int
        Full sweeps (items, then users).
    solver : {"cg", "cholesky"}
        Conjugate gradient (fast, approximate per sweep) or the exact batched solve.
    cg_steps : int
        CG steps per half-sweep (``solver="cg"``).
    confidence : {"linear", "log"}
        :math:`c = 1 + \alpha r` or :math:`c = 1 + \alpha \log(1 + r)`, with :math:`r` the
        number of training events of the pair.
    seed : int
        Seeds the initial factors (uniform on :math:`[0, 0.01)`, as in ``implicit``).

    Attributes
    ----------
    user_factors_, item_factors_ : arrays (n_users, f), (n_items, f)
    loss_history_ : array (iterations,)
        The objective :func:`ials_loss` after each iteration.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 4, 4], "item_id": [10, 20, 10, 20, 10, 30, 40]})
    >>> model = IALS(factors=2, reg=0.01, alpha=5.0, iterations=10).fit(Interactions.from_frame(log))
    >>> model.recommend([3], k=1)[0].tolist()   # users who had 10 also had 20
    [[20]]
    >>> bool(model.loss_history_[-1] <= model.loss_history_[0])
    True
    """

    def __init__(self, factors: int = 64, reg: float = 30.0, alpha: float = 1.0, iterations: int = 15,
                 solver: str = "cg", cg_steps: int = 3, confidence: str = "linear", seed: int = 0):
        self.factors = factors
        self.reg = reg
        self.alpha = alpha
        self.iterations = iterations
        self.solver = solver
        self.cg_steps = cg_steps
        self.confidence = confidence
        self.seed = seed

    def _check_params(self) -> None:
        check_seed(self.seed)
        check_positive_int(self.factors, "factors")
        check_positive_int(self.iterations, "iterations")
        check_positive_int(self.cg_steps, "cg_steps")
        check_choice(self.solver, "solver", ["cg", "cholesky"])
        check_choice(self.confidence, "confidence", ["linear", "log"])
        for name in ("reg", "alpha"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
                raise CourseKitError(f"{name} must be a finite number >= 0, got {value!r}.")

    def _fit(self, train: Interactions) -> None:
        self._check_params()
        conf_u = confidence_matrix(train.matrix("count", dtype=np.float64), self.alpha, self.confidence)
        conf_i = conf_u.T.tocsr()
        dtype = np.float32 if self.solver == "cg" else np.float64  # CG: speed; exact: accuracy
        conf_u, conf_i = conf_u.astype(dtype), conf_i.astype(dtype)
        rng = np.random.default_rng(self.seed)
        X = (rng.random((train.n_users, self.factors)) * 0.01).astype(dtype)
        Y = (rng.random((train.n_items, self.factors)) * 0.01).astype(dtype)
        losses = np.empty(self.iterations)
        for it in range(self.iterations):
            Y = self._half_sweep(conf_i, X, Y)
            X = self._half_sweep(conf_u, Y, X)
            losses[it] = ials_loss(conf_u, X, Y, self.reg)
        if not (np.isfinite(X).all() and np.isfinite(Y).all()):
            raise FloatingPointError("iALS diverged (non-finite factors); raise reg or lower alpha.")
        self.user_factors_ = X.astype(np.float64)
        self.item_factors_ = Y.astype(np.float64)
        self.loss_history_ = losses
        self._gram_cache = None

    def _half_sweep(self, conf: sp.csr_matrix, other: np.ndarray, current: np.ndarray) -> np.ndarray:
        if self.solver == "cholesky":
            return least_squares_cholesky(conf, other, self.reg)
        return least_squares_cg(conf, other, current, self.reg, self.cg_steps)

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        return self.user_factors_[user_index] @ self.item_factors_.T

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_

    # ------------------------------------------------------------------ fold-in
    def _gram(self) -> np.ndarray:
        """:math:`Y^\\top Y + \\lambda I`, cached (the part of every user's system that is shared)."""
        if getattr(self, "_gram_cache", None) is None:
            Y = self.item_factors_
            self._gram_cache = Y.T @ Y + self.reg * np.eye(Y.shape[1])
        return self._gram_cache

    def fold_in(self, item_indices, values=None) -> np.ndarray:
        r"""The user vector for a history, with the item factors fixed (one exact ridge solve).

        .. math::

            x = \Big(Y^\top Y + \lambda I + \sum_{i \in H} (c_i - 1)\, y_i y_i^\top\Big)^{-1}
                \sum_{i \in H} c_i\, y_i ,

        with :math:`c_i` from ``values`` (event counts :math:`r_i`, default 1 each) by the
        model's confidence rule. :math:`Y^\top Y + \lambda I` is cached, so this costs
        :math:`O(|H| f^2 + f^3)`: the real-time update of a user after a new event.

        Parameters
        ----------
        item_indices : array of int
            *Internal* item indices of the history (``model.items_.index(item_ids)``); repeated
            indices add up their values.
        values : array of float, optional
            Counts :math:`r_i > 0`, aligned with ``item_indices``.

        Returns
        -------
        array (f,)
            Score items with ``model.item_factors_ @ x``.
        """
        self._check_fitted()
        idx = np.asarray(item_indices)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise CourseKitError(f"item_indices must be a 1-d array of internal item indices, got {idx!r}.")
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_items):
            raise CourseKitError(f"item_indices must lie in [0, {self.n_items}); map external ids with "
                                 "model.items_.index(ids) first.")
        vals = np.ones(idx.size) if values is None else np.asarray(values, dtype=np.float64)
        if vals.shape != idx.shape or not (np.isfinite(vals).all() and (vals > 0).all()):
            raise CourseKitError("values must be positive finite counts, one per item index.")
        uniq, inv = np.unique(idx, return_inverse=True)
        r = np.bincount(inv, weights=vals, minlength=len(uniq))
        c = 1.0 + self.alpha * (r if self.confidence == "linear" else np.log1p(r))
        Yh = self.item_factors_[uniq]
        A = self._gram() + (Yh.T * (c - 1.0)) @ Yh
        return np.linalg.solve(A, Yh.T @ c)
