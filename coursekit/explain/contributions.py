r"""The one result type of every explainer: a sorted table of (feature, contribution).

A feature is a history item (its external id) for history explainers, or a token, word or
history item for the cross-encoder. ``frame.attrs`` carries ``method``, ``base`` (the value with
every feature removed, :math:`v(\mathbf 0)`) and ``score`` (:math:`v(\mathbf 1)`); for additive
explanations (exact, SHAP) :math:`\text{base} + \sum_j \phi_j = \text{score}`.

>>> f = contributions_frame([10, 20], [0.1, 0.7], method="exact", base=0.0, score=0.8)
>>> f["feature"].tolist(), f.attrs["method"]
([20, 10], 'exact')
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["contributions_frame", "aligned"]


def contributions_frame(features: ArrayLike, values: ArrayLike, *, method: str, base: float = float("nan"),
                        score: float = float("nan"), labels: ArrayLike | None = None,
                        **attrs: Any) -> pd.DataFrame:
    """A DataFrame ``feature, contribution[, label]`` sorted by contribution (largest first; ties by input order)."""
    frame = pd.DataFrame({"feature": np.asarray(features), "contribution": np.asarray(values, dtype=np.float64)})
    if labels is not None:
        frame["label"] = np.asarray(labels, dtype=object)
    frame = frame.sort_values("contribution", ascending=False, kind="stable").reset_index(drop=True)
    frame.attrs.update(method=method, base=float(base), score=float(score), **attrs)
    return frame


def aligned(frame: pd.DataFrame, features: ArrayLike) -> np.ndarray:
    """The contributions of ``frame`` in the order of ``features`` (0 for features it does not list)."""
    s = pd.Series(frame["contribution"].to_numpy(), index=frame["feature"].to_numpy())
    return s.reindex(np.asarray(features)).fillna(0.0).to_numpy(dtype=np.float64)
