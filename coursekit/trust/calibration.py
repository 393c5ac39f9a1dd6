r"""Confidence: turn a recommender's scores into a calibrated probability of a hit.

A score ranks items; it is not a probability. To say "we are 30 % sure you will take this" we need
:math:`P(\text{hit} \mid s)`, the chance that an item shown with score :math:`s` is one the user
really interacts with in the held-out period. The recipe:

1. **Pairs.** For users with held-out (test) events, take the model's top-``n`` list (training
   items excluded) and label each listed item 1 if it is among the user's held-out items, else 0
   (:func:`hit_pairs`).
2. **Fit a calibrator** :math:`g` on the pairs of one group of users (the *calibration* users):
   Platt scaling :math:`g(s) = \sigma(a s + b)` (a one-feature logistic regression,
   :class:`sklearn.linear_model.LogisticRegression`), isotonic regression (the best
   non-decreasing step function, :class:`sklearn.isotonic.IsotonicRegression`), or, for a logit
   such as a cross-encoder's output, temperature scaling :math:`g(z) = \sigma(z / T)`
   (:mod:`coursekit.trust.calibrators`).
3. **Measure on other users** (held out): the expected calibration error
   (:func:`expected_calibration_error`) before and after, and the reliability diagram
   (:func:`reliability_table`, :func:`coursekit.trust.plots.plot_reliability`).

"Before" needs some map from scores to :math:`[0, 1]`: :class:`~coursekit.trust.calibrators.MinMaxScaling`
is the naive one (the score's position between the smallest and largest calibration score), and for
logits the plain sigmoid (:class:`~coursekit.trust.calibrators.TemperatureScaling` with :math:`T = 1`,
``fit=False``).

Example
-------
>>> from coursekit.trust.calibrators import MinMaxScaling, PlattScaling
>>> rng = np.random.default_rng(0)
>>> s = rng.normal(size=4000)
>>> y = rng.random(4000) < 1 / (1 + np.exp(-(2 * s - 3)))     # true P(hit | s) = sigma(2 s - 3)
>>> naive = MinMaxScaling().fit(s[:2000], y[:2000]).predict(s[2000:])
>>> platt = PlattScaling().fit(s[:2000], y[:2000]).predict(s[2000:])
>>> bool(expected_calibration_error(platt, y[2000:]) < expected_calibration_error(naive, y[2000:]))
True
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_choice, check_positive_int
from coursekit.interactions import Interactions, check_same_universe
from coursekit.trust.calibrators import make_calibrator

if TYPE_CHECKING:
    from coursekit.models.base import Recommender

__all__ = ["hit_pairs", "split_users", "expected_calibration_error", "reliability_table", "brier_score",
           "calibration_report", "ece_change"]

STRATEGIES = ("uniform", "quantile")


# ---------------------------------------------------------------------------- checks
def _check_prob_labels(prob, labels) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(prob, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    if p.shape != y.shape:
        raise CourseKitError(f"probabilities and labels must have the same length, got {p.size} and {y.size}.")
    if p.size == 0:
        raise CourseKitError("no (probability, label) pairs: there is nothing to measure calibration on.")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise CourseKitError("probabilities must be finite and within [0, 1]; map scores to probabilities "
                             "first (e.g. PlattScaling().fit(scores, labels).predict(scores)).")
    if not np.isin(y, (0.0, 1.0)).all():
        raise CourseKitError("labels must be 0 (miss) or 1 (hit).")
    return p, y


# ---------------------------------------------------------------------------- pairs
def hit_pairs(model: Recommender, train: Interactions, test: Interactions, n: int = 50,
              users: ArrayLike | None = None) -> pd.DataFrame:
    r"""(score, hit) pairs from a fitted model's top-``n`` lists, one row per listed item.

    For each user :math:`u` (internal index) in ``users`` -- default: every user with training events
    and a held-out item not already in their training items, the warm users :func:`coursekit.evaluate`
    ranks -- the
    model's top-``n`` items :math:`i` (training items excluded, padding dropped) with

    .. math:: \text{hit}_{ui} = \mathbb{1}[\,i \in R_u\,], \qquad R_u = \text{test items of } u
              \setminus \text{train items of } u .

    Returns
    -------
    DataFrame with columns ``user`` (internal index), ``rank`` (0 = top), ``item`` (internal
    index), ``score``, ``hit`` (0/1).

    Examples
    --------
    >>> from coursekit.models import MostPopular
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 30, 20]})
    >>> inter = Interactions.from_frame(log)
    >>> train, test = inter.subset(np.array([1, 0, 1, 1, 1], bool)), inter.subset(np.array([0, 1, 0, 0, 0], bool))
    >>> hit_pairs(MostPopular().fit(train), train, test, n=2)[["user", "item", "hit"]].values.tolist()
    [[0, 1, 1], [0, 2, 0]]
    """
    from coursekit.evaluation import relevance_matrix

    n = check_positive_int(n, "n")
    check_same_universe(train, test)
    rel, _ = relevance_matrix(train, test)
    if users is None:
        users = np.nonzero((np.diff(rel.indptr) > 0) & (train.user_counts() > 0))[0]
    users = np.asarray(users, dtype=np.int64)
    idx, val = model.recommend_indices(users, n, exclude_seen=True)
    rank = np.broadcast_to(np.arange(idx.shape[1]), idx.shape)
    keep = idx >= 0
    u = np.broadcast_to(users[:, None], idx.shape)[keep]
    i = idx[keep]
    hit = np.asarray(rel[u, i]).ravel() > 0 if len(u) else np.zeros(0, bool)
    return pd.DataFrame({"user": u, "rank": rank[keep], "item": i, "score": val[keep], "hit": hit.astype(np.int64)})


def split_users(users: ArrayLike, frac: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split ``users`` at random into a calibration group (``frac``) and a held-out group (the rest).

    >>> a, b = split_users(np.arange(10), 0.3, seed=1)
    >>> len(a), len(b), sorted(np.r_[a, b].tolist()) == list(range(10))
    (3, 7, True)
    """
    users = np.unique(np.asarray(users))
    if not 0 < frac < 1:
        raise CourseKitError(f"frac must be strictly between 0 and 1, got {frac!r}.")
    perm = np.random.default_rng(seed).permutation(users)
    cut = int(round(frac * len(users)))
    return np.sort(perm[:cut]), np.sort(perm[cut:])


# ---------------------------------------------------------------------------- measures
def _bins(p: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    if strategy == "uniform":
        return np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    order = np.argsort(p, kind="stable")
    b = np.empty(p.size, dtype=np.int64)
    b[order] = (np.arange(p.size) * n_bins) // p.size
    return b


def reliability_table(prob: ArrayLike, labels: ArrayLike, n_bins: int = 10, strategy: str = "uniform") -> pd.DataFrame:
    r"""Per bin of predicted probability: how many pairs, their mean prediction and their hit rate.

    ``strategy="uniform"``: equal-width bins :math:`B_b = [b/B, (b+1)/B)` (the last one closed);
    ``"quantile"``: equal-mass bins (the pairs sorted by probability, cut into :math:`B` groups of
    :math:`\lfloor n/B \rfloor` or :math:`\lceil n/B \rceil`; equal probabilities may land in two
    neighbouring bins). Empty bins are left out.

    Returns
    -------
    DataFrame with ``bin, count, mean_prob, hit_rate, lower, upper`` (``lower``/``upper``: the
    smallest and largest probability in the bin).

    >>> t = reliability_table([0.1, 0.15, 0.9], [0, 1, 1], n_bins=2)
    >>> t[["bin", "count", "mean_prob", "hit_rate"]].values.tolist()
    [[0.0, 2.0, 0.125, 0.5], [1.0, 1.0, 0.9, 1.0]]
    """
    p, y = _check_prob_labels(prob, labels)
    n_bins = check_positive_int(n_bins, "n_bins")
    check_choice(strategy, "strategy", STRATEGIES)
    b = _bins(p, n_bins, strategy)
    count = np.bincount(b, minlength=n_bins)
    keep = count > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(b, weights=p, minlength=n_bins) / count
        rate = np.bincount(b, weights=y, minlength=n_bins) / count
    lower = np.full(n_bins, np.inf)
    upper = np.full(n_bins, -np.inf)
    np.minimum.at(lower, b, p)
    np.maximum.at(upper, b, p)
    return pd.DataFrame({"bin": np.arange(n_bins)[keep], "count": count[keep], "mean_prob": mean_p[keep],
                         "hit_rate": rate[keep], "lower": lower[keep], "upper": upper[keep]})


def expected_calibration_error(prob: ArrayLike, labels: ArrayLike, n_bins: int = 10,
                               strategy: str = "uniform") -> float:
    r"""Expected calibration error: the size-weighted mean gap between confidence and hit rate.

    With the pairs grouped into bins :math:`B_1, \dots, B_M` of predicted probability (equal width
    or equal mass, see :func:`reliability_table`), :math:`n` pairs in all,

    .. math::

        \mathrm{ECE} = \sum_{b=1}^{M} \frac{|B_b|}{n}\,
        \Bigl|\, \underbrace{\tfrac{1}{|B_b|}\textstyle\sum_{j \in B_b} y_j}_{\text{hit rate}}
        - \underbrace{\tfrac{1}{|B_b|}\textstyle\sum_{j \in B_b} p_j}_{\text{confidence}} \Bigr|

    (Naeini et al. 2015; Guo et al. 2017). 0 = perfectly calibrated on these bins. Weighting by
    :math:`|B_b|/n` matters: an unweighted mean over bins lets a bin of 3 pairs count as much as one
    of 30 000. ECE depends on the binning; report it with the bins used.

    >>> # bin [0, .5): p = .1, .2 -> conf .15, hits 1/2; bin [.5, 1]: p = .8 -> conf .8, hit 1
    >>> round(expected_calibration_error([0.1, 0.2, 0.8], [0, 1, 1], n_bins=2), 6)   # 2/3 * .35 + 1/3 * .2
    0.3
    """
    t = reliability_table(prob, labels, n_bins, strategy)
    return float((t["count"] * (t["hit_rate"] - t["mean_prob"]).abs()).sum() / t["count"].sum())


def ece_change(prob_before: ArrayLike, prob_after: ArrayLike, labels: ArrayLike, n_bins: int = 10,
               strategy: str = "uniform", n_boot: int = 200, seed: int = 0) -> tuple[float, float]:
    r"""ECE after minus ECE before, on the same held-out pairs, with a paired bootstrap standard error.

    ECE is one number per set of pairs, not a per-pair value, so its uncertainty comes from
    resampling the pairs (the same resample for both probability vectors). The SE is the standard
    deviation of the ``n_boot`` resampled differences; pairs of the same user are treated as
    independent, so it is a little optimistic. A claim is then
    ``coursekit.claims.threshold(diff, se, 0.0, "ECE change", what="no change", expect="below")``.

    Returns
    -------
    (difference, se) : floats, ``ECE(after) - ECE(before)`` (negative = calibration improved).

    >>> rng = np.random.default_rng(0)
    >>> y = rng.random(2000) < 0.2
    >>> diff, se = ece_change(np.full(2000, 0.6), np.full(2000, 0.2), y)
    >>> bool(diff < -2 * se)
    True
    """
    pa, y = _check_prob_labels(prob_before, labels)
    pb, _ = _check_prob_labels(prob_after, labels)
    if pa.shape != pb.shape:
        raise CourseKitError(f"prob_before and prob_after must score the same pairs, got {pa.size} and {pb.size} "
                             "values.")
    n_boot = check_positive_int(n_boot, "n_boot")
    diff = expected_calibration_error(pb, y, n_bins, strategy) - expected_calibration_error(pa, y, n_bins, strategy)
    if y.size < 2:
        return float(diff), float("nan")
    rng = np.random.default_rng(seed)
    boot = np.empty(n_boot)
    for r in range(n_boot):
        idx = rng.integers(0, y.size, y.size)
        boot[r] = (expected_calibration_error(pb[idx], y[idx], n_bins, strategy)
                   - expected_calibration_error(pa[idx], y[idx], n_bins, strategy))
    return float(diff), float(boot.std(ddof=1))


def brier_score(prob: ArrayLike, labels: ArrayLike) -> float:
    r"""Mean squared error of the probabilities, :math:`\frac1n \sum_j (p_j - y_j)^2` (lower is better).

    >>> brier_score([1.0, 0.5], [1, 0])
    0.125
    """
    p, y = _check_prob_labels(prob, labels)
    return float(np.mean((p - y) ** 2))


# ---------------------------------------------------------------------------- report
def calibration_report(pairs: pd.DataFrame, methods: Sequence[str] = ("minmax", "platt", "isotonic"), frac: float = 0.5,
                       seed: int = 0, n_bins: int = 10) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    r"""Fit each calibrator on the calibration users' pairs, measure on the held-out users' pairs.

    The users of ``pairs`` (from :func:`hit_pairs`) are split by :func:`split_users`; every method is
    fitted on the first group and evaluated on the second, so no held-out pair is used for fitting.

    Returns
    -------
    table : DataFrame, one row per method
        ``method, ece, ece_equal_mass, brier, mean_prob, hit_rate, n_fit, n_eval`` (on held-out pairs;
        ``ece`` with ``n_bins`` equal-width bins, ``ece_equal_mass`` with equal-mass bins).
    probs : dict
        The held-out probabilities per method, plus ``"labels"`` (for the reliability diagram).
    """
    need = {"user", "score", "hit"}
    if not need <= set(pairs.columns):
        raise CourseKitError(f"pairs needs columns {sorted(need)} (from hit_pairs), got {list(pairs.columns)}.")
    fit_users, eval_users = split_users(pairs["user"].to_numpy(), frac, seed)
    on_fit = pairs["user"].isin(fit_users).to_numpy()
    s, y = pairs["score"].to_numpy(), pairs["hit"].to_numpy()
    rows, probs = [], {"labels": y[~on_fit]}
    for m in methods:
        p = make_calibrator(m).fit(s[on_fit], y[on_fit]).predict(s[~on_fit])
        probs[m] = p
        rows.append({"method": m, "ece": expected_calibration_error(p, y[~on_fit], n_bins, "uniform"),
                     "ece_equal_mass": expected_calibration_error(p, y[~on_fit], n_bins, "quantile"),
                     "brier": brier_score(p, y[~on_fit]), "mean_prob": float(p.mean()),
                     "hit_rate": float(y[~on_fit].mean()), "n_fit": int(on_fit.sum()), "n_eval": int((~on_fit).sum())})
    return pd.DataFrame(rows), probs
