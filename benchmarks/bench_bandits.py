"""Bandits, measured: regret of exploration policies on the shop's ground truth.

Each seed is one run: a shop user arrives and, for T rounds, is shown one of K = 100 new (late-released)
items; reward = a purchase, Bernoulli with the true probability sigma(theta_u'x_i - c2). Arm content
vectors: the items' true attributes (d = 71), or MiniLM embeddings of their descriptions (``--text``).
Regret = cumulative pseudo-regret sum_t (mu* - mu_{a_t}). The default seeds 100.. differ from the seeds
0-4 on which the two exploration scales of ``default_policies`` were chosen.

Prints, per policy: final regret mean ± std over seeds, the regret of the second half of the horizon
relative to the first half (1 = linear, 0.41 = sqrt T), the log-log slope over t in [T/10, T], and the
bar verdict (LinUCB / linear TS sublinear and below epsilon-greedy and random).

Usage::

    python benchmarks/bench_bandits.py [--horizon 3000] [--seeds 100 101 ...] [--arms 100]
        [--text] [--cache DIR] [--movielens]      # --movielens needs COURSEKIT_DATA_HOME
"""
from __future__ import annotations

import argparse
import time

import pandas as pd

from coursekit.coldstart.bandit_policies import LinUCB, default_policies
from coursekit.coldstart.bandits import regret_summary, run_bandits
from coursekit.coldstart.simulator import movielens_problem, shop_problem
from coursekit.datasets import load_dataset


def show(title: str, curves: pd.DataFrame, seconds: float) -> pd.DataFrame:
    s = regret_summary(curves)
    T = int(curves.t.max())
    print(f"\n== {title}: T = {T}, {s.n_seeds.iloc[0]} seeds, run in {seconds:.1f} s")
    table = pd.DataFrame({
        "final regret (mean ± std)": [f"{m:8.1f} ± {sd:6.1f}" for m, sd in zip(s.final_regret, s["std"])],
        "regret/T": (s.final_regret / T).round(4),
        "2nd half / 1st half": s.second_half_ratio.round(3),
        "log-log slope": s.loglog_slope.round(3),
        "best-arm share at T": curves[curves.t == T].groupby("policy", observed=True).best_arm_share.mean().round(3),
    }, index=s.index)
    print(table.to_string())
    return s


def verdict(s: pd.DataFrame) -> None:
    eg = next(p for p in s.index if p.startswith("epsilon-greedy"))
    for name in ("LinUCB", "Thompson (linear)", "Thompson (Beta)"):
        if name not in s.index:
            continue
        below = s.final_regret[name] < min(s.final_regret[eg], s.final_regret["random"])
        sub = s.second_half_ratio[name] < 0.9 * s.second_half_ratio["random"]
        print(f"bar: {name:18s} sublinear (2nd/1st half {s.second_half_ratio[name]:.2f} vs random "
              f"{s.second_half_ratio['random']:.2f}): {sub}; below epsilon-greedy and random: {below}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--horizon", type=int, default=3000)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(100, 110)))
    ap.add_argument("--arms", type=int, default=100)
    ap.add_argument("--text", action="store_true", help="also LinUCB over MiniLM description vectors")
    ap.add_argument("--cache", default=None, help="TextEncoder embedding cache folder (--text)")
    ap.add_argument("--movielens", action="store_true", help="also MovieLens (rewards from an all-data iALS)")
    args = ap.parse_args()

    shop = load_dataset("shop")
    start = time.perf_counter()
    problem = shop_problem(shop, n_arms=args.arms, seeds=args.seeds)
    print("runs (one user per seed; arms = new items):")
    print(problem.runs.round(3).to_string(index=False))
    curves = run_bandits(problem, default_policies(), horizon=args.horizon)
    s = show("shop, ground-truth purchase probability, attribute vectors", curves, time.perf_counter() - start)
    verdict(s)

    if args.text:
        from coursekit.coldstart import encoder_item_vectors
        from coursekit.text import TextEncoder

        start = time.perf_counter()
        texts = shop.items.set_index("item_id")["text"]
        vectors = encoder_item_vectors(texts, TextEncoder(cache_dir=args.cache, progress=False))
        print(f"\nMiniLM vectors of {len(texts)} descriptions: {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        tp = shop_problem(shop, n_arms=args.arms, seeds=args.seeds, item_vectors=vectors)  # same runs, other vectors
        # LinUCB only: linear TS needs a Cholesky factor of A (d^3) every round, slow at d = 384
        text_curves = run_bandits(tp, {"LinUCB (MiniLM)": LinUCB()}, horizon=args.horizon)
        both = pd.concat([curves[curves.policy.isin(["LinUCB", "random"])].assign(
            policy=lambda f: f.policy.astype(str).replace({"LinUCB": "LinUCB (attributes)"})),
            text_curves.assign(policy=lambda f: f.policy.astype(str))], ignore_index=True)
        show("shop, content vectors: true attributes (d=71) vs MiniLM description embeddings (d=384)", both,
             time.perf_counter() - start)

    if args.movielens:
        start = time.perf_counter()
        ml = load_dataset("movielens")
        mp = movielens_problem(ml, n_arms=args.arms, seeds=args.seeds)
        curves = run_bandits(mp, default_policies(), horizon=args.horizon)
        show("MovieLens, rewards from an iALS fitted on all ratings (a model, not truth)", curves,
             time.perf_counter() - start)


if __name__ == "__main__":
    main()
