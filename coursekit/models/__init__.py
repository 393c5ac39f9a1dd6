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

# implicit-feedback models (issue 4, H6)
from coursekit.models.ials import IALS  # noqa: E402
from coursekit.models.bpr import BPR  # noqa: E402
from coursekit.models.ease import EASE  # noqa: E402

register_contract_case("IALS", lambda: IALS(factors=8, iterations=5, seed=1))
register_contract_case("IALS-cholesky", lambda: IALS(factors=8, iterations=3, solver="cholesky", seed=1))
register_contract_case("BPR", lambda: BPR(factors=8, epochs=5, batch_size=64, device="cpu", seed=1))
register_contract_case("EASE", lambda: EASE(reg=10.0))
__all__ += ["IALS", "BPR", "EASE"]

# neighbourhood models (issue 4, H4)
from coursekit.models.neighbors import ItemKNN, UserKNN  # noqa: E402

register_contract_case("ItemKNN", lambda: ItemKNN(k=10))
register_contract_case("ItemKNN-explicit", lambda: ItemKNN(k=10, similarity="pearson", shrinkage=2.0, feedback="explicit"))
register_contract_case("UserKNN", lambda: UserKNN(k=10, similarity="jaccard"))
register_contract_case("UserKNN-explicit", lambda: UserKNN(k=10, similarity="adjusted_cosine", feedback="explicit"))
__all__ += ["ItemKNN", "UserKNN"]

# explicit-feedback models (issue 4, H5)
from coursekit.models.factorization import BaselineOnly, BiasedMF  # noqa: E402

register_contract_case("BaselineOnly", lambda: BaselineOnly(reg=5.0, n_epochs=5))
register_contract_case("BiasedMF-sgd", lambda: BiasedMF(factors=4, n_epochs=5, solver="sgd", seed=1))
register_contract_case("BiasedMF-als", lambda: BiasedMF(factors=4, n_epochs=5, solver="als", seed=1))
__all__ += ["BaselineOnly", "BiasedMF"]

# text / content models (issue 5, H9): item vectors for the contract data's items 100..139 and 90000
from coursekit.models.content import ProfileRecommender  # noqa: E402
from coursekit.models.two_tower import TwoTower  # noqa: E402


def _contract_item_vectors(dim: int = 8, seed: int = 5):
    import numpy as _np

    ids = _np.r_[_np.arange(100, 140), 90_000]
    return ids, _np.random.default_rng(seed).normal(size=(len(ids), dim)).astype(_np.float32)


register_contract_case("ProfileRecommender", lambda: ProfileRecommender(_contract_item_vectors()))
register_contract_case("ProfileRecommender-rating", lambda: ProfileRecommender(_contract_item_vectors(), weighting="rating"))
register_contract_case("ProfileRecommender-recency", lambda: ProfileRecommender(_contract_item_vectors(), weighting="recency"))
register_contract_case("TwoTower", lambda: TwoTower(_contract_item_vectors(), dim=8, epochs=2, batch_size=32,
                                                    temperature=0.1, device="cpu", seed=1))
register_contract_case("TwoTower-mlp-ids", lambda: TwoTower(_contract_item_vectors(), dim=8, adaptor="mlp", hidden=16,
                                                            id_embedding=True, user_embedding=True, logq_correction=True,
                                                            epochs=2, batch_size=32, device="cpu", seed=1))
__all__ += ["ProfileRecommender", "TwoTower"]

# two-stage retrieval + cross-encoder re-ranking (issue 5, H10); torch/transformers load only when used
from coursekit.models.rerank import TwoStageRecommender  # noqa: E402


def _two_stage_contract_case():
    from coursekit.models.rerank import contract_case

    return contract_case()


register_contract_case("TwoStageRecommender", _two_stage_contract_case)
__all__ += ["TwoStageRecommender"]

# sequential models (issue 6, H11); torch is imported inside their functions only
from coursekit.models.sequential import BERT4Rec, SASRec  # noqa: E402

register_contract_case("SASRec", lambda: SASRec(dim=16, n_layers=1, n_heads=2, max_len=8, epochs=2,
                                                batch_size=16, device="cpu", num_threads=1, seed=1))
register_contract_case("BERT4Rec", lambda: BERT4Rec(dim=16, n_layers=1, n_heads=2, max_len=8, epochs=2,
                                                    batch_size=16, device="cpu", num_threads=1, seed=1))
__all__ += ["SASRec", "BERT4Rec"]

# diversity re-ranking wrapper (issue 8, trust signals): imported lazily, coursekit.trust depends on coursekit.models


def _mmr_contract_case():
    from coursekit.trust.diversity import MMRReranker

    return MMRReranker(IALS(factors=8, iterations=3, seed=1), lam=0.5, n_candidates=10)


def _mmr_cooccurrence_contract_case():
    from coursekit.trust.diversity import MMRReranker

    return MMRReranker(ItemKNN(k=10), lam=0.3, n_candidates=15, item_vectors="cooccurrence")


register_contract_case("MMRReranker", _mmr_contract_case)
register_contract_case("MMRReranker-cooccurrence", _mmr_cooccurrence_contract_case)

# cold-start models (issue 7); imported lazily so that coursekit.models does not load coursekit.coldstart


def _coldstart_case(name: str, **kwargs):
    def factory():
        import coursekit.coldstart as cs

        return getattr(cs, name)(_contract_item_vectors(), **kwargs)

    return factory


register_contract_case("AttributeToFactor-ridge", _coldstart_case("AttributeToFactor", factors=8, iterations=3, seed=1))
register_contract_case("AttributeToFactor-mlp", _coldstart_case("AttributeToFactor", mapper="mlp", map_reg=1e-3,
                                                                hidden=16, max_iter=20, factors=8, iterations=3, seed=1))
register_contract_case("DropoutNet", _coldstart_case("DropoutNet", dim=8, hidden=16, steps=20, batch_users=16,
                                                     batch_items=16, factors=8, iterations=3, seed=1))
register_contract_case("CountGatedHybrid", _coldstart_case("CountGatedHybrid", kappa=5.0, factors=8, iterations=3,
                                                           seed=1))
register_contract_case("CountGatedHybrid-learned", _coldstart_case("CountGatedHybrid", gate="learned",
                                                                   kappas=(1.0, 10.0), factors=8, iterations=3,
                                                                   seed=1))
