"""coursekit's reference models against their peers: fit time and NDCG@10 in the same run.

Protocol: MovieLens ml-latest-small (:func:`coursekit.datasets.load_movielens`; set
``COURSEKIT_DATA_HOME`` to the folder that holds ``ml-latest-small.zip``), every rating one
interaction; per-user temporal 80/20 split (:func:`coursekit.splits.user_temporal_split`);
NDCG@10 by full ranking with each user's training items excluded
(:func:`coursekit.evaluation.evaluate_per_user`, warm users with a test item). The peers' score
matrices go through the same metric code. Paired SE is the standard error of the per-user
difference (coursekit minus peer).

Pairs (same settings on both sides; printed with the table):

* ``ItemKNN()`` (defaults: cosine, k=100) vs ``implicit``'s ``CosineRecommender(K=100)``.
* ``BPR()`` (defaults) vs ``implicit``'s ``BayesianPersonalizedRanking`` at the same number of
  epochs and factors (its own learning rate and regularization defaults).
* ``IALS()`` (defaults: 64 factors, reg 30, alpha 1, 15 iterations, 3 CG steps) vs ``implicit``'s
  ``AlternatingLeastSquares`` with the same factors, regularization, iterations and CG steps;
  ``implicit`` uses the confidence :math:`c = \\alpha r`, coursekit :math:`c = 1 + \\alpha r`, so on
  binary data its alpha is ours + 1.
* ``EASE()`` (default reg 300) vs a plain EASE on the same items (those with training events):
  the inverse from a Cholesky factorization (LAPACK ``potrf`` + ``potri`` through scipy).

Every fit is timed ``--repeats`` times (best of, default 2) on ``--threads`` threads for both
sides (BLAS/OpenMP via threadpoolctl, torch, ``implicit``'s ``num_threads``). ``ratio`` is
coursekit's wall-clock fit time over the peer's, ``cpu_ratio`` the same in CPU seconds of the
process (on one thread each, the fairer number on a machine shared with other jobs, as it leaves
out the time spent waiting for a core). Compare ratios (both sides measured in the same run),
not seconds.

Run::

    COURSEKIT_DATA_HOME=<folder with ml-latest-small.zip> python benchmarks/bench_peers.py
    python benchmarks/bench_peers.py --models ItemKNN BPR   # a subset
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from coursekit.datasets import load_movielens
from coursekit.evaluation import evaluate_per_user
from coursekit.interactions import Interactions
from coursekit.models import BPR, EASE, IALS, ItemKNN, Recommender
from coursekit.splits import user_temporal_split

PAIRS = ("ItemKNN", "BPR", "IALS", "EASE")


# ---------------------------------------------------------------------------- peers
class ImplicitPeer:
    """An ``implicit`` model fitted on the coursekit training matrix; ``scores()`` for the harness."""

    def __init__(self, make, kind: str):
        self.make, self.kind = make, kind

    def fit(self, train: Interactions) -> ImplicitPeer:
        self.X = train.matrix("binary", dtype=np.float32).tocsr()
        self.model = self.make()
        self.model.fit(self.X, show_progress=False)
        return self

    def scores(self) -> np.ndarray:
        if self.kind == "knn":  # implicit scores an item j by the sum of S[i, j] over the history items i
            return np.asarray((self.X @ self.model.similarity).toarray(), dtype=np.float64)
        return np.asarray(self.model.user_factors @ self.model.item_factors.T, dtype=np.float64)


class CholeskyEASE:
    """Plain EASE (Steck 2019): P = (X'X + reg I)^-1 from its Cholesky factor, B = -P / diag(P), diag(B) = 0."""

    def __init__(self, reg: float = 300.0):
        self.reg = reg

    def fit(self, train: Interactions) -> CholeskyEASE:
        from scipy.linalg import lapack

        X = train.matrix("binary", dtype=np.float64).tocsc()
        self.X, self.active = X, np.flatnonzero(np.diff(X.indptr) > 0)
        Xa = X[:, self.active]
        G = (Xa.T @ Xa).toarray()
        G[np.diag_indices_from(G)] += self.reg
        L, info = lapack.dpotrf(G, lower=True, overwrite_a=True)  # G = L L'
        P, info2 = lapack.dpotri(L, lower=True, overwrite_c=True)  # P = G^-1, lower triangle
        if info or info2:
            raise np.linalg.LinAlgError("Cholesky inverse failed")
        P = np.tril(P) + np.tril(P, -1).T
        B = P / -np.diag(P)
        B[np.diag_indices_from(B)] = 0.0
        self.B = B
        return self

    def scores(self) -> np.ndarray:
        out = np.zeros(self.X.shape)
        out[:, self.active] = self.X[:, self.active] @ self.B
        return out


def implicit_als(ials: IALS, n_threads: int):
    """``implicit``'s CPU ALS with the settings of ``ials`` (its CG step count is an attribute)."""
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(factors=ials.factors, regularization=ials.reg, alpha=ials.alpha + 1.0,
                                    iterations=ials.iterations, use_cg=ials.solver == "cg",
                                    calculate_training_loss=False, num_threads=n_threads, random_state=0)
    model.cg_steps = ials.cg_steps
    return model


def pairs(n_threads: int) -> dict:
    """name -> (coursekit maker, its settings, peer name, peer maker, peer settings)."""
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    from implicit.nearest_neighbours import CosineRecommender

    knn, bpr, ials, ease = ItemKNN(), BPR(), IALS(), EASE()
    out = {
        "ItemKNN": (ItemKNN, f"k={knn.k}, {knn.similarity}", "implicit CosineRecommender",
                    lambda: ImplicitPeer(lambda: CosineRecommender(K=knn.k, num_threads=n_threads), "knn"),
                    f"K={knn.k}"),
        "BPR": (BPR, f"factors={bpr.factors}, epochs={bpr.epochs}, lr={bpr.lr}, reg={bpr.reg}, "
                     f"batch={bpr.batch_size}, {bpr.optimizer}",
                "implicit BPR",
                lambda: ImplicitPeer(lambda: BayesianPersonalizedRanking(
                    factors=bpr.factors, iterations=bpr.epochs, num_threads=n_threads, random_state=0), "mf"),
                f"factors={bpr.factors}, iterations={bpr.epochs}, lr=0.01, reg=0.01"),
        "IALS": (IALS, f"factors={ials.factors}, reg={ials.reg}, alpha={ials.alpha}, "
                       f"iterations={ials.iterations}, {ials.solver}",
                 "implicit ALS",
                 lambda: ImplicitPeer(lambda: implicit_als(ials, n_threads), "mf"),
                 f"same, alpha={ials.alpha + 1.0:g}"),
        "EASE": (EASE, f"reg={ease.reg}", "Cholesky EASE (LAPACK)", lambda: CholeskyEASE(ease.reg),
                 f"reg={ease.reg}"),
    }
    return out


# ---------------------------------------------------------------------------- measuring
def best_fit(make, train: Interactions, repeats: int):
    """The last fitted model, the best wall-clock and the best CPU seconds of ``repeats`` fits."""
    wall, cpu, model = [], [], None
    for _ in range(repeats):
        fresh = make()
        t, c = time.perf_counter(), time.process_time()
        model = fresh.fit(train)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return model, min(wall), min(cpu)


def per_user_ndcg(model, train: Interactions, test: Interactions) -> pd.Series:
    target = model if isinstance(model, Recommender) else model.scores()
    return evaluate_per_user(target, train, test, "ndcg", k=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=list(PAIRS), choices=PAIRS)
    ap.add_argument("--repeats", type=int, default=2, help="fits per model; the best time is reported")
    ap.add_argument("--threads", type=int, default=1, help="threads for both sides")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", module="implicit")  # "expects CSR input": implicit's own conversions
    print(f"command: python {' '.join(sys.argv)}")
    print(f"cpu cores: {os.cpu_count()}, load average at start: {tuple(round(x, 2) for x in os.getloadavg())}, "
          f"threads per side: {args.threads}, fit time = best of {args.repeats}")

    import torch

    torch.set_num_threads(args.threads)
    inter = load_movielens().to_interactions()
    split = user_temporal_split(inter, test_frac=0.2)
    train, test = split.train, split.test
    print(f"data: ml-latest-small, train {len(train):,} / test {len(test):,} events, "
          f"{train.n_users:,} users x {train.n_items:,} items\n", flush=True)

    rows = []
    table = pairs(args.threads)
    with threadpool_limits(limits=args.threads):
        for name in args.models:
            make, settings, peer_name, make_peer, peer_settings = table[name]
            model, fit_s, fit_cpu = best_fit(make, train, args.repeats)
            peer, peer_s, peer_cpu = best_fit(make_peer, train, args.repeats)
            ours, theirs = per_user_ndcg(model, train, test), per_user_ndcg(peer, train, test)
            diff = (ours - theirs.reindex(ours.index)).to_numpy()
            rows.append({"model": name, "fit_s": fit_s, "peer": peer_name, "peer_fit_s": peer_s,
                         "ratio": fit_s / peer_s, "cpu_ratio": fit_cpu / peer_cpu, "ndcg@10": ours.mean(),
                         "peer_ndcg@10": theirs.mean(), "diff_se": diff.std(ddof=1) / np.sqrt(len(diff)),
                         "settings": f"{settings} | peer: {peer_settings}"})
            r = rows[-1]
            print(f"  {name:8s} {fit_s:7.2f} s vs {peer_s:7.2f} s ({r['ratio']:.2f}x; CPU seconds "
                  f"{fit_cpu:.2f} vs {peer_cpu:.2f}, {r['cpu_ratio']:.2f}x); NDCG@10 "
                  f"{r['ndcg@10']:.4f} vs {r['peer_ndcg@10']:.4f} (paired SE {r['diff_se']:.4f})", flush=True)

    frame = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_colwidth", 120):
        print("\n" + frame.drop(columns="settings").round({"fit_s": 3, "peer_fit_s": 3, "ratio": 2, "cpu_ratio": 2,
                                                         "ndcg@10": 4, "peer_ndcg@10": 4, "diff_se": 4})
              .to_string(index=False))
    print("\nsettings:")
    for r in rows:
        print(f"  {r['model']:8s} {r['settings']}")
    print(f"\nload average at end: {tuple(round(x, 2) for x in os.getloadavg())} "
          "(timings on a shared machine are inflated by other load; compare ratios)")


if __name__ == "__main__":
    main()
