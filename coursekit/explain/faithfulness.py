r"""Faithfulness of explanations, measured: deletion/insertion curves, agreement, counterfactual validity.

**Deletion curve** (Petsiuk et al. 2018, adapted to histories): remove the history items in the
explainer's order (most important first), re-score, and track the target's score
:math:`s_k` and rank after :math:`k` removals. The score is reported as the **share of the
history's gain that is left**, clipped to :math:`[0, 1]`:

.. math::

    \tilde s_k = \min\Big(1, \max\Big(0, \frac{s_k - s_{\varnothing}}{s_{H} - s_{\varnothing}}\Big)\Big),
    \qquad x_k = k / M,

1 with the full history :math:`H`, 0 with none (:func:`normalise_curve`). Unclipped, the ratio
leaves :math:`[0, 1]` in between: above 1 when the removed items pushed *against* the target (the
score rose above its full-history value), below 0 when the rest of the history pushes against
it; the clip reads both as "all of the gain left" and "none of it left", so every curve value and
every AUC lies in :math:`[0, 1]` (``clip=False`` returns the raw ratio, to see the overshoot).
The gain must be positive: when :math:`s_H \le s_\varnothing` the history does not raise the
target's score, there is nothing to delete, and the curve is NaN. Then

.. math::

    \mathrm{AUC}_{\text{del}} = \int_0^1 \tilde s\,dx
    \approx \sum_k \tfrac{1}{2}(\tilde s_k + \tilde s_{k+1})(x_{k+1} - x_k) \in [0, 1]:

**lower is more faithful** (the score falls fast when the "important" items go first). The
**insertion curve** adds items to an empty history in the same order; higher AUC is better.
Reference orders: random (seeded) and popularity (most popular history item first).

**Agreement** with the exact contributions of an additive model: Spearman's :math:`\rho` over the
history items and the top-3 overlap :math:`|T_3(\phi) \cap T_3(\hat\phi)|/3`.

>>> v = lambda Z: Z @ np.array([3.0, 1.0, 0.0])
>>> c = deletion_curve_values(v, order=np.array([0, 1, 2]))
>>> c.round(3).tolist(), round(auc(c), 4)
([1.0, 0.25, 0.0, 0.0], 0.25)
>>> w = lambda Z: Z @ np.array([2.0, -1.0, 1.0])      # item 1 pushes against the target
>>> deletion_curve_values(w, np.array([1, 0, 2]), clip=False).tolist()
[1.0, 1.5, 0.5, 0.0]
>>> c = deletion_curve_values(w, np.array([1, 0, 2]))
>>> c.tolist(), round(auc(c), 4)
([1.0, 1.0, 0.5, 0.0], 0.6667)
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit.explain.history import HistoryScorer

__all__ = ["deletion_masks", "insertion_masks", "normalise_curve", "deletion_curve_values", "auc", "curves", "spearman",
           "top_k_overlap", "agreement", "random_order", "popularity_order", "order_of"]


def deletion_masks(M: int, order: np.ndarray) -> np.ndarray:
    """``(M + 1, M)`` masks: row ``k`` has the first ``k`` items of ``order`` removed."""
    Z = np.ones((M + 1, M), dtype=bool)
    pos = np.empty(M, dtype=np.int64)
    pos[np.asarray(order)] = np.arange(M)
    Z &= pos[None, :] >= np.arange(M + 1)[:, None]
    return Z


def insertion_masks(M: int, order: np.ndarray) -> np.ndarray:
    """``(M + 1, M)`` masks: row ``k`` keeps only the first ``k`` items of ``order``."""
    return ~deletion_masks(M, order)


def normalise_curve(s: ArrayLike, full: float, empty: float, clip: bool = True) -> np.ndarray:
    r"""The share of the history's gain left: :math:`(s - s_\varnothing)/(s_H - s_\varnothing)`, clipped to [0, 1].

    Parameters
    ----------
    s : array_like
        Target scores along a path (any model's scale).
    full, empty : float
        :math:`s_H` (full history) and :math:`s_\varnothing` (empty history).
    clip : bool
        Clip to :math:`[0, 1]` (default). ``False`` returns the raw ratio (above 1: the score rose
        above its full-history value; below 0: it fell below the empty-history one).

    Returns
    -------
    numpy.ndarray
        Same shape as ``s``; all NaN when the gain :math:`s_H - s_\varnothing` is not positive
        (relative to :math:`\max(1, |s_H|, |s_\varnothing|)`, up to :math:`10^{-12}`): the history does
        not raise the target's score, so there is no gain to remove.

    >>> normalise_curve([4.0, 5.0, 2.0, 1.0], full=4.0, empty=1.0).tolist()
    [1.0, 1.0, 0.3333333333333333, 0.0]
    >>> normalise_curve([1.0, 2.0], full=1.0, empty=2.0).tolist()
    [nan, nan]
    """
    s = np.asarray(s, dtype=np.float64)
    span = float(full) - float(empty)
    if not span > 1e-12 * max(1.0, abs(float(full)), abs(float(empty))):
        return np.full(s.shape, np.nan)
    out = (s - empty) / span
    return np.clip(out, 0.0, 1.0) if clip else out


def deletion_curve_values(value_fn: Callable[[np.ndarray], np.ndarray], order: np.ndarray,
                          insertion: bool = False, clip: bool = True) -> np.ndarray:
    """Normalised target scores along the deletion (or insertion) path, length ``M + 1`` (:func:`normalise_curve`)."""
    M = len(order)
    Z = (insertion_masks if insertion else deletion_masks)(M, order)
    s = np.asarray(value_fn(Z.astype(np.float64)), dtype=np.float64)
    full, empty = (s[-1], s[0]) if insertion else (s[0], s[-1])
    return normalise_curve(s, full, empty, clip=clip)


def auc(curve: np.ndarray) -> float:
    """Trapezoid area under a curve sampled at ``x = 0, 1/M, ..., 1`` (NaN for a NaN curve)."""
    curve = np.asarray(curve, dtype=np.float64)
    if len(curve) < 2:
        return float(curve.mean()) if len(curve) else float("nan")
    return float(np.trapezoid(curve, dx=1.0 / (len(curve) - 1)))


def curves(hs: HistoryScorer, target: int, order: np.ndarray) -> pd.DataFrame:
    """Deletion and insertion curves of ``target`` (external id) for a feature ``order`` (positions).

    Columns: ``k`` (items removed / added), ``fraction``, ``deletion_score``, ``deletion_rank``,
    ``insertion_score``, ``insertion_rank`` (clipped normalised scores, :func:`normalise_curve`; 1-based
    rank among unseen items).
    """
    M = hs.n_features
    col = int(hs.model.items_.index([target])[0])
    out = {"k": np.arange(M + 1), "fraction": np.arange(M + 1) / max(M, 1)}
    for name, masks in (("deletion", deletion_masks(M, order)), ("insertion", insertion_masks(M, order))):
        s = hs.scores(masks.astype(np.float64))
        s[:, hs.seen] = -np.inf
        t = s[:, col]
        out[f"{name}_rank"] = 1 + (s > t[:, None]).sum(1)
        full, empty = (t[0], t[-1]) if name == "deletion" else (t[-1], t[0])
        out[f"{name}_score"] = normalise_curve(t, full, empty)
    return pd.DataFrame(out)


def order_of(frame: pd.DataFrame, hs: HistoryScorer) -> np.ndarray:
    """Positions (in ``hs.history``) of the features in the row order of an explanation frame."""
    pos = pd.Series(np.arange(hs.n_features), index=hs.history_ids)
    listed = pos.reindex(frame["feature"].to_numpy()).dropna().astype(np.int64).to_numpy()
    rest = np.setdiff1d(np.arange(hs.n_features), listed)
    return np.r_[listed, rest].astype(np.int64)


def random_order(M: int, seed: int = 0) -> np.ndarray:
    """A seeded random permutation of ``range(M)``."""
    return np.random.default_rng(seed).permutation(M)


def popularity_order(hs: HistoryScorer) -> np.ndarray:
    """History positions, most popular (training event count) first."""
    pop = hs.model.item_popularity_[hs.history]
    return np.argsort(-pop, kind="stable")


def _rounded(x: np.ndarray, digits: int = 9) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    scale = np.max(np.abs(x)) if x.size and np.max(np.abs(x)) > 0 else 1.0
    return np.round(x / scale, digits)


def spearman(a: ArrayLike, b: ArrayLike, digits: int = 9) -> float:
    r"""Spearman's :math:`\rho`, after rounding each vector to ``digits`` relative to its largest magnitude.

    The rounding makes numerically equal values (e.g. :math:`10^{-15}` vs 0) ties, as they are.
    NaN when either vector is constant.

    >>> spearman([1.0, 2.0, 3.0], [1.0, 2.0 + 1e-14, 2.5])
    1.0
    """
    from scipy.stats import spearmanr

    a, b = _rounded(a, digits), _rounded(b, digits)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def top_k_overlap(a: ArrayLike, b: ArrayLike, k: int = 3) -> float:
    """:math:`|T_k(a) \\cap T_k(b)| / k` (top by value, ties by position)."""
    k = min(k, len(a))
    ta = set(np.argsort(-np.asarray(a), kind="stable")[:k].tolist())
    tb = set(np.argsort(-np.asarray(b), kind="stable")[:k].tolist())
    return len(ta & tb) / max(k, 1)


def agreement(frame: pd.DataFrame, exact: pd.DataFrame, k: int = 3) -> dict[str, float]:
    """Spearman and top-``k`` overlap of an explanation with the exact one (aligned on features)."""
    from coursekit.explain.contributions import aligned

    feats = exact["feature"].to_numpy()
    a, b = aligned(exact, feats), aligned(frame, feats)
    return {"spearman": spearman(a, b), f"top{k}_overlap": top_k_overlap(a, b, k)}
