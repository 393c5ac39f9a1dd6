"""The whole system on the shop: ANN recall, per-stage latency (p50 / p99) and NDCG@10 against plain iALS.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_system_latency.py [--requests 1000] [--ce-requests 200]
        [--eval-users 300] [--candidates 100] [--lam 0.7]

Data: ``coursekit.datasets.load_dataset("shop")``, per-user temporal split (last 20 % of each user's events
are test). Retrieval is iALS (64 factors) + an HNSW index of its item vectors. Latency: the test
events of the last 14 days are replayed in time order (serve, then observe = fold-in), one request
at a time on one thread (:func:`coursekit.stream.latency.single_threaded`). The cross-encoder is the
lesson-04 checkpoint when ``checkpoint_dir("04_cross_encoder_shop")`` holds one, else an untrained
3-layer MiniLM (timing only). NDCG@10: ``--eval-users`` random test users, paired SE
(:func:`coursekit.claims.compare`).
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--ce-requests", type=int, default=200)
    parser.add_argument("--eval-users", type=int, default=300)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--lam", type=float, default=0.7)
    parser.add_argument("--fusion-weight", type=float, default=1.0)
    parser.add_argument("--parts", default="recall,latency,ndcg", help="comma-separated parts to run")
    args = parser.parse_args(argv)
    print("command:", shlex.join([sys.executable, *sys.argv]))

    import numpy as np
    import pandas as pd

    import coursekit
    from coursekit.claims import compare
    from coursekit.evaluation import evaluate_per_user
    from coursekit.models import IALS
    from coursekit.models.ann import ANNIndex, recall_at_k
    from coursekit.splits import user_temporal_split
    from coursekit.stream.latency import single_threaded
    from coursekit.system import RecommenderSystem, latency_summary, replay_latency
    from coursekit.text import item_summaries
    from coursekit.text.cross_encoder import CrossEncoder

    data = coursekit.datasets.load_dataset("shop")
    split = user_temporal_split(data.to_interactions(), test_frac=0.2)
    train, test = split.train, split.test
    print(f"shop: {train.n_users} users, {train.n_items} items, {len(train)} train / {len(test)} test events")

    # ---------------------------------------------------------------- ANN recall
    ials = IALS(factors=64, seed=0).fit(train)
    Y, X = ials.item_vectors(), ials.user_factors_
    warm = np.nonzero(train.user_counts() > 0)[0]
    seen = train.matrix()[warm]
    exact, _ = ANNIndex(Y, method="exact").search(X[warm], 100, exclude=seen)
    parts = set(args.parts.split(","))
    if "recall" in parts:
        print("\nANN recall@100 vs exact (iALS item factors, all warm users, history excluded):")
        for M, efc, ef in ((32, 80, 64), (32, 200, 16), (32, 200, 64), (32, 200, 400), (64, 200, 64)):
            index = ANNIndex(Y, method="hnsw", M=M, ef_construction=efc, ef_search=ef)
            t0 = time.perf_counter()
            approx, _ = index.search(X[warm], 100, exclude=seen)
            dt = time.perf_counter() - t0
            rec = recall_at_k(approx, exact)
            print(f"  HNSW M={M} ef_construction={efc} ef_search={ef:3d} (raised to 100 + exclusions): recall@100 "
                  f"{rec.mean():.4f} (min {rec.min():.3f}), batch search {dt * 1e3 / len(warm):.3f} ms/user")
    if "latency" not in parts and "ndcg" not in parts:
        return 0

    # ---------------------------------------------------------------- cross-encoder
    folder = coursekit.datasets.checkpoint_dir("04_cross_encoder_shop")
    if (folder / "cross_encoder.json").exists():
        ce = CrossEncoder.load(folder, device="cpu")
        ce_name = f"lesson-04 checkpoint ({folder})"
        info = ce.info
    else:
        ce = CrossEncoder.from_pretrained(max_length=64, num_layers=3, pooling="candidate", device="cpu")
        ce_name = "untrained 3-layer MiniLM (timing only)"
        info = {}
    hist_kw = {"history_size": info.get("history_size", 20), "max_history_words": info.get("max_history_words", 25)}
    texts = item_summaries(data)
    print(f"\ncross-encoder: {ce_name}, max_length {ce.max_length}, {hist_kw}")

    def system(**kw) -> RecommenderSystem:
        base = dict(n_candidates=args.candidates, ann="hnsw", M=32, ef_search=64, **hist_kw)
        return RecommenderSystem(IALS(factors=64, seed=0), **(base | kw)).fit(train)

    configs = {
        "retrieval (exact)": dict(ann="exact", lam=1.0),
        "retrieval (HNSW)": dict(lam=1.0),
        "retrieval + MMR": dict(lam=args.lam),
        "retrieval + CE": dict(lam=1.0, reranker=ce, item_texts=texts, fusion_weight=args.fusion_weight),
        "retrieval + CE + MMR": dict(lam=args.lam, reranker=ce, item_texts=texts, fusion_weight=args.fusion_weight),
    }
    systems = {name: system(**kw) for name, kw in configs.items()}

    # ---------------------------------------------------------------- latency
    frame = test.frame
    last = frame[frame["timestamp"] >= frame["timestamp"].max() - pd.Timedelta(days=14)] \
        if np.issubdtype(frame["timestamp"].dtype, np.datetime64) else \
        frame[frame["timestamp"] >= frame["timestamp"].max() - 14 * 86400]
    print(f"\nlatency: replay of {len(last)} test events of the last 14 days (serve k=10, then observe), "
          f"1 thread, {args.candidates} candidates")
    summaries = {}
    with single_threaded():
        for name, model in (systems.items() if "latency" in parts else ()):
            n = args.ce_requests if "CE" in name else args.requests
            lat = replay_latency(model, last, k=10, n_requests=n)
            model.reset_live()
            summaries[name] = latency_summary(lat)
            summaries[name]["n"] = len(lat)
    for name, s in summaries.items():
        base_p50 = summaries["retrieval (HNSW)"].loc["total", "p50"]
        base_p99 = summaries["retrieval (HNSW)"].loc["total", "p99"]
        print(f"\n{name} ({int(s['n'].iloc[0])} requests): total p50 {s.loc['total', 'p50']:.2f} ms "
              f"({s.loc['total', 'p50'] / base_p50:.1f}x HNSW retrieval), p99 {s.loc['total', 'p99']:.2f} ms "
              f"({s.loc['total', 'p99'] / base_p99:.1f}x)")
        print(s[["p50", "p99", "mean"]].round(3).to_string())

    # ---------------------------------------------------------------- NDCG@10
    if "ndcg" not in parts:
        return 0
    rng = np.random.default_rng(0)
    rel_users = np.unique(test.users.ids[test.user_index])
    warm_ids = train.users.ids[train.user_counts() > 0]
    pick = rng.choice(np.intersect1d(rel_users, warm_ids), size=args.eval_users, replace=False)
    test_sub = test.subset(np.isin(test.users.ids[test.user_index], pick))
    plain = evaluate_per_user(ials, train, test_sub, "ndcg", k=10)
    print(f"\nNDCG@10 on {len(plain)} test users (plain iALS: {plain.mean():.4f}):")
    for name, model in systems.items():
        t0 = time.perf_counter()
        vals = evaluate_per_user(model, train, test_sub, "ndcg", k=10).reindex(plain.index)
        claim = compare(vals.to_numpy(), plain.to_numpy(), name, "plain iALS", metric="NDCG@10")
        print(f"  {name:22s} {vals.mean():.4f} ({time.perf_counter() - t0:.0f} s): {claim.text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
