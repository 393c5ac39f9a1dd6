r"""Trust signals (lesson 07): calibrated confidence, diversity re-ranking, "not interested" feedback.

* :mod:`coursekit.trust.calibration` -- (score, hit) pairs from a model's lists, expected calibration
  error, reliability tables, the before/after report.
* :mod:`coursekit.trust.calibrators` -- min-max, Platt, isotonic and temperature calibrators.
* :mod:`coursekit.trust.diversity` -- with MMR re-ranking (:mod:`coursekit.models.mmr`, a function and a
  ``Recommender`` wrapper), the lambda sweep of accuracy vs. intra-list diversity and coverage, the knee of the curve.
* :mod:`coursekit.trust.feedback` -- :class:`NotInterested`, a dismissal applied through the online
  updater (:mod:`coursekit.stream.online`).
* :mod:`coursekit.trust.plots` -- reliability diagram and trade-off plot.

Regret, the other trust number of lesson 07, is not re-implemented here: it is defined in the
cold-start lesson (06, :mod:`coursekit.coldstart.bandits`) as the *expected reward lost against
the best arm*, :math:`R_T = \sum_{t=1}^{T} (\mu^\star - \mu_{a_t})`, a cumulative loss that should
grow sub-linearly -- not an accuracy score.
"""
from coursekit.models.mmr import MMRReranker, cooccurrence_vectors, mmr_rerank, unit_vectors
from coursekit.trust.calibration import (
                                         brier_score,
                                         calibration_report,
                                         ece_change,
                                         expected_calibration_error,
                                         hit_pairs,
                                         reliability_table,
                                         split_users,
)
from coursekit.trust.calibrators import (
                                         CALIBRATORS,
                                         Calibrator,
                                         IsotonicCalibration,
                                         MinMaxScaling,
                                         PlattScaling,
                                         TemperatureScaling,
                                         make_calibrator,
)
from coursekit.trust.diversity import coverage_change, diversity_sweep, indicator_vectors, knee_point
from coursekit.trust.feedback import NotInterested, dismissal_effect

__all__ = [
    "hit_pairs", "split_users", "expected_calibration_error", "reliability_table", "brier_score",
    "Calibrator", "MinMaxScaling", "PlattScaling", "IsotonicCalibration", "TemperatureScaling", "make_calibrator",
    "CALIBRATORS", "calibration_report", "ece_change", "mmr_rerank", "MMRReranker", "diversity_sweep", "knee_point",
    "unit_vectors", "cooccurrence_vectors", "indicator_vectors", "NotInterested", "dismissal_effect", "coverage_change",
]
