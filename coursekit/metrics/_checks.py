"""Shared input checks of the metric functions (shapes, ids, padding, duplicates)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_positive_int

PAD = -1


def as_relevant(relevant: sp.spmatrix | np.ndarray, *, name: str = "relevant") -> sp.csr_matrix:
    """``relevant`` as a canonical CSR matrix (sorted indices, no duplicates, no stored zeros)."""
    if sp.issparse(relevant):
        rel = sp.csr_matrix(relevant, dtype=np.float64, copy=True)
    elif isinstance(relevant, np.ndarray) and relevant.ndim == 2:
        rel = sp.csr_matrix(relevant.astype(np.float64))
    else:
        raise CourseKitError(
            f"{name} must be a scipy.sparse matrix (n_users, n_items) whose nonzeros are the relevant "
            f"items, got {type(relevant).__name__}. Build it with test.matrix()."
        )
    rel.sum_duplicates()
    rel.eliminate_zeros()
    rel.sort_indices()
    if rel.nnz and not np.all(np.isfinite(rel.data)):
        raise CourseKitError(f"{name} holds NaN or infinite gains; relevance values must be finite.")
    if rel.nnz and (rel.data < 0).any():
        raise CourseKitError(
            f"{name} holds negative gains ({rel.data.min()}); relevance values must be >= 0. "
            "Threshold ratings into gains first, e.g. (R >= 4) for binary relevance."
        )
    return rel


def as_topk(topk: ArrayLike, n_items: int | None = None, *, check_duplicates: bool = True) -> np.ndarray:
    """``topk`` as a 2-D int64 array of item indices (``-1`` = padding), validated."""
    arr = np.asarray(topk)
    if arr.ndim != 2:
        raise CourseKitError(
            f"topk must be a 2-D array (n_users, k) of item indices, got shape {arr.shape}. "
            "For a single user pass topk[None, :]."
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise CourseKitError(
            f"topk must hold integer item indices (-1 for padding), got dtype {arr.dtype}. "
            "Pass the indices from top_k / recommend_indices, not the scores."
        )
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < PAD:
        raise CourseKitError(f"topk holds index {arr.min()}; valid entries are item indices >= 0 or -1 (padding).")
    if n_items is not None and arr.size and arr.max() >= n_items:
        raise CourseKitError(
            f"topk holds item index {arr.max()} but there are only {n_items} items; "
            "topk must hold internal indices 0..n_items-1 of the same universe as the relevance matrix."
        )
    if check_duplicates and arr.shape[1] > 1:
        s = np.sort(arr, axis=1)
        dup = (s[:, 1:] == s[:, :-1]) & (s[:, 1:] != PAD)
        if dup.any():
            row = int(np.nonzero(dup.any(axis=1))[0][0])
            raise CourseKitError(
                f"topk row {row} lists an item more than once; a recommendation list holds each item "
                "at most once (use top_k on scores, which never repeats an item)."
            )
    return arr


def cut(topk: np.ndarray, k: int) -> tuple[np.ndarray, int]:
    """The first ``k`` columns of ``topk``, right-padded with ``-1`` to exactly ``k`` columns."""
    k = check_positive_int(k, "k")
    head = topk[:, :k]
    if head.shape[1] < k:
        pad = np.full((head.shape[0], k - head.shape[1]), PAD, dtype=np.int64)
        head = np.concatenate([head, pad], axis=1)
    return head, k


def check_rows(topk: np.ndarray, rel: sp.csr_matrix) -> None:
    if topk.shape[0] != rel.shape[0]:
        raise CourseKitError(
            f"topk has {topk.shape[0]} rows but relevant has {rel.shape[0]}; row u of both must be the "
            "same user. Slice relevant to the evaluated users, e.g. relevant[user_index]."
        )
