r"""Beyond-accuracy rows of :func:`~coursekit.evaluation.evaluate`: coverage, Gini, novelty, personalization, diversity.

Computed on the warm users' top-``k`` lists (see :mod:`coursekit.metrics.beyond` for the formulas).

>>> import numpy as np, pandas as pd
>>> from coursekit.interactions import Interactions
>>> train = Interactions.from_frame(pd.DataFrame({"user_id": [1, 2], "item_id": [5, 6]}))
>>> rows = beyond_rows(np.array([[1], [0]]), (1,), train, None)
>>> [(r["metric"], round(r["value"], 2)) for r in rows]
[('coverage', 1.0), ('gini', 0.0), ('novelty', 1.0), ('personalization', 1.0)]
"""
from __future__ import annotations

import numpy as np

from coursekit._validation import CourseKitError
from coursekit.evaluation.ranking import WARM, metric_row
from coursekit.interactions import Interactions
from coursekit.metrics import catalog_coverage, gini_index, intra_list_diversity, novelty, personalization


def beyond_rows(top: np.ndarray, ks: tuple[int, ...], train: Interactions,
                item_vectors: np.ndarray | None) -> list[dict]:
    n_items = train.n_items
    pop = train.matrix().getnnz(axis=0)
    n_train_users = max(int((train.user_counts() > 0).sum()), 1)
    if item_vectors is not None:
        item_vectors = np.asarray(item_vectors, dtype=np.float64)
        if item_vectors.ndim != 2 or item_vectors.shape[0] != n_items:
            raise CourseKitError(
                f"item_vectors must have one row per item of the universe ({n_items}), got shape "
                f"{item_vectors.shape}. Order the rows by item index: vectors[train.items.index(ids)]."
            )
    n = top.shape[0]
    rows = []
    for k in ks:
        t = top[:, :k]
        rows.append({"metric": "coverage", "k": k, "value": catalog_coverage(t, n_items), "users": n, "group": WARM})
        rows.append({"metric": "gini", "k": k, "value": gini_index(t, n_items), "users": n, "group": WARM})
        rows.append(metric_row("novelty", k, novelty(t, pop, n_train_users, per_user=True), WARM))
        rows.append({"metric": "personalization", "k": k, "value": personalization(t, n_items),
                     "users": n, "group": WARM})
        if item_vectors is not None:
            rows.append(metric_row("intra_list_diversity", k, intra_list_diversity(t, item_vectors), WARM))
    return rows
