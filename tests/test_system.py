"""The whole system (lesson 08) on a small simulated shop: each stage, real-time updates, latency, bad inputs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit._validation import CourseKitError, UnknownIdError
from coursekit.datasets.shop import make_shop
from coursekit.models import IALS, MostPopular
from coursekit.models.mmr import unit_vectors
from coursekit.splits import user_temporal_split
from coursekit.system import STAGES, RecommenderSystem, content_item_vectors, latency_summary, replay_latency

pytest.importorskip("faiss", reason="faiss-cpu is not installed (pip install faiss-cpu)")


@pytest.fixture(scope="module")
def shop():
    data = make_shop(n_users=120, n_items=90, n_events=3000, seed=2)
    split = user_temporal_split(data.to_interactions(), test_frac=0.2)
    return data, split.train, split.test


@pytest.fixture(scope="module")
def tiny_ce():
    torch = pytest.importorskip("torch")
    from coursekit.text.cross_encoder import CrossEncoder

    torch.set_num_threads(1)
    return CrossEncoder.tiny(seed=0, hidden_size=16, num_layers=1, intermediate_size=32, max_length=48)


def ials(solver: str = "cg") -> IALS:
    return IALS(factors=8, reg=1.0, iterations=5, solver=solver, seed=1)


def texts(data) -> pd.Series:
    from coursekit.text import item_summaries

    return item_summaries(data)


def test_retrieval_only_equals_plain_ials(shop):
    _, train, _ = shop
    plain = ials().fit(train)
    users = train.users.ids[:50]
    for ann in ("exact", "hnsw"):
        system = RecommenderSystem(ials(), n_candidates=30, ann=ann, ef_search=100).fit(train)
        np.testing.assert_array_equal(system.recommend(users, k=10)[0], plain.recommend(users, k=10)[0])


def test_serve_matches_recommend(shop, tiny_ce):
    data, train, _ = shop
    system = RecommenderSystem(ials(), reranker=tiny_ce, item_texts=texts(data), n_candidates=15, lam=0.6,
                               history_size=5).fit(train)
    users = train.users.ids[train.user_counts() > 0][:6]
    batch, _ = system.recommend(users, k=8)
    for row, u in enumerate(users):
        served = system.serve(int(u), k=8)
        np.testing.assert_array_equal(served.items, batch[row])
        assert set(served.timings) == {*STAGES, "total"}
        assert all(v >= 0 for v in served.timings.values()) and served.timings["rerank"] > 0
        assert np.isfinite(served.scores).all()


def test_reranker_only_reorders_the_candidates(shop, tiny_ce):
    data, train, _ = shop
    plain = RecommenderSystem(ials(), n_candidates=12).fit(train)
    ce = RecommenderSystem(ials(), reranker=tiny_ce, item_texts=texts(data), n_candidates=12, fusion_weight=5.0,
                           history_size=5).fit(train)
    users = train.users.ids[:10]
    a, b = plain.recommend(users, k=12)[0], ce.recommend(users, k=12)[0]
    assert all(set(x) == set(y) for x, y in zip(a, b))
    assert not np.array_equal(a, b)


def test_mmr_lowers_similarity_within_lists(shop):
    _, train, _ = shop
    users = train.users.ids[:40]

    def mean_cosine(lam: float) -> float:
        system = RecommenderSystem(ials(), n_candidates=40, lam=lam).fit(train)
        ids, _ = system.recommend(users, k=10)
        U = unit_vectors(system.item_vectors())[train.items.index(ids.ravel())].reshape(len(users), 10, -1)
        sims = np.einsum("nkd,njd->nkj", U, U)
        return float((sims.sum(axis=(1, 2)) - 10).mean() / 90)

    assert mean_cosine(0.3) < mean_cosine(1.0) - 0.05


def test_fold_in_of_a_training_history_gives_the_users_list(shop):
    _, train, _ = shop
    system = RecommenderSystem(ials("cholesky"), n_candidates=20, lam=0.8).fit(train)
    counts = train.matrix("count")
    for u in range(5):
        row = counts[u]
        scores = system.fold_in(train.items.ids[row.indices], row.data)
        top = train.items.ids[np.argsort(-scores, kind="stable")[:10]]
        np.testing.assert_array_equal(top, system.recommend([train.users.ids[u]], k=10)[0][0])


def test_observe_folds_in_without_refit_and_excludes_the_item(shop):
    _, train, _ = shop
    system = RecommenderSystem(ials(), n_candidates=20).fit(train)
    item_factors = system.retriever_.item_factors_.copy()
    user = int(train.users.ids[3])
    first = system.serve(user, k=5).items
    system.observe(user, [first[0], first[0]])
    row = train.matrix("count")[3]
    expected = system.retriever_.user_factors(np.r_[train.items.ids[row.indices], first[0], first[0]],
                                              np.r_[row.data, 1.0, 1.0])
    np.testing.assert_allclose(system.user_vectors_[3], expected)
    np.testing.assert_array_equal(system.retriever_.item_factors_, item_factors)
    assert first[0] not in system.serve(user, k=20).items
    assert first[0] not in system.recommend([user], k=20)[0]
    system.reset_live()
    np.testing.assert_array_equal(system.serve(user, k=5).items, first)


def test_cold_user_popularity_then_personal_after_events(shop):
    _, train, _ = shop
    train = train.subset(train.user_index != 0)                  # user index 0 stays in the universe, cold
    assert train.user_counts()[0] == 0
    system = RecommenderSystem(ials(), n_candidates=20).fit(train)
    user = int(train.users.ids[0])
    popular = train.items.ids[np.argsort(-train.item_counts(), kind="stable")[:5]]
    served = system.serve(user, k=5)
    np.testing.assert_array_equal(served.items, popular)
    assert (served.explanations == -1).all()
    system.observe(user, [popular[0]])
    served = system.serve(user, k=5)
    assert popular[0] not in served.items and (served.explanations == popular[0]).all()


def test_cold_items_get_content_vectors(shop):
    data, train, _ = shop
    items = data.items.set_index("item_id").loc[train.items.ids]
    feats = pd.get_dummies(items[["category", "price_band"]]).to_numpy(dtype=float)
    system = RecommenderSystem(ials(), n_candidates=20, item_features=(train.items.ids, feats)).fit(train)
    warm = train.item_counts() > 0
    expected = content_item_vectors(system.retriever_.item_factors_, feats, warm, reg=1.0)
    np.testing.assert_allclose(system.item_vectors_, expected)
    np.testing.assert_array_equal(system.item_vectors_[warm], system.retriever_.item_factors_[warm])
    if (~warm).any():
        assert np.abs(system.item_vectors_[~warm]).sum() > 0


def test_content_item_vectors_by_hand():
    A = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    Y = np.array([[2.0, 0.0], [0.0, 4.0], [9.0, 9.0]])
    out = content_item_vectors(Y, A, np.array([True, True, False]), reg=0.0)
    np.testing.assert_allclose(out, [[2.0, 0.0], [0.0, 4.0], [2.0, 4.0]])


def test_explanations_are_the_most_similar_history_item(shop):
    _, train, _ = shop
    system = RecommenderSystem(ials(), n_candidates=20, history_size=6).fit(train)
    users = train.users.ids[:8]
    ids, _ = system.recommend(users, k=5)
    why = system.explain(users, ids)
    U = unit_vectors(system.item_vectors())
    for row, u in enumerate(train.users.index(users)):
        hist = system.history_[u][system.history_[u] >= 0]
        for j, item in enumerate(train.items.index(ids[row])):
            assert why[row, j] == train.items.ids[hist[np.argmax(U[hist] @ U[item])]]


def test_replay_latency_frame_and_summary(shop):
    _, train, test = shop
    system = RecommenderSystem(ials(), n_candidates=20, lam=0.7).fit(train)
    lat = replay_latency(system, test.frame, k=5, n_requests=30, warm_calls=2)
    assert len(lat) == 30
    assert {f"{s}_ms" for s in STAGES} | {"total_ms", "observe_ms"} <= set(lat.columns)
    assert (lat.filter(like="_ms") >= 0).all().all()
    summary = latency_summary(lat)
    assert list(summary.columns) == ["p50", "p99", "mean"] and "total" in summary.index
    assert (summary["p99"] >= summary["p50"]).all()
    system.reset_live()


@pytest.mark.parametrize("kwargs, match", [
    ({"retriever": MostPopular()}, "user_factors"),
    ({"retriever": "ials"}, "Recommender"),
    ({"reranker": object()}, "CrossEncoder"),
    ({"lam": 1.5}, "lam"),
    ({"fusion_weight": -1.0}, "fusion_weight"),
    ({"n_candidates": 0}, "n_candidates"),
    ({"ann": "ivf"}, "ann must be"),
    ({"item_features": np.ones((3, 2))}, "item_features"),
    ({"item_features": (np.arange(3), np.ones((3, 2)))}, "no row for item"),
])
def test_bad_parameters(shop, kwargs, match):
    _, train, _ = shop
    kwargs = {"retriever": ials()} | kwargs
    with pytest.raises(CourseKitError, match=match):
        RecommenderSystem(**kwargs).fit(train)


def test_reranker_needs_texts(shop, tiny_ce):
    _, train, _ = shop
    with pytest.raises(CourseKitError, match="item_texts"):
        RecommenderSystem(ials(), reranker=tiny_ce).fit(train)


def test_bad_requests(shop):
    _, train, _ = shop
    system = RecommenderSystem(ials(), n_candidates=10).fit(train)
    with pytest.raises(UnknownIdError):
        system.serve(123_456_789)
    with pytest.raises(UnknownIdError):
        system.observe(int(train.users.ids[0]), [123_456_789])
    with pytest.raises(CourseKitError, match="k"):
        system.serve(int(train.users.ids[0]), k=0)
    with pytest.raises(CourseKitError, match="one row per user"):
        system.explain(train.users.ids[:2], np.ones((3, 2), dtype=int))
    with pytest.raises(CourseKitError, match="save"):
        system.save("unused")
    with pytest.raises(CourseKitError, match="columns"):
        replay_latency(system, pd.DataFrame({"user_id": [1]}))
