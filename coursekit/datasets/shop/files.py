"""The shipped shop: ``coursekit/datasets/shop_data`` written by :func:`save_shop`, read by :func:`load_shop`.

The files are csv.gz (gzip with mtime 0, so the same shop gives the same bytes) plus a JSON of
the parameters; ``python -m coursekit.datasets.shop [FOLDER]`` regenerates them.

>>> FILES[-1]
'params.json'
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError
from coursekit.datasets.base import Dataset
from coursekit.datasets.shop.catalogue import attribute_matrix, item_columns
from coursekit.datasets.shop.params import ShopParams
from coursekit.datasets.shop.simulate import CITATION, LICENSE, make_shop
from coursekit.datasets.shop.truth import build_truth
from coursekit.datasets.shop.vocabulary import BRANDS, CATEGORIES, PRICE_BANDS, WORDS, attribute_names

__all__ = ["SHOP_DATA", "FILES", "save_shop", "load_shop", "main"]

#: the shipped files, package data of :mod:`coursekit.datasets`
SHOP_DATA = Path(__file__).resolve().parents[1] / "shop_data"
FILES = ("interactions.csv.gz", "items.csv.gz", "users.csv.gz", "truth_users.csv.gz",
         "truth_items.csv.gz", "truth_tastes.csv.gz", "params.json")
_GZIP = {"method": "gzip", "mtime": 0, "compresslevel": 9}  # mtime 0: same bytes on every write


def save_shop(data: Dataset, folder: str | os.PathLike) -> list[Path]:
    """Write a shop :class:`Dataset` to ``folder`` as csv.gz + JSON (what :func:`load_shop` reads)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tr = data.truth
    items = data.items.assign(words=data.items["words"].map("|".join))
    users_truth = pd.DataFrame({"user_id": tr["user_tastes"].index.to_numpy(),
                                "activity": tr["user_activity"].to_numpy(),
                                "rating_bias": tr["user_rating_bias"].to_numpy()})
    users_truth = users_truth.merge(tr["drift"], on="user_id", how="left")
    users_truth["drift_time"] = users_truth["drift_time"].astype("Int64")
    tastes = pd.concat([tr["user_tastes"].assign(state="initial"), tr["drift_tastes"].assign(state="after_drift")])
    tastes = tastes.reset_index()[["user_id", "state", *tr["attribute_names"]]]
    tastes = tastes.replace(0.0, np.nan)  # sparse: empty fields compress to nothing
    quality = pd.concat([tr["item_quality"], tr["item_rating_bias"]], axis=1).reset_index()
    parts = {"interactions.csv.gz": data.interactions, "items.csv.gz": items, "users.csv.gz": data.users,
             "truth_users.csv.gz": users_truth, "truth_items.csv.gz": quality, "truth_tastes.csv.gz": tastes}
    written = []
    for name, frame in parts.items():
        frame.to_csv(folder / name, index=False, compression=_GZIP, lineterminator="\n")
        written.append(folder / name)
    (folder / "params.json").write_text(json.dumps(tr["params"], indent=2, sort_keys=True) + "\n")
    written.append(folder / "params.json")
    return written


def _read(folder: Path, name: str, **kw) -> pd.DataFrame:
    return pd.read_csv(folder / name, compression="gzip", **kw)


def _stamp(folder: Path) -> tuple:
    """(name, size, mtime) of every shop file: the cache key, so rewritten files are re-read."""
    missing = [f for f in FILES if not (folder / f).exists()]
    if missing:
        raise CourseKitError(f"the shop files {missing} are missing from {folder}. Regenerate them with "
                             f"`python -m coursekit.datasets.shop` (or reinstall coursekit).")
    return tuple((f, (folder / f).stat().st_size, (folder / f).stat().st_mtime_ns) for f in FILES)


@functools.lru_cache(maxsize=4)
def _read_shop(folder: str, stamp: tuple) -> Dataset:
    path = Path(folder)
    params = json.loads((path / "params.json").read_text())
    inter = _read(path, "interactions.csv.gz",
                  dtype={"user_id": np.int64, "item_id": np.int64, "rating": np.float64,
                         "timestamp": np.int64, "event": "str", "review": "str"})
    items = _read(path, "items.csv.gz", dtype={"item_id": np.int64, "release_time": np.int64},
                  keep_default_na=False)
    items["words"] = items["words"].str.split("|")
    users = _read(path, "users.csv.gz", dtype={"user_id": np.int64, "signup_time": np.int64})
    users_truth = _read(path, "truth_users.csv.gz", dtype={"user_id": np.int64, "drift_time": "Int64"})
    quality = _read(path, "truth_items.csv.gz", dtype={"item_id": np.int64})
    names = attribute_names()
    tastes = _read(path, "truth_tastes.csv.gz", dtype={"user_id": np.int64}).fillna(0.0)

    it = dict(category=_codes(items["category"], CATEGORIES), brand=_codes(items["brand"], BRANDS),
              band=_codes(items["price_band"], PRICE_BANDS),
              words=np.array([[WORDS.index(w) for w in ws] for ws in items["words"]], dtype=np.int64),
              quality=quality["quality"].to_numpy(), rating_bias=quality["rating_bias"].to_numpy(),
              release=items["release_time"].to_numpy())
    x = attribute_matrix(item_columns(it["category"], it["brand"], it["band"], it["words"]))
    drift = users_truth.dropna(subset=["drift_time"])
    initial = tastes[tastes["state"] == "initial"]
    after = tastes[tastes["state"] == "after_drift"]
    us = dict(tastes=initial[names].to_numpy(), activity=users_truth["activity"].to_numpy(),
              rating_bias=users_truth["rating_bias"].to_numpy(),
              drift_users=drift["user_id"].to_numpy() - 1, drift_time=drift["drift_time"].to_numpy(dtype=np.int64),
              new_tastes=after[names].to_numpy().reshape(-1, len(names)))
    sp = ShopParams(**{k: (tuple(v) if k == "rating_cuts" else v) for k, v in params.items()
                       if k in ShopParams.__dataclass_fields__})
    config = {k: params[k] for k in ("n_users", "n_items", "n_events", "seed", "days",
                                     "late_item_frac", "drift_user_frac")}
    truth = build_truth(it, us, x, sp, config)
    return Dataset(name="shop", interactions=inter, items=items, users=users,
                   license=LICENSE, citation=CITATION, truth=truth)


def _codes(values: pd.Series, vocab) -> np.ndarray:
    vocab = list(vocab)
    codes = pd.Categorical(values, categories=vocab).codes
    if (codes < 0).any():
        raise CourseKitError(f"unexpected value(s) {sorted(set(values[codes < 0]))[:5]} in the shop files; "
                             f"regenerate them with `python -m coursekit.datasets.shop`.")
    return codes.astype(np.int64)


def _copy(data: Dataset) -> Dataset:
    truth = {k: (v.copy() if isinstance(v, (pd.DataFrame, pd.Series, dict, list)) else v)
             for k, v in data.truth.items()}
    items = data.items.copy()
    items["words"] = items["words"].map(list)
    return Dataset(name=data.name, interactions=data.interactions.copy(), items=items,
                   users=data.users.copy(), license=data.license, citation=data.citation, truth=truth)


def load_shop(path: str | os.PathLike | None = None) -> Dataset:
    """The embedded shop: ``make_shop()`` with its defaults, read from the files shipped in the package.

    Parameters
    ----------
    path : path, optional
        A folder written by :func:`save_shop` (default: the shipped ``coursekit/datasets/shop_data``).

    Returns
    -------
    Dataset
        Equal to ``make_shop()`` (a test checks it); each call returns fresh copies
        (the files are read once per process).

    Examples
    --------
    >>> shop = load_shop()
    >>> shop.interactions.shape
    (220000, 6)
    """
    folder = (Path(path) if path is not None else SHOP_DATA).resolve()
    return _copy(_read_shop(str(folder), _stamp(folder)))



def main(argv: list[str] | None = None) -> int:
    """``python -m coursekit.datasets.shop [FOLDER]``: regenerate the shipped shop files."""
    parser = argparse.ArgumentParser(prog="python -m coursekit.datasets.shop",
                                     description="Generate the default shop (make_shop()) and write its files.")
    parser.add_argument("folder", nargs="?", type=Path, default=SHOP_DATA,
                        help="where to write the files (default: the shipped coursekit/datasets/shop_data)")
    folder = parser.parse_args(argv).folder
    start = time.perf_counter()
    data = make_shop()
    files = save_shop(data, folder)
    total = sum(f.stat().st_size for f in files)
    for f in files:
        print(f"{f.stat().st_size:>10,d}  {f}")
    print(f"{total:>10,d}  bytes in total; generated and written in {time.perf_counter() - start:.1f} s")
    return 0
