"""Similarity measures, top-k pruning, ItemKNN and UserKNN (hand-computed cases + independent implementations)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import pairwise_distances
from sklearn.metrics.pairwise import cosine_similarity

from coursekit import CourseKitError
from coursekit.interactions import Interactions
from coursekit.models import ItemKNN, UserKNN, top_k
from coursekit.models.similarity import ColumnSimilarity, shrink, similarity_matrix

# 4 users x 5 items, 0 = not rated
TOY = np.array([
    [5, 3, 0, 1, 4],
    [4, 0, 0, 1, 2],
    [1, 1, 0, 5, 0],
    [0, 1, 5, 4, 3],
], dtype=float)


def toy_interactions(values: np.ndarray = TOY) -> Interactions:
    u, i = np.nonzero(values)
    frame = pd.DataFrame({"user_id": u + 1, "item_id": i + 10, "rating": values[u, i],
                          "timestamp": np.arange(len(u))})
    return Interactions.from_frame(frame)


def sim_of(measure: str, values=TOY, **kw) -> np.ndarray:
    return ColumnSimilarity(sp.csr_matrix(values), measure, **kw).block(np.arange(values.shape[1]))


# ----------------------------------------------------------------------------- hand-computed
def test_cosine_by_hand():
    # items 0 and 1: columns (5,4,1,0) and (3,0,1,1): dot 15 + 1 = 16, norms sqrt(42), sqrt(11)
    assert sim_of("cosine")[0, 1] == pytest.approx(16 / np.sqrt(42 * 11))
    assert sim_of("cosine")[0, 1] == pytest.approx(0.744387, abs=1e-6)


def test_jaccard_by_hand():
    # raters of item 0 {u0,u1,u2}, item 1 {u0,u2,u3}: 2 common of 4
    s = sim_of("jaccard")
    assert s[0, 1] == pytest.approx(2 / 4)
    assert s[0, 2] == 0.0 and s[2, 3] == pytest.approx(1 / 4)


def test_pearson_by_hand():
    # items 0 and 3, co-rated by u0, u1, u2: x = (5, 4, 1), y = (1, 1, 5), means 10/3 and 7/3
    dx = np.array([5, 4, 1]) - 10 / 3
    dy = np.array([1, 1, 5]) - 7 / 3
    expected = (dx @ dy) / np.sqrt((dx @ dx) * (dy @ dy))  # -84 / sqrt(78 * 96)
    assert expected == pytest.approx(-84 / np.sqrt(78 * 96))
    assert sim_of("pearson")[0, 3] == pytest.approx(expected)
    assert sim_of("pearson")[0, 3] == pytest.approx(-0.970725, abs=1e-6)
    # item 2 has a single rater: a correlation needs n >= 2, so 0
    assert (sim_of("pearson")[2] == 0).all()


def test_adjusted_cosine_by_hand():
    # user means 13/4, 7/3, 7/3, 13/4; items 0 and 3 co-rated by u0, u1, u2
    c0 = np.array([5 - 13 / 4, 4 - 7 / 3, 1 - 7 / 3])
    c3 = np.array([1 - 13 / 4, 1 - 7 / 3, 5 - 7 / 3])
    expected = (c0 @ c3) / np.sqrt((c0 @ c0) * (c3 @ c3))
    assert sim_of("adjusted_cosine")[0, 3] == pytest.approx(expected)
    assert expected == pytest.approx(-0.942376, abs=1e-6)


def test_diagonal_is_zero_for_every_measure():
    for m in ("cosine", "adjusted_cosine", "pearson", "jaccard"):
        assert (np.diag(sim_of(m)) == 0).all(), m


# ----------------------------------------------------------------------------- independent implementations
def random_ratings(seed: int, n_rows=15, n_cols=12, density=0.45) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vals = rng.integers(1, 11, (n_rows, n_cols)) / 2.0  # 0.5 .. 5 stars
    return np.where(rng.random((n_rows, n_cols)) < density, vals, 0.0)


def co_rated_reference(values: np.ndarray, measure: str) -> np.ndarray:
    """A loop over pairs, straight from the definitions (slow, obviously right)."""
    n = values.shape[1]
    rated = values != 0
    row_mean = np.array([r[r != 0].mean() if (r != 0).any() else 0 for r in values])
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            c = rated[:, i] & rated[:, j]
            if i == j or c.sum() < (2 if measure == "pearson" else 1):
                continue
            x, y = values[c, i], values[c, j]
            if measure == "pearson":
                if x.std() == 0 or y.std() == 0:
                    continue
                out[i, j] = np.corrcoef(x, y)[0, 1]
            else:  # adjusted cosine
                x, y = x - row_mean[c], y - row_mean[c]
                den = np.sqrt((x @ x) * (y @ y))
                out[i, j] = (x @ y) / den if den > 1e-12 else 0.0
    return out


@pytest.mark.parametrize("seed", range(5))
def test_cosine_matches_sklearn(seed):
    v = random_ratings(seed)
    expected = cosine_similarity(v.T)
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(sim_of("cosine", v), expected, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_jaccard_matches_sklearn(seed):
    b = random_ratings(seed) != 0
    expected = 1 - pairwise_distances(b.T, metric="jaccard")
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(sim_of("jaccard", b.astype(float)), np.nan_to_num(expected), atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("measure", ["pearson", "adjusted_cosine"])
def test_centred_measures_match_reference(seed, measure):
    v = random_ratings(seed)
    np.testing.assert_allclose(sim_of(measure, v), co_rated_reference(v, measure), atol=1e-10)


def test_pearson_is_corrcoef_on_fully_rated_data():
    v = random_ratings(7, density=1.0)
    expected = np.corrcoef(v.T)
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(sim_of("pearson", v), expected, atol=1e-10)


# ----------------------------------------------------------------------------- shrinkage and support
def test_shrinkage_formula():
    n_common = (TOY != 0).T.astype(float) @ (TOY != 0).astype(float)
    raw = sim_of("cosine")
    np.testing.assert_allclose(sim_of("cosine", shrinkage=3.0), raw * n_common / (n_common + 3.0))
    assert shrink(np.array([0.8]), np.array([2]), 2.0)[0] == pytest.approx(0.4)


@settings(max_examples=30, deadline=None)
@given(s=st.floats(0, 1e3), n=st.integers(0, 10_000), sim=st.floats(-1, 1))
def test_shrinkage_only_shrinks(s, n, sim):
    out = shrink(np.array([sim]), np.array([n]), s)[0]
    assert abs(out) <= abs(sim) + 1e-15 and np.sign(out) in (0, np.sign(sim))


def test_min_support_zeroes_thin_pairs():
    n_common = (TOY != 0).T.astype(int) @ (TOY != 0).astype(int)
    s = sim_of("cosine", min_support=3)
    assert (s[n_common < 3] == 0).all()
    off = ~np.eye(5, dtype=bool) & (n_common >= 3)
    np.testing.assert_allclose(s[off], sim_of("cosine")[off])


# ----------------------------------------------------------------------------- top-k pruning
@pytest.mark.parametrize("measure", ["cosine", "pearson"])
@pytest.mark.parametrize("k", [1, 3, 20])
def test_top_k_keeps_the_k_largest(measure, k):
    v = random_ratings(3, n_rows=30, n_cols=25)
    sim = ColumnSimilarity(sp.csr_matrix(v), measure)
    full = sim.block(np.arange(25))
    pruned = sim.top_k(k).toarray()
    masked = np.where(full == 0, -np.inf, full)
    idx, val = top_k(masked, min(k, 25))  # the reference rule: largest first, lower index on ties
    expected = np.zeros_like(full)
    for r in range(25):
        ok = idx[r] >= 0
        expected[r, idx[r][ok]] = val[r][ok]
    np.testing.assert_array_equal(pruned, expected)
    assert ((pruned != 0).sum(axis=1) <= k).all() and (np.diag(pruned) == 0).all()


def test_top_k_ties_go_to_lower_index_and_blocks_do_not_matter():
    # binary data: many equal cosines
    rng = np.random.default_rng(0)
    b = (rng.random((12, 40)) < 0.3).astype(float)
    one = ColumnSimilarity(sp.csr_matrix(b), "cosine").top_k(4).toarray()
    tiny = ColumnSimilarity(sp.csr_matrix(b), "cosine", block_entries=7).top_k(4).toarray()
    np.testing.assert_array_equal(one, tiny)
    full = ColumnSimilarity(sp.csr_matrix(b), "cosine").block(np.arange(40))
    idx, _ = top_k(np.where(full == 0, -np.inf, full), 4)
    for r in range(40):
        assert set(np.flatnonzero(one[r])) == set(idx[r][idx[r] >= 0].tolist())


def test_similarity_matrix_without_k_keeps_everything():
    S = similarity_matrix(sp.csr_matrix(TOY), "cosine")
    np.testing.assert_allclose(S.toarray(), sim_of("cosine"))


# ----------------------------------------------------------------------------- ItemKNN / UserKNN implicit
def test_itemknn_implicit_scores_are_sums_over_history():
    data = toy_interactions()
    model = ItemKNN(k=2).fit(data)
    S = model.neighbors_.toarray()
    B = (TOY != 0).astype(float)
    expected = B @ S.T  # score_ui = sum_j seen_uj * S_ij, S pruned to 2 neighbours per item
    np.testing.assert_allclose(model.score(data.users.ids), expected)
    assert ((S != 0).sum(axis=1) <= 2).all()


def test_userknn_implicit_scores_are_sums_over_neighbours():
    data = toy_interactions()
    model = UserKNN(k=2, similarity="jaccard").fit(data)
    S = model.neighbors_.toarray()
    expected = S @ (TOY != 0).astype(float)
    np.testing.assert_allclose(model.score(data.users.ids), expected)


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
def test_contributions_sum_to_the_score(cls):
    data = toy_interactions(random_ratings(1, n_rows=20, n_cols=15))
    model = cls(k=5).fit(data)
    scores = model.score(data.users.ids)
    for u in data.users.ids[:6]:
        for i in data.items.ids[:6]:
            c = model.contributions(u, i)
            u_pos, i_pos = data.users.index([u])[0], data.items.index([i])[0]
            assert c["contribution"].sum() == pytest.approx(scores[u_pos, i_pos], abs=1e-12)
            assert (c["contribution"].diff().dropna() <= 0).all()


def test_itemknn_contributions_name_history_items():
    data = toy_interactions()
    model = ItemKNN(k=4).fit(data)
    c = model.contributions(2, 11)  # user 2 (row 1) rated items 10, 13, 14
    assert set(c["item_id"]) <= {10, 13, 14}
    assert c["similarity"].tolist() == c["contribution"].tolist()


def test_similar_items_is_the_full_similarity_ranking():
    data = toy_interactions()
    model = ItemKNN(k=1).fit(data)  # implicit: cosine on the binary matrix, unpruned for similar_items
    ids, scores = model.similar_items([11], k=3)
    full = sim_of("cosine", (TOY != 0).astype(float))[1]
    full[1] = -np.inf
    order = np.argsort(-full, kind="stable")[:3]
    assert ids[0].tolist() == (order + 10).tolist()
    np.testing.assert_allclose(scores[0], full[order])


def test_similar_users():
    data = toy_interactions()
    ids, scores = UserKNN(k=2, feedback="explicit").fit(data).similar_users([4], k=3)
    # rating cosines of user 4 (row 3) to users 1, 2, 3: 19/51, 10/sqrt(51*21), 21/sqrt(51*27)
    assert ids[0].tolist() == [3, 1, 2]
    np.testing.assert_allclose(scores[0], [21 / np.sqrt(51 * 27), 19 / 51, 10 / np.sqrt(51 * 21)])
    # implicit: binary cosine, user 4 shares 3 of 4 items with user 1: 3 / sqrt(4 * 4)
    ids, scores = UserKNN(k=2).fit(data).similar_users([4], k=1)
    assert ids[0].tolist() == [1] and scores[0, 0] == pytest.approx(0.75)


# ----------------------------------------------------------------------------- explicit rating prediction
def test_itemknn_predict_rating_by_hand():
    model = ItemKNN(k=2, feedback="explicit").fit(toy_interactions())
    # user 2 (row 1) rated items 0:4, 3:1, 4:2; predict item 1. Item means 10/3, 5/3, 5, 11/4, 3.
    s10, s13, s14 = 16 / np.sqrt(42 * 11), 12 / np.sqrt(11 * 43), 15 / np.sqrt(11 * 29)
    assert s14 > s10 > s13  # k=2 keeps items 4 and 0
    expected = 5 / 3 + (s10 * (4 - 10 / 3) + s14 * (2 - 3)) / (s10 + s14)
    assert model.predict_rating([2], [11])[0] == pytest.approx(expected)
    assert expected == pytest.approx(1.44980, abs=1e-5)


def test_userknn_predict_rating_by_hand():
    model = UserKNN(k=1, feedback="explicit").fit(toy_interactions())
    # user 4 (row 3), item 10 (col 0) rated by rows 0, 1, 2 with cosines 19/51, 10/sqrt(51*21), 21/sqrt(51*27)
    # k=1: the most similar rater is row 2 (rating 1, mean 7/3); user 4's mean is 13/4
    assert 21 / np.sqrt(51 * 27) > 19 / 51 > 10 / np.sqrt(51 * 21)
    assert model.predict_rating([4], [10])[0] == pytest.approx(13 / 4 + (1 - 7 / 3))


def test_prediction_falls_back_to_the_baseline():
    data = toy_interactions()
    # item 12 has one rater, so with min_support=2 it has no neighbour: prediction = its mean, 5
    model = ItemKNN(k=3, feedback="explicit", min_support=2).fit(data)
    assert model.predict_rating([2], [12])[0] == pytest.approx(5.0)
    users = UserKNN(k=3, feedback="explicit", min_support=5).fit(data)  # nobody shares 5 items
    np.testing.assert_allclose(users.predict_rating([1, 2], [12, 11]), [13 / 4, 7 / 3])


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
def test_explicit_scores_are_the_predicted_ratings(cls):
    data = toy_interactions(random_ratings(2, n_rows=12, n_cols=10))
    model = cls(k=3, similarity="pearson", shrinkage=1.0, feedback="explicit").fit(data)
    scores = model.score(data.users.ids)
    uu, ii = np.meshgrid(data.users.ids, data.items.ids, indexing="ij")
    np.testing.assert_allclose(model.predict_rating(uu.ravel(), ii.ravel()), scores.ravel())


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
def test_explicit_contributions_plus_baseline_is_the_prediction(cls):
    data = toy_interactions(random_ratings(4, n_rows=12, n_cols=10))
    model = cls(k=3, similarity="adjusted_cosine", feedback="explicit").fit(data)
    for u, i in [(1, 10), (3, 14), (5, 19)]:
        c = model.contributions(u, i)
        assert c.attrs["score"] == pytest.approx(model.predict_rating([u], [i])[0], abs=1e-12)


# ----------------------------------------------------------------------------- errors
def test_bad_arguments_give_clear_errors():
    data = toy_interactions()
    with pytest.raises(CourseKitError, match="centres ratings"):
        ItemKNN(similarity="pearson").fit(data)
    with pytest.raises(CourseKitError, match="similarity must be one of"):
        ItemKNN(similarity="euclid").fit(data)
    with pytest.raises(CourseKitError, match="shrinkage"):
        UserKNN(shrinkage=-1).fit(data)
    with pytest.raises(CourseKitError, match="k must be a positive integer"):
        ItemKNN(k=0).fit(data)
    with pytest.raises(CourseKitError, match="feedback must be one of"):
        ItemKNN(feedback="ratings").fit(data)
    with pytest.raises(CourseKitError, match="does not support predict_rating.*feedback=.explicit"):
        ItemKNN().fit(data).predict_rating([1], [10])
    no_ratings = Interactions.from_frame(data.frame.drop(columns="rating"))
    with pytest.raises(CourseKitError, match="needs ratings"):
        ItemKNN(feedback="explicit").fit(no_ratings)
    with pytest.raises(CourseKitError, match="scipy.sparse"):
        ColumnSimilarity(TOY)


def test_save_load_keeps_explicit_predictions(tmp_path):
    data = toy_interactions()
    model = ItemKNN(k=2, similarity="pearson", feedback="explicit").fit(data)
    model.save(tmp_path)
    from coursekit.models import Recommender
    loaded = Recommender.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict_rating([1, 2, 3], [11, 12, 13]),
                                  model.predict_rating([1, 2, 3], [11, 12, 13]))


# ----------------------------------------------------------------------------- fold-in and public contributions
@pytest.mark.parametrize("feedback", ["implicit", "explicit"])
def test_itemknn_fold_in_equals_score(feedback):
    from coursekit import UnknownIdError

    data = toy_interactions(random_ratings(2, n_rows=20, n_cols=15))
    kw = dict(similarity="pearson", shrinkage=1.0) if feedback == "explicit" else {}
    model = ItemKNN(k=5, feedback=feedback, **kw).fit(data)
    R = data.matrix("rating", dtype=np.float64)
    for u in range(0, 20, 4):
        row = R[u]
        values = row.data if feedback == "explicit" else None
        np.testing.assert_array_equal(model.fold_in(data.items.ids[row.indices], values),
                                      model.score([data.users.ids[u]])[0])
    with pytest.raises(UnknownIdError):
        model.fold_in([99_999], None if feedback == "implicit" else [3.0])
    with pytest.raises(CourseKitError):
        model.fold_in(data.items.ids[:2], [1.0])
    if feedback == "explicit":
        with pytest.raises(CourseKitError, match="values"):
            model.fold_in(data.items.ids[:2])
        assert "ratings" in model.capabilities
    else:
        assert "ratings" not in model.capabilities


def test_userknn_declares_no_fold_in():
    model = UserKNN(k=3).fit(toy_interactions())
    assert "fold_in" not in model.capabilities
    with pytest.raises(CourseKitError, match="fold_in"):
        model.fold_in([10])


def test_itemknn_history_contributions_sum_to_the_score():
    data = toy_interactions(random_ratings(1, n_rows=20, n_cols=15))
    model = ItemKNN(k=5).fit(data)
    for u in data.users.ids[:5]:
        for i in data.items.ids[:5]:
            ids, shares = model.history_contributions(u, i)
            assert set(ids.tolist()) <= set(data.items.ids[data.matrix()[data.users.index([u])[0]].indices].tolist())
            assert shares.sum() == pytest.approx(model.score([u], items=[i])[0, 0], abs=1e-12)
