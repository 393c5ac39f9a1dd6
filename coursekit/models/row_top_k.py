"""Per-row top-``k`` selection for similarity matrices, dense blocks or CSR.

Both keep, in each row, the ``k`` largest entries, ties at the boundary broken by lower column
index, as :func:`coursekit.models.ranking.top_k` does, but return the kept entries as
``(row, col, value)`` triples ready for a sparse matrix. :func:`csr_row_top_k` looks only at
the stored entries, which is what makes ItemKNN on a large catalogue fast.

>>> sim = np.array([[0.0, 0.4, 0.4, 0.1]])
>>> [a.tolist() for a in dense_row_top_k(sim, 1)]  # the tie at 0.4: the lower column wins
[[0], [1], [0.4]]
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def csr_row_top_k(M: sp.csr_matrix, k: int, max_entries: int = 1 << 21,
                  max_padding: float = 1.25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of a CSR matrix of positive values, its ``k`` largest, ties broken by lower column index.

    Returns ``(row, col, value)`` of the kept entries, in no particular order. A row with at most
    ``k`` stored entries keeps them all. The longer rows are sorted by length and copied, a chunk of similar
    lengths at a time (longest at most ``max_padding`` times the shortest, at most
    ``max_entries`` numbers), into a dense array padded with ``-inf``; one
    :func:`numpy.partition` finds each row's ``k``-th largest value, everything above it is
    kept, and of the entries equal to it the lowest columns fill the remaining places. Same
    result as :func:`coursekit.models.ranking.top_k` on the dense rows, without looking at the
    entries that are not stored.

    >>> M = sp.csr_matrix(np.array([[0.5, 0.0, 0.9, 0.5], [0.0, 0.3, 0.0, 0.0]]))
    >>> r, c, v = csr_row_top_k(M, 2)  # row 0: 0.9, then the tie 0.5 at columns 0 and 3 -> column 0
    >>> sorted(zip(r.tolist(), c.tolist(), v.tolist()))
    [(0, 0, 0.5), (0, 2, 0.9), (1, 1, 0.3)]
    """
    counts = np.diff(M.indptr)
    small = np.flatnonzero(counts <= k)
    big = np.flatnonzero(counts > k)
    big = big[np.argsort(counts[big], kind="stable")]
    S = M[np.concatenate([small, big])]  # rows regrouped: the short ones, then the long ones by length
    n_small = int(S.indptr[small.size])
    out_r, out_c, out_v = [np.repeat(small, counts[small])], [S.indices[:n_small]], [S.data[:n_small]]
    start, lens = 0, counts[big]
    while start < big.size:  # chunks of rows of similar length: little padding
        stop = start + 1
        while (stop < big.size and lens[stop] <= max_padding * lens[start]
               and (stop - start + 1) * int(lens[stop]) <= max_entries):
            stop += 1
        lo, hi = S.indptr[small.size + start], S.indptr[small.size + stop]
        r, c, v = _padded_top_k(S.data[lo:hi], S.indices[lo:hi], lens[start:stop], k)
        out_r.append(big[start:stop][r])
        out_c.append(c)
        out_v.append(v)
        start = stop
    return np.concatenate(out_r), np.concatenate(out_c), np.concatenate(out_v)


def _padded_top_k(data: np.ndarray, indices: np.ndarray, lens: np.ndarray,
                  k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`csr_row_top_k` of consecutive CSR rows (``data``, ``indices``, row lengths ``lens`` > k).

    Returns ``(row within the chunk, col, value)``.
    """
    width = int(lens.max())
    filled = np.arange(width) < lens[:, None]
    vals = np.full((len(lens), width), -np.inf)
    vals[filled] = data
    start = np.cumsum(lens) - lens  # where each row begins in data / indices
    thr = np.partition(vals, width - k, axis=1)[:, width - k:width - k + 1]
    r, p = np.nonzero(vals > thr)
    need = k - np.bincount(r, minlength=len(lens))
    tied = np.flatnonzero(need > 0)
    r_eq, p_eq = np.nonzero(vals[tied] == thr[tied])
    r_eq = tied[r_eq]
    at = start[r_eq] + p_eq
    order = np.lexsort((indices[at], r_eq))  # per row, lowest column first
    r_eq, at = r_eq[order], at[order]
    rank = np.arange(r_eq.size) - np.searchsorted(r_eq, r_eq)
    take = rank < need[r_eq]
    at = np.concatenate([start[r] + p, at[take]])
    return np.concatenate([r, r_eq[take]]), indices[at], data[at]


def dense_row_top_k(sim: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row ``k`` largest non-zero finite entries, ties at the boundary broken by lower column index.

    Returns ``(row, col, value)`` of the kept entries (row-major order). A fast path for
    :func:`coursekit.models.ranking.top_k`: one :func:`numpy.partition` finds each row's
    threshold (the ``k``-th largest value); everything above it is kept, and of the entries
    equal to it the ones with the lowest column index fill the remaining places.
    """
    n, m = sim.shape
    if k >= m:
        thr = np.full(n, -np.inf)
    else:
        thr = np.partition(sim, m - k, axis=1)[:, m - k]
    # strictly above the threshold: never keeps -inf, nor 0 (no evidence) when thr is 0
    above = sim > thr[:, None]
    if k >= m:
        above &= sim != 0
    r_gt, c_gt = np.nonzero(above)
    n_gt = np.bincount(r_gt, minlength=n)
    need = np.where(np.isfinite(thr) & (thr != 0), k - n_gt, 0)
    tied = np.flatnonzero(need > 0)
    if tied.size:
        r_eq, c_eq = np.nonzero(sim[tied] == thr[tied, None])
        first = np.searchsorted(r_eq, np.arange(tied.size))
        keep = (np.arange(r_eq.size) - first[r_eq]) < need[tied][r_eq]
        r_gt = np.concatenate([r_gt, tied[r_eq[keep]]])
        c_gt = np.concatenate([c_gt, c_eq[keep]])
    return r_gt, c_gt, sim[r_gt, c_gt]
