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

from coursekit._validation import CourseKitError

__all__ = ["similarity_alignment"]


def _cosines(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sim = unit @ unit.T
    return sim[np.triu_indices(len(x), k=1)]


def similarity_alignment(vectors, attributes) -> float:
    """Pearson correlation of the pairwise cosine similarities of two aligned sets of item vectors."""
    v, a = np.asarray(vectors), np.asarray(attributes)
    if v.shape[0] != a.shape[0] or v.shape[0] < 3:
        raise CourseKitError(f"need the same items (>= 3 rows) in both, got {v.shape[0]} and {a.shape[0]} rows.")
    sv, sa = _cosines(v), _cosines(a)
    if sv.std() < 1e-12 or sa.std() < 1e-12:
        return 0.0
    return float(np.corrcoef(sv, sa)[0, 1])
