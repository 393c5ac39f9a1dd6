r"""Item prices for the shop: what turns a purchase into revenue.

The shop's catalogue has a price *band* per item (``budget``, ``mid``, ``premium``), not a
price. :func:`item_prices` draws one price per item around the median of its band,

.. math:: \text{price}_i = m_{b(i)} \exp(\sigma z_i), \qquad z_i \sim N(0, 1),

(log-normal, so prices are positive and a band's median is :math:`m_b`), rounded to cents.
The draw is made in item-id order with ``np.random.default_rng(seed)``, so the same items and
seed always give the same prices, whatever the row order of the table.

>>> items = pd.DataFrame({"item_id": [1, 2, 3], "price_band": ["budget", "mid", "premium"]})
>>> p = item_prices(items, seed=0)
>>> p.index.tolist(), bool((p > 0).all()), p.name
([1, 2, 3], True, 'price')
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_columns, check_nonneg_number, check_seed

__all__ = ["BAND_MEDIANS", "item_prices"]

#: median price of each price band (the shop's currency units)
BAND_MEDIANS = {"budget": 12.0, "mid": 35.0, "premium": 90.0}


def item_prices(items: pd.DataFrame, seed: int = 0, medians: Mapping[str, float] | None = None,
                sigma: float = 0.25) -> pd.Series:
    r"""One price per item: :math:`m_{b(i)} \exp(\sigma z_i)`, rounded to cents.

    Parameters
    ----------
    items : DataFrame
        With columns ``item_id`` and ``price_band`` (e.g. ``data.items`` of the shop).
    seed : int
        Seed of the log-normal spread.
    medians : mapping, optional
        Band -> median price; default :data:`BAND_MEDIANS`.
    sigma : float
        Standard deviation of the log price within a band (0: every item costs its band's median).

    Returns
    -------
    Series named ``price``, index ``item_id`` (sorted).

    >>> items = pd.DataFrame({"item_id": [2, 1], "price_band": ["mid", "budget"]})
    >>> item_prices(items, sigma=0).tolist()
    [12.0, 35.0]
    """
    check_columns(items, ["item_id", "price_band"], "items")
    seed = check_seed(seed)
    sigma = check_nonneg_number(sigma, "sigma")
    medians = dict(BAND_MEDIANS if medians is None else medians)
    bad_median = {b: m for b, m in medians.items() if not (np.isfinite(float(m)) and float(m) > 0)}
    if bad_median:
        raise CourseKitError(f"medians must be positive prices, got {bad_median}; e.g. medians={BAND_MEDIANS}.")
    table = items[["item_id", "price_band"]].sort_values("item_id")
    if table["item_id"].duplicated().any():
        dup = table.loc[table["item_id"].duplicated(), "item_id"].head(5).tolist()
        raise CourseKitError(f"items has duplicated item_id(s) {dup}; pass one row per item.")
    unknown = sorted(set(table["price_band"]) - set(medians), key=str)
    if unknown:
        raise CourseKitError(f"price_band value(s) {unknown} have no median price; known bands: {sorted(medians)}. "
                             f"Pass medians={{band: price, ...}} covering every band.")
    m = table["price_band"].map(medians).to_numpy(dtype=np.float64)
    z = np.random.default_rng(seed).standard_normal(len(table))
    price = np.round(m * np.exp(sigma * z), 2)
    return pd.Series(price, index=pd.Index(table["item_id"].to_numpy(), name="item_id"), name="price")
