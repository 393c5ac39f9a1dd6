"""ProfileRecommender and TwoTower: hand-computed cases, the in-batch loss, learning, fine-tuning."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from coursekit import CourseKitError, Interactions
from coursekit.models import ProfileRecommender, Recommender, TwoTower
from coursekit.models.content import align_item_vectors
from coursekit.models.two_tower import in_batch_softmax_loss


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny tensors: one thread is faster, and much faster when other jobs share the CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


VECS = pd.DataFrame([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-1.0, 0.0]], index=[10, 11, 12, 13])


def unit(x):
    x = np.asarray(x, dtype=float)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def small_log(**extra):
    frame = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [10, 11, 10, 12],
                          "timestamp": [0, 86400, 0, 2 * 86400], "rating": [5.0, 1.0, 4.0, 4.0], **extra})
    return Interactions.from_frame(frame, items=[10, 11, 12, 13])


# ------------------------------------------------------------------ ProfileRecommender
def test_profile_uniform_by_hand():
    model = ProfileRecommender(VECS).fit(small_log())
    p1 = unit(unit([1, 0]) + unit([0, 2]))                  # mean of unit vectors, then unit length
    expected = p1 @ unit(VECS.to_numpy()).T
    np.testing.assert_allclose(model.score([1])[0], expected, atol=1e-6)
    ids, _ = model.recommend([1], k=2)
    assert ids.tolist() == [[12, 13]]                       # cos = 1 for item 12, -0.707 for 13


def test_profile_rating_centred_by_hand():
    model = ProfileRecommender(VECS, weighting="rating").fit(small_log())
    # user 1: mean 3, weights +2 (item 10) and -2 (item 11): profile ~ [1, -1]
    np.testing.assert_allclose(model.user_vectors_[0], unit([1, -1]), atol=1e-6)
    # user 2: both rated 4 -> all weights 0 -> uniform fallback
    np.testing.assert_allclose(model.user_vectors_[1], unit(unit([1, 0]) + unit([1, 1])), atol=1e-6)
    with pytest.raises(CourseKitError, match="needs ratings"):
        ProfileRecommender(VECS, weighting="rating").fit(small_log().subset(np.ones(4, bool)).__class__.from_frame(
            small_log().frame.drop(columns="rating"), items=[10, 11, 12, 13]))


def test_profile_recency_by_hand():
    model = ProfileRecommender(VECS, weighting="recency", half_life_days=1.0).fit(small_log())
    # user 1: item 11 is the latest (weight 1), item 10 one day older (weight 1/2)
    np.testing.assert_allclose(model.user_vectors_[0], unit(0.5 * unit([1, 0]) + unit([0, 1])), atol=1e-6)
    # user 2: item 12 latest, item 10 two days older (weight 1/4)
    np.testing.assert_allclose(model.user_vectors_[1], unit(0.25 * unit([1, 0]) + unit([1, 1])), atol=1e-6)
    huge = ProfileRecommender(VECS, weighting="recency", half_life_days=1e9).fit(small_log())
    uniform = ProfileRecommender(VECS).fit(small_log())
    np.testing.assert_allclose(huge.user_vectors_, uniform.user_vectors_, atol=1e-6)   # h -> inf: plain mean


def test_profile_missing_vectors_warn_and_score_zero():
    with pytest.warns(UserWarning, match="1 of 4 items have no vector"):
        model = ProfileRecommender(VECS.iloc[:3]).fit(small_log())
    assert model.score([1], items=[13])[0, 0] == 0.0
    np.testing.assert_array_equal(model.item_vectors_[3], 0.0)


def test_profile_bad_input():
    with pytest.raises(CourseKitError, match="needs item_vectors"):
        ProfileRecommender().fit(small_log())
    with pytest.raises(CourseKitError, match="weighting"):
        ProfileRecommender(VECS, weighting="tfidf").fit(small_log())
    with pytest.raises(CourseKitError, match="one vector"):
        ProfileRecommender(([10, 11], np.zeros((3, 2)))).fit(small_log())
    with pytest.raises(CourseKitError, match="NaN"):
        ProfileRecommender(([10], np.array([[np.nan, 1.0]]))).fit(small_log())
    with pytest.raises(CourseKitError, match="DataFrame"):
        ProfileRecommender(np.zeros((4, 2))).fit(small_log())


def test_profile_params_exclude_vectors_and_roundtrip(tmp_path):
    model = ProfileRecommender(VECS, weighting="recency").fit(small_log())
    assert "item_vectors" not in model.get_params()
    model.save(tmp_path)
    meta = json.loads((tmp_path / "params.json").read_text())
    assert meta["params"] == {"weighting": "recency", "half_life_days": 30.0}
    loaded = Recommender.load(tmp_path)
    np.testing.assert_array_equal(loaded.score([1, 2]), model.score([1, 2]))
    np.testing.assert_allclose(loaded.profile([10, 11]), model.user_vectors_[0] * 0 + unit(unit([1, 0]) + unit([0, 1])),
                               atol=1e-6)


@pytest.mark.parametrize("weighting", ["uniform", "rating"])
def test_profile_fold_in_equals_score_of_a_training_user(weighting):
    from coursekit import UnknownIdError

    train = small_log()
    model = ProfileRecommender(VECS, weighting=weighting).fit(train)
    for user, items, ratings in [(1, [10, 11], [5.0, 1.0]), (2, [10, 12], [4.0, 4.0])]:
        np.testing.assert_allclose(model.fold_in(items, ratings), model.score([user])[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(model.fold_in([]), train.item_counts())
    with pytest.raises(UnknownIdError):
        model.fold_in([99])


def test_align_item_vectors_ignores_unknown_ids():
    from coursekit.interactions import IdMap

    m, has = align_item_vectors(([5, 10], np.array([[1.0], [2.0]])), IdMap.from_ids([10, 11]))
    assert m.ravel().tolist() == [2.0, 0.0] and has.tolist() == [True, False]


# ------------------------------------------------------------------ the in-batch loss
def numpy_in_batch_loss(u, e, tau, ids=None, log_q=None):
    B = len(u)
    total = 0.0
    for b in range(B):
        logits = np.array([u[b] @ e[c] / tau - (log_q[c] if log_q is not None else 0.0) for c in range(B)])
        keep = np.array([c == b or ids is None or ids[c] != ids[b] for c in range(B)])
        total += -(logits[b] - np.log(np.exp(logits[keep]).sum()))
    return total / B


@pytest.mark.parametrize("tau", [0.05, 1.0])
def test_in_batch_loss_equals_hand_computation(tau):
    import torch

    rng = np.random.default_rng(0)
    u, e = unit(rng.normal(size=(6, 4))), unit(rng.normal(size=(6, 4)))
    ids = np.array([3, 1, 3, 2, 5, 1])
    log_q = np.log(rng.uniform(0.01, 0.5, 6))
    tu, te = torch.tensor(u), torch.tensor(e)
    assert float(in_batch_softmax_loss(tu, te, tau)) == pytest.approx(numpy_in_batch_loss(u, e, tau), rel=1e-9)
    got = in_batch_softmax_loss(tu, te, tau, item_ids=torch.tensor(ids), log_q=torch.tensor(log_q))
    assert float(got) == pytest.approx(numpy_in_batch_loss(u, e, tau, ids, log_q), rel=1e-9)
    # perfectly separated pairs at a small temperature: loss close to 0
    assert float(in_batch_softmax_loss(torch.eye(4), torch.eye(4), 0.01)) < 1e-30 + 1e-6


# ------------------------------------------------------------------ TwoTower learns
def toy_task(seed=0, n_users=64, n_items=64, d=16, groups=8):
    """Taste groups; item vectors carry the group in a random direction plus noise."""
    rng = np.random.default_rng(seed)
    group_item = np.arange(n_items) % groups
    direction = rng.normal(size=(groups, d))
    vectors = direction[group_item] + 0.8 * rng.normal(size=(n_items, d))
    rows = []
    for u in range(n_users):
        g = u % groups
        liked = rng.choice(np.nonzero(group_item == g)[0], 6, replace=False)
        rows += [(u, int(i), t) for t, i in enumerate(liked)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    return Interactions.from_frame(frame, items=np.arange(n_items)), (np.arange(n_items), vectors), group_item


def test_two_tower_loss_falls_and_ranks_the_right_group():
    inter, vectors, group_item = toy_task()
    model = TwoTower(vectors, dim=8, epochs=10, batch_size=32, lr=0.01, temperature=0.1, device="cpu", seed=0)
    model.fit(inter)
    h = model.loss_history_
    # in-batch negatives of the user's own group cannot be told apart: the floor is about log(32 / 8)
    assert h[-1] < 0.7 * h[0], h
    ids, _ = model.recommend(np.arange(64), k=2)
    same_group = (group_item[ids] == (np.arange(64) % 8)[:, None]).mean()
    assert same_group > 0.9


def test_two_tower_is_deterministic_and_user_vector_matches():
    inter, vectors, _ = toy_task(1)
    a = TwoTower(vectors, dim=8, epochs=3, batch_size=32, device="cpu", seed=4).fit(inter)
    b = TwoTower(vectors, dim=8, epochs=3, batch_size=32, device="cpu", seed=4).fit(inter)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    c = TwoTower(vectors, dim=8, epochs=3, batch_size=32, device="cpu", seed=5).fit(inter)
    assert not np.allclose(a.item_factors_, c.item_factors_)
    hist = inter.frame.loc[inter.frame.user_id == 3, "item_id"].to_numpy()
    np.testing.assert_allclose(a.user_vector(hist), a.user_factors_[3], atol=1e-5)
    assert {"tower_adaptor__weight_", "tower_adaptor__bias_"} <= set(a._state())


def test_two_tower_bad_input():
    inter, vectors, _ = toy_task()
    with pytest.raises(CourseKitError, match="item_vectors"):
        TwoTower().fit(inter)
    with pytest.raises(CourseKitError, match="temperature"):
        TwoTower(vectors, temperature=0).fit(inter)
    with pytest.raises(CourseKitError, match="adaptor"):
        TwoTower(vectors, adaptor="transformer").fit(inter)
    with pytest.raises(CourseKitError, match="item_texts"):
        TwoTower(vectors, finetune_encoder=True).fit(inter)


def test_two_tower_finetunes_a_tiny_encoder_end_to_end(tmp_path):
    from coursekit.text.encoder import TextEncoder, make_tiny_bert

    folder = make_tiny_bert(tmp_path / "tiny", seed=0)
    inter, _, group_item = toy_task(2, n_users=30, n_items=16, groups=2)
    words = np.array(["red apple orchard fruit", "blue ocean wave water"])
    texts = pd.Series([f"{words[g]} item {i}" for i, g in enumerate(group_item)], index=np.arange(16))
    before = TextEncoder(folder, cache_dir=False, normalize=False, max_length=16, progress=False).encode(texts.tolist())
    model = TwoTower(item_texts=texts, finetune_encoder=True, encoder=folder, encoder_lr=1e-3, dim=8, epochs=2,
                     batch_size=16, max_length=16, device="cpu", seed=0).fit(inter)
    assert np.isfinite(model.loss_history_).all()
    assert not np.allclose(model.item_vectors_, before, atol=1e-4)          # the encoder's weights moved
    model.save_encoder(tmp_path / "ft")
    after = TextEncoder(tmp_path / "ft", cache_dir=False, normalize=False, max_length=16,
                        progress=False).encode(texts.tolist())
    np.testing.assert_allclose(after, model.item_vectors_, atol=1e-5)       # the saved encoder is the trained one
    model.save(tmp_path / "model")
    np.testing.assert_array_equal(Recommender.load(tmp_path / "model").score([0, 1]), model.score([0, 1]))


def test_two_tower_early_stopping_keeps_the_best_epoch():
    from coursekit.evaluation import evaluate_per_user
    from coursekit.splits import user_temporal_split

    inter, vectors, _ = toy_task(3)
    fit, valid = user_temporal_split(inter, test_frac=0.2)[:2]
    model = TwoTower(vectors, dim=8, epochs=12, batch_size=32, lr=0.01, temperature=0.1, device="cpu", seed=0,
                     early_stopping=2).fit(fit, valid=valid)
    h = model.valid_history_
    assert 1 <= model.best_epoch_ <= len(h) <= 12
    assert h[model.best_epoch_ - 1] == h.max()
    if len(h) < 12:                                   # stopped early: the last `patience` epochs were no better
        assert len(h) - model.best_epoch_ == 2
    # the kept towers are those of the best epoch: their validation NDCG@10 is the recorded best
    got = evaluate_per_user(model, fit, valid, "ndcg", 10).mean()
    assert got == pytest.approx(h[model.best_epoch_ - 1], abs=1e-6)
    with pytest.raises(CourseKitError, match="needs a validation part"):
        TwoTower(vectors, epochs=2, early_stopping=1).fit(fit)
