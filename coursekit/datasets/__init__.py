"""Data sets of the course: one :class:`Dataset` type for every source.

* ``load_shop()``: the embedded synthetic shop (offline, shipped with the package, with
  ground truth); ``make_shop(...)`` generates shops of any size.
* ``load_movielens("ml-latest-small")``: MovieLens, downloaded once into the data home and
  verified by SHA-256.
* ``load_dataset(name)``: either, by name; ``fetch(name)``, ``cache_info()``, ``data_home()``, ``checkpoint_dir(name)``.
* ``describe(data)``: shape statistics (sizes, long tail, ratings per user) computed by the same
  code for every data set (:mod:`coursekit.datasets.stats`).

>>> sorted(DATASETS)
['ml-latest-small', 'movielens', 'shop']
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from coursekit._lazy import attach
from coursekit._validation import CourseKitError
from coursekit.datasets.base import Dataset
from coursekit.datasets.home import checkpoint_dir, data_home

DATASETS = {
    "shop": "synthetic shop, embedded (load_shop)",
    "movielens": "MovieLens ml-latest-small, downloaded and verified (load_movielens)",
    "ml-latest-small": "alias of movielens",
}

# loaded on first use, so that importing coursekit.datasets does not generate or read anything
__getattr__, __dir__, _LAZY_NAMES = attach(__name__, {
    "load_movielens": "coursekit.datasets.movielens", "load_shop": "coursekit.datasets.shop",
    "make_shop": "coursekit.datasets.shop", "describe": "coursekit.datasets.stats",
}, submodules=("base", "home", "movielens", "shop", "stats"))
__all__ = ["Dataset", "DATASETS", "cache_info", "checkpoint_dir", "data_home", "fetch", "load_dataset", *_LAZY_NAMES]


def _unknown(name: Any) -> CourseKitError:
    return CourseKitError(f"unknown data set {name!r}; available: {sorted(DATASETS)}.")


def load_dataset(name: str, **kwargs: Any) -> Dataset:
    """Load a data set by name: ``"shop"`` or ``"movielens"`` / ``"ml-latest-small"``.

    Keyword arguments go to :func:`load_shop` or :func:`load_movielens`.

    >>> load_dataset("shop").name
    'shop'
    """
    from coursekit.datasets import movielens, shop

    if name == "shop":
        return shop.load_shop(**kwargs)
    if name in ("movielens", "ml-latest-small"):
        return movielens.load_movielens("ml-latest-small", **kwargs)
    raise _unknown(name)


def fetch(name: str, data_home: str | os.PathLike | None = None) -> Path:
    """Download (if needed) and verify a data set; return the path of the verified copy.

    ``"movielens"``: the SHA-256-checked ``ml-latest-small.zip`` in the data home.
    ``"shop"``: nothing to download; the folder of the shipped files.
    """
    from coursekit.datasets import movielens, shop

    if name in ("movielens", "ml-latest-small"):
        return movielens.fetch_movielens(data_home, download=True)
    if name == "shop":
        return shop.SHOP_DATA
    raise _unknown(name)


def cache_info(data_home: str | os.PathLike | None = None) -> pd.DataFrame:
    """What is available where: one row per data set (name, path, exists, size in bytes, verified).

    ``verified`` is the result of the SHA-256 check for downloads (``None`` when missing);
    the shop is embedded and has no published hash.
    """
    from coursekit.datasets import home, movielens, shop

    ml = home.data_home(data_home) / movielens.FILENAME
    ml_ok = ml.exists() and movielens.sha256_of(ml) == movielens.SHA256
    shop_files = [shop.SHOP_DATA / f for f in shop.FILES]
    shop_ok = all(f.exists() for f in shop_files)
    rows = [
        {"name": "ml-latest-small", "path": str(ml), "exists": ml.exists(),
         "size": ml.stat().st_size if ml.exists() else 0, "verified": ml_ok if ml.exists() else None,
         "note": "downloaded (SHA-256 checked)"},
        {"name": "shop", "path": str(shop.SHOP_DATA), "exists": shop_ok,
         "size": sum(f.stat().st_size for f in shop_files if f.exists()), "verified": None,
         "note": "embedded in the package"},
    ]
    return pd.DataFrame(rows)
