"""Recommenders sharing one API (:class:`Recommender`): fit, score, recommend, and optional abilities.

Every model here passes the shared contract suite (:mod:`coursekit.models.contract`), which a
model of your own can run too::

    from coursekit.models.contract import run_contract
    run_contract(lambda: MyModel(factors=8))   # AssertionError naming the first broken rule

The repository's tests list their cases in ``tests/contract_cases.py`` with
:func:`register_contract_case`.
"""
from coursekit.models.base import CAPABILITIES, Recommender, clone
from coursekit.models.baselines import BaselineOnly, MostPopular, RandomRecommender, RecencyPopular
from coursekit.models.bpr import BPR
from coursekit.models.content import ProfileRecommender
from coursekit.models.ease import EASE
from coursekit.models.factorization import BiasedMF
from coursekit.models.ials import IALS
from coursekit.models.mmr import MMRReranker
from coursekit.models.neighbors import ItemKNN, UserKNN
from coursekit.models.ranking import PAD_ID, top_k
from coursekit.models.registry import CONTRACT_CASES, register_contract_case
from coursekit.models.rerank import TwoStageRecommender
from coursekit.models.sequential import BERT4Rec, SASRec
from coursekit.models.two_tower import TwoTower

__all__ = [
    "CAPABILITIES", "PAD_ID", "Recommender", "clone", "top_k",
    "MostPopular", "RandomRecommender", "RecencyPopular",
    "IALS", "BPR", "EASE", "ItemKNN", "UserKNN", "BaselineOnly", "BiasedMF",
    "ProfileRecommender", "TwoTower", "TwoStageRecommender", "SASRec", "BERT4Rec", "MMRReranker",
    "CONTRACT_CASES", "register_contract_case",
]
