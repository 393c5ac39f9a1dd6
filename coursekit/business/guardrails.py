r"""Guardrail metrics: what a business objective must not quietly destroy.

A re-ranker tuned for revenue or clicks can win its objective while narrowing the shop: the same
bestsellers for everyone, no room for new items, ten near-identical products per list. Guardrails
are read next to the objective (in an A/B test, per arm) from the served slates alone:

* ``coverage`` -- share of the catalogue shown at least once, :math:`|\bigcup_s S| / |I|`
  (:func:`coursekit.metrics.catalog_coverage`);
* ``gini`` -- Gini index of the impressions over the catalogue, 0 = every item equally often,
  1 = one item only (:func:`coursekit.metrics.gini_index`);
* ``new_item_share`` -- share of the shown slots that hold an item released at or after
  ``new_since``, :math:`\frac{1}{\sum_s |S|}\sum_s \sum_{i \in S} \mathbb{1}[t_i \ge t_{new}]`;
* ``intra_list_diversity`` -- mean over slates of one minus the share of same-category pairs,

  .. math:: \mathrm{ILD}(S) = 1 - \frac{\sum_c \binom{m_c}{2}}{\binom{|S|}{2}}

  (:math:`m_c` the number of the slate's items in category :math:`c`; slates of fewer than two
  items are left out). This is :func:`coursekit.metrics.intra_list_diversity` with one-hot
  category vectors, counted instead of multiplied;
* ``price_band_shares`` -- share of the shown slots per price band, when the table has ``price_band``;
* ``n_slates``, ``n_impressions``.

Example
-------
>>> items = pd.DataFrame({"item_id": [1, 2, 3, 4], "category": ["a", "a", "b", "b"],
...                       "release_time": [0, 0, 0, 10]})
>>> g = guardrails(np.array([[1, 2, 3], [1, 4, -1]]), items, new_since=10)
>>> g["coverage"], g["new_item_share"], round(g["intra_list_diversity"], 4)   # ILD: (2/3 + 1) / 2
(1.0, 0.2, 0.8333)
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_columns, check_positive_int
from coursekit.metrics import catalog_coverage, gini_index

__all__ = ["guardrails"]


def _same_category_share(codes: np.ndarray, valid: np.ndarray, n_categories: int) -> np.ndarray:
    """Per slate: share of same-category pairs among its valid items (NaN when fewer than 2)."""
    n = len(codes)
    rows = np.broadcast_to(np.arange(n)[:, None], codes.shape)[valid]
    counts = np.bincount(rows * n_categories + codes[valid], minlength=n * n_categories).reshape(n, n_categories)
    m = valid.sum(axis=1)
    pairs = m * (m - 1) / 2
    same = (counts * (counts - 1) / 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(m >= 2, same / np.where(pairs > 0, pairs, 1.0), np.nan)


def guardrails(slates: ArrayLike, items: pd.DataFrame, n_items: int | None = None,
               new_since: Any = None) -> dict[str, Any]:
    """Guardrail metrics of served slates (see the module docstring).

    Parameters
    ----------
    slates : int array (n, K)
        Item ids per request, ``-1`` = an empty slot.
    items : DataFrame
        The catalogue, with ``item_id`` and ``category`` (``release_time`` for ``new_item_share``,
        ``price_band`` for ``price_band_shares``).
    n_items : int or None
        Catalogue size for coverage and Gini; None = the rows of ``items``.
    new_since : timestamp or None
        Items released at or after it count as new; None leaves ``new_item_share`` out.

    Returns
    -------
    dict with ``n_slates, n_impressions, coverage, gini, intra_list_diversity`` and, when available,
    ``new_item_share`` and ``price_band_shares`` (a dict band -> share).
    """
    if not isinstance(items, pd.DataFrame):
        raise CourseKitError(f"items must be the catalogue DataFrame (item_id, category, ...), got "
                             f"{type(items).__name__}.")
    check_columns(items, ["item_id", "category"], "items")
    s = np.asarray(slates)
    if s.ndim != 2 or not np.issubdtype(s.dtype, np.integer):
        raise CourseKitError(f"slates must be a 2-D integer array of item ids (n, K) with -1 for empty slots, "
                             f"got shape {s.shape} and dtype {s.dtype}.")
    catalogue = pd.Index(items["item_id"].to_numpy())
    if not catalogue.is_unique:
        raise CourseKitError("items has duplicate item_id values: give one row per item.")
    n_items = len(catalogue) if n_items is None else check_positive_int(n_items, "n_items")
    valid = s != -1
    idx = np.full(s.shape, -1, dtype=np.int64)
    idx[valid] = catalogue.get_indexer(s[valid])
    unknown = valid & (idx < 0)
    if unknown.any():
        raise CourseKitError(f"slates hold item id(s) {np.unique(s[unknown])[:10].tolist()} that are not in items.")
    if n_items < len(catalogue):
        raise CourseKitError(f"n_items must be at least the number of catalogue rows ({len(catalogue)}), "
                             f"got {n_items}.")
    n_imp = int(valid.sum())
    codes, _ = pd.factorize(items["category"])
    codes = np.where(codes < 0, codes.max() + 1, codes)            # a missing category counts as one more
    same = _same_category_share(codes[np.maximum(idx, 0)], valid, max(int(codes.max()) + 1, 1))
    out: dict[str, Any] = {
        "n_slates": int(len(s)), "n_impressions": n_imp,
        "coverage": catalog_coverage(idx, n_items) if len(s) else 0.0,
        "gini": gini_index(idx, n_items) if len(s) else float("nan"),
        "intra_list_diversity": float(np.nanmean(1.0 - same)) if np.isfinite(same).any() else float("nan"),
    }
    if new_since is not None:
        check_columns(items, ["release_time"], "items")
        released = items["release_time"].to_numpy()[np.maximum(idx, 0)]
        new = valid & (released >= new_since)
        out["new_item_share"] = float(new.sum() / n_imp) if n_imp else float("nan")
    if "price_band" in items.columns and n_imp:
        bands = items["price_band"].to_numpy()[idx[valid]]
        out["price_band_shares"] = pd.Series(bands).value_counts(normalize=True).sort_index().to_dict()
    return out
