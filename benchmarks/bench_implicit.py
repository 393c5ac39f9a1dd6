"""Implicit-feedback benchmark: iALS, BPR, EASE against most-popular and `implicit`'s ALS, each tuned.

Fit time against the peers at equal settings, in one run: ``benchmarks/bench_peers.py``. This
script compares quality at each model's *tuned* setting. Protocol: MovieLens ml-latest-small,
every rating is an interaction; per-user temporal 80/20 split
(:func:`coursekit.splits.user_temporal_split`); full ranking with each user's training items
excluded (:func:`coursekit.evaluation.evaluate`). Hyperparameters are tuned on a validation split
carved the same way from the *training* part (the last 20% of each user's training events), never
on test; the best setting is refitted on the full training part and scored once on test.
Both ALS implementations get the same factor budget (64), the same 15 iterations and grids of the
same size over the same confidence levels (``implicit`` uses c = alpha * r, coursekit
c = 1 + alpha * r, so implicit's alpha = ours + 1 on binary data).

Run::

    python benchmarks/bench_implicit.py            # full: tuning, medians of 3, scale-up
    python benchmarks/bench_implicit.py --quick    # smaller grids, 1 repeat, no scale-up
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd

from coursekit.datasets import load_movielens
from coursekit.evaluation import evaluate
from coursekit.interactions import Interactions
from coursekit.models import BPR, EASE, IALS, MostPopular
from coursekit.splits import user_temporal_split

COMMAND = "python " + " ".join(sys.argv)
METRICS = ["ndcg", "precision", "recall", "map"]


# ---------------------------------------------------------------------------- data
def load_movielens_interactions() -> Interactions:
    """ml-latest-small (``COURSEKIT_DATA_HOME`` names the folder that holds the archive)."""
    return load_movielens().to_interactions()


# ---------------------------------------------------------------------------- helpers
class ImplicitALS:
    """The `implicit` library's CPU ALS, fitted on the coursekit training matrix (not a coursekit model)."""

    def __init__(self, factors=64, regularization=0.01, alpha=1.0, iterations=15, seed=0):
        self.params = dict(factors=factors, regularization=regularization, alpha=alpha,
                           iterations=iterations, random_state=seed)

    def fit(self, train: Interactions) -> ImplicitALS:
        from implicit.cpu.als import AlternatingLeastSquares

        self.model = AlternatingLeastSquares(**self.params, calculate_training_loss=False)
        self.model.fit(train.matrix("count"), show_progress=False)
        return self

    def scores(self) -> np.ndarray:
        return np.asarray(self.model.user_factors @ self.model.item_factors.T, dtype=np.float64)


def ndcg10(model_or_scores, train, test) -> float:
    df = evaluate(model_or_scores, train, test, ks=(10,), metrics=["ndcg"], beyond=False)
    return float(df[(df.group == "warm users") & (df.metric == "ndcg")].value.iloc[0])


def _score_input(model):
    return model.scores() if isinstance(model, ImplicitALS) else model


def tune(name, make, grid, train, valid) -> dict:
    best, best_val = None, -np.inf
    for params in grid:
        t = time.perf_counter()
        model = make(**params).fit(train)
        val = ndcg10(_score_input(model), train, valid)
        print(f"  {name:12s} {params}  valid NDCG@10 = {val:.4f}  ({time.perf_counter() - t:.1f} s)", flush=True)
        if val > best_val:
            best, best_val = params, val
    print(f"  -> {name}: best {best} (valid NDCG@10 {best_val:.4f})", flush=True)
    return best


def grid(**axes) -> list[dict]:
    keys = list(axes)
    out = [{}]
    for k in keys:
        out = [{**g, k: v} for g in out for v in axes[k]]
    return out


def median_fit(make, params, train, repeats):
    times, model = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        model = make(**params).fit(train)
        times.append(time.perf_counter() - t)
    return model, float(np.median(times))


# ---------------------------------------------------------------------------- main parts
def quality(args) -> None:
    inter = load_movielens_interactions()
    split = user_temporal_split(inter, test_frac=0.2)
    train, test = split.train, split.test
    inner = user_temporal_split(train, test_frac=0.2)
    print(f"data: {inter}\ntrain {len(train):,} / test {len(test):,} events; "
          f"tuning on train-inner {len(inner.train):,} / valid {len(inner.test):,}\n", flush=True)

    q = args.quick
    grids = {
        "iALS": (lambda **p: IALS(factors=64, iterations=15, seed=0, **p),
                 grid(alpha=[1.0, 3.0, 10.0, 30.0], reg=[1.0, 10.0, 30.0, 100.0] if not q else [10.0, 30.0])),
        "implicit ALS": (lambda **p: ImplicitALS(factors=64, iterations=15, seed=0, **p),
                         grid(alpha=[2.0, 4.0, 11.0, 31.0],
                              regularization=[1.0, 10.0, 30.0, 100.0] if not q else [10.0, 30.0])),
        "EASE": (lambda **p: EASE(**p), grid(reg=[100.0, 300.0, 1000.0] if not q else [300.0])),
        "BPR": (lambda **p: BPR(factors=64, batch_size=4096, lr=0.01, seed=0, **p),
                grid(reg=[1e-3, 1e-2] if not q else [1e-2], epochs=[10, 30] if not q else [20])),
    }
    print("tuning on the validation split (never on test):", flush=True)
    best = {name: tune(name, make, g, inner.train, inner.test) for name, (make, g) in grids.items()}

    print(f"\nfinal fits on the full training part (fit time = median of {args.repeats}):", flush=True)
    rows = []
    models = {"MostPopular": (lambda **p: MostPopular(), {})}
    models.update({name: (grids[name][0], best[name]) for name in grids})
    for name, (make, params) in models.items():
        model, fit_s = median_fit(make, params, train, args.repeats)
        target = _score_input(model)
        df = evaluate(target, train, test, ks=(10,), metrics=METRICS, beyond=False)
        warm = df[df.group == "warm users"].set_index("metric").value
        row = {"model": name, "params": params, **{f"{m}@10": warm[m] for m in METRICS}, "fit_s": fit_s}
        if name == "iALS":
            eval_times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                evaluate(model, train, test, ks=(10,), beyond=False)
                eval_times.append(time.perf_counter() - t)
            row["eval_all_users_s"] = float(np.median(eval_times))
        rows.append(row)
        print(f"  {name:12s} NDCG@10 {row['ndcg@10']:.4f}  fit {fit_s:.2f} s", flush=True)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print("\n" + table.round(4).to_string(index=False))
    ials, imp, pop = (table.set_index("model").loc[n, "ndcg@10"] for n in ("iALS", "implicit ALS", "MostPopular"))
    print(f"\niALS / implicit ALS NDCG@10 = {ials / imp:.3f} (target >= 0.95); "
          f"iALS / MostPopular = {ials / pop:.2f}")
    ev = table.set_index("model").loc["iALS", "eval_all_users_s"]
    print(f"evaluate all {test.n_active_users} test users at k=10 (iALS, full ranking): {ev:.3f} s (target < 1 s)")
    it = timed_default_ials(train, args.repeats)
    print(f"IALS(factors=64, iterations=15) default CG fit: median {it['cg']:.2f} s (target < 10 s); "
          f"solver='cholesky': median {it['cholesky']:.2f} s")


def timed_default_ials(train, repeats) -> dict:
    return {solver: median_fit(lambda solver=solver: IALS(factors=64, iterations=15, solver=solver), {}, train,
                               repeats)[1]
            for solver in ("cg", "cholesky")}


def scale_up(args) -> None:
    print("\nscale-up: IALS(factors=64, iterations=15, solver='cg') on the synthetic shop", flush=True)
    try:
        from coursekit.datasets import make_shop
    except ImportError:
        print("  skipped: coursekit.datasets.make_shop is not available.")
        return
    for n_events in (1_000_000, 5_000_000):
        t = time.perf_counter()
        data = make_shop(n_users=n_events // 50, n_items=n_events // 200, n_events=n_events, seed=0)
        inter = data.to_interactions() if hasattr(data, "to_interactions") else data
        gen_s = time.perf_counter() - t
        t = time.perf_counter()
        model = IALS(factors=64, iterations=15).fit(inter)
        fit_s = time.perf_counter() - t
        nnz = model.seen_.nnz
        print(f"  {n_events:>9,} events ({inter.n_users:,} users x {inter.n_items:,} items, {nnz:,} distinct pairs): "
              f"generate {gen_s:.1f} s, fit {fit_s:.1f} s ({fit_s / 15 * 1000:.0f} ms/iteration)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller grids, one repeat, no scale-up")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-scale", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.repeats = 1
    print(f"command: {COMMAND}\ncpu cores: {os.cpu_count()}, load average at start: {os.getloadavg()}\n")
    quality(args)
    if not (args.quick or args.no_scale):
        scale_up(args)
    print(f"\nload average at end: {os.getloadavg()} (timings on a shared machine are inflated by other load)")


if __name__ == "__main__":
    main()
