"""Recommenders sharing one API (:class:`Recommender`): fit, score, recommend.

Every model is registered with :data:`CONTRACT_CASES` so that the shared contract test
suite (:mod:`coursekit.models.contract`) runs against it.
"""
from coursekit.models.base import PAD_ID, Recommender, top_k
from coursekit.models.baselines import MostPopular, RandomRecommender, RecencyPopular
from coursekit.models.registry import CONTRACT_CASES, register_contract_case

register_contract_case("RandomRecommender", lambda: RandomRecommender(seed=3))
register_contract_case("MostPopular", MostPopular)
register_contract_case("RecencyPopular", lambda: RecencyPopular(half_life_days=10.0))

__all__ = [
    "PAD_ID", "Recommender", "top_k", "MostPopular", "RandomRecommender", "RecencyPopular",
    "CONTRACT_CASES", "register_contract_case",
]
