"""Cold-start figures on ml-latest-small (and the shop), measured.

1. Strict item cold start (20 % of the active items lose every training event; seed 0): NDCG@10 and
   Recall@10 of each method among the cold items and among all items, for the users who interacted
   with the cold items. Content exists at creation time (title, year, genres; no user tags).
2. The hybrid across popularity buckets (warm-up view: each cold item gets its n earliest events back).

Usage::

    COURSEKIT_DATA_HOME=../shared/data/movielens python benchmarks/bench_coldstart.py \
        [--dataset movielens|shop] [--cache DIR] [--seeds 0 1 2]

Prints the tables; MiniLM item vectors come from the TextEncoder cache (``--cache``; the first run
encodes 9.7k MovieLens titles, minutes on a CPU).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from coursekit.coldstart import (
    AttributeToFactor,
    CountGatedHybrid,
    DropoutNet,
    cold_item_table,
    encoder_item_vectors,
    item_warmup_split,
    paired_gap,
    per_user_ndcg,
    strict_cold_items,
    tfidf_item_vectors,
)
from coursekit.datasets import load_dataset
from coursekit.models import IALS, MostPopular, ProfileRecommender
from coursekit.text import TextEncoder, item_texts

FACTORS, ITERATIONS = 64, 15


def content_vectors(data, inter, cache):
    texts = item_texts(data).reindex(inter.items.ids)
    tfidf = tfidf_item_vectors(texts)
    minilm = encoder_item_vectors(texts, TextEncoder(cache_dir=cache, progress=False))
    both = pd.DataFrame(np.hstack([minilm.to_numpy(), tfidf.to_numpy()]), index=minilm.index)
    return tfidf, minilm, both


def methods(tfidf, minilm, both, seed):
    return {
        "random": None,
        "popularity": MostPopular(),
        "iALS (item-blind)": IALS(factors=FACTORS, iterations=ITERATIONS, seed=seed),
        "content kNN TF-IDF": ProfileRecommender(tfidf),
        "content kNN MiniLM": ProfileRecommender(minilm),
        "attr->factor ridge (MiniLM)": AttributeToFactor(minilm, factors=FACTORS, iterations=ITERATIONS, seed=seed),
        "attr->factor ridge (MiniLM+TF-IDF)": AttributeToFactor(both, factors=FACTORS, iterations=ITERATIONS,
                                                               seed=seed),
        "attr->factor MLP (MiniLM)": AttributeToFactor(minilm, mapper="mlp", map_reg=1e-2, hidden=256, max_iter=100,
                                                       factors=FACTORS, iterations=ITERATIONS, seed=seed),
        "DropoutNet (MiniLM)": DropoutNet(minilm, factors=FACTORS, iterations=ITERATIONS, seed=seed),
        "hybrid count gate (MiniLM+iALS)": CountGatedHybrid(minilm, factors=FACTORS, iterations=ITERATIONS,
                                                            seed=seed),
    }


def strict_table(inter, tfidf, minilm, both, seed):
    split = strict_cold_items(inter, test_frac=0.2, seed=seed)
    scores, times = {}, {}
    for name, model in methods(tfidf, minilm, both, seed).items():
        t0 = time.perf_counter()
        if model is None:
            scores[name] = np.random.default_rng(seed).random((inter.n_users, inter.n_items))
        else:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                scores[name] = model.fit(split.train)
        times[name] = time.perf_counter() - t0
    table = cold_item_table(scores, split.train, split.test)
    table["fit_s"] = pd.Series(times)
    return table


def warmup_table(inter, minilm, seed, reveals=(0, 1, 3, 10, 30)):
    """NDCG@10 among the held-out items after each got its n earliest events back; hybrid - better part."""
    split = strict_cold_items(inter, test_frac=0.2, seed=seed)
    rows = []
    for n in reveals:
        s, still = item_warmup_split(split, n)
        sub = s.test.subset(still[s.test.item_index])
        models = {"content (MiniLM)": ProfileRecommender(minilm),
                  "CF (iALS)": IALS(FACTORS, iterations=ITERATIONS, seed=seed),
                  "hybrid": CountGatedHybrid(minilm, factors=FACTORS, iterations=ITERATIONS, seed=seed),
                  # kappa chosen on each training item's latest 20 % of events (not the evaluated ones)
                  "hybrid learned": CountGatedHybrid(minilm, gate="learned", factors=FACTORS, iterations=ITERATIONS,
                                                     seed=seed)}
        vals = {name: per_user_ndcg(m.fit(s.train), s.train, sub, 10, candidates=still)[1]
                for name, m in models.items()}
        better = max(("content (MiniLM)", "CF (iALS)"), key=lambda m: vals[m].mean())
        gap, se = paired_gap(vals["hybrid"], vals[better])
        gap_l, se_l = paired_gap(vals["hybrid learned"], vals[better])
        rows.append({"revealed": n, **{k: float(v.mean()) for k, v in vals.items()}, "users": len(vals[better]),
                     "hybrid - better": gap, "se": se, "kappa learned": models["hybrid learned"].kappa_,
                     "learned - better": gap_l, "se learned": se_l})
    return pd.DataFrame(rows).set_index("revealed")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="movielens")
    ap.add_argument("--cache", default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--warmup-only", action="store_true", help="skip the strict item cold-start tables")
    args = ap.parse_args()
    pd.set_option("display.width", 200, "display.max_columns", 20, "display.precision", 4)
    data = load_dataset(args.dataset)
    inter = data.to_interactions()
    t0 = time.perf_counter()
    tfidf, minilm, both = content_vectors(data, inter, args.cache)
    print(f"{args.dataset}: {inter}; content vectors in {time.perf_counter() - t0:.1f} s")
    if args.warmup_only:
        return warmup(inter, minilm, args.seeds[0])
    tables = []
    for seed in args.seeds:
        t = strict_table(inter, tfidf, minilm, both, seed)
        print(f"\n== strict item cold start, seed {seed} (20 % of items cold) ==\n{t}")
        tables.append(t)
    mean = sum(t.drop(columns="fit_s") for t in tables) / len(tables)
    col = "ndcg@10 (cold)"
    best = mean.drop(index=["random", "popularity", "iALS (item-blind)", "content kNN TF-IDF"])[col].idxmax()
    print(f"\nmean over seeds {args.seeds}:\n{mean}")
    print(f"\nBAR 1: best coursekit method {best!r}: NDCG@10 among cold items {mean.loc[best, col]:.4f} vs "
          f"TF-IDF content kNN {mean.loc['content kNN TF-IDF', col]:.4f} "
          f"(ratio {mean.loc[best, col] / max(mean.loc['content kNN TF-IDF', col], 1e-12):.2f})")
    print(f"BAR 1: item-blind iALS NDCG@10 among cold items {mean.loc['iALS (item-blind)', col]:.4f} vs random "
          f"{mean.loc['random', col]:.4f}")
    if not args.no_warmup:
        warmup(inter, minilm, args.seeds[0])


def warmup(inter, minilm, seed) -> None:
    w = warmup_table(inter, minilm, seed)
    print(f"\n== warm-up (seed {seed}): NDCG@10 among the held-out items by number of revealed events ==\n{w}")
    for col, se, label in (("hybrid - better", "se", "count rule kappa=10"),
                           ("learned - better", "se learned", "learned kappa")):
        worst = (w[col] / w[se].where(w[se] > 0)).min()
        print(f"BAR 2 ({label}): hybrid - better part, in paired standard errors, worst bucket: {worst:.2f}; "
              f"best bucket gap {w[col].max():.4f}")


if __name__ == "__main__":
    main()
