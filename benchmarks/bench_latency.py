"""Per-update and per-recommend latency (p50 / p99, ms) of the online updaters.

Catalogues
----------
* ``ml``: ml-latest-small (9,742 items). Replay with 80% warm-up; iALS (64 factors) fitted on the
  warm-up; DecayedProfile over the iALS item factors (``--minilm`` uses MiniLM text vectors of the
  movies instead, 384-d, if ``coursekit.text`` is available); SASRec (64-d, 2 blocks, 50 items)
  trained for ``--sasrec-epochs`` epochs on one random window per user (latency does not depend on
  how well it is trained).
* ``big``: a **synthetic** 100,000-item catalogue (not ``make_shop``, which is slow at this size):
  2,000 users, 60,000 events with Zipf-distributed items and increasing timestamps; iALS fitted on
  it for 2 iterations; SASRec fitted for one epoch on 50 users so that it has a 100k-item output
  layer. Only the sizes matter for latency, so the synthetic data is said, not hidden.

Every operation is timed one call at a time with ``time.perf_counter`` over ``--events`` streamed
events (update = the event, recommend = top-10 over the full catalogue with seen items excluded), by
:func:`coursekit.stream.latency.measure_latency`.

Thread settings: one-user operations are tiny matrix-vector products; multi-threaded BLAS spends
more time waking threads than computing. BLAS and torch are limited to one thread here
(``threadpoolctl`` if installed, else the environment variables set below before numpy is
imported), via :func:`coursekit.stream.latency.single_threaded`. On a shared machine p99 includes
interference from other processes.

Run::

    COURSEKIT_DATA_HOME=../shared/data/movielens python benchmarks/bench_latency.py
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")   # before numpy is imported (used when threadpoolctl is absent)

import argparse
import time

import numpy as np
import pandas as pd

from coursekit.interactions import Interactions
from coursekit.models import IALS, SASRec
from coursekit.stream import DecayedProfile, FoldInUpdater, OnlineSGD, RecencyPopularity, Replay, SequenceUpdater
from coursekit.stream.latency import measure_latency, single_threaded


def movielens_setup(args):
    from coursekit.datasets import load_movielens

    ds = load_movielens(download=False)
    inter = ds.to_interactions()
    replay = Replay(inter, warmup=0.8)
    ials = IALS(factors=64, iterations=10, seed=0).fit(replay.warmup)
    vectors, vec_name = ials.item_factors_, "iALS factors (64-d)"
    if args.minilm:
        from coursekit.text.encoder import TextEncoder
        from coursekit.text.items import item_texts

        texts = item_texts(ds).reindex(inter.items.ids)
        vectors, vec_name = TextEncoder(progress=False).encode(texts.fillna("").tolist()), "MiniLM (384-d)"
    sas = SASRec(dim=64, n_layers=2, n_heads=2, max_len=50, epochs=args.sasrec_epochs, sampling="random",
                 device="cpu", seed=0).fit(replay.warmup)
    return replay, ials, vectors, vec_name, sas


def big_setup(n_items=100_000, n_users=2_000, n_events=60_000, seed=0):
    rng = np.random.default_rng(seed)
    ranks = rng.permutation(n_items)
    p = 1.0 / (np.arange(1, n_items + 1) ** 0.8)
    items = ranks[rng.choice(n_items, n_events, p=p / p.sum())]
    frame = pd.DataFrame({"user_id": rng.integers(0, n_users, n_events), "item_id": items,
                          "timestamp": np.sort(rng.integers(0, 10**8, n_events))})
    inter = Interactions.from_frame(frame, users=np.arange(n_users), items=np.arange(n_items))
    replay = Replay(inter, warmup=0.8)
    ials = IALS(factors=64, iterations=2, seed=0).fit(replay.warmup)
    small = replay.warmup.subset(np.isin(replay.warmup.user_index, np.arange(50)))
    sas = SASRec(dim=64, n_layers=2, n_heads=2, max_len=50, epochs=1, device="cpu", seed=0).fit(small)
    return replay, ials, ials.item_factors_, "iALS factors (64-d)", sas


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--catalogues", nargs="+", default=["ml", "big"])
    ap.add_argument("--sasrec-epochs", type=int, default=2)
    ap.add_argument("--minilm", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import torch  # noqa: F401  (imported first, so that single_threaded() limits it too)

    rows = []
    for cat in args.catalogues:
        t0 = time.time()
        replay, ials, vectors, vec_name, sas = movielens_setup(args) if cat == "ml" else big_setup()
        n_items = replay.inter.n_items
        print(f"[{cat}] {n_items} items, setup {time.time() - t0:.0f} s", flush=True)
        methods = {
            f"DecayedProfile ({vec_name})": DecayedProfile(vectors, half_life=30 * 86400.0),
            "FoldInUpdater (iALS, f=64)": FoldInUpdater(ials),
            "OnlineSGD (BPR, 8 negatives)": OnlineSGD(ials, lr=0.05, n_negatives=8),
            "SequenceUpdater (SASRec forward)": SequenceUpdater(sas),
            "RecencyPopularity": RecencyPopularity(half_life=7 * 86400.0),
        }
        for name, rec in methods.items():
            with single_threaded():
                r = measure_latency(rec, replay, args.events)
            rows.append({"catalogue": f"{cat} ({n_items:,} items)", "method": name, **r})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))
    if args.out:
        table.to_json(args.out, orient="records", indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
