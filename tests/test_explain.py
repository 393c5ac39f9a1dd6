"""coursekit.explain: exact contributions, KernelSHAP vs shap, LIME, counterfactuals, IG, templates, faithfulness."""
from __future__ import annotations

import numpy as np
import pytest

from coursekit.datasets import load_shop
from coursekit.explain import (
    counterfactual,
    exact_contributions,
    explain,
    history_scorer,
    kernel_shap_values,
    lime_values,
    score_with_history,
)
from coursekit.explain.faithfulness import agreement, auc, curves, deletion_curve_values, order_of, random_order
from coursekit.interactions import Interactions
from coursekit.models import EASE, IALS, ItemKNN, MostPopular


@pytest.fixture(scope="module")
def small():
    data = load_shop()
    log = data.interactions
    log = log[log["user_id"] <= 150].drop_duplicates(["user_id", "item_id"], keep="last")   # one event per pair
    # short histories (3 to 12 distinct items, the earliest ones), as the exact enumerations below need
    log = log.sort_values(["timestamp", "item_id"], kind="stable")
    log = log[log.groupby("user_id").cumcount() < 3 + log["user_id"] % 10]
    return data, Interactions.from_frame(log[["user_id", "item_id", "timestamp"]])


@pytest.fixture(scope="module")
def models(small):
    _, train = small
    return {"ItemKNN": ItemKNN(k=30).fit(train), "EASE": EASE(reg=50.0).fit(train),
            "IALS": IALS(factors=8, iterations=4, solver="cholesky", seed=0).fit(train)}


def _users(train, lo=3, hi=11, n=5):
    counts = train.user_counts()
    users = train.users.ids[np.nonzero((counts >= lo) & (counts <= hi))[0][:n]]
    assert len(users) > 0, f"no user with {lo} to {hi} history items: the test would check nothing"
    return users


@pytest.mark.parametrize("name", ["ItemKNN", "EASE"])
def test_exact_contributions_sum_to_score(name, models, small):
    model, (_, train) = models[name], small
    for u in _users(train):
        for item in model.recommend([u], k=3)[0][0]:
            f = exact_contributions(model, u, item)
            assert abs(f["contribution"].sum() - model.score([u], items=[item])[0, 0]) < 1e-10
            assert len(f) == model.seen_[train.users.index([u])[0]].nnz


@pytest.mark.parametrize("name", ["ItemKNN", "EASE", "IALS"])
def test_full_history_reproduces_model_score(name, models, small):
    model, (_, train) = models[name], small
    for u in _users(train):
        hs = history_scorer(model, u)
        atol = 1e-6 if name == "IALS" else 1e-10
        np.testing.assert_allclose(hs.scores(np.ones(hs.n_features)), model.score([u]), atol=atol)
        kept = hs.history_ids[:-1]
        direct = score_with_history(model, kept, user=u)
        np.testing.assert_allclose(direct, hs.scores(np.r_[np.ones(hs.n_features - 1), 0.0])[0])


@pytest.mark.parametrize("name", ["ItemKNN", "EASE", "IALS"])
def test_masked_scores_are_the_models_fold_in_of_the_kept_items(name, models, small):
    model, (_, train) = models[name], small
    rng = np.random.default_rng(0)
    checked = 0
    for u in _users(train):
        hs = history_scorer(model, u)
        for _ in range(3):
            keep = rng.random(hs.n_features) < 0.6
            if keep.any():
                np.testing.assert_allclose(hs.scores(keep.astype(float))[0], model.fold_in(hs.history_ids[keep]),
                                           rtol=1e-5, atol=1e-6)
                checked += 1
    assert checked > 0


def test_score_with_history_rejects_foreign_items_and_unsupported_models(models, small):
    from coursekit import CourseKitError

    _, train = small
    u = _users(train)[0]
    with pytest.raises(CourseKitError, match="not in user"):
        score_with_history(models["EASE"], [10 ** 9], user=u)
    with pytest.raises(CourseKitError, match="explanations support"):
        history_scorer(MostPopular().fit(train), u)


@pytest.mark.parametrize("name", ["ItemKNN", "EASE"])
def test_kernel_shap_recovers_exact_contributions(name, models, small):
    model, (_, train) = models[name], small
    for u in _users(train, 3, 40):
        item = model.recommend([u], k=1)[0][0, 0]
        ex, sh = explain(model, u, item, "exact"), explain(model, u, item, "kernel_shap", max_exact=8)
        feats = ex["feature"].to_numpy()
        np.testing.assert_allclose(sh.set_index("feature").loc[feats, "contribution"], ex["contribution"], atol=1e-8)


def test_kernel_shap_matches_shap_library_on_a_nonlinear_model(models, small):
    import shap

    model, (_, train) = models["IALS"], small
    u = _users(train, 5, 8)[0]
    hs = history_scorer(model, u)
    item = model.recommend([u], k=1)[0][0, 0]
    v = hs.value_function(item)
    M = hs.n_features
    ours, v0, v1 = kernel_shap_values(v, M)                    # exact enumeration (M <= 12)
    ex = shap.KernelExplainer(lambda X: v(X), np.zeros((1, M)))
    theirs = ex.shap_values(np.ones((1, M)), nsamples=2 ** M, silent=True)
    np.testing.assert_allclose(ours, np.ravel(theirs), atol=1e-6)
    assert abs(ours.sum() - (v1 - v0)) < 1e-9
    # the exact Shapley value by the permutation formula, on a 4-feature game: a third, independent check
    import itertools
    from math import factorial

    v4 = lambda Z: v(np.c_[Z, np.ones((len(Z), M - 4))])      # noqa: E731
    phi4 = kernel_shap_values(v4, 4)[0]
    ref = np.zeros(4)
    for perm in itertools.permutations(range(4)):
        z = np.zeros(4)
        for j in perm:
            before = v4(z[None])[0]
            z[j] = 1
            ref[j] += (v4(z[None])[0] - before) / factorial(4)
    np.testing.assert_allclose(phi4, ref, atol=1e-9)


def test_sampled_kernel_shap_is_seeded_and_exact_on_additive_games():
    c = np.random.default_rng(0).normal(size=30)
    v = lambda Z: 0.3 + Z @ c                                    # noqa: E731
    a = kernel_shap_values(v, 30, n_samples=400, seed=1)[0]
    b = kernel_shap_values(v, 30, n_samples=400, seed=1)[0]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, c, atol=1e-8)
    nonlin = lambda Z: np.tanh(Z @ c)                            # noqa: E731
    assert not np.array_equal(kernel_shap_values(nonlin, 30, n_samples=200, seed=1)[0],
                              kernel_shap_values(nonlin, 30, n_samples=200, seed=2)[0])


def test_lime_ranks_an_additive_game_and_is_seeded():
    c = np.array([2.0, -1.0, 0.5, 0.0, 1.0])
    v = lambda Z: Z @ c                                          # noqa: E731
    beta, _ = lime_values(v, 5, n_samples=500, seed=3)
    assert np.argsort(-beta).tolist() == np.argsort(-c).tolist()
    np.testing.assert_array_equal(beta, lime_values(v, 5, n_samples=500, seed=3)[0])


@pytest.mark.parametrize("name", ["ItemKNN", "EASE", "IALS"])
def test_counterfactual_flips_top1_and_greedy_is_never_smaller_than_exact(name, models, small):
    model, (_, train) = models[name], small
    for u in _users(train, 3, 8):
        hs = history_scorer(model, u)
        g = counterfactual(model, u, scorer=hs)
        e = counterfactual(model, u, method="exact", max_size=hs.n_features, scorer=hs)
        assert g.valid == e.valid
        if g.valid:
            keep = ~np.isin(hs.history_ids, g.removed)
            assert hs.top1(keep[None])[0] == g.new_top1 != g.top1
            assert e.size <= g.size


def test_deletion_curve_of_exact_order_beats_random_on_additive_model(models, small):
    model, (_, train) = models["EASE"], small
    wins = []
    for u in _users(train, 8, 40, n=8):
        item = model.recommend([u], k=1)[0][0, 0]
        hs = history_scorer(model, u)
        ex = explain(model, u, item, "exact")
        c = curves(hs, item, order_of(ex, hs))
        assert c["deletion_score"].iloc[0] == pytest.approx(1.0) and c["deletion_score"].iloc[-1] == pytest.approx(0.0)
        assert (c["deletion_rank"] >= 1).all()
        rnd = np.mean([auc(deletion_curve_values(hs.value_function(item), random_order(hs.n_features, s)))
                       for s in range(5)])
        wins.append(auc(c["deletion_score"].to_numpy()) < rnd)
    assert np.mean(wins) >= 0.75


def test_agreement_is_one_for_identical_and_low_for_reversed():
    from coursekit.explain.contributions import contributions_frame

    a = contributions_frame([1, 2, 3, 4], [4.0, 3.0, 2.0, 1.0], method="exact")
    b = contributions_frame([1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0], method="x")
    assert agreement(a, a) == {"spearman": 1.0, "top3_overlap": 1.0}
    assert agreement(b, a)["spearman"] == -1.0


@pytest.mark.parametrize("pooling", ["cls", "candidate"])
def test_integrated_gradients_completeness_and_aggregation(pooling):
    from coursekit.explain.integrated_gradients import integrated_gradients
    from coursekit.text.cross_encoder import CrossEncoder

    ce = CrossEncoder.tiny(seed=0, pooling=pooling)
    assert ce.logits(["red wool jacket | blue hiking boot"], ["red rain jacket"])[0] != 0.0
    r = integrated_gradients(ce, ["red wool jacket", "blue hiking boot"], "red rain jacket", n_steps=64,
                             item_labels=[11, 22])
    gap = r.logit - r.baseline_logit
    assert r.logit == pytest.approx(ce.logits(["red wool jacket | blue hiking boot"], ["red rain jacket"])[0], abs=1e-5)
    assert abs(r.tokens["attribution"].sum() - gap) <= abs(r.delta) + 1e-9
    assert abs(r.delta) < 0.05 * abs(gap) + 1e-7
    assert (r.tokens.loc[r.tokens["segment"] == "special", "attribution"] == 0).all()   # baseline keeps them
    assert set(r.items["feature"]) == {11, 22, "[separator]", "[candidate]"}
    assert r.items["contribution"].sum() == pytest.approx(r.tokens["attribution"].sum(), abs=1e-12)
    assert r.words["attribution"].sum() == pytest.approx(r.tokens["attribution"].sum(), abs=1e-12)
    assert {"red", "wool", "jacket", "blue", "hiking", "boot", "rain"} <= set(r.words["word"])


def test_templates_name_only_what_the_explainer_found(models, small):
    from coursekit.explain.templates import because, mentioned

    data, train = small
    model = models["ItemKNN"]
    titles = data.items.set_index("item_id")["title"]
    titles = titles[~titles.duplicated(keep=False)]
    for u in _users(train, 3, 20):
        item = model.recommend([u], k=1)[0][0, 0]
        ex = explain(model, u, item, "exact")
        ex = ex[ex["feature"].isin(titles.index)]
        text, facts = because(ex, titles, titles.get(item, "it"), k=2)
        found = set(ex.loc[ex["contribution"] > 0, "feature"].head(2))
        assert set(facts["items"]) == found
        named = set(mentioned(text, titles)) - {item}
        assert named == found, text


def test_attribute_recovery_on_shop_beats_random_attribute(small):
    from coursekit.explain.attributes import attribute_recovery

    data, _ = small
    train = data.to_interactions()
    model = EASE(reg=200.0).fit(train)
    users = train.users.ids[:200]
    rec = attribute_recovery(model, data.truth, users)
    assert rec["taste_spearman"].mean() > 0.2
    assert rec["top_attribute_liked"].mean() > rec["random_attribute_liked"].mean()


def test_per_user_faithfulness_reports_the_curve_peak_and_the_score_gap(models, small):
    from coursekit.explain.report import per_user_faithfulness

    model, (_, train) = models["EASE"], small
    users = _users(train, 5, 11, n=3)
    rows = per_user_faithfulness(model, users, methods=("exact",))
    for row in rows.itertuples():
        hs = history_scorer(model, row.user)
        v = hs.value_function(row.target)
        full, empty = v(np.vstack([np.ones(hs.n_features), np.zeros(hs.n_features)]))
        assert row.score_gap == pytest.approx(full - empty)
        exact = explain(model, row.user, row.target, "exact")
        curve = deletion_curve_values(v, order_of(exact, hs))
        raw = deletion_curve_values(v, order_of(exact, hs), clip=False)
        assert row.deletion_max == pytest.approx(raw.max()) and row.deletion_max >= 1.0 - 1e-12
        assert row.deletion_min == pytest.approx(raw.min()) and row.deletion_min <= 1e-12
        assert row.deletion_auc == pytest.approx(auc(curve)) and 0.0 <= row.deletion_auc <= 1.0
        assert ((curve >= 0) & (curve <= 1)).all()
        np.testing.assert_allclose(curve, np.clip(raw, 0, 1))


def test_deletion_and_insertion_curves_by_hand_are_clipped_to_the_unit_interval():
    # v(z) = 2 z0 - z1 + z2: full history 2, empty 0; item 1 pushes against the target
    v = lambda Z: Z @ np.array([2.0, -1.0, 1.0])   # noqa: E731
    order = np.array([1, 0, 2])                      # the "against" item first: the score rises to 3
    np.testing.assert_allclose(deletion_curve_values(v, order, clip=False), [1.0, 1.5, 0.5, 0.0])
    curve = deletion_curve_values(v, order)
    np.testing.assert_allclose(curve, [1.0, 1.0, 0.5, 0.0])
    assert auc(curve) == pytest.approx((1.0 + 0.75 + 0.25) / 3)   # trapezoids of width 1/3
    # insertion in the order 0, 2, 1: scores 0, 2, 3, 2 -> raw 0, 1, 1.5, 1 -> clipped 0, 1, 1, 1
    ins = deletion_curve_values(v, np.array([0, 2, 1]), insertion=True)
    np.testing.assert_allclose(ins, [0.0, 1.0, 1.0, 1.0])
    assert auc(ins) == pytest.approx((0.5 + 1.0 + 1.0) / 3)


def test_curve_is_nan_when_the_history_does_not_raise_the_target():
    from coursekit.explain.faithfulness import normalise_curve

    against = lambda Z: Z @ np.array([-1.0, 0.5])   # noqa: E731  full -0.5 < empty 0
    assert np.isnan(deletion_curve_values(against, np.array([0, 1]))).all()
    assert np.isnan(auc(deletion_curve_values(against, np.array([0, 1]))))
    assert np.isnan(normalise_curve([1.0, 1.0], full=1.0, empty=1.0)).all()
    np.testing.assert_allclose(normalise_curve([3.0, 0.5, -1.0], full=3.0, empty=1.0), [1.0, 0.0, 0.0])


def test_items_in_window_counts_whole_items_within_word_and_token_budgets():
    from coursekit.explain.window import items_in_window
    from coursekit.text.cross_encoder import CrossEncoder

    items = ["red wool scarf", "blue hat", "green boots"]   # 3 + 2 + 2 tokens, separators 1 token each
    for max_length, expected in [(12, 2), (13, 2), (14, 3), (9, 1), (6, 0)]:
        # history tokens left: max_length - 3 special - 2 candidate ("red boot")
        ce = CrossEncoder.tiny(max_length=max_length)
        assert items_in_window(ce, items, "red boot") == expected, max_length
    ce = CrossEncoder.tiny(max_length=64)
    assert items_in_window(ce, items, "red boot") == 3
    assert items_in_window(ce, items, "red boot", max_words=5) == 2
    assert items_in_window(ce, items, "red boot", max_words=2) == 0    # the first item is cut: not read whole
    assert items_in_window(ce, [], "red boot") == 0


def test_reranker_window_flags_features_the_model_never_reads(small):
    from coursekit.explain.window import reranker_window
    from coursekit.models import TwoStageRecommender
    from coursekit.text.cross_encoder import CrossEncoder
    from coursekit.text.items import item_summaries

    data, train = small
    users = _users(train, 6, 12, n=3)
    summaries = item_summaries(data)
    for max_length, covered in [(512, True), (40, False)]:
        two = TwoStageRecommender(MostPopular(), CrossEncoder.tiny(max_length=max_length), n_candidates=5,
                                  item_texts=summaries, history_size=6, max_history_words=200).fit(train)
        targets = [int(two.recommend([u], k=1)[0][0, 0]) for u in users]
        w = reranker_window(two, users, targets)
        assert (w["n_features"] == 6).all()
        assert w["covered"].all() == covered and (w["covered"] == (w["n_read"] >= w["n_features"])).all()
        if not covered:
            assert (w["n_read"] < 6).all()
