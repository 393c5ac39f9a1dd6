r"""How well learned item vectors agree with known item attributes (the shop's ground truth).

Two representations of the same items agree when they call the same pairs of items similar.
:func:`similarity_alignment` compares the pairwise cosine similarities of two vector sets over all
item pairs :math:`i < j`,

.. math:: \rho = \operatorname{corr}\Big(\big[\cos(v_i, v_j)\big]_{i<j},\;
          \big[\cos(a_i, a_j)\big]_{i<j}\Big),

Pearson's correlation (representational similarity analysis). It needs no fitted map between the
spaces, so vectors of different dimension (iALS factors, MiniLM, TF-IDF) are compared on equal
terms. Unrelated (random) vectors give :math:`\rho \approx 0`.

>>> rng = np.random.default_rng(0)
>>> a = rng.normal(size=(50, 4))
>>> round(similarity_alignment(2 * a, a), 6)
1.0
>>> abs(similarity_alignment(rng.normal(size=(50, 4)), a)) < 0.2
True
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError

__all__ = ["similarity_alignment", "similarity_alignment_se"]


def _cosines(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sim = unit @ unit.T
    return sim[np.triu_indices(len(x), k=1)]


def similarity_alignment(vectors: ArrayLike, attributes: ArrayLike) -> float:
    """Pearson correlation of the pairwise cosine similarities of two aligned sets of item vectors."""
    v, a = np.asarray(vectors), np.asarray(attributes)
    if v.shape[0] != a.shape[0] or v.shape[0] < 3:
        raise CourseKitError(f"need the same items (>= 3 rows) in both, got {v.shape[0]} and {a.shape[0]} rows.")
    sv, sa = _cosines(v), _cosines(a)
    if sv.std() < 1e-12 or sa.std() < 1e-12:
        return 0.0
    return float(np.corrcoef(sv, sa)[0, 1])


def similarity_alignment_se(vectors: ArrayLike, attributes: ArrayLike, n_boot: int = 200,
                            seed: int = 0) -> tuple[float, float]:
    """:func:`similarity_alignment` and its bootstrap standard error over items.

    The items are resampled with replacement (pairs of an item with its own copy are dropped), the
    alignment is recomputed on each resample, and the SE is the standard deviation of those values:
    how much the number would move with another set of items of the same kind.

    >>> rng = np.random.default_rng(1)
    >>> a = rng.normal(size=(40, 3))
    >>> value, se = similarity_alignment_se(a + 0.1 * rng.normal(size=a.shape), a, n_boot=50)
    >>> value > 0.9 and 0 < se < 0.1
    True
    """
    v, a = np.asarray(vectors, dtype=np.float64), np.asarray(attributes, dtype=np.float64)
    value = similarity_alignment(v, a)
    if int(n_boot) < 2:
        raise CourseKitError(f"n_boot must be at least 2, got {n_boot!r}.")
    cv_, ca_ = _cosine_matrix(v), _cosine_matrix(a)
    rng = np.random.default_rng(seed)
    n = len(v)
    vals = []
    for _ in range(int(n_boot)):
        idx = rng.integers(0, n, size=n)
        i, j = np.triu_indices(n, k=1)
        keep = idx[i] != idx[j]
        sv, sa = cv_[idx[i][keep], idx[j][keep]], ca_[idx[i][keep], idx[j][keep]]
        vals.append(0.0 if sv.std() < 1e-12 or sa.std() < 1e-12 else float(np.corrcoef(sv, sa)[0, 1]))
    return value, float(np.std(vals, ddof=1))


def _cosine_matrix(x: np.ndarray) -> np.ndarray:
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return unit @ unit.T
