r"""Faithfulness and cost of every explainer over many users: the table of lesson 07 and the benchmark.

For each user: the target is the user's top-1; each explainer gives an order of the history; we
record the deletion and insertion AUC of that order (:mod:`coursekit.explain.faithfulness`),
the agreement with the exact contributions where the model is additive, the wall time, and for
the sampled explainers the **run-to-run** Spearman between two seeds. Random (mean of
``n_random`` seeds) and popularity orders are the references. A template explanation names the
top-2 positive items of the explainer it is filled from; ``template_in_exact_top3`` is the share of
those named items that are in the exact top-3.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit.explain.api import explain
from coursekit.explain.contributions import aligned
from coursekit.explain.exact import is_additive
from coursekit.explain.faithfulness import (
    auc,
    deletion_curve_values,
    order_of,
    popularity_order,
    random_order,
    spearman,
    top_k_overlap,
)
from coursekit.explain.history import history_scorer

if TYPE_CHECKING:
    from coursekit.models.base import Recommender

__all__ = ["per_user_faithfulness", "summarise"]


def per_user_faithfulness(model: Recommender, users: ArrayLike,
                          methods: Sequence[str] = ("exact", "kernel_shap", "lime", "counterfactual"),
                          n_samples: dict | None = None, seed: int = 0, n_random: int = 5,
                          test_items: dict | None = None) -> pd.DataFrame:
    """One row per (user, method): AUCs, agreement, ms, variance, counterfactual size/validity, hit.

    The curves are clipped to :math:`[0, 1]` (:func:`~coursekit.explain.faithfulness.normalise_curve`), so
    every AUC lies in :math:`[0, 1]`; ``deletion_max`` is the highest *unclipped* normalised score along
    the deletion path (above 1 when removing items *raised* the target's score: items that pushed
    against it went first; the clip reads that as 1), ``deletion_min`` the lowest (below 0 when the items
    still kept pushed the score under its empty-history value; read as 0), and ``score_gap`` the raw
    :math:`s_H - s_\varnothing` the curve is normalised by (not positive: the curve and its AUCs are NaN).
    """
    n_samples = n_samples or {}
    additive = is_additive(model)
    methods = [m for m in methods if additive or m != "exact"]
    rows = []
    for u in users:
        hs = history_scorer(model, u)
        item = int(hs.top1(np.ones((1, hs.n_features)))[0])
        v = hs.value_function(item)
        M = hs.n_features
        ends = np.asarray(v(np.vstack([np.ones(M), np.zeros(M)])), dtype=np.float64)
        ref = {"random": float(np.mean([auc(deletion_curve_values(v, random_order(M, seed + s)))
                                         for s in range(n_random)])),
               "popularity": auc(deletion_curve_values(v, popularity_order(hs)))}
        hit = None if test_items is None else bool(item in test_items.get(u, ()))
        exact = explain(model, u, item, "exact") if additive else None
        for m in methods:
            kw = {"n_samples": n_samples.get(m)} if m in ("kernel_shap", "lime") else {}
            start = time.perf_counter()
            f = explain(model, u, item, m, seed=seed, scorer=hs, **kw)
            ms = 1000.0 * (time.perf_counter() - start)
            order = order_of(f, hs)
            deletion = deletion_curve_values(v, order)
            raw = deletion_curve_values(v, order, clip=False)
            row = {"user": u, "method": m, "n_history": M, "target": item, "hit": hit, "ms": ms,
                   "deletion_auc": auc(deletion), "deletion_max": float(np.max(raw)),
                   "deletion_min": float(np.min(raw)),
                   "score_gap": float(ends[0] - ends[1]),
                   "insertion_auc": auc(deletion_curve_values(v, order, insertion=True)),
                   "random_deletion_auc": ref["random"], "popularity_deletion_auc": ref["popularity"]}
            if exact is not None:
                feats = exact["feature"].to_numpy()
                a, b = aligned(exact, feats), aligned(f, feats)
                row["spearman_vs_exact"] = spearman(a, b)
                row["top3_overlap"] = top_k_overlap(a, b, 3)
                pos = f[f["contribution"] > 0]["feature"].head(2).tolist()   # what a template would name
                top3 = set(exact["feature"].head(3).tolist())
                row["template_in_exact_top3"] = np.mean([p in top3 for p in pos]) if pos else np.nan
            if m in ("kernel_shap", "lime"):
                g = explain(model, u, item, m, seed=seed + 1, scorer=hs, **kw)
                row["run_to_run_spearman"] = spearman(aligned(f, hs.history_ids), aligned(g, hs.history_ids))
            if m == "counterfactual":
                cf = f.attrs["counterfactual"]
                row["cf_valid"] = bool(cf.valid)
                row["cf_size"] = cf.size if cf.valid else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def summarise(per_user: pd.DataFrame) -> pd.DataFrame:
    """Means per method (the lesson's table); ``beats_random`` = share of users with AUC below random.

    Users whose deletion curve is undefined (NaN: the history does not raise the target's score) are
    left out of the AUC means and of ``beats_random``.
    """
    defined = per_user["deletion_auc"].notna() & per_user["random_deletion_auc"].notna()
    below = (per_user["deletion_auc"] < per_user["random_deletion_auc"]).astype(float)
    d = per_user.assign(beats_random=below.where(defined))
    cols = [c for c in ["spearman_vs_exact", "top3_overlap", "template_in_exact_top3", "run_to_run_spearman",
                        "deletion_auc", "random_deletion_auc", "popularity_deletion_auc", "insertion_auc",
                        "beats_random", "cf_valid", "cf_size", "ms"] if c in d.columns]
    out = d.groupby("method", sort=False)[cols].mean()
    out.insert(0, "users", d.groupby("method", sort=False).size())
    return out
