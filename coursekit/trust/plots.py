"""Plots of the trust signals: reliability diagram, accuracy / diversity trade-off (matplotlib, imported lazily)."""
from __future__ import annotations

from typing import Any

import pandas as pd
from numpy.typing import ArrayLike

from coursekit.plotting import get_axes
from coursekit.trust.calibration import expected_calibration_error, reliability_table

__all__ = ["plot_reliability", "plot_tradeoff"]


def plot_reliability(probs: dict, labels: ArrayLike, n_bins: int = 10, strategy: str = "uniform", ax: Any = None,
                     title: str = "") -> Any:
    """Reliability diagram: hit rate against mean predicted probability per bin, one line per method.

    ``probs`` maps a method name to its probabilities (aligned with ``labels``); the legend gives each
    method's ECE. The diagonal is perfect calibration; marker area grows with the bin's size.
    """
    ax = get_axes(ax, (5, 4.5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfectly calibrated")
    for name, p in probs.items():
        t = reliability_table(p, labels, n_bins, strategy)
        ece = expected_calibration_error(p, labels, n_bins, strategy)
        size = 15 + 200 * t["count"] / t["count"].max()
        line, = ax.plot(t["mean_prob"], t["hit_rate"], marker="", label=f"{name} (ECE {ece:.3f})")
        ax.scatter(t["mean_prob"], t["hit_rate"], s=size, color=line.get_color(), alpha=0.7)
    ax.set_xlabel("predicted probability of a hit")
    ax.set_ylabel("observed hit rate")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    ax.set_title(title or f"Reliability diagram ({strategy} bins)")
    return ax


def plot_tradeoff(table: pd.DataFrame, x: str = "ild", y: str = "ndcg", ax: Any = None, title: str = "") -> Any:
    """Accuracy against diversity over the lambda sweep (:func:`coursekit.trust.diversity_sweep`), knee marked."""
    ax = get_axes(ax, (5, 4.5))
    ax.plot(table[x], table[y], marker="o")
    for _, row in table.iterrows():
        ax.annotate(f"λ={row['lam']:.1f}", (row[x], row[y]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    if "knee" in table and table["knee"].any():
        knee = table[table["knee"]].iloc[0]
        ax.scatter([knee[x]], [knee[y]], s=160, facecolors="none", edgecolors="red", linewidths=2,
                   label=f"knee (λ={knee['lam']:.1f})", zorder=3)
        ax.legend(fontsize=8)
    labels = {"ild": "intra-list diversity", "coverage": "catalogue coverage", "ndcg": "NDCG@10"}
    ax.set_xlabel(labels.get(x, x))
    ax.set_ylabel(labels.get(y, y))
    ax.set_title(title or "Accuracy vs. diversity (MMR)")
    return ax
