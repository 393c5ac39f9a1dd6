r"""Similarity measures between the columns of a sparse matrix, with shrinkage and top-k pruning.

Neighbourhood collaborative filtering (:mod:`coursekit.models.neighbors`) needs the
similarity of every pair of items (ItemKNN) or users (UserKNN). Both are the same
computation on a sparse matrix :math:`X` whose *columns* are the things compared and
whose *rows* are the observations: for item-item similarity :math:`X = R` (users x items),
for user-user similarity :math:`X = R^\top` (items x users).

Notation: :math:`x_{ui}` is the stored value in row ``u``, column ``i`` (a rating, or 1 for
implicit feedback); :math:`U_i` the rows where column ``i`` has a stored entry;
:math:`C_{ij} = U_i \cap U_j` the *co-rated* rows and :math:`n_{ij} = |C_{ij}|` their number
(the *support* of the pair). Entries that are not stored are missing, not zero.

``"cosine"`` (vector cosine; missing entries count as 0, so the norms run over each column's
own rows; it equals :func:`sklearn.metrics.pairwise.cosine_similarity` of the columns):

.. math:: s_{ij} = \frac{\sum_{u \in C_{ij}} x_{ui} x_{uj}}
                        {\sqrt{\sum_{u \in U_i} x_{ui}^2}\,\sqrt{\sum_{u \in U_j} x_{uj}^2}}

On binary data this is :math:`n_{ij} / \sqrt{|U_i|\,|U_j|}`.

``"adjusted_cosine"`` (Sarwar et al. 2001): centre each value by the mean of its *row*
(for item-item: the user's mean rating, :math:`\bar x_u`), then take the cosine over the
co-rated rows only (all three sums over :math:`C_{ij}`):

.. math:: s_{ij} = \frac{\sum_{u \in C_{ij}} (x_{ui}-\bar x_u)(x_{uj}-\bar x_u)}
                        {\sqrt{\sum_{u \in C_{ij}} (x_{ui}-\bar x_u)^2}\,
                         \sqrt{\sum_{u \in C_{ij}} (x_{uj}-\bar x_u)^2}}

``"pearson"``: the Pearson correlation of the two columns on their co-rated rows, each
column centred by its mean *over the co-rated rows* (:math:`\bar x_{i|j}`, which depends on
the pair); this is exactly ``numpy.corrcoef`` of the two columns restricted to
:math:`C_{ij}`:

.. math:: s_{ij} = \frac{\sum_{u \in C_{ij}} (x_{ui}-\bar x_{i|j})(x_{uj}-\bar x_{j|i})}
                        {\sqrt{\sum_{u \in C_{ij}} (x_{ui}-\bar x_{i|j})^2}\,
                         \sqrt{\sum_{u \in C_{ij}} (x_{uj}-\bar x_{j|i})^2}},
          \qquad \bar x_{i|j} = \frac{1}{n_{ij}} \sum_{u \in C_{ij}} x_{ui}

``"jaccard"`` (on the pattern of stored entries; values are ignored):

.. math:: s_{ij} = \frac{n_{ij}}{|U_i| + |U_j| - n_{ij}}

Where a measure is undefined (a zero norm or zero variance, :math:`n_{ij} = 0`, or
:math:`n_{ij} < 2` for Pearson) the similarity is 0. A column is never its own neighbour:
the diagonal is always 0.

**Shrinkage** (Koren 2008) pulls similarities that rest on few co-ratings towards 0, with
:math:`\lambda \ge 0` (``shrinkage``), and **minimum support** drops them altogether:

.. math:: s'_{ij} = s_{ij} \cdot \frac{n_{ij}}{n_{ij} + \lambda}, \qquad
          s'_{ij} = 0 \text{ if } n_{ij} < \text{min\_support}

**Top-k pruning** keeps, in each row, the ``k`` largest non-zero similarities (ties at the
boundary broken by lower column index) and stores them as a sparse CSR matrix.

Everything is computed with sparse matrix products on blocks of rows, so the intermediate
never exceeds ``block_entries`` numbers. For cosine and Jaccard on positive values (implicit
feedback, ratings) the blocks stay sparse: only co-rated pairs are computed and ranked
(:func:`coursekit.models.row_top_k.csr_row_top_k`), with the same operations and the same
result as the dense blocks.

Example
-------
>>> import numpy as np, scipy.sparse as sp
>>> X = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [1, 1, 1.0]]))
>>> sim = ColumnSimilarity(X, "jaccard")
>>> sim.block(np.array([0, 1, 2])).round(3).tolist()
[[0.0, 0.667, 0.667], [0.667, 0.0, 0.333], [0.667, 0.333, 0.0]]
>>> sim.top_k(1).toarray().round(3).tolist()
[[0.0, 0.667, 0.0], [0.667, 0.0, 0.0], [0.667, 0.0, 0.0]]
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from coursekit._validation import CourseKitError, check_choice, check_positive_int
from coursekit.models.row_top_k import csr_row_top_k, dense_row_top_k

MEASURES = ("cosine", "adjusted_cosine", "pearson", "jaccard")
#: measures that centre values and can be negative; all-zero on binary (implicit) data
CENTRED = ("adjusted_cosine", "pearson")
_REL_TOL = 1e-10  # relative tolerance below which a centred value / variance counts as 0


def shrink(sim: np.ndarray, n_common: np.ndarray, shrinkage: float) -> np.ndarray:
    r"""Shrink similarities towards 0: :math:`s \cdot n / (n + \lambda)`.

    >>> shrink(np.array([1.0, 0.5]), np.array([1, 9]), 1.0).tolist()
    [0.5, 0.45]
    """
    if shrinkage == 0:
        return np.asarray(sim, dtype=np.float64)
    n = np.asarray(n_common, dtype=np.float64)
    return sim * n / (n + shrinkage)


def check_shrinkage(shrinkage) -> float:
    """``shrinkage`` as a finite float >= 0, else a :class:`CourseKitError`."""
    if isinstance(shrinkage, (bool, np.bool_)):
        raise CourseKitError(f"shrinkage must be a number >= 0, got {shrinkage!r}.")
    try:
        value = float(shrinkage)
    except (TypeError, ValueError):
        raise CourseKitError(f"shrinkage must be a number >= 0, got {shrinkage!r}.") from None
    if not (np.isfinite(value) and value >= 0):
        raise CourseKitError(f"shrinkage must be a finite number >= 0 (0 = no shrinkage), got {shrinkage!r}.")
    return value


def _pattern(X: sp.csc_matrix) -> sp.csc_matrix:
    """The same sparsity structure with every stored value set to 1."""
    P = X.copy()
    P.data = np.ones_like(P.data)
    return P


def _with_data(X: sp.csc_matrix, data: np.ndarray) -> sp.csc_matrix:
    return sp.csc_matrix((data, X.indices, X.indptr), shape=X.shape)


class ColumnSimilarity:
    r"""Similarities between the columns of a sparse matrix (see the module docstring).

    Parameters
    ----------
    X : sparse matrix, shape (n_rows, n_columns)
        Stored entries are observations (ratings, or 1 for implicit feedback).
    measure : {"cosine", "adjusted_cosine", "pearson", "jaccard"}
    shrinkage : float
        :math:`\lambda \ge 0` in :math:`s \cdot n_{ij}/(n_{ij}+\lambda)`; 0 switches it off.
    min_support : int
        Pairs with fewer co-rated rows than this get similarity 0.
    block_entries : int
        Size (in numbers) of the dense blocks used by :meth:`top_k`.

    Examples
    --------
    >>> X = sp.csr_matrix(np.array([[5, 3, 0], [4, 0, 4], [1, 1, 5.0]]))
    >>> ColumnSimilarity(X, "cosine").block(np.array([0])).round(4).tolist()
    [[0.0, 0.7807, 0.5061]]
    """

    def __init__(self, X, measure: str = "cosine", shrinkage: float = 0.0, min_support: int = 1,
                 block_entries: int = 4_000_000):
        if not sp.issparse(X):
            raise CourseKitError(f"X must be a scipy.sparse matrix, got {type(X).__name__}; "
                                 "wrap it with scipy.sparse.csr_matrix(X).")
        self.measure = check_choice(measure, "similarity", MEASURES)
        self.shrinkage = check_shrinkage(shrinkage)
        self.min_support = check_positive_int(min_support, "min_support")
        self.block_entries = check_positive_int(block_entries, "block_entries")
        X = sp.csc_matrix(X, dtype=np.float64, copy=True)
        X.sum_duplicates()
        X.sort_indices()
        if not np.isfinite(X.data).all():
            raise CourseKitError("X holds NaN or inf values; drop or fill them before computing similarities.")
        self.shape = X.shape
        self.P = _pattern(X)
        self.counts = np.diff(X.indptr).astype(np.float64)  # |U_i|
        self.binary = bool(np.all(X.data == 1.0))
        scale = float(np.abs(X.data).max()) if X.nnz else 1.0
        if self.measure == "cosine":
            self.V = X
            self.norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=0)).ravel())
        elif self.measure == "adjusted_cosine":
            rows = X.indices
            row_sum = np.bincount(rows, weights=X.data, minlength=X.shape[0])
            row_cnt = np.bincount(rows, minlength=X.shape[0])
            row_mean = row_sum / np.maximum(row_cnt, 1)
            c = X.data - row_mean[rows]
            c[np.abs(c) < _REL_TOL * scale] = 0.0  # a value equal to its row mean is exactly 0
            self.V = _with_data(X, c)
            self.V2 = _with_data(X, c * c)
        elif self.measure == "pearson":
            # Pearson on co-rated rows is invariant to shifting a whole column, so centre each
            # column by its overall mean first: same result, smaller numbers, less cancellation.
            col = np.repeat(np.arange(X.shape[1]), np.diff(X.indptr))
            col_mean = np.bincount(col, weights=X.data, minlength=X.shape[1]) / np.maximum(self.counts, 1)
            v = X.data - col_mean[col]
            self.V = _with_data(X, v)
            self.V2 = _with_data(X, v * v)

    # ------------------------------------------------------------------ pieces
    def _dot(self, A: sp.csc_matrix, B: sp.csc_matrix, rows, cols) -> np.ndarray:
        """Dense :math:`A_{:,rows}^\\top B_{:,cols}` (``cols=None``: every column)."""
        left = A[:, rows].T  # CSC sliced by columns, transposed: CSR without a copy
        if cols is None:
            if not hasattr(self, "_csr_cache"):
                self._csr_cache: dict[int, sp.csr_matrix] = {}
            right = self._csr_cache.get(id(B))
            if right is None:
                right = self._csr_cache[id(B)] = B.tocsr()
        else:
            right = B[:, cols].tocsr()
        return (left @ right).toarray()

    def n_common(self, rows, cols=None) -> np.ndarray:
        r"""Support :math:`n_{ij}` (number of co-rated rows) for ``rows`` x ``cols``."""
        return self._dot(self.P, self.P, rows, cols)

    def _raw(self, rows, cols) -> tuple[np.ndarray, np.ndarray | None]:
        """Unshrunk similarities and, when already computed, the support."""
        counts_c = self.counts if cols is None else self.counts[cols]
        if self.measure == "jaccard":
            n = self.n_common(rows, cols)
            union = self.counts[rows][:, None] + counts_c[None, :] - n
            return np.divide(n, union, out=np.zeros_like(n), where=union > 0), n
        if self.measure == "cosine":
            num = self._dot(self.V, self.V, rows, cols)
            n = num.copy() if self.binary and (self.shrinkage > 0 or self.min_support > 1) else None
            inv = np.divide(1.0, self.norms, out=np.zeros_like(self.norms), where=self.norms > 0)
            num *= inv[rows][:, None]  # in place: the block is the largest array here
            num *= (inv if cols is None else inv[cols])[None, :]
            return num, n
        if self.measure == "adjusted_cosine":
            num = self._dot(self.V, self.V, rows, cols)
            d_r = self._dot(self.V2, self.P, rows, cols)  # sum over co-rated rows of centred^2 (row side)
            d_c = self._dot(self.P, self.V2, rows, cols)
            den = np.sqrt(d_r * d_c)
            sim = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
            return np.clip(sim, -1.0, 1.0), None
        # pearson, from co-rated sums: cov = sum xy - sum x sum y / n, var = sum x^2 - (sum x)^2 / n
        n = self.n_common(rows, cols)
        s_r = self._dot(self.V, self.P, rows, cols)
        s_c = self._dot(self.P, self.V, rows, cols)
        q_r = self._dot(self.V2, self.P, rows, cols)
        q_c = self._dot(self.P, self.V2, rows, cols)
        prod = self._dot(self.V, self.V, rows, cols)
        safe_n = np.maximum(n, 1.0)
        cov = prod - s_r * s_c / safe_n
        var_r = q_r - s_r * s_r / safe_n
        var_c = q_c - s_c * s_c / safe_n
        ok = (n >= 2) & (var_r > _REL_TOL * q_r) & (var_c > _REL_TOL * q_c)
        den = np.sqrt(np.where(ok, var_r * var_c, 1.0))
        sim = np.where(ok, cov / den, 0.0)
        return np.clip(sim, -1.0, 1.0), n

    # ------------------------------------------------------------------ public
    def block(self, rows, cols=None) -> np.ndarray:
        """Dense similarities ``(len(rows), len(cols))`` (``cols=None``: all columns), diagonal 0.

        Shrinkage and minimum support are applied; an entry where ``rows[a] == cols[b]`` is 0.
        """
        rows = np.asarray(rows, dtype=np.int64)
        cols_arr = None if cols is None else np.asarray(cols, dtype=np.int64)
        sim, n = self._raw(rows, cols_arr)
        if self.shrinkage > 0 or self.min_support > 1:
            if n is None:
                n = self.n_common(rows, cols_arr)
            sim = shrink(sim, n, self.shrinkage)
            if self.min_support > 1:
                sim[n < self.min_support] = 0.0
        if cols_arr is None:
            sim[np.arange(len(rows)), rows] = 0.0
        else:
            sim[rows[:, None] == cols_arr[None, :]] = 0.0
        return sim

    def top_k(self, k: int) -> sp.csr_matrix:
        """Square CSR matrix: row ``i`` holds the ``k`` largest non-zero similarities of column ``i``.

        Cosine and Jaccard on positive values (every implicit and rating matrix) take a sparse
        path: only the co-rated pairs are computed and ranked (:func:`csr_row_top_k`); other
        measures rank dense blocks. Both give the same matrix.
        """
        k = check_positive_int(k, "k")
        n = self.shape[1]
        k_eff = min(k, n)
        step = max(1, self.block_entries // max(n, 1))
        sparse = self.sparse
        signed = self.measure in CENTRED or (self.V.data.min(initial=0.0) < 0 if hasattr(self, "V") else False)
        rows_out, cols_out, vals_out = [], [], []
        for start in range(0, n, step):
            rows = np.arange(start, min(start + step, n))
            if sparse:
                r, c, v = csr_row_top_k(self.sparse_block(rows), k_eff)
            else:
                sim = self.block(rows)
                if signed:
                    sim[sim == 0] = -np.inf  # no evidence (or self) ranks below any negative similarity
                r, c, v = dense_row_top_k(sim, k_eff)
            rows_out.append(rows[r])
            cols_out.append(c)
            vals_out.append(v)
        r, c, v = (np.concatenate(a) if a else np.zeros(0) for a in (rows_out, cols_out, vals_out))
        out = sp.csr_matrix((v.astype(np.float64), (r.astype(np.int64), c.astype(np.int64))), shape=(n, n))
        out.eliminate_zeros()
        out.sort_indices()
        return out

    @property
    def sparse(self) -> bool:
        """Whether :meth:`top_k` takes the sparse path: cosine or Jaccard, every stored value > 0."""
        if self.measure == "jaccard":
            return True
        return self.measure == "cosine" and bool(np.all(self.V.data > 0))

    def sparse_block(self, rows: np.ndarray) -> sp.csr_matrix:
        """:meth:`block` for cosine or Jaccard on positive values, as CSR: only co-rated pairs are stored.

        Each stored value is computed with the same operations, in the same order, as
        :meth:`block`; zeros (the diagonal, pairs below ``min_support``) are not stored.
        """
        rows = np.asarray(rows, dtype=np.int64)
        A = self.P if self.measure == "jaccard" else self.V
        M = sp.csr_matrix(self._sparse_dot(A, rows))
        vals, cols, per_row = M.data, M.indices, np.diff(M.indptr)
        n = None
        if self.measure == "jaccard":
            n = vals.copy()
            vals /= np.repeat(self.counts[rows], per_row) + self.counts[cols] - n  # union >= 1 on co-rated pairs
        else:
            if self.shrinkage > 0 or self.min_support > 1:
                # positive values: V'V and P'P have the same pattern, stored in the same order
                n = vals.copy() if self.binary else self._sparse_dot(self.P, rows).data
            inv = np.divide(1.0, self.norms, out=np.zeros_like(self.norms), where=self.norms > 0)
            vals *= np.repeat(inv[rows], per_row)
            vals *= inv[cols]
        if self.shrinkage > 0 or self.min_support > 1:
            vals[:] = shrink(vals, n, self.shrinkage)
            if self.min_support > 1:
                vals[n < self.min_support] = 0.0
        vals[cols == np.repeat(rows, per_row)] = 0.0
        M.eliminate_zeros()
        return M

    def _sparse_dot(self, A: sp.csc_matrix, rows: np.ndarray) -> sp.csr_matrix:
        """``A[:, rows].T @ A`` as CSR: the co-rated pairs, in an order fixed by the pattern of ``A``."""
        if not hasattr(self, "_csr_cache"):
            self._csr_cache = {}
        right = self._csr_cache.get(id(A))
        if right is None:
            right = self._csr_cache[id(A)] = A.tocsr()
        return A[:, rows].T.tocsr() @ right


def similarity_matrix(X, measure: str = "cosine", shrinkage: float = 0.0, min_support: int = 1,
                      k: int | None = None) -> sp.csr_matrix:
    """Similarities between the columns of ``X`` as CSR; ``k`` keeps the ``k`` nearest per row.

    ``k=None`` keeps every non-zero similarity (memory grows with the number of co-rated pairs).

    >>> X = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1.0]]))
    >>> similarity_matrix(X, "cosine").toarray().round(3).tolist()
    [[0.0, 0.707, 0.0], [0.707, 0.0, 0.707], [0.0, 0.707, 0.0]]
    """
    sim = ColumnSimilarity(X, measure, shrinkage, min_support)
    return sim.top_k(k if k is not None else max(sim.shape[1], 1))
