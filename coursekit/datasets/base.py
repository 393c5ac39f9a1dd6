"""The one :class:`Dataset` type that every data source of the course returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_columns
from coursekit.interactions import ITEM, USER, Interactions


@dataclass
class Dataset:
    """Interactions, item (and optional user) tables, and where the data comes from.

    Attributes
    ----------
    name : str
        Short name (``"ml-latest-small"``, ``"shop"``).
    interactions : DataFrame
        ``user_id``, ``item_id``, ``rating`` (float, NaN when an event has no rating),
        ``timestamp`` (int seconds since the epoch), and source-specific columns.
    items : DataFrame
        ``item_id``, ``title``, ``text`` (a text description built from the item's fields)
        and source-specific features. Every item of the catalogue, including items
        nobody interacted with.
    users : DataFrame or None
        ``user_id`` plus source-specific columns, when the source has user data.
    license, citation : str
        Terms of use and how to cite the data.
    truth : dict
        Ground truth of a synthetic source (empty for real data).
    """

    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame | None = None
    license: str = ""
    citation: str = ""
    truth: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_columns(self.interactions, [USER, ITEM, "rating", "timestamp"], f"{self.name}.interactions")
        check_columns(self.items, [ITEM, "title", "text"], f"{self.name}.items")
        unknown = ~self.interactions[ITEM].isin(self.items[ITEM])
        if unknown.any():
            raise CourseKitError(
                f"{self.name}: {int(unknown.sum())} interactions refer to items missing from the item "
                f"table (e.g. {self.interactions.loc[unknown, ITEM].iloc[0]})."
            )

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}: {len(self.interactions):,} interactions, "
                f"{self.interactions[USER].nunique():,} users, {len(self.items):,} items)")

    def to_interactions(self) -> Interactions:
        """The interaction log as :class:`Interactions` over the whole catalogue.

        The item universe is every item of :attr:`items` (so items without events are
        part of the ranking); the user universe is every user with an event or a row
        in :attr:`users`.
        """
        user_ids = self.interactions[USER]
        if self.users is not None:
            user_ids = pd.concat([user_ids, self.users[USER]])
        return Interactions.from_frame(self.interactions, users=user_ids.to_numpy(),
                                       items=self.items[ITEM].to_numpy())

    def describe(self) -> pd.Series:
        """Counts, density, rating histogram and activity quantiles, as one Series."""
        inter = self.interactions
        n_users = inter[USER].nunique()
        n_items = len(self.items)
        pairs = inter[[USER, ITEM]].drop_duplicates().shape[0]
        per_user = inter.groupby(USER).size()
        per_item = inter.groupby(ITEM).size().reindex(self.items[ITEM], fill_value=0)
        rated = inter["rating"].dropna()
        out: dict[str, Any] = {
            "interactions": len(inter),
            "users": n_users,
            "items": n_items,
            "items with no interaction": int((per_item == 0).sum()),
            "distinct user-item pairs": pairs,
            "density": pairs / (n_users * n_items) if n_users and n_items else np.nan,
            "rated interactions": len(rated),
            "first event": pd.to_datetime(inter["timestamp"].min(), unit="s"),
            "last event": pd.to_datetime(inter["timestamp"].max(), unit="s"),
        }
        for q in (0.1, 0.5, 0.9, 0.99):
            out[f"interactions per user q{int(q * 100)}"] = float(per_user.quantile(q))
        for q in (0.1, 0.5, 0.9, 0.99):
            out[f"interactions per item q{int(q * 100)}"] = float(per_item.quantile(q))
        if len(rated):
            for value, count in rated.value_counts().sort_index().items():
                out[f"rating {value:g}"] = int(count)
        return pd.Series(out, name=self.name, dtype=object)
