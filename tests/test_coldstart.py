"""Cold-start protocols and models (lesson 06): leakage, onboarding reveals, maps, DropoutNet, fusion."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit._validation import CourseKitError
from coursekit.coldstart import (
    AttributeToFactor,
    CountGatedHybrid,
    DropoutNet,
    answer_questions,
    cold_item_mask,
    count_gate,
    evaluate_cold_items,
    fold_in_scores,
    item_time_order,
    item_warmup_split,
    onboarding_split,
    popularity_probe,
    profile_scores,
    question_items,
    ridge_map,
    row_standardize,
    similarity_alignment,
    strict_cold_items,
    text_profile_scores,
    tfidf_item_vectors,
)
from coursekit.interactions import Interactions
from coursekit.models import IALS
from coursekit.models.contract_fixtures import contract_data


@pytest.fixture(scope="module")
def log() -> Interactions:
    """200 users x 60 items in two taste groups, timestamps, every user with >= 12 events."""
    rng = np.random.default_rng(1)
    users = np.repeat(np.arange(1, 201), 15)
    group = users % 2
    items = np.where(rng.random(users.size) < 0.85, group * 30 + rng.integers(0, 30, users.size),
                     rng.integers(0, 60, users.size)) + 1
    frame = pd.DataFrame({"user_id": users, "item_id": items,
                          "timestamp": rng.integers(0, 10_000, users.size)})
    return Interactions.from_frame(frame)


def item_vectors(n_items: int = 60, noise: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """Content that knows each item's group (items 1..30 vs 31..60), plus noise."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n_items + 1)
    group = (ids > 30).astype(float)
    x = np.c_[group, 1 - group, rng.normal(scale=noise, size=(n_items, 3))]
    return pd.DataFrame(x, index=ids)


# ---------------------------------------------------------------------------- protocols
def test_strict_cold_items_no_leak(log):
    split = strict_cold_items(log, test_frac=0.2, seed=0)
    cold = np.unique(split.test.item_index)
    assert len(cold) == 12
    assert not np.isin(split.train.item_index, cold).any(), "a cold item kept a training event"
    assert len(split.train) + len(split.test) == len(log)
    mask = cold_item_mask(split.train, split.test)
    assert mask.sum() == 12 and (split.train.item_counts()[mask] == 0).all()


def test_strict_cold_items_chosen(log):
    split = strict_cold_items(log, cold_items=[1, 2, 3])
    assert set(split.test.frame.item_id) == {1, 2, 3}
    assert not split.train.frame.item_id.isin([1, 2, 3]).any()
    with pytest.raises(CourseKitError):
        strict_cold_items(log, cold_items=np.arange(1, 61))


def test_evaluate_cold_items_candidates(log):
    split = strict_cold_items(log, test_frac=0.2, seed=0)
    cold = cold_item_mask(split.train, split.test)
    # a score matrix that puts the cold items last among all items but orders them perfectly
    scores = np.where(cold, 0.0, 10.0)[None, :].repeat(log.n_users, 0)
    scores = scores + split.test.matrix("binary").toarray()
    among_cold = evaluate_cold_items(scores, split.train, split.test, among="cold")
    among_all = evaluate_cold_items(scores, split.train, split.test, among="all")
    ndcg = lambda df: float(df.loc[df.metric == "ndcg", "value"].iloc[0])  # noqa: E731
    assert ndcg(among_cold) == pytest.approx(1.0)
    assert ndcg(among_all) < 0.5   # warm unseen items outrank every cold one


def test_onboarding_reveals_exactly_k_earliest(log):
    for k in (0, 1, 3, 5, 10):
        ob = onboarding_split(log, k=k, test_frac=0.2, seed=3, max_k=10)
        assert not np.isin(ob.train.user_index, ob.new_users).any(), "a new user has training events"
        rev = ob.revealed.frame.assign(u=ob.revealed.user_index)
        tgt = ob.target.frame.assign(u=ob.target.user_index)
        counts = rev.groupby("u").size().reindex(ob.new_users, fill_value=0)
        assert (counts == k).all(), f"k={k}: reveals per user {counts.unique()}"
        # every revealed event is no later than every target event of the same user (ties: larger item later)
        last_rev = rev.groupby("u")[["timestamp", "item_id"]].max()
        for u, g in tgt.groupby("u"):
            if u in last_rev.index:
                first = g.sort_values(["timestamp", "item_id"]).iloc[0]
                assert (first.timestamp, first.item_id) >= tuple(last_rev.loc[u])
    users = {tuple(onboarding_split(log, k=k, seed=3).new_users) for k in (0, 5, 10)}
    assert len(users) == 1, "every k must be judged on the same new users"


def test_onboarding_bad_k(log):
    with pytest.raises(CourseKitError):
        onboarding_split(log, k=11, max_k=10)


def test_item_time_order_and_warmup(log):
    pos = item_time_order(log)
    f = log.frame.assign(pos=pos)
    first = f.sort_values(["item_id", "timestamp"]).groupby("item_id").head(1)
    assert (f.loc[f.pos == 0, "timestamp"].to_numpy() <= f.groupby("item_id").timestamp.transform("min")
            .loc[f.pos == 0].to_numpy()).all() and len(first) == (pos == 0).sum()
    split = strict_cold_items(log, test_frac=0.2, seed=0)
    s3, cold = item_warmup_split(split, 3)
    counts = s3.train.item_counts()
    held = cold_item_mask(split.train, split.test)
    assert (counts[held] == np.minimum(3, split.test.item_counts()[held])).all()
    assert len(s3.train) + len(s3.test) == len(log)
    assert cold.sum() <= held.sum()


# ---------------------------------------------------------------------------- content
def test_tfidf_and_popularity_probe():
    texts = pd.Series(["red wool hat", "blue wool hat", "red cotton shirt", "green shirt"], index=[1, 2, 3, 4])
    v = tfidf_item_vectors(texts, min_df=1)
    assert v.shape[0] == 4 and np.allclose(np.linalg.norm(v.to_numpy(), axis=1), 1.0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    pop = np.expm1(np.clip(2 + x[:, 0], 0, None))
    assert popularity_probe(x, pop) > 0.5 > popularity_probe(rng.normal(size=(300, 4)), pop)


# ---------------------------------------------------------------------------- models
def test_ridge_map_recovers_a_linear_map_and_matches_sklearn():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    C = rng.normal(size=(200, 6))
    W = rng.normal(size=(6, 3))
    Y = C @ W + np.array([1.0, -2.0, 0.5])
    W_hat, c_mean, y_mean = ridge_map(C, Y, reg=1e-9)
    np.testing.assert_allclose(W_hat, W, atol=1e-6)
    np.testing.assert_allclose((C - c_mean) @ W_hat + y_mean, Y, atol=1e-6)
    W_y, _, _ = ridge_map(C, Y, reg=5.0)
    np.testing.assert_allclose(W_y, Ridge(alpha=5.0).fit(C, Y).coef_.T, atol=1e-8)
    # dual form (more features than rows) agrees with sklearn too
    C2 = rng.normal(size=(20, 50))
    Y2 = rng.normal(size=(20, 2))
    W2, _, _ = ridge_map(C2, Y2, reg=3.0)
    np.testing.assert_allclose(W2, Ridge(alpha=3.0).fit(C2, Y2).coef_.T, atol=1e-8)


def test_attribute_to_factor_maps_cold_items_only(log):
    split = strict_cold_items(log, test_frac=0.2, seed=0)
    model = AttributeToFactor(item_vectors(), factors=8, iterations=5, seed=0).fit(split.train)
    warm = split.train.item_counts() > 0
    np.testing.assert_array_equal(model.item_factors_[warm], model.cf_item_factors_[warm])
    np.testing.assert_allclose(model.item_factors_[~warm], model.mapped_item_factors_[~warm])
    # content that knows the groups: a user's cold items of their own group outrank the other group's
    df = evaluate_cold_items(model, split.train, split.test, among="cold")
    blind = evaluate_cold_items(IALS(factors=8, iterations=5, seed=0).fit(split.train), split.train, split.test,
                                among="cold")
    ndcg = lambda d: float(d.loc[d.metric == "ndcg", "value"].iloc[0])  # noqa: E731
    assert ndcg(df) > ndcg(blind) + 0.1


def test_attribute_to_factor_needs_all_vectors(log):
    with pytest.raises(CourseKitError, match="no content vector"):
        AttributeToFactor(item_vectors().iloc[:50], factors=4, iterations=2).fit(log)


def test_dropoutnet_cold_item_depends_only_on_content(log):
    split = strict_cold_items(log, test_frac=0.2, seed=0)
    model = DropoutNet(item_vectors(), dim=8, hidden=16, steps=150, factors=8, iterations=5, seed=0).fit(split.train)
    assert model.loss_history_[-20:].mean() < model.loss_history_[:20].mean()
    C = model.content_inputs_
    rng = np.random.default_rng(0)
    cf_a, cf_b = rng.normal(size=model.cf_inputs_.shape), rng.normal(size=model.cf_inputs_.shape)
    drop = np.ones(len(C), dtype=bool)
    np.testing.assert_array_equal(model.embed_items(cf_a, C, drop), model.embed_items(cf_b, C, drop))
    assert not np.allclose(model.embed_items(cf_a, C), model.embed_items(cf_b, C)), "warm items use their CF input"
    cold = ~(split.train.item_counts() > 0)
    np.testing.assert_allclose(model.item_embeddings_[cold], model.embed_items(cf_a, C, drop)[cold], rtol=1e-6)


def test_count_gate_and_hybrid_limits(log):
    assert count_gate(np.array([0.0]), 3.0)[0] == 0.0
    with pytest.raises(CourseKitError):
        count_gate(np.array([1.0]), 0.0)
    z = row_standardize(np.array([[1.0, 2.0, 3.0]]))
    assert abs(z.mean()) < 1e-12 and z.std() == pytest.approx(1.0)
    split = strict_cold_items(log, test_frac=0.2, seed=0)
    hyb = CountGatedHybrid(item_vectors(), kappa=5.0, factors=8, iterations=5, seed=0).fit(split.train)
    users = np.arange(log.n_users)[split.train.user_counts() > 0][:10]
    zc, zf = hyb.part_scores(users)
    s = hyb.score_indices(users)
    cold = split.train.item_counts() == 0
    np.testing.assert_allclose(s[:, cold], zc[:, cold])          # no interactions: content only
    g = hyb.gate_[~cold]
    np.testing.assert_allclose(s[:, ~cold], (1 - g) * zc[:, ~cold] + g * zf[:, ~cold])
    learned = CountGatedHybrid(item_vectors(), gate="learned", kappas=(1.0, 1000.0), factors=8, iterations=5,
                               seed=0).fit(split.train)
    assert learned.kappa_ in (1.0, 1000.0) and len(learned.validation_ndcg_) == 2


# ---------------------------------------------------------------------------- new users
def test_fold_in_scores_match_the_models_fold_in(log):
    ials = IALS(factors=8, iterations=5, solver="cholesky", seed=0).fit(log)
    ob = onboarding_split(log, k=3, seed=0)
    s = fold_in_scores(ials, ob.revealed)
    assert s.shape == (log.n_users, log.n_items)
    m = ob.revealed.matrix("count")
    users = np.flatnonzero(np.diff(m.indptr) > 0)[:3]
    assert len(users) == 3
    for u in users:
        np.testing.assert_allclose(s[u], ials.fold_in(ials.items_.ids[m[u].indices], m[u].data), atol=1e-8)
    none = ob.revealed.user_counts() == 0
    np.testing.assert_array_equal(s[none][0], ials.item_popularity_)


def test_question_strategies(log):
    ials = IALS(factors=8, iterations=5, seed=0).fit(log)
    pop = log.item_counts()
    q = {s: question_items(s, ials.item_factors_, pop, n=6, pool=40) for s in ("popular", "diverse", "informative")}
    np.testing.assert_array_equal(q["popular"], np.argsort(-pop, kind="stable")[:6])
    for s, idx in q.items():
        assert len(set(idx.tolist())) == 6, s
    # diverse questions cover both taste groups (items 1..30 / 31..60) quickly
    groups = log.items.ids[q["diverse"][:2]] > 30
    assert groups[0] != groups[1]
    ans = answer_questions(q["popular"], log.matrix("binary"))
    assert set(ans.indices.tolist()) <= set(q["popular"].tolist())
    with pytest.raises(CourseKitError):
        question_items("clever", ials.item_factors_, pop, n=3)


def test_profile_and_text_scores(log):
    V = item_vectors().to_numpy()
    ob = onboarding_split(log, k=3, seed=0)
    pop = log.item_counts().astype(float)
    s = profile_scores(V, ob.revealed, pop)
    u = ob.new_users[0]
    own = ob.revealed.item_index[ob.revealed.user_index == u]
    assert s[u, own].max() == pytest.approx(s[u].max(), abs=0.2)
    t = text_profile_scores(np.array([u, u]), V[own[:2]], V, log.n_users, pop)
    assert t.shape == (log.n_users, log.n_items)
    np.testing.assert_array_equal(t[(u + 1) % log.n_users], pop)


def test_similarity_alignment():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 5))
    assert similarity_alignment(a @ np.diag([1, 1, 1, 1, 1.0]), a) == pytest.approx(1.0)
    assert abs(similarity_alignment(rng.normal(size=(40, 5)), a)) < 0.2
    with pytest.raises(CourseKitError):
        similarity_alignment(a[:2], a[:2])


def test_contract_data_has_cold_item_content():
    """The registered contract cases give the contract's cold item a vector (mapped, not noise)."""
    from contract_cases import CONTRACT_CASES

    data = contract_data()
    model = CONTRACT_CASES["AttributeToFactor-ridge"]().fit(data)
    cold = data.items.index([90_000])[0]
    np.testing.assert_allclose(model.item_factors_[cold], model.mapped_item_factors_[cold])


# fold-in with a popularity prior, beta chosen on validation users
def test_prior_scores_adds_log_popularity_and_keeps_fallback(log):
    from coursekit.coldstart import prior_scores

    ob = onboarding_split(log, k=3, test_frac=0.2, seed=3, max_k=10)
    m = IALS(factors=4, iterations=3, seed=0).fit(ob.train)
    base = fold_in_scores(m, ob.revealed)
    assert np.allclose(prior_scores(m, ob.revealed, 0.0), base)
    has = ob.revealed.user_counts() > 0
    diff = prior_scores(m, ob.revealed, 0.5) - base
    assert np.allclose(diff[has], 0.5 * np.log1p(m.item_popularity_))   # independent: the formula itself
    assert np.allclose(diff[~has], 0.0)                                  # no reveals: popularity fallback
    with pytest.raises(CourseKitError, match="beta"):
        prior_scores(m, ob.revealed, -1.0)


def test_choose_prior_weight_picks_validation_argmax(log):
    from coursekit.coldstart import choose_prior_weight

    ob = onboarding_split(log, k=3, test_frac=0.2, seed=3, max_k=10)
    chosen = choose_prior_weight(ob.train, ks=(1, 3), betas=(0.0, 0.3), seed=3, factors=4, iterations=3)
    assert set(chosen) == {1, 3}
    for beta, vals in chosen.values():
        assert beta in (0.0, 0.3) and vals.shape == (2,) and beta == (0.0, 0.3)[int(np.argmax(vals))]
    assert not np.isin(ob.train.user_index, ob.new_users).any()   # only training users choose beta
    again = choose_prior_weight(ob.train, ks=(1, 3), betas=(0.0, 0.3), seed=3, factors=4, iterations=3)
    assert all(np.allclose(chosen[k][1], again[k][1]) for k in chosen)


# ------------------------------------------------------------------ helpers behind lesson 06's claims
def test_order_agreement_shared_vs_independent_orders():
    from coursekit.coldstart import order_agreement

    rng = np.random.default_rng(0)
    cand = np.zeros(30, bool)
    cand[:20] = True
    shared = np.tile(rng.random(30), (40, 1)) + 1e-6 * rng.random((40, 30))   # one order, tiny per-user noise
    assert order_agreement(shared, np.arange(40), cand) > 0.99
    assert abs(order_agreement(rng.random((40, 30)), np.arange(40), cand)) < 0.2
    with pytest.raises(CourseKitError, match="candidate"):
        order_agreement(shared, np.arange(40), np.eye(1, 30, dtype=bool)[0])


def test_similarity_alignment_se_bootstrap():
    from coursekit.coldstart import similarity_alignment, similarity_alignment_se

    rng = np.random.default_rng(1)
    a = rng.normal(size=(60, 4))
    b = a + 0.5 * rng.normal(size=a.shape)
    value, se = similarity_alignment_se(b, a, n_boot=40, seed=0)
    assert value == pytest.approx(similarity_alignment(b, a))
    assert 0 < se < 0.2 and value - 2 * se > 0
    noise, noise_se = similarity_alignment_se(rng.normal(size=(60, 4)), a, n_boot=40, seed=0)
    assert abs(noise) < 2.5 * noise_se + 0.05                   # unrelated vectors: within noise of 0
    with pytest.raises(CourseKitError, match="n_boot"):
        similarity_alignment_se(a, a, n_boot=1)


def test_popularity_probe_errors_give_the_probe_r2():
    from coursekit.coldstart import popularity_probe, popularity_probe_errors

    rng = np.random.default_rng(2)
    x = rng.normal(size=(150, 3))
    pop = np.expm1(np.abs(2 * x[:, 0]))
    err = popularity_probe_errors(x, pop, seed=1)
    y = np.log1p(pop)
    assert err.shape == (150,) and (err >= 0).all()
    assert 1 - err.sum() / ((y - y.mean()) ** 2).sum() == pytest.approx(popularity_probe(x, pop, seed=1))
    with pytest.raises(CourseKitError, match="aligned"):
        popularity_probe_errors(x, pop[:-1])
