"""Tests of coursekit.metrics: hand-computed cases, properties, and agreement with pytrec_eval.

Agreement with ranx is one test marked slow: ranx imports numba and compiles its kernels on first
use (about a minute in a fresh virtual environment, a few seconds once cached), so it is imported
inside that test only.

Definitions compared with trec_eval (pytrec_eval), read from its measure docs / source:
* ``P_k``: hits in the top k / k (padding = shorter run) -- same as precision_at_k.
* ``recall_k``: hits / |R| -- same as recall_at_k.
* ``success_k``: any hit -- same as hit_rate_at_k.
* ``ndcg_cut_k``: linear gains (the qrel value), IDCG from all qrels sorted descending cut at k --
  same as ndcg_at_k(graded=True, gain="linear"), and with binary qrels as ndcg_at_k.
* ``recip_rank``: no cutoff -- equals reciprocal_rank_at_k when the run holds only the top k.
* ``map_cut_k``: sum_j P@j rel_j / |R| -- differs: coursekit divides by min(k, |R|), so
  coursekit AP * min(k, |R|) / |R| == map_cut_k (identical when |R| <= k).

ranx (read from ranx/metrics/*.py): ``precision@k`` divides by k; ``recall@k`` by |R|;
``ndcg@k`` is Jarvelin's linear gain, ``ndcg_burges@k`` the exponential 2^g - 1; ``mrr@k`` and
``hit_rate@k`` are cut at k; ``map@k`` divides by |R| like trec_eval (same transform as above).
Users without relevant items get 0 in both libraries, NaN in coursekit.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import pytrec_eval
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit import CourseKitError
from coursekit.metrics import (
    auc,
    average_precision_at_k,
    catalog_coverage,
    gains_at_k,
    gini_index,
    hit_rate_at_k,
    intra_list_diversity,
    mae,
    ndcg_at_k,
    novelty,
    personalization,
    precision_at_k,
    recall_at_k,
    reciprocal_rank_at_k,
    rmse,
)

RANKING = [precision_at_k, recall_at_k, ndcg_at_k, average_precision_at_k, reciprocal_rank_at_k, hit_rate_at_k]


def csr(rows):
    return sp.csr_matrix(np.asarray(rows, dtype=float))


# ------------------------------------------------------------------------------------ hand-computed
# one user, 6 items, R = {1, 3, 4}; list = [3, 0, 4, 5] -> rel = [1, 0, 1, 0]
REL = csr([[0, 1, 0, 1, 1, 0]])
TOP = np.array([[3, 0, 4, 5]])


def test_precision_hand():
    # k=1: 1/1; k=2: 1/2; k=3: 2/3; k=4: 2/4
    for k, want in [(1, 1.0), (2, 0.5), (3, 2 / 3), (4, 0.5)]:
        assert precision_at_k(TOP, REL, k)[0] == pytest.approx(want)


def test_precision_divides_by_requested_k_when_padded():
    # list has 2 real items then padding; 1 hit; k=4 -> 1/4 (not 1/2)
    assert precision_at_k(np.array([[3, 0, -1, -1]]), REL, 4)[0] == pytest.approx(0.25)
    # a list with fewer columns than k behaves like padding: k=5 -> 2 hits / 5
    assert precision_at_k(TOP, REL, 5)[0] == pytest.approx(0.4)


def test_recall_hand():
    # k=2: {3} of 3 relevant -> 1/3; k=4: {3, 4} -> 2/3
    assert recall_at_k(TOP, REL, 2)[0] == pytest.approx(1 / 3)
    assert recall_at_k(TOP, REL, 4)[0] == pytest.approx(2 / 3)


def test_hit_rate_and_rr_hand():
    top = np.array([[0, 5, 1, 3]])          # first hit (item 1) at rank 3
    assert hit_rate_at_k(top, REL, 2)[0] == 0.0
    assert hit_rate_at_k(top, REL, 3)[0] == 1.0
    assert reciprocal_rank_at_k(top, REL, 2)[0] == 0.0
    assert reciprocal_rank_at_k(top, REL, 4)[0] == pytest.approx(1 / 3)


def test_average_precision_hand():
    # rel = [1, 0, 1, 0]; P@1 = 1, P@3 = 2/3
    # k=4: (1 + 2/3) / min(4, 3) = 5/9
    assert average_precision_at_k(TOP, REL, 4)[0] == pytest.approx(5 / 9)
    # k=2: only rank 1 counts: 1 / min(2, 3) = 1/2
    assert average_precision_at_k(TOP, REL, 2)[0] == pytest.approx(0.5)
    # k=1: 1 / min(1, 3) = 1
    assert average_precision_at_k(TOP, REL, 1)[0] == pytest.approx(1.0)


def test_average_precision_not_score_times_label():
    # the "common mistake" (mean of score * label) is not AP: AP depends on the order only
    top_a, top_b = np.array([[1, 0, 3]]), np.array([[0, 1, 3]])
    # a: rel = [1, 0, 1]: (1 + 2/3)/3 = 5/9 ; b: rel = [0, 1, 1]: (1/2 + 2/3)/3 = 7/18
    assert average_precision_at_k(top_a, REL, 3)[0] == pytest.approx(5 / 9)
    assert average_precision_at_k(top_b, REL, 3)[0] == pytest.approx(7 / 18)


def test_ndcg_binary_hand():
    # DCG@4 = 1/log2(2) + 0 + 1/log2(4) + 0 = 1.5
    # IDCG@4 = 1 + 1/log2(3) + 1/log2(4) = 1 + 0.63093 + 0.5 = 2.13093
    want = 1.5 / (1 + 1 / math.log2(3) + 0.5)
    assert ndcg_at_k(TOP, REL, 4)[0] == pytest.approx(want)
    # k=1: DCG = 1, IDCG = 1
    assert ndcg_at_k(TOP, REL, 1)[0] == pytest.approx(1.0)


def test_ndcg_graded_hand():
    rel = csr([[0, 3, 0, 1, 2, 0]])         # gains: item1=3, item3=1, item4=2
    # list [3, 0, 4]: gains [1, 0, 2]
    # linear: DCG = 1/1 + 0 + 2/log2(4) = 2 ; IDCG = 3 + 2/log2(3) + 1/2 = 4.76186
    want = 2 / (3 + 2 / math.log2(3) + 0.5)
    assert ndcg_at_k(np.array([[3, 0, 4]]), rel, 3, graded=True)[0] == pytest.approx(want)
    # exponential: gains 2^g - 1 = [1, 0, 3]: DCG = 1 + 3/2 = 2.5 ; IDCG = 7 + 3/log2(3) + 1/2
    want = 2.5 / (7 + 3 / math.log2(3) + 0.5)
    got = ndcg_at_k(np.array([[3, 0, 4]]), rel, 3, graded=True, gain="exponential")[0]
    assert got == pytest.approx(want)
    # graded=False ignores the values: same as binary
    assert ndcg_at_k(TOP, rel, 4)[0] == pytest.approx(ndcg_at_k(TOP, REL, 4)[0])


def test_ideal_dcg_truncated_at_k():
    # 3 relevant, k=2: IDCG = 1 + 1/log2(3); a perfect top-2 scores 1
    assert ndcg_at_k(np.array([[1, 3]]), REL, 2)[0] == pytest.approx(1.0)


def test_users_without_relevant_items_are_nan():
    rel = csr([[0, 1, 0], [0, 0, 0]])
    top = np.array([[1, 0], [2, 1]])
    for fn in RANKING:
        out = fn(top, rel, 2)
        assert out[0] >= 0 and np.isnan(out[1]), fn.__name__


def test_vectorized_over_users_matches_per_user():
    rng = np.random.default_rng(0)
    rel = sp.random(50, 30, density=0.2, random_state=1, format="csr")
    rel.data[:] = 1
    top = np.array([rng.permutation(30)[:10] for _ in range(50)])
    for fn in RANKING:
        whole = fn(top, rel, 7)
        single = np.array([fn(top[u:u + 1], rel[u], 7)[0] for u in range(50)])
        np.testing.assert_allclose(whole, single, rtol=0, atol=1e-12)


def test_gains_at_k_lookup():
    rel = csr([[0, 2, 0, 5]])
    assert gains_at_k(np.array([[3, 1, 0, -1]]), rel, 4).tolist() == [[5.0, 2.0, 0.0, 0.0]]


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("fn", RANKING)
def test_bad_input_raises(fn):
    with pytest.raises(CourseKitError, match="k must be a positive integer"):
        fn(TOP, REL, 0)
    with pytest.raises(CourseKitError, match="rows"):
        fn(np.vstack([TOP, TOP]), REL, 2)
    with pytest.raises(CourseKitError, match="more than once"):
        fn(np.array([[3, 3, 1]]), REL, 2)
    with pytest.raises(CourseKitError, match="only 6 items"):
        fn(np.array([[3, 9]]), REL, 2)
    with pytest.raises(CourseKitError, match="integer"):
        fn(np.array([[0.5, 0.2]]), REL, 2)
    with pytest.raises(CourseKitError, match="2-D"):
        fn(np.array([3, 0]), REL, 2)
    with pytest.raises(CourseKitError, match="sparse"):
        fn(TOP, [[0, 1]], 2)


def test_negative_gains_raise():
    with pytest.raises(CourseKitError, match="negative"):
        ndcg_at_k(TOP, csr([[0, -1, 0, 1, 0, 0]]), 2, graded=True)


# ------------------------------------------------------------------------------------ properties
@st.composite
def ranking_case(draw, min_rel: int = 0):
    n_users = draw(st.integers(1, 6))
    n_items = draw(st.integers(1, 25))
    width = draw(st.integers(1, n_items))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    top = np.array([rng.permutation(n_items)[:width] for _ in range(n_users)])
    n_real = rng.integers(0, width + 1, size=n_users)
    top[np.arange(width)[None, :] >= n_real[:, None]] = -1  # trailing padding
    dense = (rng.random((n_users, n_items)) < draw(st.floats(0.05, 0.9))).astype(float)
    dense *= rng.integers(1, 4, size=dense.shape)  # graded gains 1..3
    for u in range(n_users):  # guarantee min_rel relevant items where possible
        if dense[u].astype(bool).sum() < min_rel:
            dense[u, rng.permutation(n_items)[:min_rel]] = 1.0
    k = draw(st.integers(1, n_items + 2))
    return top, sp.csr_matrix(dense), k


@settings(max_examples=150, deadline=None)
@given(ranking_case())
def test_bounds(case):
    top, rel, k = case
    has = np.diff(rel.indptr) > 0
    for fn in RANKING:
        v = fn(top, rel, k)
        assert v.shape == (top.shape[0],)
        assert np.all(np.isnan(v) == ~has), fn.__name__
        assert np.all((v[has] >= -1e-12) & (v[has] <= 1 + 1e-12)), fn.__name__
    v = ndcg_at_k(top, rel, k, graded=True)
    assert np.all((v[has] >= -1e-12) & (v[has] <= 1 + 1e-12))
    # ordering facts: hit rate >= reciprocal rank; hit rate >= precision, recall
    hr, rr = hit_rate_at_k(top, rel, k)[has], reciprocal_rank_at_k(top, rel, k)[has]
    assert np.all(hr >= rr) and np.all(hr >= precision_at_k(top, rel, k)[has])


def perfect_lists(rel: sp.csr_matrix, k: int) -> np.ndarray:
    """Each user's relevant items by gain descending (then any non-relevant), padded to k."""
    n_users, n_items = rel.shape
    dense = rel.toarray()
    order = np.argsort(-dense, axis=1, kind="stable")[:, :k]
    out = np.full((n_users, k), -1)
    out[:, :order.shape[1]] = order
    return out


@settings(max_examples=150, deadline=None)
@given(ranking_case(min_rel=1))
def test_perfect_ranking_scores_one(case):
    _, rel, k = case
    top = perfect_lists(rel, k)
    n_rel = np.diff(rel.indptr)
    ones = np.ones(rel.shape[0])
    np.testing.assert_allclose(ndcg_at_k(top, rel, k), ones)
    np.testing.assert_allclose(ndcg_at_k(top, rel, k, graded=True), ones)
    np.testing.assert_allclose(ndcg_at_k(top, rel, k, graded=True, gain="exponential"), ones)
    np.testing.assert_allclose(average_precision_at_k(top, rel, k), ones)
    np.testing.assert_allclose(reciprocal_rank_at_k(top, rel, k), ones)
    np.testing.assert_allclose(hit_rate_at_k(top, rel, k), ones)
    p, r = precision_at_k(top, rel, k), recall_at_k(top, rel, k)
    np.testing.assert_allclose(p[n_rel >= k], 1.0)
    np.testing.assert_allclose(r[n_rel <= k], 1.0)
    # when |R| < k precision is |R| / k, when |R| > k recall is k / |R|
    np.testing.assert_allclose(p[n_rel < k], n_rel[n_rel < k] / k)
    np.testing.assert_allclose(r[n_rel > k], k / n_rel[n_rel > k])


@settings(max_examples=60, deadline=None)
@given(ranking_case(min_rel=1))
def test_padding_equals_truncation(case):
    # padding with -1 or leaving the columns out gives the same values
    top, rel, k = case
    wide = np.hstack([top, np.full((top.shape[0], 3), -1)])
    for fn in RANKING:
        np.testing.assert_array_equal(fn(top, rel, k), fn(wide, rel, k))


# ------------------------------------------------------------------------------------ pytrec_eval


def to_trec(top: np.ndarray, rel: sp.csr_matrix):
    qrel, run = {}, {}
    for u in range(top.shape[0]):
        q = f"u{u}"
        lo, hi = rel.indptr[u], rel.indptr[u + 1]
        qrel[q] = {f"i{i}": int(g) for i, g in zip(rel.indices[lo:hi], rel.data[lo:hi])}
        items = top[u][top[u] >= 0]
        # strictly decreasing scores so that no tie-break rule matters
        run[q] = {f"i{i}": float(len(items) - j) for j, i in enumerate(items)}
    return qrel, run


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_trec_eval(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items, width = 60, 40, 25
    top = np.array([rng.permutation(n_items)[:width] for _ in range(n_users)])
    n_real = rng.integers(1, width + 1, size=n_users)  # at least 1 item: trec_eval skips empty runs
    top[np.arange(width)[None, :] >= n_real[:, None]] = -1
    dense = (rng.random((n_users, n_items)) < rng.uniform(0.02, 0.5)) * rng.integers(1, 5, (n_users, n_items))
    dense[np.arange(n_users), rng.integers(0, n_items, n_users)] = 1  # each user >= 1 relevant
    rel = sp.csr_matrix(dense.astype(float))
    binary = rel.copy()
    binary.data[:] = 1
    n_rel = np.diff(rel.indptr)
    for k in (1, 3, 5, 10, 20, 30):
        measures = {f"P.{k}", f"recall.{k}", f"ndcg_cut.{k}", f"map_cut.{k}", f"success.{k}"}
        qrel, run = to_trec(top, rel)
        res = pytrec_eval.RelevanceEvaluator(qrel, measures).evaluate(run)
        get = lambda m, res=res, k=k: np.array([res[f"u{u}"][f"{m}_{k}"] for u in range(n_users)])  # noqa: E731
        np.testing.assert_allclose(precision_at_k(top, rel, k), get("P"), atol=1e-9, rtol=0)
        np.testing.assert_allclose(recall_at_k(top, rel, k), get("recall"), atol=1e-9, rtol=0)
        np.testing.assert_allclose(hit_rate_at_k(top, rel, k), get("success"), atol=1e-9, rtol=0)
        np.testing.assert_allclose(ndcg_at_k(top, rel, k, graded=True), get("ndcg_cut"), atol=1e-9, rtol=0)
        # map_cut divides by |R|, coursekit by min(k, |R|): transform
        ours = average_precision_at_k(top, rel, k) * np.minimum(k, n_rel) / n_rel
        np.testing.assert_allclose(ours, get("map_cut"), atol=1e-9, rtol=0)
        # binary NDCG = trec ndcg_cut on binary qrels
        qrel_b, run_b = to_trec(top, binary)
        res_b = pytrec_eval.RelevanceEvaluator(qrel_b, {f"ndcg_cut.{k}"}).evaluate(run_b)
        want = np.array([res_b[f"u{u}"][f"ndcg_cut_{k}"] for u in range(n_users)])
        np.testing.assert_allclose(ndcg_at_k(top, rel, k), want, atol=1e-9, rtol=0)
        # recip_rank has no cutoff: give trec_eval the run cut at k
        cut = np.where(np.arange(width)[None, :] < k, top, -1)
        qrel_c, run_c = to_trec(cut, rel)
        res_c = pytrec_eval.RelevanceEvaluator(qrel_c, {"recip_rank"}).evaluate(run_c)
        want = np.array([res_c[f"u{u}"]["recip_rank"] if f"u{u}" in res_c else 0.0 for u in range(n_users)])
        np.testing.assert_allclose(reciprocal_rank_at_k(top, rel, k), want, atol=1e-9, rtol=0)


# ------------------------------------------------------------------------------------ AUC
def auc_bruteforce(scores, rel, exclude):
    out = []
    for u in range(scores.shape[0]):
        cand = ~exclude[u]
        pos = np.nonzero(cand & rel[u])[0]
        neg = np.nonzero(cand & ~rel[u])[0]
        if len(pos) == 0 or len(neg) == 0:
            out.append(np.nan)
            continue
        d = scores[u, pos][:, None] - scores[u, neg][None, :]
        out.append(((d > 0) + 0.5 * (d == 0)).mean())
    return np.array(out)


def test_auc_hand():
    # R = {0, 3}, N = {1, 2}: (0 vs 1) win, (0 vs 2) tie, (3 vs 1) loss, (3 vs 2) loss -> 1.5 / 4
    s = np.array([[0.5, 0.1, 0.5, 0.0]])
    assert auc(s, csr([[1, 0, 0, 1]]))[0] == pytest.approx(0.375)
    # excluding item 2: pairs (0,1) win, (3,1) loss -> 1/2
    assert auc(s, csr([[1, 0, 0, 1]]), exclude=csr([[0, 0, 1, 0]]))[0] == pytest.approx(0.5)
    # perfect and reversed
    assert auc(np.array([[3.0, 2, 1, 0]]), csr([[1, 1, 0, 0]]))[0] == 1.0
    assert auc(np.array([[0.0, 1, 2, 3]]), csr([[1, 1, 0, 0]]))[0] == 0.0


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(1, 12))
def test_auc_matches_bruteforce(seed, n_users, n_items):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, (n_users, n_items)).astype(float)  # many ties
    rel = rng.random((n_users, n_items)) < 0.3
    excl = rng.random((n_users, n_items)) < 0.3
    got = auc(scores, sp.csr_matrix(rel.astype(float)), exclude=sp.csr_matrix(excl.astype(float)), batch_size=2)
    np.testing.assert_allclose(got, auc_bruteforce(scores, rel, excl), atol=1e-12)


def test_auc_bad_input():
    with pytest.raises(CourseKitError, match="shape"):
        auc(np.zeros((2, 3)), csr([[1, 0]]))
    with pytest.raises(CourseKitError, match="NaN"):
        auc(np.array([[np.nan, 1.0]]), csr([[1, 0]]))


# ------------------------------------------------------------------------------------ rating
def test_rmse_mae_hand():
    # errors (0.5, 0, -1): RMSE = sqrt(1.25/3) = 0.645497, MAE = 1.5/3 = 0.5
    assert rmse([4, 3, 5], [3.5, 3, 4]) == pytest.approx(math.sqrt(1.25 / 3))
    assert mae([4, 3, 5], [3.5, 3, 4]) == pytest.approx(0.5)
    with pytest.raises(CourseKitError, match="values"):
        rmse([1, 2], [1])
    with pytest.raises(CourseKitError, match="empty"):
        mae([], [])
    with pytest.raises(CourseKitError, match="NaN"):
        rmse([1.0, np.nan], [1, 2])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5), st.floats(-5, 5)), min_size=1, max_size=30))
def test_rmse_at_least_mae(pairs):
    t, p = np.array(pairs).T
    assert rmse(t, p) >= mae(t, p) - 1e-12


# ------------------------------------------------------------------------------------ beyond
def test_coverage_gini_hand():
    top = np.array([[0, 1], [0, 2], [0, -1]])
    # items {0, 1, 2} of 5 -> 0.6
    assert catalog_coverage(top, 5) == pytest.approx(0.6)
    # counts sorted (0, 0, 1, 1, 3), p = c/5; sum (2j - 6) p_j for j=1..5 = (-4*0 -2*0 + 0*1 + 2*1 + 4*3)/5 = 14/5
    # G = (14/5) / (5 - 1) = 0.7
    assert gini_index(top, 5) == pytest.approx(0.7)
    assert gini_index(np.array([[0, 1], [2, 3]]), 4) == pytest.approx(0.0)
    assert gini_index(np.array([[3], [3], [3]]), 4) == pytest.approx(1.0)
    assert np.isnan(gini_index(np.array([[-1]]), 4))


def test_novelty_hand():
    pop = np.array([8, 4, 2, 1, 0])  # N = 8 users: self-information 0, 1, 2, 3, and 3 (pop 0 counted as 1)
    top = np.array([[0, 1], [2, 3], [4, -1], [-1, -1]])
    # per user: (0+1)/2 = 0.5, (2+3)/2 = 2.5, 3/1 = 3, empty -> NaN ; mean over non-empty = 6/3 = 2
    per = novelty(top, pop, 8, per_user=True)
    np.testing.assert_allclose(per[:3], [0.5, 2.5, 3.0])
    assert np.isnan(per[3])
    assert novelty(top, pop, 8) == pytest.approx(2.0)
    with pytest.raises(CourseKitError, match="within"):
        novelty(top, pop, 4)


def test_intra_list_diversity_hand():
    v = np.array([[1.0, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    # list [0, 1, 2]: cos(0,1)=0, cos(0,2)=cos(1,2)=1/sqrt2 -> distances 1, 1-0.7071, 1-0.7071; mean = 0.5286
    want = (1 + 2 * (1 - 1 / math.sqrt(2))) / 3
    got = intra_list_diversity(np.array([[0, 1, 2], [0, -1, -1], [2, 0, -1], [3, 0, -1]]), v)
    assert got[0] == pytest.approx(want)
    assert np.isnan(got[1])                                  # one item: undefined
    assert got[2] == pytest.approx(1 - 1 / math.sqrt(2))   # padding ignored
    assert got[3] == pytest.approx(1.0)                      # zero vector: cosine 0


def test_personalization_hand():
    # lists {0,1}, {0,1}, {2,3}: overlaps 2/2, 0, 0 -> mean similarity 1/3 -> 0.6667
    assert personalization(np.array([[0, 1], [1, 0], [2, 3]]), 4) == pytest.approx(2 / 3)
    # unequal lengths: {0,1} vs {0}: cosine 1/sqrt(2)
    assert personalization(np.array([[0, 1], [0, -1]]), 4) == pytest.approx(1 - 1 / math.sqrt(2))
    assert np.isnan(personalization(np.array([[0, 1], [-1, -1]]), 4))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 8), st.integers(2, 15))
def test_personalization_matches_pairwise(seed, n_users, n_items):
    rng = np.random.default_rng(seed)
    width = rng.integers(1, n_items + 1)
    top = np.array([rng.permutation(n_items)[:width] for _ in range(n_users)])
    top[:, rng.integers(1, width + 1):] = -1
    x = np.zeros((n_users, n_items))
    for u in range(n_users):
        x[u, top[u][top[u] >= 0]] = 1
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = xn @ xn.T
    want = 1 - (sim.sum() - np.trace(sim)) / (n_users * (n_users - 1))
    assert personalization(top, n_items) == pytest.approx(want, abs=1e-12)
    # ILD against the pairwise definition on random vectors
    v = rng.normal(size=(n_items, 3))
    vn = v / np.linalg.norm(v, axis=1, keepdims=True)
    got = intra_list_diversity(top, v)
    for u in range(n_users):
        items = top[u][top[u] >= 0]
        m = len(items)
        if m < 2:
            assert np.isnan(got[u])
            continue
        d = 1 - vn[items] @ vn[items].T
        assert got[u] == pytest.approx(d.sum() / (m * (m - 1)), abs=1e-12)


def test_beyond_bounds_random():
    rng = np.random.default_rng(1)
    top = np.array([rng.permutation(50)[:10] for _ in range(30)])
    for value in (catalog_coverage(top, 50), gini_index(top, 50), personalization(top, 50)):
        assert 0 <= value <= 1


# ------------------------------------------------------------------------------------ ranx
@pytest.mark.slow
def test_agrees_with_ranx():
    import ranx  # a dev dependency, imported here because it compiles its kernels on first use

    rng = np.random.default_rng(7)
    n_users, n_items, width = 80, 50, 30
    top = np.array([rng.permutation(n_items)[:width] for _ in range(n_users)])
    n_real = rng.integers(1, width + 1, size=n_users)
    top[np.arange(width)[None, :] >= n_real[:, None]] = -1
    dense = (rng.random((n_users, n_items)) < 0.15) * rng.integers(1, 5, (n_users, n_items))
    dense[np.arange(n_users), rng.integers(0, n_items, n_users)] = 2  # each user >= 1 relevant
    rel = sp.csr_matrix(dense.astype(float))
    n_rel = np.diff(rel.indptr)
    qrel, run_dict = to_trec(top, rel)
    qrels, run = ranx.Qrels.from_dict(qrel), ranx.Run.from_dict(run_dict)
    ks = (1, 5, 10, 40)
    names = [f"{m}@{k}" for k in ks for m in
             ("precision", "recall", "ndcg", "ndcg_burges", "map", "mrr", "hit_rate")]
    ranx.evaluate(qrels, run, names, return_mean=False, make_comparable=True)
    for k in ks:
        get = lambda m, k=k: np.array([run.scores[f"{m}@{k}"][f"u{u}"] for u in range(n_users)])  # noqa: E731
        close = dict(atol=1e-9, rtol=0)
        np.testing.assert_allclose(precision_at_k(top, rel, k), get("precision"), **close)
        np.testing.assert_allclose(recall_at_k(top, rel, k), get("recall"), **close)
        np.testing.assert_allclose(ndcg_at_k(top, rel, k, graded=True), get("ndcg"), **close)
        np.testing.assert_allclose(ndcg_at_k(top, rel, k, graded=True, gain="exponential"),
                                   get("ndcg_burges"), **close)
        np.testing.assert_allclose(reciprocal_rank_at_k(top, rel, k), get("mrr"), **close)
        np.testing.assert_allclose(hit_rate_at_k(top, rel, k), get("hit_rate"), **close)
        ours = average_precision_at_k(top, rel, k) * np.minimum(k, n_rel) / n_rel
        np.testing.assert_allclose(ours, get("map"), **close)
