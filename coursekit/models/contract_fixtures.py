"""What the contract suite fits its models on, and the cache of one fitted model per factory.

:func:`contract_data` is a small log with structure; :func:`fitted` fits a factory on it once
and records what ``fit`` did to its inputs (its constructor parameters and the training data),
so the checks of :mod:`coursekit.models.contract` share one fit per model.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from coursekit.interactions import Interactions
from coursekit.models.base import Recommender

__all__ = ["COLD_ITEM", "COLD_USER", "UNKNOWN", "FitRecord", "Factory", "contract_data", "fitted", "clear_cache",
           "snapshot_params", "same_value"]

Factory = Callable[[], Recommender]

COLD_USER = 10_000  # in the universe, no events
COLD_ITEM = 90_000  # in the universe, no events
UNKNOWN = 123_456_789  # in no universe

def contract_data(seed: int = 0, n_users: int = 30) -> Interactions:
    """A small log with structure (two taste groups), ratings, timestamps, a cold user and a cold item.

    ``n_users`` x 40 items (+1 cold each); user 1 has interacted with every warm item but one,
    to exercise padding.

    >>> data = contract_data()
    >>> data.n_users, data.n_items
    (31, 41)
    """
    rng = np.random.default_rng(seed)
    n_items = 40
    users = np.repeat(np.arange(1, n_users + 1), 12)
    group = users % 2
    items = np.where(rng.random(users.size) < 0.8, group * 20 + rng.integers(0, 20, users.size),
                     rng.integers(0, n_items, users.size)) + 100
    frame = pd.DataFrame({"user_id": users, "item_id": items})
    heavy = pd.DataFrame({"user_id": 1, "item_id": np.arange(100, 100 + n_items - 1)})
    frame = pd.concat([frame, heavy], ignore_index=True)
    frame["timestamp"] = rng.permutation(len(frame)) * 60 + 1_600_000_000
    frame["rating"] = rng.integers(1, 6, len(frame)).astype(float)
    return Interactions.from_frame(
        frame,
        users=np.r_[np.arange(1, n_users + 1), COLD_USER],
        items=np.r_[np.arange(100, 100 + n_items), COLD_ITEM],
    )


@dataclass
class FitRecord:
    """A model fitted on :func:`contract_data`, with what ``fit`` did to its inputs."""

    model: Recommender
    data: Interactions
    params_changed: list[str]
    data_changed: list[str]


_CACHE: dict[Factory, FitRecord] = {}


def snapshot_params(model: Recommender) -> dict[str, Any]:
    """A comparable copy of ``get_params()``; an inner model is described by its class, params and fittedness.

    Compare two snapshots with :func:`same_value`.
    """
    out = {}
    for name, value in model.get_params().items():
        if isinstance(value, Recommender):
            out[name] = ("model", type(value).__name__, snapshot_params(value), hasattr(value, "seen_"))
        elif _is_plain(value):
            out[name] = copy.deepcopy(value)
        else:  # another object (a torch module, an encoder): compared by identity
            out[name] = value
    return out


def _is_plain(value: Any) -> bool:
    """Numbers, strings, arrays, frames and containers of them: compared by value."""
    if value is None or isinstance(value, (bool, int, float, str, np.generic, np.ndarray, pd.DataFrame, pd.Series)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_is_plain(v) for v in value.values())
    return False


def same_value(a: Any, b: Any) -> bool:
    """Equality that also holds for arrays, frames and containers of them (NaN equals NaN in float arrays).

    >>> same_value({"a": np.array([1.0, np.nan])}, {"a": np.array([1.0, np.nan])})
    True
    """
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and \
            bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        return isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame) and a.equals(b)
    if isinstance(a, pd.Series) or isinstance(b, pd.Series):
        return isinstance(a, pd.Series) and isinstance(b, pd.Series) and a.equals(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    try:
        return bool(a is b or a == b)
    except Exception:  # noqa: BLE001 - objects whose == is not a bool
        return a is b


def _snapshot_data(data: Interactions) -> dict[str, Any]:
    return {"frame": data.frame.copy(deep=True), "user_index": data.user_index.copy(),
            "item_index": data.item_index.copy(), "users": data.users.ids.copy(), "items": data.items.ids.copy(),
            "matrix": data.matrix("count", dtype=np.float64).toarray()}


def _fit_record(factory: Factory, data: Interactions) -> FitRecord:
    model = factory()
    params = snapshot_params(model)
    before = _snapshot_data(data)
    model.fit(data)
    after_params = snapshot_params(model)
    after = _snapshot_data(data)
    return FitRecord(model, data,
                     [k for k in params.keys() | after_params.keys()
                      if not same_value(params.get(k), after_params.get(k))],
                     [k for k in before if not same_value(before[k], after[k])])


def fitted(factory: Factory) -> FitRecord:
    """The :class:`FitRecord` of ``factory()`` fitted on :func:`contract_data`, fitted once and cached.

    Checks must not change the cached model (one that does restores it).
    """
    if factory not in _CACHE:
        _CACHE[factory] = _fit_record(factory, contract_data())
    return _CACHE[factory]


def clear_cache() -> None:
    """Forget every cached fit (:func:`run_contract` does this before and after it runs)."""
    _CACHE.clear()
