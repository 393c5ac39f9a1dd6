r"""Which test items count as relevant, and with what gain.

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> inter = Interactions.from_frame(pd.DataFrame({"user_id": [1, 1, 1], "item_id": [5, 6, 5]}))
>>> rel, n_seen = relevance_matrix(inter.subset([True, False, False]), inter.subset([False, True, True]))
>>> rel.toarray().tolist(), n_seen          # item 5 is in train: not relevant, counted as seen
([[0.0, 1.0]], 1)
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from coursekit._validation import CourseKitError, check_choice
from coursekit.interactions import Interactions

__all__ = ["relevance_matrix"]


def relevance_matrix(train: Interactions, test: Interactions, relevance: str = "binary",
                     min_rating: float | None = None) -> tuple[sp.csr_matrix, int]:
    r"""Relevant test items per user (CSR, gains as values) and the number of test pairs dropped as seen in train.

    ``relevance="binary"``: gain 1 for every test item (with ``min_rating``: every test item
    rated :math:`\ge` ``min_rating``). ``relevance="rating"``: the gain is the test rating
    (only rated items; with ``min_rating`` only those rated at least that), used by graded NDCG.
    Items the user has in ``train`` are removed (they are excluded from every ranking).
    """
    check_choice(relevance, "relevance", ["binary", "rating"])
    if relevance == "rating" or min_rating is not None:
        if not test.has_ratings:
            raise CourseKitError(
                "relevance='rating' or min_rating needs ratings, but the test set has none; "
                "use relevance='binary' without min_rating for implicit feedback."
            )
        rel = test.matrix("rating", dtype=np.float64)
        if min_rating is not None:
            rel.data[rel.data < float(min_rating)] = 0.0
            rel.eliminate_zeros()
        if relevance == "binary":
            rel.data[:] = 1.0
        elif rel.nnz and (rel.data <= 0).any():
            raise CourseKitError("relevance='rating' needs positive ratings as gains; pass min_rating > 0 "
                                 "or shift the ratings.")
    else:
        rel = test.matrix("binary", dtype=np.float64)
    seen = train.matrix("binary", dtype=np.float64)
    overlap = rel.multiply(seen).tocsr()
    n_overlap = int(overlap.nnz)
    rel = (rel - overlap).tocsr()
    rel.eliminate_zeros()
    rel.sort_indices()
    return rel, n_overlap
