r"""Calibrators: maps from a recommender's scores to a probability of a hit, :math:`p = g(s)`.

Each is fitted on (score, hit) pairs of calibration users (:func:`coursekit.trust.hit_pairs`) and
then applied to other users' scores (:func:`coursekit.trust.calibration_report`):

* :class:`MinMaxScaling` -- the naive "score as probability", the uncalibrated baseline;
* :class:`PlattScaling` -- :math:`g(s) = \sigma(a s + b)`, a one-feature logistic regression;
* :class:`IsotonicCalibration` -- the best non-decreasing step function;
* :class:`TemperatureScaling` -- :math:`g(z) = \sigma(z / T)` for a logit (``fit=False``: the plain sigmoid).

All share one interface (:class:`Calibrator`): ``fit(scores, labels) -> self`` and
``predict(scores) -> probabilities`` in :math:`[0, 1]`; :func:`make_calibrator` builds one by name.

>>> make_calibrator("platt").fit([0.0, 0.0, 1.0, 1.0], [0, 1, 1, 1]).predict([0.0]).round(2).tolist()
[0.5]
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_choice

__all__ = ["Calibrator", "MinMaxScaling", "PlattScaling", "IsotonicCalibration", "TemperatureScaling",
           "CALIBRATORS", "make_calibrator"]


def _check_scores_labels(scores, labels=None) -> tuple[np.ndarray, np.ndarray | None]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    if not np.isfinite(s).all():
        raise CourseKitError("scores must be finite (drop padding entries with score -inf first).")
    if labels is None:
        return s, None
    y = np.asarray(labels, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise CourseKitError(f"scores and labels must have the same length, got {s.size} and {y.size}.")
    if not np.isin(y, (0.0, 1.0)).all():
        raise CourseKitError("labels must be 0 (miss) or 1 (hit).")
    if s.size == 0:
        raise CourseKitError("cannot fit a calibrator on zero pairs.")
    return s, y


class Calibrator:
    """Interface: ``fit(scores, labels) -> self``, ``predict(scores) -> probabilities``."""

    def fit(self, scores: ArrayLike, labels: ArrayLike) -> Calibrator:
        """Fit on calibration pairs: ``scores`` (finite) and ``labels`` (0 = miss, 1 = hit)."""
        s, y = _check_scores_labels(scores, labels)
        self._fit(s, y)
        self.fitted_ = True
        return self

    def predict(self, scores: ArrayLike) -> np.ndarray:
        """Probabilities of a hit, clipped to :math:`[0, 1]`, for finite ``scores``."""
        if not getattr(self, "fitted_", False):
            raise CourseKitError(f"{type(self).__name__} is not fitted yet: call .fit(scores, labels) first.")
        s, _ = _check_scores_labels(scores)
        return np.clip(self._predict(s), 0.0, 1.0)

    def _fit(self, s: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def _predict(self, s: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MinMaxScaling(Calibrator):
    r"""The naive "score as probability": :math:`p = \mathrm{clip}((s - s_{min}) / (s_{max} - s_{min}), 0, 1)`.

    :math:`s_{min}, s_{max}` are the smallest and largest calibration scores; labels are ignored.
    This is the uncalibrated baseline ("before").

    >>> MinMaxScaling().fit([1.0, 3.0], [0, 1]).predict([2.0, 5.0]).tolist()
    [0.5, 1.0]
    """

    def _fit(self, s, y):
        self.low_, self.high_ = float(s.min()), float(s.max())

    def _predict(self, s):
        span = self.high_ - self.low_
        return (s - self.low_) / span if span > 0 else np.full(s.shape, 0.5)


class PlattScaling(Calibrator):
    r"""Platt scaling: :math:`p = \sigma(a s + b)`, fitted by logistic regression on the score.

    :math:`(a, b)` minimise the log loss on the calibration pairs (scikit-learn's
    ``LogisticRegression`` with a negligible L2 penalty, ``C=1e6``). Monotone, two parameters:
    cannot over-fit, but can only bend the scores along a sigmoid.

    >>> PlattScaling().fit([0, 0, 1, 1], [0, 1, 1, 1]).predict([0.0, 1.0]).round(2).tolist()
    [0.5, 1.0]
    """

    def _fit(self, s, y):
        from sklearn.linear_model import LogisticRegression

        if y.min() == y.max():
            raise CourseKitError("Platt scaling needs both hits and misses among the calibration pairs.")
        self.center_, self.scale_ = float(s.mean()), float(s.std()) or 1.0
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(((s - self.center_) / self.scale_)[:, None], y)
        self.a_ = float(lr.coef_[0, 0]) / self.scale_
        self.b_ = float(lr.intercept_[0]) - self.a_ * self.center_

    def _predict(self, s):
        return 1.0 / (1.0 + np.exp(-(self.a_ * s + self.b_)))


class IsotonicCalibration(Calibrator):
    r"""Isotonic regression: the non-decreasing step function :math:`g` minimising :math:`\sum_j (g(s_j) - y_j)^2`.

    (Zadrozny & Elkan 2002; scikit-learn's ``IsotonicRegression``, pool-adjacent-violators.) Scores
    outside the calibration range are clipped to it. Flexible: needs more pairs than Platt.

    >>> IsotonicCalibration().fit([1, 2, 3, 4], [0, 1, 0, 1]).predict([1, 2.5, 4]).tolist()
    [0.0, 0.5, 1.0]
    """

    def _fit(self, s, y):
        from sklearn.isotonic import IsotonicRegression

        self.iso_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, y)

    def _predict(self, s):
        return self.iso_.predict(s)


class TemperatureScaling(Calibrator):
    r"""Temperature scaling of a logit: :math:`p = \sigma(z / T)`, one parameter :math:`T > 0`.

    :math:`T` minimises the log loss :math:`-\frac1n\sum_j [y_j \log p_j + (1-y_j)\log(1-p_j)]` on the
    calibration pairs (bounded scalar search over :math:`\log T \in [-5, 5]`; Guo et al. 2017).
    :math:`T > 1` softens over-confident logits. It only rescales: it cannot move the 0.5 point, so a
    model trained on balanced positives/negatives but used where hits are rare keeps part of its
    bias (Platt's extra offset :math:`b` can fix that). ``fit=False`` gives the plain sigmoid
    (:math:`T = 1`), the "before" for logits.

    >>> round(TemperatureScaling().fit([4.0, 4.0, -4.0, -4.0], [1, 0, 0, 1]).temperature_, 0) >= 100
    True
    """

    def __init__(self, fit: bool = True):
        self.do_fit = fit

    def _fit(self, s, y):
        from scipy.optimize import minimize_scalar

        if not self.do_fit:
            self.temperature_ = 1.0
            return

        def nll(log_t: float) -> float:
            z = s / np.exp(log_t)
            return float(np.mean(np.logaddexp(0.0, z) - y * z))   # -log sigma(z) for y=1, -log(1-sigma) for 0

        self.temperature_ = float(np.exp(minimize_scalar(nll, bounds=(-5.0, 5.0), method="bounded").x))

    def _predict(self, s):
        return 1.0 / (1.0 + np.exp(-s / self.temperature_))


CALIBRATORS = {"minmax": MinMaxScaling, "platt": PlattScaling, "isotonic": IsotonicCalibration,
               "temperature": TemperatureScaling, "sigmoid": lambda: TemperatureScaling(fit=False)}


def make_calibrator(kind: str) -> Calibrator:
    """A new calibrator by name: ``"minmax"`` (naive), ``"platt"``, ``"isotonic"``, ``"temperature"``, ``"sigmoid"``."""
    check_choice(kind, "kind", list(CALIBRATORS))
    return CALIBRATORS[kind]()
