"""Calibration of the synthetic shop against MovieLens: shape, explicit RMSE ladder, implicit ranking.

Everything is measured by the same code on both data sets:

1. **Shape** (:func:`coursekit.datasets.describe`): events, users, items, density, top-10% item
   share, item Gini, ratings, ratings per user, ...
2. **Explicit ladder** on the rated events (``inter.subset(~np.isnan(inter.ratings))``), split with
   ``random_split(rated, test_frac=0.2, seed=42)``: the global mean, BaselineOnly and BiasedMF (SGD),
   whose regularisation is chosen on a validation part of train (``random_split(train, 0.2, seed=0)``)
   with early stopping on the epochs (the epoch of lowest validation RMSE, from
   ``BiasedMF.fit(..., valid=...)``'s history), then refitted on the whole train part.
   BaselineOnly's ``reg`` is chosen on the same validation part.
3. **Implicit ranking** on ``user_temporal_split(data.to_interactions(), test_frac=0.2)``: MostPopular,
   ItemKNN, iALS and EASE tuned on ``user_temporal_split(train, test_frac=0.2)`` (never on test),
   refitted on train, NDCG@10 with training items excluded; paired SEs against MostPopular and the
   35%-margin claim (``coursekit.claims.compare(..., rel_margin=0.35)``); on the shop also the
   oracle (ranking by the simulator's true choice probabilities, :class:`coursekit.models.oracle.Oracle`).

Run::

    COURSEKIT_DATA_HOME=/path/to/folder/with/ml-latest-small.zip \\
        python benchmarks/bench_shop_calibration.py --dataset shop movielens
    python benchmarks/bench_shop_calibration.py --dataset shop          # the shop alone (3-6 min on 2 busy cores)
    python benchmarks/bench_shop_calibration.py --dataset shop --quick  # smaller iALS grid
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd

from coursekit.claims import compare
from coursekit.datasets import describe, load_dataset
from coursekit.evaluation import evaluate_per_user
from coursekit.models import EASE, IALS, BaselineOnly, BiasedMF, ItemKNN, MostPopular
from coursekit.splits import random_split, user_temporal_split

COMMAND = "python " + " ".join(sys.argv)

BASELINE_REGS = (1.0, 3.0, 10.0, 25.0)
MF_REGS = (0.05, 0.1, 0.2, 0.4)
MF_FACTORS, MF_LR, MF_MAX_EPOCHS = 32, 0.02, 200
EASE_REGS = (20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)
KNN_KS = (20, 50, 100, 200, 400)
IALS_GRID = [dict(factors=64, reg=reg, alpha=alpha, iterations=15)
             for reg in (1.0, 10.0, 50.0, 200.0) for alpha in (1.0, 5.0, 20.0)]
IALS_QUICK = [dict(factors=64, reg=reg, alpha=5.0, iterations=15) for reg in (10.0, 50.0)]


def _rmse(y, p) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(p)) ** 2)))


def _predict(model, part):
    return model.predict_rating(part.frame["user_id"].to_numpy(), part.frame["item_id"].to_numpy())


# ---------------------------------------------------------------------------- explicit
def rmse_ladder(data, seed: int = 42) -> tuple[pd.DataFrame, dict]:
    """Global mean, tuned BaselineOnly and tuned BiasedMF on a random 80/20 split of the rated events."""
    inter = data.to_interactions()
    rated = inter.subset(~np.isnan(inter.ratings))
    train, test = random_split(rated, test_frac=0.2, seed=seed)[:2]
    fit, valid = random_split(train, test_frac=0.2, seed=0)[:2]
    chosen: dict = {}
    # BaselineOnly: reg on validation
    errs = {reg: _rmse(valid.ratings, _predict(BaselineOnly(reg=reg).fit(fit), valid)) for reg in BASELINE_REGS}
    chosen["BaselineOnly"] = dict(reg=min(errs, key=errs.get))
    # BiasedMF: reg on validation, early stopping on epochs
    best = (np.inf, None, None)
    for reg in MF_REGS:
        m = BiasedMF(factors=MF_FACTORS, reg=reg, lr=MF_LR, n_epochs=MF_MAX_EPOCHS, solver="sgd", seed=0)
        curve = m.fit(fit, valid=valid).history_["valid_rmse"]
        epoch = int(np.nanargmin(curve))
        if curve[epoch] < best[0]:
            best = (float(curve[epoch]), reg, epoch + 1)
    chosen["BiasedMF"] = dict(factors=MF_FACTORS, reg=best[1], lr=MF_LR, n_epochs=best[2])
    mu = float(train.ratings.mean())
    base = BaselineOnly(**chosen["BaselineOnly"]).fit(train)
    mf = BiasedMF(**chosen["BiasedMF"], solver="sgd", seed=0).fit(train)
    y = test.ratings
    per = {"global mean": (y - mu) ** 2, "BaselineOnly": (y - _predict(base, test)) ** 2,
           "BiasedMF": (y - _predict(mf, test)) ** 2}
    rows = []
    for name, sq in per.items():
        rows.append({"model": name, "test RMSE": float(np.sqrt(sq.mean())),
                     "hyper-parameters": ", ".join(f"{k}={v}" for k, v in chosen.get(name, {}).items())})
    table = pd.DataFrame(rows).set_index("model")
    rmse = table["test RMSE"]
    gains = {"BaselineOnly - global mean": rmse["global mean"] - rmse["BaselineOnly"],
             "BiasedMF - BaselineOnly": rmse["BaselineOnly"] - rmse["BiasedMF"],
             "n_train": len(train), "n_test": len(test)}
    return table, gains


# ---------------------------------------------------------------------------- implicit
def _tune(make, grid, fit, valid):
    scores = []
    for params in grid:
        scores.append(float(evaluate_per_user(make(**params).fit(fit), fit, valid, "ndcg", k=10).mean()))
    k = int(np.argmax(scores))
    return grid[k], scores[k]


def implicit_table(data, quick: bool = False, oracle: bool = True) -> tuple[pd.DataFrame, list]:
    """MostPopular and tuned ItemKNN / iALS / EASE (and the oracle on the shop), NDCG@10 with paired SEs."""
    inter = data.to_interactions()
    train, test = user_temporal_split(inter, test_frac=0.2)[:2]
    fit, valid = user_temporal_split(train, test_frac=0.2)[:2]
    grids = {
        "ItemKNN": (lambda **p: ItemKNN(**p), [dict(k=k) for k in KNN_KS]),
        "EASE": (lambda **p: EASE(**p), [dict(reg=r) for r in EASE_REGS]),
        "iALS": (lambda **p: IALS(seed=0, **p), IALS_QUICK if quick else IALS_GRID),
    }
    per_user = {"MostPopular": evaluate_per_user(MostPopular().fit(train), train, test, "ndcg", k=10)}
    chosen = {"MostPopular": {}}
    for name, (make, grid) in grids.items():
        params, _ = _tune(make, grid, fit, valid)
        chosen[name] = params
        per_user[name] = evaluate_per_user(make(**params).fit(train), train, test, "ndcg", k=10)
    if oracle and data.truth:
        from coursekit.models.oracle import Oracle

        per_user["oracle (true choice probabilities)"] = evaluate_per_user(Oracle(data.truth).fit(train), train,
                                                                           test, "ndcg", k=10)
        chosen["oracle (true choice probabilities)"] = {"time": "last_train_event"}
    pop = per_user["MostPopular"].to_numpy()
    rows, claims = [], []
    for name, values in per_user.items():
        v = values.to_numpy()
        d = v - pop
        rows.append({"model": name, "NDCG@10": v.mean(), "SE": v.std(ddof=1) / np.sqrt(v.size),
                     "gain vs MostPopular": d.mean() / pop.mean() if name != "MostPopular" else 0.0,
                     "paired SE of diff": d.std(ddof=1) / np.sqrt(d.size),
                     "hyper-parameters": ", ".join(f"{k}={p}" for k, p in chosen[name].items())})
    table = pd.DataFrame(rows).set_index("model")
    learned = [n for n in grids]
    best = max(learned, key=lambda n: table.loc[n, "NDCG@10"])
    claims.append(compare(per_user[best].to_numpy(), pop, best, "MostPopular", metric="NDCG@10",
                          rel_margin=0.35, expect="beats"))
    if "oracle (true choice probabilities)" in per_user:
        claims.append(compare(per_user["oracle (true choice probabilities)"].to_numpy(), per_user[best].to_numpy(),
                              "the oracle", best, metric="NDCG@10", expect="beats"))
    return table, claims


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", nargs="+", default=["shop"], choices=["shop", "movielens"])
    parser.add_argument("--quick", action="store_true", help="smaller iALS grid")
    args = parser.parse_args(argv)
    pd.set_option("display.width", 160)
    pd.set_option("display.max_colwidth", 60)
    print(f"$ {COMMAND}")
    start = time.perf_counter()
    datasets = {name: load_dataset(name) for name in args.dataset}
    shape = pd.concat([describe(d, name=name) for name, d in datasets.items()], axis=1)
    print("\n## Shape (coursekit.datasets.describe)\n")
    print(shape.to_string(float_format=lambda x: f"{x:.4g}"))
    for name, data in datasets.items():
        t0 = time.perf_counter()
        table, gains = rmse_ladder(data)
        print(f"\n## Explicit RMSE ladder: {name} (random_split(rated, 0.2, seed=42); "
              f"{gains['n_train']:,} train / {gains['n_test']:,} test ratings)\n")
        print(table.to_string(float_format=lambda x: f"{x:.4f}"))
        print(f"gains: BaselineOnly vs global mean {gains['BaselineOnly - global mean']:.4f}, "
              f"BiasedMF vs BaselineOnly {gains['BiasedMF - BaselineOnly']:.4f}  ({time.perf_counter() - t0:.0f} s)")
        t0 = time.perf_counter()
        table, claims = implicit_table(data, quick=args.quick)
        print(f"\n## Implicit ranking: {name} (user_temporal_split(inter, 0.2), tuned on "
              f"user_temporal_split(train, 0.2); NDCG@10, training items excluded)\n")
        print(table.to_string(float_format=lambda x: f"{x:.4f}"))
        for c in claims:
            print(f"claim ({'holds' if c.holds else 'does NOT hold'}): {c.text}")
        print(f"({time.perf_counter() - t0:.0f} s)")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    raise SystemExit(main())
