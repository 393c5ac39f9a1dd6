r"""Interaction logs with a fixed id universe, and the sparse user-item matrix.

Everything in coursekit (splits, models, metrics, evaluation) meets on one type,
:class:`Interactions`: a table of events ``(user_id, item_id[, rating][, timestamp])``
plus two :class:`IdMap` objects that fix the *universe* of users and items.

A split keeps the universe of its parent, so a train set and a test set cut from the
same data share the same indices: row ``u`` of ``train.matrix()`` and row ``u`` of
``test.matrix()`` are the same user, even when that user has no training events
(a *cold* user) or an item has none (a *cold* item).

External ids are integers (MovieLens ``movieId``, the shop's ``item_id``); internal
indices are ``0 .. n-1`` in order of sorted external id.

Example
-------
>>> import pandas as pd
>>> log = pd.DataFrame({"user_id": [10, 10, 20], "item_id": [7, 9, 7]})
>>> inter = Interactions.from_frame(log)
>>> inter.n_users, inter.n_items
(2, 2)
>>> inter.matrix().toarray()
array([[1., 1.],
       [1., 0.]], dtype=float32)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coursekit._validation import CourseKitError, UnknownIdError, check_columns, check_id_array

USER, ITEM, RATING, TIMESTAMP = "user_id", "item_id", "rating", "timestamp"


@dataclass(frozen=True)
class IdMap:
    """A bijection between external integer ids and contiguous indices ``0..n-1``.

    Parameters
    ----------
    ids : array of int
        The external ids, unique and sorted ascending; ``ids[i]`` has index ``i``.
    kind : str
        ``"user"`` or ``"item"``, used in error messages.

    Examples
    --------
    >>> m = IdMap.from_ids([30, 10, 20, 10], kind="item")
    >>> m.index([20, 30]).tolist()
    [1, 2]
    >>> m.ids[[0, 2]].tolist()
    [10, 30]
    """

    ids: np.ndarray
    kind: str = "item"

    @classmethod
    def from_ids(cls, ids, kind: str = "item") -> IdMap:
        _check_no_missing(ids, f"{kind}_id")
        arr = np.asarray(ids)
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise CourseKitError(
                f"{kind} ids must be integers, got dtype {arr.dtype}. Map them to integers first, "
                f"e.g. frame['{kind}_id'] = frame['{kind}_id'].astype('category').cat.codes."
            )
        return cls(np.unique(arr.astype(np.int64)), kind)

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, external_id) -> bool:
        i = np.searchsorted(self.ids, external_id)
        return bool(i < len(self.ids) and self.ids[i] == external_id)

    def index(self, external_ids) -> np.ndarray:
        """Indices of ``external_ids``; raises :class:`UnknownIdError` naming any unknown id."""
        ext = check_id_array(external_ids, f"{self.kind}s")
        if ext.size == 0:
            return np.zeros(0, dtype=np.int64)
        if not np.issubdtype(ext.dtype, np.integer):
            raise CourseKitError(f"{self.kind} ids must be integers, got {ext.dtype} ({ext[:3].tolist()}...).")
        idx = np.searchsorted(self.ids, ext)
        idx_clipped = np.minimum(idx, max(len(self.ids) - 1, 0))
        unknown = (idx >= len(self.ids)) | (self.ids[idx_clipped] != ext) if len(self.ids) else np.ones(ext.shape, bool)
        if unknown.any():
            bad = np.unique(ext[unknown])
            raise UnknownIdError(
                f"unknown {self.kind} id(s) {bad[:10].tolist()}{' ...' if bad.size > 10 else ''}: "
                f"not in the {len(self.ids)} {self.kind}s this data set or model knows. "
                f"Check the id (external ids, not row indices), or build the Interactions with "
                f"{self.kind}s=... covering every id you will ask about."
            )
        return idx.astype(np.int64)


def _check_no_missing(ids, column: str) -> None:
    """Raise if ``ids`` holds missing values (NaN, None, ``<NA>`` of a nullable ``Int64`` column)."""
    if isinstance(ids, (pd.Series, pd.Index)):
        missing = int(ids.isna().sum())
    else:
        arr = np.asarray(ids)
        missing = 0 if np.issubdtype(arr.dtype, np.integer) else int(pd.isna(arr).sum())
    if missing:
        raise CourseKitError(
            f"{column} has {missing} missing id(s) (NaN / <NA>); every event needs a {column}. Drop those "
            f"rows first, e.g. frame = frame.dropna(subset=['{column}']), then frame['{column}'] = "
            f"frame['{column}'].astype('int64')."
        )


class Interactions:
    """An interaction log over a fixed universe of users and items.

    Parameters
    ----------
    frame : DataFrame
        One row per event with columns ``user_id`` and ``item_id`` (integers) and
        optionally ``rating`` (float, NaN for events without a rating), ``timestamp``
        (int, seconds) and any further columns (``event``, ...), which are kept.
    users, items : IdMap
        The universe. Every id in ``frame`` must be in it; it may hold more ids
        (users or items without events).

    Notes
    -----
    Use :meth:`from_frame` to build one; it derives the universe from the frame
    unless you pass one. The frame is not copied by methods that only read it.
    """

    def __init__(self, frame: pd.DataFrame, users: IdMap, items: IdMap):
        check_columns(frame, [USER, ITEM], "the interaction frame")
        self.frame = frame.reset_index(drop=True)
        self.users = users
        self.items = items
        _check_no_missing(self.frame[USER], USER)
        _check_no_missing(self.frame[ITEM], ITEM)
        self.user_index = users.index(self.frame[USER].to_numpy())
        self.item_index = items.index(self.frame[ITEM].to_numpy())

    # ------------------------------------------------------------------ building
    @classmethod
    def from_frame(cls, frame: pd.DataFrame, users=None, items=None) -> Interactions:
        """Build from a frame; ``users``/``items`` are an :class:`IdMap` or id lists (default: ids in the frame)."""
        check_columns(frame, [USER, ITEM], "the interaction frame")
        if frame.empty and (users is None or items is None):
            raise CourseKitError("the interaction frame is empty; pass users= and items= to define the universe.")
        users = users if isinstance(users, IdMap) else IdMap.from_ids(frame[USER] if users is None else users, "user")
        items = items if isinstance(items, IdMap) else IdMap.from_ids(frame[ITEM] if items is None else items, "item")
        return cls(frame, users, items)

    def subset(self, mask) -> Interactions:
        """The events where boolean ``mask`` is true, over the same universe."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self),):
            raise CourseKitError(f"mask must have one entry per event ({len(self)}), got shape {mask.shape}.")
        out = Interactions.__new__(Interactions)
        out.frame = self.frame.loc[mask].reset_index(drop=True)
        out.users, out.items = self.users, self.items
        out.user_index, out.item_index = self.user_index[mask], self.item_index[mask]
        return out

    # ------------------------------------------------------------------ facts
    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (f"Interactions({len(self):,} events, {self.n_users:,} users "
                f"({self.n_active_users:,} active), {self.n_items:,} items ({self.n_active_items:,} active))")

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_active_users(self) -> int:
        return int(np.unique(self.user_index).size)

    @property
    def n_active_items(self) -> int:
        return int(np.unique(self.item_index).size)

    @property
    def has_ratings(self) -> bool:
        return RATING in self.frame.columns and bool(self.frame[RATING].notna().any())

    @property
    def has_timestamps(self) -> bool:
        return TIMESTAMP in self.frame.columns

    @property
    def timestamps(self) -> np.ndarray:
        if not self.has_timestamps:
            raise CourseKitError("these interactions have no 'timestamp' column; a temporal method needs one.")
        return self.frame[TIMESTAMP].to_numpy()

    @property
    def ratings(self) -> np.ndarray:
        if RATING not in self.frame.columns:
            raise CourseKitError("these interactions have no 'rating' column; use an implicit-feedback method.")
        return self.frame[RATING].to_numpy(dtype=np.float64)

    def user_counts(self) -> np.ndarray:
        """Number of events of each user index (length ``n_users``)."""
        return np.bincount(self.user_index, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        """Number of events of each item index (length ``n_items``)."""
        return np.bincount(self.item_index, minlength=self.n_items)

    # ------------------------------------------------------------------ matrices
    def matrix(self, value: Literal["binary", "count", "rating"] = "binary",
               dtype=np.float32) -> sp.csr_matrix:
        r"""The user-item matrix :math:`R \in \mathbb{R}^{|U| \times |I|}` as CSR.

        ``value="binary"``: :math:`r_{ui} = 1` if u interacted with i (any number of times);
        ``"count"``: the number of events; ``"rating"``: the *last* rating in time order
        (events without a rating are left out).
        """
        shape = (self.n_users, self.n_items)
        if value == "rating":
            r = self.ratings
            keep = ~np.isnan(r)
            order = np.argsort(self.timestamps[keep], kind="stable") if self.has_timestamps else np.arange(keep.sum())
            u, i, r = self.user_index[keep][order], self.item_index[keep][order], r[keep][order]
            # keep the last rating of each (u, i): reverse, then unique keeps first occurrence
            key = u * self.n_items + i
            _, first = np.unique(key[::-1], return_index=True)
            sel = len(key) - 1 - first
            m = sp.csr_matrix((r[sel].astype(dtype), (u[sel], i[sel])), shape=shape)
        elif value in ("binary", "count"):
            ones = np.ones(len(self), dtype=dtype)
            m = sp.csr_matrix((ones, (self.user_index, self.item_index)), shape=shape)  # sums duplicates
            if value == "binary":
                m.data[:] = 1
        else:
            raise CourseKitError(f"value must be 'binary', 'count' or 'rating', got {value!r}.")
        m.sort_indices()
        return m

    def user_items(self) -> list[np.ndarray]:
        """For each user index, the sorted unique item indices it interacted with."""
        m = self.matrix()
        return np.split(m.indices, m.indptr[1:-1])
