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
