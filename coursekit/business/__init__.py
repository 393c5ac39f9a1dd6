r"""Recommenders in business (lesson 08): what a model earns when customers see it.

* :mod:`coursekit.business.prices` -- a price per shop item (revenue = price x purchase).
* :mod:`coursekit.business.environment` -- :class:`OnlineShop`: arrivals, a position-based click
  model on the shop's ground truth, sampled impression logs; policies from models or at random.
* :mod:`coursekit.business.abtest` -- A/B test statistics: hash assignment, Welch and delta-method
  tests, sample size and power, CUPED.
* :mod:`coursekit.business.false_positives` -- A/A and peeking false-positive rates, mSPRT p-values.
* :mod:`coursekit.business.logged_bandit` -- a logged banner bandit on the shop, with its exact expected rewards.
* :mod:`coursekit.business.ope` -- off-policy evaluation of such a log (IPS, SNIPS, clipped IPS, DM, DR).
* :mod:`coursekit.business.revenue` -- revenue-aware re-ranking (:class:`RevenueReranker`).
* :mod:`coursekit.business.guardrails` -- coverage, new-item share and diversity guardrails of slates.
"""
from coursekit.business.abtest import (
                                       assign_arms,
                                       binomial_ci,
                                       cuped,
                                       difference,
                                       per_user,
                                       power,
                                       ratio_difference,
                                       sample_size,
)
from coursekit.business.environment import (
    OnlineShop,
    examination_probabilities,
    fixed_policy,
    random_policy,
    recommender_policy,
)
from coursekit.business.false_positives import (
                                                aa_false_positive_rate,
                                                bernoulli_outcomes,
                                                msprt_p_values,
                                                peeking_false_positive_rate,
)
from coursekit.business.guardrails import guardrails
from coursekit.business.ope import (
                                    ESTIMATORS,
                                    LoggedBandit,
                                    clipped_ips,
                                    direct_method,
                                    doubly_robust,
                                    gather_scores,
                                    greedy_probs,
                                    importance_weights,
                                    ips,
                                    ope_study,
                                    popularity_scores,
                                    reward_model,
                                    simulate_log,
                                    snips,
                                    softmax_probs,
                                    true_value,
                                    uniform_probs,
)
from coursekit.business.prices import BAND_MEDIANS, item_prices
from coursekit.business.revenue import RevenueReranker, revenue_rerank

__all__ = [
    "item_prices", "BAND_MEDIANS", "OnlineShop", "examination_probabilities", "recommender_policy", "random_policy",
    "fixed_policy",
    "assign_arms", "per_user", "difference", "ratio_difference", "sample_size", "power", "binomial_ci",
    "aa_false_positive_rate", "bernoulli_outcomes", "peeking_false_positive_rate", "msprt_p_values", "cuped",
    "LoggedBandit", "simulate_log", "popularity_scores", "gather_scores", "softmax_probs", "greedy_probs",
    "uniform_probs", "importance_weights", "ips", "snips", "clipped_ips", "direct_method", "doubly_robust",
    "true_value", "reward_model", "ESTIMATORS", "ope_study", "revenue_rerank", "RevenueReranker", "guardrails",
]
