"""coursekit.trust: calibration (ECE, calibrators), MMR diversity re-ranking, "not interested" feedback."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit._validation import CourseKitError
from coursekit.interactions import Interactions
from coursekit.trust import (
    IsotonicCalibration,
    MinMaxScaling,
    MMRReranker,
    NotInterested,
    PlattScaling,
    TemperatureScaling,
    calibration_report,
    coverage_change,
    diversity_sweep,
    ece_change,
    expected_calibration_error,
    hit_pairs,
    knee_point,
    mmr_rerank,
    reliability_table,
    split_users,
)


# ---------------------------------------------------------------------------- small data
def _log(seed: int = 0, n_users: int = 40, n_items: int = 30, n: int = 600) -> Interactions:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    group = users % 3
    items = np.where(rng.random(n) < 0.8, group * 10 + rng.integers(0, 10, n), rng.integers(0, n_items, n))
    frame = pd.DataFrame({"user_id": users, "item_id": items, "timestamp": np.arange(n) * 10})
    return Interactions.from_frame(frame.drop_duplicates(["user_id", "item_id"]), users=np.arange(n_users),
                                   items=np.arange(n_items))


def _train_test(seed: int = 0):
    from coursekit.splits import user_temporal_split

    split = user_temporal_split(_log(seed), test_frac=0.3)
    return split.train, split.test


# ---------------------------------------------------------------------------- ECE
def _ece_loop(p, y, n_bins):
    """Independent ECE: an explicit loop over equal-width bins [b/B, (b+1)/B), last bin closed."""
    total, n = 0.0, len(p)
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        in_bin = [(pj, yj) for pj, yj in zip(p, y) if lo <= pj < hi or (b == n_bins - 1 and pj == 1.0)]
        if in_bin:
            conf = sum(pj for pj, _ in in_bin) / len(in_bin)
            acc = sum(yj for _, yj in in_bin) / len(in_bin)
            total += len(in_bin) / n * abs(acc - conf)
    return total


def test_ece_hand_computed():
    # 5 pairs, 2 bins: [0, .5): p = .1, .3, .4 with y = 0, 0, 1 -> conf .8/3, hit rate 1/3
    #                  [.5, 1]: p = .6, 1.0 with y = 1, 1 -> conf .8, hit rate 1
    p, y = [0.1, 0.3, 0.4, 0.6, 1.0], [0, 0, 1, 1, 1]
    expected = 3 / 5 * abs(1 / 3 - 0.8 / 3) + 2 / 5 * abs(1.0 - 0.8)
    assert expected_calibration_error(p, y, n_bins=2) == pytest.approx(expected, abs=1e-12)
    # equal mass differs from equal width when the bins split differently:
    # p = .1 .2 .3 .4, y = 1 1 0 0. Equal width, 2 bins: all in [0, .5): |2 - 1| / 4 = .25.
    # Equal mass: {.1, .2} |2 - .3| and {.3, .4} |0 - .7| -> (1.7 + .7) / 4 = .6
    p2, y2 = [0.1, 0.2, 0.3, 0.4], [1, 1, 0, 0]
    assert expected_calibration_error(p2, y2, n_bins=2) == pytest.approx(0.25, abs=1e-12)
    assert expected_calibration_error(p2, y2, n_bins=2, strategy="quantile") == pytest.approx(0.6, abs=1e-12)
    # the unweighted mean over bins is a different (wrong) number here
    assert expected != pytest.approx((abs(1 / 3 - 0.8 / 3) + abs(1.0 - 0.8)) / 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ece_matches_loop_and_sklearn_calibration_curve(seed):
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(seed)
    p = rng.beta(0.5, 3.0, 500)
    y = (rng.random(500) < np.sqrt(p)).astype(int)
    assert expected_calibration_error(p, y, 10) == pytest.approx(_ece_loop(p, y, 10), abs=1e-12)
    table = reliability_table(p, y, 10)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(table["hit_rate"], prob_true, atol=1e-12)
    np.testing.assert_allclose(table["mean_prob"], prob_pred, atol=1e-12)
    assert table["count"].sum() == 500


def test_ece_edges_and_errors():
    assert expected_calibration_error([0.0, 1.0], [0, 1]) == 0.0            # p = 1 lands in the last bin
    assert expected_calibration_error([1.0, 1.0], [0, 0]) == 1.0
    for p, y in [([1.2], [1]), ([np.nan], [1]), ([0.5], [2]), ([0.5, 0.5], [1])]:
        with pytest.raises(CourseKitError):
            expected_calibration_error(p, y)
    with pytest.raises(CourseKitError, match="strategy"):
        expected_calibration_error([0.5], [1], strategy="equal")


# ---------------------------------------------------------------------------- calibrators
def test_platt_equals_sklearn_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    s = rng.normal(2.0, 3.0, 800)
    y = (rng.random(800) < 1 / (1 + np.exp(-(0.7 * s - 2)))).astype(int)
    ours = PlattScaling().fit(s, y)
    lr = LogisticRegression(C=1e6, max_iter=5000, tol=1e-10).fit(s[:, None], y)
    grid = np.linspace(-8, 12, 30)
    np.testing.assert_allclose(ours.predict(grid), lr.predict_proba(grid[:, None])[:, 1], atol=2e-4)
    assert ours.a_ == pytest.approx(0.7, abs=0.15)


def test_isotonic_equals_sklearn_and_is_monotone():
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(4)
    s, y = rng.normal(size=300), rng.integers(0, 2, 300)
    grid = np.linspace(-4, 4, 50)
    ours = IsotonicCalibration().fit(s, y).predict(grid)
    np.testing.assert_allclose(ours, IsotonicRegression(out_of_bounds="clip").fit(s, y).predict(grid))
    assert (np.diff(ours) >= 0).all()


def test_temperature_recovers_the_true_temperature():
    rng = np.random.default_rng(5)
    z = rng.normal(0, 4, 20000)
    y = (rng.random(z.size) < 1 / (1 + np.exp(-z / 2.5))).astype(int)
    t = TemperatureScaling().fit(z, y)
    assert t.temperature_ == pytest.approx(2.5, rel=0.08)
    assert TemperatureScaling(fit=False).fit(z, y).temperature_ == 1.0
    # fitted T gives lower held-out ECE than the raw sigmoid on these over-confident logits
    zt = rng.normal(0, 4, 5000)
    yt = (rng.random(zt.size) < 1 / (1 + np.exp(-zt / 2.5))).astype(int)
    raw = TemperatureScaling(fit=False).fit(z, y).predict(zt)
    assert expected_calibration_error(t.predict(zt), yt) < expected_calibration_error(raw, yt)


def test_calibrators_reject_bad_input():
    with pytest.raises(CourseKitError, match="not fitted"):
        PlattScaling().predict([0.1])
    with pytest.raises(CourseKitError, match="both hits and misses"):
        PlattScaling().fit([1.0, 2.0], [1, 1])
    with pytest.raises(CourseKitError, match="finite"):
        MinMaxScaling().fit([1.0, -np.inf], [0, 1])


def test_hit_pairs_labels_match_a_loop():
    from coursekit.models import ItemKNN

    train, test = _train_test(1)
    model = ItemKNN(k=10).fit(train)
    pairs = hit_pairs(model, train, test, n=8)
    train_sets = [set(s) for s in train.user_items()]
    test_sets = [set(s) for s in test.user_items()]
    users = sorted(u for u in range(train.n_users) if test_sets[u] - train_sets[u] and train_sets[u])
    assert sorted(pairs["user"].unique()) == users
    ids, scores = model.recommend_indices(np.array(users), 8)
    for u, row, srow in zip(users, ids, scores):
        got = pairs[pairs.user == u]
        keep = row >= 0
        assert got["item"].tolist() == row[keep].tolist()
        np.testing.assert_allclose(got["score"], srow[keep])
        assert got["hit"].tolist() == [int(i in test_sets[u] - train_sets[u]) for i in row[keep]]


def test_calibration_lowers_held_out_ece_on_the_shop():
    import coursekit
    from coursekit.models import ItemKNN
    from coursekit.splits import user_temporal_split

    split = user_temporal_split(coursekit.load_dataset("shop").to_interactions(), test_frac=0.2)
    model = ItemKNN(k=50).fit(split.train)
    pairs = hit_pairs(model, split.train, split.test, n=20)
    table, probs = calibration_report(pairs, ("minmax", "platt", "isotonic"), frac=0.5, seed=0)
    ece = table.set_index("method")["ece"]
    assert ece["platt"] < ece["minmax"] and ece["isotonic"] < ece["minmax"]
    assert table["n_fit"].iloc[0] + table["n_eval"].iloc[0] == len(pairs)
    # the calibrated mean probability is close to the held-out hit rate
    assert abs(table.set_index("method").loc["platt", "mean_prob"] - table["hit_rate"].iloc[0]) < 0.01
    assert set(probs) == {"labels", "minmax", "platt", "isotonic"}


def test_split_users_disjoint():
    a, b = split_users(np.array([5, 5, 3, 9, 1, 7]), 0.5, seed=2)
    assert set(a).isdisjoint(b) and set(a) | set(b) == {1, 3, 5, 7, 9}


# ---------------------------------------------------------------------------- MMR
def _mmr_loop(items, scores, V, k, lam):
    """Independent MMR: one user at a time, plain Python sets and max over the chosen items."""
    U = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-300)
    out = []
    for row, srow in zip(items, scores):
        cand = [(pos, int(i)) for pos, i in enumerate(row) if i >= 0]
        vals = [srow[pos] for pos, _ in cand]
        lo, hi = min(vals), max(vals)
        rel = {pos: (srow[pos] - lo) / (hi - lo) if hi > lo else 1.0 for pos, _ in cand}
        chosen: list[tuple[int, int]] = []
        while len(chosen) < min(k, len(cand)):
            best, best_val = None, -np.inf
            for pos, i in cand:
                if (pos, i) in chosen:
                    continue
                penalty = max((U[i] @ U[j] for _, j in chosen), default=0.0)
                val = lam * rel[pos] - (1 - lam) * penalty
                if val > best_val + 1e-12:
                    best, best_val = (pos, i), val
            chosen.append(best)
        out.append([i for _, i in chosen] + [-1] * (min(k, items.shape[1]) - len(chosen)))
    return np.array(out)


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.5, 0.8, 1.0])
def test_mmr_matches_a_loop(lam):
    rng = np.random.default_rng(7)
    V = rng.normal(size=(25, 4))
    items = np.array([rng.permutation(25)[:12] for _ in range(6)])
    items[2, 9:] = -1                                           # a user with only 9 candidates
    scores = np.sort(rng.normal(size=items.shape), axis=1)[:, ::-1].copy()
    scores[items < 0] = -np.inf
    got, obj = mmr_rerank(items, scores, V, k=10, lam=lam)
    np.testing.assert_array_equal(got, _mmr_loop(items, scores, V, 10, lam))
    assert (got[2, 9:] == -1).all() and np.isneginf(obj[2, 9:]).all()
    for row in got:
        real = row[row >= 0]
        assert len(set(real.tolist())) == len(real)


def test_mmr_lambda_one_is_the_base_order_and_blocks_agree():
    rng = np.random.default_rng(8)
    V = rng.normal(size=(40, 5))
    items = np.array([rng.permutation(40)[:20] for _ in range(30)])
    scores = -np.arange(20.0)[None, :].repeat(30, axis=0)
    np.testing.assert_array_equal(mmr_rerank(items, scores, V, k=10, lam=1.0)[0], items[:, :10])
    a = mmr_rerank(items, scores, V, k=10, lam=0.4)[0]
    b = mmr_rerank(items, scores, V, k=10, lam=0.4, batch_entries=100)[0]   # one user per block
    np.testing.assert_array_equal(a, b)


def test_mmr_raises_diversity():
    from coursekit.metrics import intra_list_diversity

    rng = np.random.default_rng(9)
    V = np.repeat(np.eye(5), 8, axis=0) + 0.05 * rng.normal(size=(40, 5))   # 5 clusters of 8 items
    items = np.array([rng.permutation(40)[:30] for _ in range(20)])
    scores = -np.arange(30.0)[None, :].repeat(20, axis=0)
    ild = [np.mean(intra_list_diversity(mmr_rerank(items, scores, V, k=5, lam=lam)[0], V)) for lam in (1.0, 0.5, 0.0)]
    assert ild[0] < ild[1] <= ild[2] + 1e-12


def test_mmr_bad_input():
    with pytest.raises(CourseKitError, match="lam"):
        mmr_rerank(np.array([[0]]), np.array([[1.0]]), np.eye(2), k=1, lam=1.5)
    with pytest.raises(CourseKitError, match="same shape"):
        mmr_rerank(np.array([[0, 1]]), np.array([[1.0]]), np.eye(2), k=1)
    with pytest.raises(CourseKitError, match="no vector"):
        mmr_rerank(np.array([[5]]), np.array([[1.0]]), np.eye(2), k=1)


def test_knee_point():
    assert knee_point([0, 1, 2, 3, 4], [0, 3, 3.5, 3.8, 4]) == 1
    assert knee_point([0, 1, 2, 3], [3, 2.9, 2.7, 0]) == 2          # a drop at the end: knee just before
    assert knee_point([0, 1], [0, 1]) == 0 and knee_point([1, 1, 1], [2, 2, 2]) == 0
    # scale invariance
    assert knee_point(np.array([0, 1, 2, 3, 4]) * 1000, [0, 3, 3.5, 3.8, 4]) == 1


def test_wrapper_equals_function_and_sweep_matches_evaluate():
    from coursekit.evaluation import evaluate
    from coursekit.models import IALS

    train, test = _train_test(2)
    base = IALS(factors=6, iterations=4, seed=0).fit(train)
    wrapped = MMRReranker(IALS(factors=6, iterations=4, seed=0), lam=0.4, n_candidates=12).fit(train)
    users = np.arange(train.n_users)[train.user_counts() > 0]
    cand, s = base.recommend_indices(users, 12)
    expected, _ = mmr_rerank(cand, s, base._item_vectors(), k=8, lam=0.4)
    got, _ = wrapped.recommend_indices(users, 8)
    np.testing.assert_array_equal(got, expected)
    sweep = diversity_sweep(base, train, test, base._item_vectors(), lambdas=(1.0, 0.4, 0.0), k=5, n_candidates=12)
    ev = evaluate(base, train, test, ks=(5,), metrics=("ndcg",), beyond=True, item_vectors=base._item_vectors())
    warm = ev[ev.group == "warm users"].set_index("metric")["value"]
    assert sweep.loc[0, "ndcg"] == pytest.approx(warm["ndcg"], abs=1e-12)
    assert sweep.loc[0, "coverage"] == pytest.approx(warm["coverage"], abs=1e-12)
    assert sweep.loc[0, "ild"] == pytest.approx(warm["intra_list_diversity"], abs=1e-12)
    assert sweep.loc[2, "ild"] > sweep.loc[0, "ild"]
    assert sweep["knee"].sum() == 1
    ev_w = evaluate(wrapped, train, test, ks=(5,), metrics=("ndcg",), beyond=False)
    assert ev_w.set_index("metric").loc["ndcg", "value"] == pytest.approx(sweep.loc[1, "ndcg"], abs=1e-12)


# ---------------------------------------------------------------------------- not interested
def _stream_setup():
    rng = np.random.default_rng(11)
    V = np.repeat(np.eye(3), 5, axis=0) + 0.1 * rng.random((15, 3))        # 3 clusters of 5 items
    frame = pd.DataFrame({"user_id": [1, 1, 2, 2, 2], "item_id": [0, 1, 5, 10, 11], "timestamp": [0, 1, 2, 3, 4]})
    return V, Interactions.from_frame(frame, users=[1, 2, 3], items=np.arange(15))


def test_dismiss_with_decayed_profile_is_a_negative_event():
    from coursekit.stream import DecayedProfile

    V, train = _stream_setup()
    rec = NotInterested(DecayedProfile(V, half_life=np.inf, normalize=False)).initialize(train)
    before_ids, _ = rec.recommend(1, k=5)
    assert set(before_ids.tolist()) == {2, 3, 4, 5, 6} or before_ids[0] in (2, 3, 4)
    target = int(before_ids[0])
    s0 = rec.score(1)
    rec.dismiss(1, target)
    after_ids, _ = rec.recommend(1, k=5)
    assert target not in after_ids.tolist() and np.isneginf(rec.score(1)[target])
    # the profile moved by -v_i / W: every score changed by -(V v_i) / W exactly
    W = 2.0
    expected = s0 - V @ V[target] / W
    s1 = rec.score(1)
    keep = np.arange(15) != target
    np.testing.assert_allclose(s1[keep], expected[keep], atol=1e-12)
    np.testing.assert_allclose(rec.updater.profile(1), (V[0] + V[1] - V[target]) / W, atol=1e-12)
    # the same-cluster items fell more than the others
    drop = s0 - s1
    assert drop[[2, 3, 4]][np.array([2, 3, 4]) != target].min() > drop[5:].max()
    assert rec.dismissed(1).tolist() == [target]
    # later events still stream in, and the item stays hidden
    rec.update(1, 7, timestamp=10)
    assert target not in rec.recommend(1, k=14)[0].tolist()


def test_dismiss_with_ials_fold_in_equals_a_direct_solve():
    from coursekit.models import IALS
    from coursekit.stream import FoldInUpdater

    train = _log(3)
    model = IALS(factors=5, iterations=4, seed=0).fit(train)
    rec = NotInterested(FoldInUpdater(model)).initialize(train)
    u = 4
    top_before, _ = rec.recommend(u, k=10)
    target = int(top_before[0])
    rec.dismiss(u, target)
    top_after, _ = rec.recommend(u, k=10)
    assert target not in top_after.tolist() and top_after.tolist() != top_before.tolist()
    Y, hist = model.item_factors_, train.matrix("count")[train.users.index([u])[0]]
    c = 1.0 + model.alpha * hist.data
    Yh = Y[hist.indices]
    A = Y.T @ Y + model.reg * np.eye(5) + (Yh.T * (c - 1)) @ Yh + model.alpha * np.outer(Y[target], Y[target])
    x = np.linalg.solve(A, Yh.T @ c)
    np.testing.assert_allclose(rec.updater.user_vector(u), x, atol=1e-10)


def test_push_needs_a_supported_updater():
    from coursekit.stream import RecencyPopularity

    V, train = _stream_setup()
    with pytest.raises(CourseKitError, match="push=False"):
        NotInterested(RecencyPopularity(half_life=100.0)).initialize(train)
    rec = NotInterested(RecencyPopularity(half_life=100.0), push=False).initialize(train)
    top = rec.recommend(3, k=3)[0]
    rec.dismiss(3, top[0])
    assert rec.recommend(3, k=3)[0].tolist() == top[1:].tolist() + [rec.recommend(3, k=3)[0][-1]]
    assert top[0] not in rec.recommend(3, k=15)[0].tolist()


def test_dismissal_effect_reports_the_change():
    from coursekit.stream import DecayedProfile
    from coursekit.trust import dismissal_effect

    V, train = _stream_setup()
    rec = NotInterested(DecayedProfile(V, half_life=np.inf)).initialize(train)
    effect = dismissal_effect(rec, 2, k=4, n_similar=3)
    assert not effect["dismissed_in_after"] and effect["dismissed"] == effect["before"][0]
    assert effect["similar_drop"] > effect["other_drop"]
    assert effect["n_replaced"] >= 1 and list(effect["table"].columns) == ["rank", "before", "after"]
    assert effect["similar_drops"].mean() == pytest.approx(effect["similar_drop"])
    assert effect["other_drops"].mean() == pytest.approx(effect["other_drop"])
    assert len(effect["similar_drops"]) == 3


def test_sweep_per_user_values_average_to_the_table():
    from coursekit.models import IALS

    train, test = _train_test(3)
    base = IALS(factors=6, iterations=4, seed=0).fit(train)
    sweep = diversity_sweep(base, train, test, base._item_vectors(), lambdas=(1.0, 0.5), k=5, n_candidates=12,
                            per_user=True)
    per = sweep.attrs["per_user"]
    for row in sweep.itertuples():
        sel = per[per["lam"] == row.lam]
        assert len(sel) == sweep.attrs["users"]
        assert sel["ndcg"].mean() == pytest.approx(row.ndcg, abs=1e-12)
        assert sel["ild"].mean() == pytest.approx(row.ild, abs=1e-12)
    from coursekit.metrics import catalog_coverage

    lists = sweep.attrs["lists"]
    assert catalog_coverage(lists[0.5], train.n_items) == pytest.approx(sweep.loc[1, "coverage"])
    diff, se = coverage_change(lists[1.0], lists[0.5], train.n_items, n_boot=50)
    assert diff == pytest.approx(sweep.loc[1, "coverage"] - sweep.loc[0, "coverage"]) and se >= 0
    assert "per_user" not in diversity_sweep(base, train, test, base._item_vectors(), lambdas=(1.0,), k=5).attrs


def test_coverage_change_hand_computed_and_errors():
    a = np.array([[0, 1], [0, 1], [0, 1], [0, 1]])
    b = np.array([[0, 1], [2, 3], [4, 5], [6, 7]])
    diff, se = coverage_change(a, b, n_items=8, n_boot=100, seed=1)
    assert diff == pytest.approx(6 / 8) and 0 < se < 0.5
    assert coverage_change(a, a, n_items=8)[0] == 0.0 and coverage_change(a, a, n_items=8)[1] == 0.0
    with pytest.raises(CourseKitError, match="same users"):
        coverage_change(a, b[:2], n_items=8)


def test_ece_change_matches_the_two_eces_and_its_bootstrap_shrinks():
    rng = np.random.default_rng(0)
    s = rng.normal(size=4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-(2 * s - 3)))).astype(int)
    naive = MinMaxScaling().fit(s, y).predict(s)
    platt = PlattScaling().fit(s, y).predict(s)
    diff, se = ece_change(naive, platt, y, n_boot=100)
    assert diff == pytest.approx(expected_calibration_error(platt, y) - expected_calibration_error(naive, y))
    assert diff < -2 * se
    _, se_small = ece_change(naive[:400], platt[:400], y[:400], n_boot=100)
    assert se_small > se                                  # fewer pairs, more uncertainty
    with pytest.raises(CourseKitError, match="same length"):
        ece_change(naive, platt[:10], y)


def test_plots_draw(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from coursekit.trust.plots import plot_reliability, plot_tradeoff

    rng = np.random.default_rng(0)
    p, y = rng.random(200), rng.integers(0, 2, 200)
    ax = plot_reliability({"raw": p, "half": p / 2}, y, n_bins=5)
    assert len(ax.get_legend().get_texts()) == 3 and "ECE" in ax.get_legend().get_texts()[1].get_text()
    table = pd.DataFrame({"lam": [1.0, 0.5, 0.0], "ndcg": [0.3, 0.28, 0.1], "ild": [0.2, 0.5, 0.6],
                          "coverage": [0.1, 0.2, 0.3], "knee": [False, True, False]})
    ax = plot_tradeoff(table)
    assert "knee" in ax.get_legend().get_texts()[0].get_text()
    plt.close("all")
