"""Trust-signal benchmark: calibration ECE before/after, MMR trade-off, "not interested".

Protocol, per data set (the synthetic shop and MovieLens ml-latest-small), every event an interaction:

* per-user temporal 80/20 split (:func:`coursekit.splits.user_temporal_split`); iALS and ItemKNN fitted
  on the training part;
* **calibration**: (score, hit) pairs from each model's top-``n`` lists for the users with held-out
  items (:func:`coursekit.trust.hit_pairs`); the users are split at random in half: calibrators are
  fitted on one half's pairs, expected calibration error (10 equal-width bins, and 10 equal-mass
  bins) and Brier score are measured on the other half's pairs. "minmax" is the naive
  score-as-probability baseline (before), Platt and isotonic are the calibrated ones (after).
  Repeated over ``--repeats`` user splits; the table shows the mean (and the largest ECE seen);
* **diversity**: MMR re-ranking of iALS's top 50 with item similarity and intra-list diversity from
  content indicators (shop: category, brand, price band; MovieLens: genres), lambda 1 .. 0;
* **feedback**: "not interested" on the top-1 of 50 users through a DecayedProfile on iALS factors;
* ``--cross-encoder``: a MiniLM cross-encoder (top 2 layers fine-tuned on the shop, as in lesson 04)
  re-ranks iALS's top 20; its logits are calibrated by temperature scaling (and Platt / isotonic)
  with the same user-disjoint protocol; "sigmoid" (the raw model probability) is the before.

Timings are wall-clock on a shared 2-core CPU: upper bounds.

Run::

    COURSEKIT_DATA_HOME=../shared/data/movielens python benchmarks/bench_trust.py
    python benchmarks/bench_trust.py --datasets shop --repeats 1     # quick
    python benchmarks/bench_trust.py --datasets shop --repeats 1 --cross-encoder   # + temperature scaling
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

import coursekit
from coursekit.models import IALS, ItemKNN
from coursekit.splits import user_temporal_split
from coursekit.stream import DecayedProfile
from coursekit.trust import (
    NotInterested,
    calibration_report,
    dismissal_effect,
    diversity_sweep,
    hit_pairs,
    indicator_vectors,
)

FEATURES = {"shop": ["category", "brand", "price_band"], "movielens": ["genres"]}


def run(name: str, n: int, repeats: int, seed: int) -> None:
    data = coursekit.load_dataset(name)
    inter = data.to_interactions()
    split = user_temporal_split(inter, test_frac=0.2)
    train, test = split.train, split.test
    print(f"\n=== {name}: {inter.n_users} users, {inter.n_items} items, {len(train)} train / {len(test)} test events")
    models = {"iALS": IALS(factors=32, iterations=10, seed=seed), "ItemKNN": ItemKNN(k=50)}
    for label, model in models.items():
        t0 = time.perf_counter()
        model.fit(train)
        pairs = hit_pairs(model, train, test, n=n)
        tables = [calibration_report(pairs, ("minmax", "platt", "isotonic"), frac=0.5, seed=seed + r)[0]
                  for r in range(repeats)]
        both = pd.concat(tables)
        summary = both.groupby("method", sort=False).agg(
            ece=("ece", "mean"), ece_max=("ece", "max"), ece_equal_mass=("ece_equal_mass", "mean"),
            brier=("brier", "mean"), mean_prob=("mean_prob", "mean"), hit_rate=("hit_rate", "mean"),
            n_fit=("n_fit", "mean"), n_eval=("n_eval", "mean"))
        print(f"\n{label}: top-{n} pairs of {pairs['user'].nunique()} users, hit rate {pairs['hit'].mean():.4f}; "
              f"{repeats} random user halves ({time.perf_counter() - t0:.1f} s incl. fit)")
        print(summary.round(4).to_string())
        before, after = summary.loc["minmax", "ece"], summary.loc[["platt", "isotonic"], "ece"].min()
        print(f"ECE on held-out users: before (minmax) {before:.4f} -> after (best of Platt/isotonic) {after:.4f}")

    V = indicator_vectors(data.items, train.items.ids, FEATURES[name])
    t0 = time.perf_counter()
    sweep = diversity_sweep(models["iALS"], train, test, V, k=10, n_candidates=50)
    print(f"\nMMR on iALS top-50, similarity and ILD from {FEATURES[name]} ({time.perf_counter() - t0:.1f} s, "
          f"{sweep.attrs['users']} users):")
    print(sweep.round(4).to_string(index=False))

    rec = NotInterested(DecayedProfile(models["iALS"].item_factors_, half_life=np.inf)).initialize(train)
    users = train.users.ids[np.flatnonzero(train.user_counts() > 0)[:50]]
    t0 = time.perf_counter()
    effects = [dismissal_effect(rec, u, k=10, n_similar=5) for u in users]
    ms = 1000 * (time.perf_counter() - t0) / len(users)
    print(f"\n'not interested' on the top-1 of {len(users)} users (DecayedProfile on iALS factors, {ms:.2f} ms each "
          f"incl. two recommends): dismissed item gone from the new top-10 for "
          f"{sum(not e['dismissed_in_after'] for e in effects)}/{len(users)}; mean score drop of its 5 most similar "
          f"items {np.mean([e['similar_drop'] for e in effects]):.4f} vs. other items "
          f"{np.mean([e['other_drop'] for e in effects]):.4f}; items replaced in the top-10: "
          f"{np.mean([e['n_replaced'] for e in effects]):.2f} on average")


def cross_encoder_calibration(n_users: int, steps: int, seed: int) -> None:
    """Temperature scaling of a fine-tuned MiniLM cross-encoder's logits (shop, iALS top-20 re-ranked)."""
    from coursekit.finetune import make_pairs, train_cross_encoder
    from coursekit.models.rerank import TwoStageRecommender
    from coursekit.text import item_texts
    from coursekit.text.cross_encoder import CrossEncoder

    data = coursekit.load_dataset("shop")
    inter = data.to_interactions()
    split = user_temporal_split(inter, test_frac=0.2)
    train, test = split.train, split.test
    texts = item_texts(data).reindex(inter.items.ids)
    titles = data.items.set_index("item_id")["title"].reindex(inter.items.ids)
    short = pd.Series(titles.astype(str).to_numpy(dtype=object), index=inter.items.ids)
    t0 = time.perf_counter()
    ials = IALS(factors=32, iterations=10, seed=seed).fit(train)
    inner = user_temporal_split(train, test_frac=0.1)
    pairs_train = make_pairs(inner.train, None, texts, history_item_texts=short, max_pairs=2000,
                             max_history_words=48, seed=seed)
    hard, _ = ials.recommend_indices(np.arange(train.n_users), k=50)
    ce = CrossEncoder.from_pretrained(None, max_length=64, device="cpu")
    res = train_cross_encoder(ce, pairs_train, None, n_neg=3, batch_size=16, max_steps=steps, lr=1e-4,
                              freeze_layers=4, hard_negatives=hard, n_hard=2, time_budget_s=300, seed=seed,
                              progress=False)
    rerank = TwoStageRecommender(ials, ce, n_candidates=20, item_texts=texts, history_item_texts=short,
                                 max_history_words=48, fit_retriever=False).fit(train)
    from coursekit.evaluation import relevance_matrix

    rel, _ = relevance_matrix(train, test)
    users = np.flatnonzero(np.diff(rel.indptr) > 0)
    users = np.sort(np.random.default_rng(seed).choice(users, size=min(n_users, len(users)), replace=False))
    pairs = hit_pairs(rerank, train, test, n=20, users=users)
    p = np.clip(pairs["score"].to_numpy() - 1.0, 1e-7, 1 - 1e-7)      # TwoStage scores candidates 1 + sigma(z)
    pairs = pairs.assign(score=np.log(p) - np.log1p(-p))
    table, _ = calibration_report(pairs, ("sigmoid", "temperature", "platt", "isotonic"), frac=0.5, seed=seed)
    print(f"\ncross-encoder (MiniLM, top 2 layers fine-tuned {res.n_steps} steps, batches of 16 with 3 negatives "
          f"each) re-ranking iALS's top 20 on the shop; {len(users)} users, {len(pairs)} pairs, "
          f"{time.perf_counter() - t0:.0f} s in all:")
    print(table.round(4).to_string(index=False))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["shop", "movielens"])
    ap.add_argument("--n", type=int, default=50, help="list length of the (score, hit) pairs")
    ap.add_argument("--repeats", type=int, default=5, help="random calibration/held-out user splits")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cross-encoder", action="store_true",
                    help="also fine-tune a MiniLM cross-encoder on the shop and temperature-scale its logits (minutes)")
    ap.add_argument("--ce-users", type=int, default=300)
    ap.add_argument("--ce-steps", type=int, default=150)
    args = ap.parse_args(argv)
    print("command: python " + " ".join(sys.argv))
    for name in args.datasets:
        run(name, args.n, args.repeats, args.seed)
    if args.cross_encoder:
        cross_encoder_calibration(args.ce_users, args.ce_steps, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
