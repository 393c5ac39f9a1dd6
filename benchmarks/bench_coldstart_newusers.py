"""New users: iALS fold-in vs. fold-in + popularity prior vs. popularity, NDCG@10 by k reveals.

The prior weight beta is chosen per k by :func:`coursekit.coldstart.choose_prior_weight` on validation
users drawn from the training users only; the evaluated new users never choose it.

Usage::

    COURSEKIT_DATA_HOME=../shared/data/movielens python benchmarks/bench_coldstart_newusers.py \
        [--dataset movielens|shop] [--seeds 0 1]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from coursekit.coldstart import choose_prior_weight, fold_in_scores, onboarding_split, prior_scores
from coursekit.datasets import load_dataset
from coursekit.evaluation import evaluate
from coursekit.interactions import Interactions
from coursekit.models import IALS

KS, MAX_K, FACTORS, ITERATIONS = (1, 3, 5, 10), 10, 64, 15


def ndcg(scores, seen, target) -> float:
    df = evaluate(scores, seen, target, ks=(10,), metrics=["ndcg"], beyond=False)
    return float(df.loc[df.metric == "ndcg", "value"].iloc[0])


def run(inter: Interactions, seed: int) -> pd.DataFrame:
    ob_max = onboarding_split(inter, k=MAX_K, seed=seed, max_k=MAX_K)
    ials = IALS(factors=FACTORS, iterations=ITERATIONS, seed=seed).fit(ob_max.train)
    chosen = choose_prior_weight(ob_max.train, ks=KS, seed=seed, max_k=MAX_K, factors=FACTORS, iterations=ITERATIONS)
    rows = []
    for k in KS:
        ob = onboarding_split(inter, k=k, seed=seed, max_k=MAX_K)
        seen = Interactions.from_frame(pd.concat([ob.train.frame, ob.revealed.frame], ignore_index=True),
                                       users=inter.users, items=inter.items)
        rows.append({"seed": seed, "k": k, "beta": chosen[k][0],
                     "popularity": ndcg(np.tile(ials.item_popularity_, (inter.n_users, 1)), seen, ob.target),
                     "fold-in": ndcg(fold_in_scores(ials, ob.revealed), seen, ob.target),
                     "fold-in + prior": ndcg(prior_scores(ials, ob.revealed, chosen[k][0]), seen, ob.target)})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="movielens")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args()
    inter = load_dataset(args.dataset).to_interactions()
    t0 = time.perf_counter()
    table = pd.concat([run(inter, s) for s in args.seeds], ignore_index=True)
    pd.set_option("display.width", 200, "display.precision", 4)
    print(f"{args.dataset}: NDCG@10 of new users ({time.perf_counter() - t0:.0f} s)\n{table.to_string(index=False)}")
    print(f"\nmean over seeds {args.seeds}:\n{table.drop(columns=['seed', 'beta']).groupby('k').mean()}")


if __name__ == "__main__":
    main()
