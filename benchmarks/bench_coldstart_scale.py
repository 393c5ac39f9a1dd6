"""Whole-catalogue ranking of mapped cold items: are the mapped vectors too small, and does a
validated scale help?  Ridge attribute-to-factor map (MiniLM), strict item cold start, seeds 0-2.

Prints, per seed: the median norm of warm items' iALS factors vs. the mapped cold vectors; NDCG@10 among
all items when the cold vectors are multiplied by s (test, for reading only); the s chosen on
*validation* (pseudo-cold warm items: a second strict split of the training data, models refitted) and
its test value; and a per-item norm match (cold vectors rescaled to the warm median norm).

Usage::

    COURSEKIT_DATA_HOME=../shared/data/movielens python benchmarks/bench_coldstart_scale.py [CACHE_DIR]
"""
import sys
import warnings

import numpy as np

sys.path.insert(0, __import__("os").path.dirname(__file__))
from bench_coldstart import FACTORS, ITERATIONS, content_vectors

from coursekit.coldstart import AttributeToFactor, evaluate_cold_items, strict_cold_items
from coursekit.datasets import load_dataset

warnings.simplefilter("ignore")
data = load_dataset("movielens")
inter = data.to_interactions()
tfidf, minilm, both = content_vectors(data, inter, (sys.argv[1] if len(sys.argv) > 1 else None))
SC = [1.0, 1.5, 2.0, 3.0, 4.0]
def nd(S, tr, te):
    df = evaluate_cold_items(S, tr, te, among="all", ks=(10,), metrics=("ndcg",))
    return float(df.value.iloc[0])
for seed in [0, 1, 2]:
    split = strict_cold_items(inter, 0.2, seed)
    m = AttributeToFactor(minilm, factors=FACTORS, iterations=ITERATIONS, seed=seed).fit(split.train)
    warm = split.train.item_counts() > 0
    X, Y = m.user_factors_, m.item_factors_
    nw = np.linalg.norm(m.cf_item_factors_[warm], axis=1)
    nc = np.linalg.norm(Y[~warm], axis=1)
    print(f"seed {seed}: warm norm median {np.median(nw):.3f}, mapped cold {np.median(nc):.3f}")
    test = {}
    for s in SC:
        Ys = Y.copy()
        Ys[~warm] *= s
        test[s] = nd(X @ Ys.T, split.train, split.test)
    Yn = Y.copy()
    Yn[~warm] *= (np.median(nw) / np.maximum(nc, 1e-12))[:, None]
    # validation: pseudo-cold warm items inside train
    inner = strict_cold_items(split.train, 0.2, seed + 100)
    mi = AttributeToFactor(minilm, factors=FACTORS, iterations=ITERATIONS, seed=seed).fit(inner.train)
    wi = inner.train.item_counts() > 0
    val = {}
    for s in SC:
        Ys = mi.item_factors_.copy()
        Ys[~wi] *= s
        val[s] = nd(mi.user_factors_ @ Ys.T, inner.train, inner.test)
    best = max(val, key=val.get)
    print(" test ndcg(all) by scale", {k: round(v, 4) for k, v in test.items()})
    print(" valid ndcg(all) by scale", {k: round(v, 4) for k, v in val.items()},
          "-> chosen", best, "test", round(test[best], 4))
    print(" norm-matched test", round(nd(X @ Yn.T, split.train, split.test), 4))
