"""The models the shared contract suite checks (small, fast instances), by name.

``tests/test_model_contract.py`` runs every check of :mod:`coursekit.models.contract` against
every factory here. A factory returns a new, unfitted model; the data is
:func:`coursekit.models.contract_fixtures.contract_data` (users 1..30 and the cold user, items 100..139 and
the cold item). Add a model here with :func:`coursekit.models.register_contract_case`.
"""
from __future__ import annotations

import numpy as np

from coursekit.models import (
    BPR,
    EASE,
    IALS,
    BaselineOnly,
    BERT4Rec,
    BiasedMF,
    ItemKNN,
    MMRReranker,
    MostPopular,
    ProfileRecommender,
    RandomRecommender,
    RecencyPopular,
    SASRec,
    TwoStageRecommender,
    TwoTower,
    UserKNN,
    register_contract_case,
)
from coursekit.models.contract_fixtures import COLD_ITEM
from coursekit.models.registry import CONTRACT_CASES

__all__ = ["CONTRACT_CASES", "contract_item_vectors"]


def contract_item_vectors(dim: int = 8, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Random item vectors ``(ids, array)`` for the contract data's items (100..139 and the cold item)."""
    ids = np.r_[np.arange(100, 140), COLD_ITEM]
    return ids, np.random.default_rng(seed).normal(size=(len(ids), dim)).astype(np.float32)


def two_stage_case(n_candidates: int = 6) -> TwoStageRecommender:
    """A tiny iALS retriever and a tiny random BERT cross-encoder over made-up item texts."""
    from coursekit.text.cross_encoder import CrossEncoder

    words = ["red", "blue", "green", "wool", "oak", "steel", "soft", "sleek"]
    ids = [*range(100, 140), COLD_ITEM]
    texts = {i: f"item {i}: {words[i % 8]} {words[(i // 8) % 8]} thing" for i in ids}
    reranker = CrossEncoder.tiny(seed=0, hidden_size=16, num_layers=1, intermediate_size=32, max_length=32)
    return TwoStageRecommender(IALS(factors=8, iterations=3, seed=1), reranker, n_candidates=n_candidates,
                               item_texts=texts, history_size=5, max_history_words=20)


def revenue_case() -> object:
    """An iALS base re-ranked by price: prices 5..200 for the contract items (the cold item included)."""
    import pandas as pd

    from coursekit.business.revenue import RevenueReranker

    ids = np.r_[np.arange(100, 140), COLD_ITEM]
    prices = pd.Series(np.round(np.exp(np.random.default_rng(7).uniform(np.log(5), np.log(200), len(ids))), 2),
                       index=ids, name="price")
    return RevenueReranker(IALS(factors=8, iterations=3, seed=1), prices, gamma=0.7, n_candidates=10)


def _coldstart_case(name: str, **kwargs):
    def factory():
        import coursekit.coldstart as cs

        return getattr(cs, name)(contract_item_vectors(), **kwargs)

    return factory


# baselines
register_contract_case("RandomRecommender", lambda: RandomRecommender(seed=3))
register_contract_case("MostPopular", MostPopular)
register_contract_case("RecencyPopular", lambda: RecencyPopular(half_life_days=10.0))
# implicit feedback
register_contract_case("IALS", lambda: IALS(factors=8, iterations=5, seed=1))
register_contract_case("IALS-cholesky", lambda: IALS(factors=8, iterations=3, solver="cholesky", seed=1))
register_contract_case("BPR", lambda: BPR(factors=8, epochs=5, batch_size=64, device="cpu", seed=1))
register_contract_case("EASE", lambda: EASE(reg=10.0))
# neighbourhoods
register_contract_case("ItemKNN", lambda: ItemKNN(k=10))
register_contract_case("ItemKNN-explicit", lambda: ItemKNN(k=10, similarity="pearson", shrinkage=2.0,
                                                           feedback="explicit"))
register_contract_case("UserKNN", lambda: UserKNN(k=10, similarity="jaccard"))
register_contract_case("UserKNN-explicit", lambda: UserKNN(k=10, similarity="adjusted_cosine", feedback="explicit"))
# explicit ratings
register_contract_case("BaselineOnly", lambda: BaselineOnly(reg=5.0, n_epochs=5))
register_contract_case("BiasedMF-sgd", lambda: BiasedMF(factors=4, n_epochs=5, solver="sgd", seed=1))
register_contract_case("BiasedMF-als", lambda: BiasedMF(factors=4, n_epochs=5, solver="als", seed=1))
# content and text
register_contract_case("ProfileRecommender", lambda: ProfileRecommender(contract_item_vectors()))
register_contract_case("ProfileRecommender-rating", lambda: ProfileRecommender(contract_item_vectors(),
                                                                               weighting="rating"))
register_contract_case("ProfileRecommender-recency", lambda: ProfileRecommender(contract_item_vectors(),
                                                                                weighting="recency"))
register_contract_case("TwoTower", lambda: TwoTower(contract_item_vectors(), dim=8, epochs=2, batch_size=32,
                                                    temperature=0.1, device="cpu", seed=1))
register_contract_case("TwoTower-mlp-ids", lambda: TwoTower(contract_item_vectors(), dim=8, adaptor="mlp", hidden=16,
                                                            id_embedding=True, user_embedding=True,
                                                            logq_correction=True, epochs=2, batch_size=32,
                                                            device="cpu", seed=1))
register_contract_case("TwoStageRecommender", two_stage_case)
# sequences
register_contract_case("SASRec", lambda: SASRec(dim=16, n_layers=1, n_heads=2, max_len=8, epochs=2,
                                                batch_size=16, device="cpu", num_threads=1, seed=1))
register_contract_case("BERT4Rec", lambda: BERT4Rec(dim=16, n_layers=1, n_heads=2, max_len=8, epochs=2,
                                                    batch_size=16, device="cpu", num_threads=1, seed=1))
# diversity re-ranking
register_contract_case("MMRReranker", lambda: MMRReranker(IALS(factors=8, iterations=3, seed=1), lam=0.5,
                                                          n_candidates=10))
register_contract_case("MMRReranker-cooccurrence", lambda: MMRReranker(ItemKNN(k=10), lam=0.3, n_candidates=15,
                                                                       item_vectors="cooccurrence"))
# business: revenue-aware re-ranking
register_contract_case("RevenueReranker", revenue_case)
# cold start
register_contract_case("AttributeToFactor-ridge", _coldstart_case("AttributeToFactor", factors=8, iterations=3,
                                                                  seed=1))
register_contract_case("AttributeToFactor-mlp", _coldstart_case("AttributeToFactor", mapper="mlp", map_reg=1e-3,
                                                                hidden=16, max_iter=20, factors=8, iterations=3,
                                                                seed=1))
register_contract_case("DropoutNet", _coldstart_case("DropoutNet", dim=8, hidden=16, steps=20, batch_users=16,
                                                     batch_items=16, factors=8, iterations=3, seed=1))
register_contract_case("CountGatedHybrid", _coldstart_case("CountGatedHybrid", kappa=5.0, factors=8, iterations=3,
                                                           seed=1))
register_contract_case("CountGatedHybrid-learned", _coldstart_case("CountGatedHybrid", gate="learned",
                                                                   kappas=(1.0, 10.0), factors=8, iterations=3,
                                                                   seed=1))


# the whole system (lesson 08): HNSW retrieval, tiny cross-encoder, MMR, content vectors for the cold item
def system_case() -> object:
    """RecommenderSystem with every stage on: iALS + HNSW, a tiny random cross-encoder, MMR, item features."""
    from coursekit.system import RecommenderSystem

    two_stage = two_stage_case()
    return RecommenderSystem(IALS(factors=8, iterations=3, seed=1), reranker=two_stage.reranker,
                             item_texts=two_stage.item_texts, n_candidates=8, fusion_weight=1.0, lam=0.7,
                             ann="hnsw", M=8, ef_search=16, item_features=contract_item_vectors(), history_size=5,
                             max_history_words=20)


register_contract_case("RecommenderSystem", system_case)
