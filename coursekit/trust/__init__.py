r"""Trust signals (issue 8, section 3): calibrated confidence, diversity re-ranking, "not interested" feedback.

* :mod:`coursekit.trust.calibration` -- (score, hit) pairs from a model's lists, Platt / isotonic /
  temperature calibrators, expected calibration error, reliability tables.
* :mod:`coursekit.trust.diversity` -- MMR re-ranking (a function and a ``Recommender`` wrapper),
  the lambda sweep of accuracy vs. intra-list diversity and coverage, the knee of the curve.
* :mod:`coursekit.trust.feedback` -- :class:`NotInterested`, a dismissal applied through the online
  updater (:mod:`coursekit.stream.online`).
* :mod:`coursekit.trust.plots` -- reliability diagram and trade-off plot.

Regret, the other trust number of lesson 07, is not re-implemented here: it is defined in the
cold-start lesson (06, :mod:`coursekit.coldstart.bandits`) as the *expected reward lost against
the best arm*, :math:`R_T = \sum_{t=1}^{T} (\mu^\star - \mu_{a_t})`, a cumulative loss that should
grow sub-linearly -- not an accuracy score.
"""
from coursekit.trust.calibration import (CALIBRATORS, IsotonicCalibration, MinMaxScaling, PlattScaling,
                                         TemperatureScaling, brier_score, calibration_report, ece_change,
                                         expected_calibration_error, hit_pairs, make_calibrator, reliability_table,
                                         split_users)
from coursekit.trust.diversity import (MMRReranker, cooccurrence_vectors, coverage_change, indicator_vectors,
                                       diversity_sweep, knee_point, mmr_rerank, unit_vectors)
from coursekit.trust.feedback import NotInterested, dismissal_effect

__all__ = [
    "hit_pairs", "split_users", "expected_calibration_error", "reliability_table", "brier_score",
    "MinMaxScaling", "PlattScaling", "IsotonicCalibration", "TemperatureScaling", "make_calibrator", "CALIBRATORS",
    "calibration_report", "ece_change", "mmr_rerank", "MMRReranker", "diversity_sweep", "knee_point", "unit_vectors",
    "cooccurrence_vectors", "indicator_vectors", "NotInterested", "dismissal_effect", "coverage_change",
]
