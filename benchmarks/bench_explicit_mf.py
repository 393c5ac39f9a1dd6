"""Explicit-rating benchmark: BaselineOnly and BiasedMF (SGD, ALS) on MovieLens.

Protocol: ml-latest-small, ``coursekit.splits.random_split(inter, test_frac=0.2, seed=42)``.
Hyperparameters were chosen on a validation part of the *training* data only
(``random_split(train, test_frac=0.2, seed=0)``); ``--tune`` reruns that search and prints it.
The test set is used once, for the final figures.

Run (MovieLens from the data home; ``COURSEKIT_DATA_HOME=../shared/data/movielens`` for the offline copy)::

    .venv/bin/python benchmarks/bench_explicit_mf.py            # figures with the chosen settings
    .venv/bin/python benchmarks/bench_explicit_mf.py --tune     # the validation search first

Prints RMSE / MAE on the test split and the fit time (median of ``--repeats`` fits).
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from coursekit.interactions import Interactions
from coursekit.metrics import mae, rmse
from coursekit.models import BaselineOnly, BiasedMF
from coursekit.splits import random_split

# chosen with --tune on the validation split of the training data (see the module docstring)
CHOSEN = {
    "BaselineOnly": dict(reg=3.0, n_epochs=10),
    "BiasedMF-SGD": dict(solver="sgd", factors=100, reg=0.1, lr=0.01, n_epochs=54),
    "BiasedMF-ALS": dict(solver="als", factors=20, reg=0.2, n_epochs=20),
}


def load_ratings() -> tuple[Interactions, str]:
    """ml-latest-small as Interactions, from coursekit's data home (``COURSEKIT_DATA_HOME``)."""
    from coursekit.datasets import data_home, load_movielens

    return load_movielens(download=False).to_interactions(), f"ml-latest-small in {data_home()}"


def make(name: str, **params):
    return BaselineOnly(**params) if name == "BaselineOnly" else BiasedMF(**params)


def pairs(inter: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keep = ~np.isnan(inter.ratings)
    return inter.users.ids[inter.user_index[keep]], inter.items.ids[inter.item_index[keep]], inter.ratings[keep]


def valid_rmse(model, valid: Interactions) -> float:
    u, i, r = pairs(valid)
    return rmse(r, model.predict_rating(u, i))


def tune(train: Interactions) -> None:
    """Grid search on a validation part of ``train``; for MF the best epoch count is read off the curve."""
    fit_part, valid = random_split(train, test_frac=0.2, seed=0)[:2]
    print(f"tuning on {len(fit_part):,} ratings, validating on {len(valid):,} (both from the training split)")
    rows = []
    for reg in (1.0, 2.0, 3.0, 5.0, 10.0):
        model = make("BaselineOnly", reg=reg).fit(fit_part)
        rows.append(("BaselineOnly", dict(reg=reg, n_epochs=10), valid_rmse(model, valid)))
    # A first, wider search (SGD factors 20/50/100 x reg 0.02/0.05/0.1 x lr 0.005/0.01/0.02; ALS factors
    # 5/10/20/40 x reg 0.05/0.1/0.2/0.4) put lr=0.01 level with 0.02 and the best reg at the top of
    # the SGD range; this narrower grid around that corner keeps --tune to a few minutes.
    grids = {
        "BiasedMF-SGD": (dict(solver="sgd", n_epochs=60),
                         dict(factors=(50, 100), reg=(0.05, 0.1, 0.15), lr=(0.01,))),
        "BiasedMF-ALS": (dict(solver="als", n_epochs=30),
                         dict(factors=(10, 20), reg=(0.1, 0.2, 0.3))),
    }
    for name, (fixed, grid) in grids.items():
        for values in itertools.product(*grid.values()):
            params = {**fixed, **dict(zip(grid, values))}
            m = BiasedMF(**params).fit(fit_part, valid=valid)
            curve = m.history_valid_rmse_
            best = int(np.nanargmin(curve))
            rows.append((name, {**params, "n_epochs": best + 1}, float(curve[best])))
            print(*rows[-1], flush=True)
    table = pd.DataFrame(rows, columns=["model", "params", "valid_rmse"])
    for _, group in table.groupby("model", sort=False):
        print(group.sort_values("valid_rmse").head(5).to_string(index=False), flush=True)
        print()


def bench(train: Interactions, test: Interactions, repeats: int) -> pd.DataFrame:
    u, i, r = pairs(test)
    rows = []
    for name, params in CHOSEN.items():
        times = []
        for _ in range(repeats):
            model = make(name, **params)
            if isinstance(model, BiasedMF):
                model.record_history = False  # time the training alone
            t0 = time.perf_counter()
            model.fit(train)
            times.append(time.perf_counter() - t0)
        pred = model.predict_rating(u, i)
        rows.append(dict(model=name, params=params, test_rmse=round(rmse(r, pred), 4),
                         test_mae=round(mae(r, pred), 4), fit_s_median=round(statistics.median(times), 3)))
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tune", action="store_true", help="run the validation grid search first")
    ap.add_argument("--repeats", type=int, default=3, help="fits per model for the median fit time")
    args = ap.parse_args(argv)
    inter, source = load_ratings()
    train, test = random_split(inter, test_frac=0.2, seed=42)[:2]
    print(f"load average (1 min) {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (fit times grow with it)")
    print(f"data: {source}; {len(inter):,} ratings; random 80/20 split, seed 42: "
          f"{len(train):,} train / {len(test):,} test")
    if args.tune:
        tune(train)
    table = bench(train, test, args.repeats)
    with pd.option_context("display.width", 200, "display.max_colwidth", 90):
        print(table.to_string(index=False))
    print(f"\nreproduce: {Path(sys.executable).name} benchmarks/bench_explicit_mf.py"
          f"{' --tune' if args.tune else ''} --repeats {args.repeats}")


if __name__ == "__main__":
    main()
