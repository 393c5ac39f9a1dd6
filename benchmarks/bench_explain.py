"""Explainers' faithfulness and cost on the shop and MovieLens.

Run: COURSEKIT_DATA_HOME=../shared/data/movielens nice .venv/bin/python benchmarks/bench_explain.py [--users 50]

Prints, per data set and model (EASE, ItemKNN, iALS), the mean over users of: Spearman and top-3
overlap with the exact contributions (additive models), run-to-run Spearman (two seeds), deletion
AUC against random and popularity orders (curves clipped to [0, 1]: the share of the history's gain left),
share of users whose deletion curve is below random,
counterfactual validity and size, and ms per explanation. Users: the first N (by id) with 5..60
history items (KernelSHAP's default 2M + 2048 coalitions; exact enumeration up to 12 items).
Timings are upper bounds on a shared CPU.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from coursekit.datasets import load_dataset
from coursekit.explain.report import per_user_faithfulness, summarise
from coursekit.models import EASE, IALS, ItemKNN
from coursekit.splits import user_temporal_split


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--datasets", nargs="+", default=["shop", "movielens"])
    args = p.parse_args()
    pd.set_option("display.width", 200, "display.max_columns", 30)
    for name in args.datasets:
        data = load_dataset(name)
        log = data.interactions.drop_duplicates(["user_id", "item_id"], keep="last")
        from coursekit.interactions import Interactions

        inter = Interactions.from_frame(log[["user_id", "item_id", "timestamp"]])
        train, test = user_temporal_split(inter, test_frac=0.2)[:2]
        counts = np.diff(train.matrix().indptr)
        users = train.users.ids[np.nonzero((counts >= 5) & (counts <= 60))[0][:args.users]]
        truth = {}
        for u, i in zip(test.users.ids[test.user_index], test.items.ids[test.item_index]):
            truth.setdefault(int(u), set()).add(int(i))
        models = {"EASE": EASE(reg=200.0), "ItemKNN": ItemKNN(k=50),
                  "iALS": IALS(factors=32, iterations=10, solver="cholesky", seed=0)}
        for label, model in models.items():
            t = time.perf_counter()
            model.fit(train)
            fit_s = time.perf_counter() - t
            per = per_user_faithfulness(model, users, n_samples={"lime": 1000}, test_items=truth)
            table = summarise(per)
            print(f"\n== {name}: {label} (fit {fit_s:.1f} s, {len(users)} users, "
                  f"history {per['n_history'].min()}-{per['n_history'].max()} items)")
            print(table.round(3).to_string())
            auc = per["deletion_auc"].dropna()
            print(f"deletion AUCs in [{auc.min():.3f}, {auc.max():.3f}]; unclipped curve above 1 for "
                  f"{(per['deletion_max'] > 1 + 1e-9).mean():.1%} of (user, method) rows; "
                  f"{int(per['deletion_auc'].isna().sum())} undefined (no gain to delete)")
            cf = per[per["method"] == "counterfactual"]
            if cf["hit"].notna().any():
                print("counterfactual by hit/miss:",
                      cf.groupby("hit")[["cf_valid", "cf_size"]].mean().round(3).to_dict(orient="index"))


if __name__ == "__main__":
    main()
