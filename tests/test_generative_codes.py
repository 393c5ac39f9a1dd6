"""Semantic IDs (residual k-means, collision tokens, prefix agreement) and the prefix trie with beam search.

Every vectorised function is compared with a brute-force loop; the beam searches with exhaustive enumeration.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from coursekit._validation import CourseKitError
from coursekit.generative.semantic_ids import collision_index, prefix_agreement, residual_kmeans, semantic_ids
from coursekit.generative.trie import PrefixTrie, beam_search, constrained_beam_search


# ---------------------------------------------------------------------------- residual k-means
def test_residual_loop_reconstructs_and_error_falls():
    X = np.random.default_rng(0).normal(size=(300, 6))
    rq = residual_kmeans(X, n_levels=3, codebook_size=[4, 8, 8], seed=1)
    assert rq.codes.shape == (300, 3) and [len(C) for C in rq.centroids] == [4, 8, 8]
    assert np.all(np.diff(rq.relative_error) < 0) and rq.relative_error[-1] < 0.6
    manual = sum(rq.centroids[level][rq.codes[:, level]] for level in range(3))
    np.testing.assert_allclose(rq.reconstruct(), manual)
    for level in range(1, 4):     # the recorded error is that of the reconstruction from the first levels
        err = ((X - rq.reconstruct(levels=level)) ** 2).sum() / (X ** 2).sum()
        assert err == pytest.approx(rq.relative_error[level - 1])
    assert np.all(rq.reconstruct(levels=0) == 0)
    np.testing.assert_array_equal(rq.encode(X), rq.codes)      # re-encoding the training vectors
    # each code is the nearest centroid to the residual that level sees
    R = X.copy()
    for level, C in enumerate(rq.centroids):
        d = ((R[:, None, :] - C[None]) ** 2).sum(-1)
        np.testing.assert_array_equal(rq.codes[:, level], d.argmin(1))
        R = R - C[rq.codes[:, level]]


def test_level_zero_is_sklearn_kmeans_and_seeded():
    from sklearn.cluster import KMeans

    X = np.random.default_rng(1).normal(size=(200, 4))
    rq = residual_kmeans(X, n_levels=2, codebook_size=5, seed=3)
    km = KMeans(n_clusters=5, n_init=4, random_state=3).fit(X)
    np.testing.assert_array_equal(rq.codes[:, 0], km.labels_)
    np.testing.assert_array_equal(residual_kmeans(X, 2, 5, seed=3).codes, rq.codes)


@pytest.mark.parametrize("kwargs, match", [
    ({"X": np.zeros(5)}, "2-D"), ({"X": np.full((4, 2), np.nan)}, "NaN"),
    ({"codebook_size": 50}, "exceeds the number of vectors"), ({"codebook_size": [2, 2]}, "list of n_levels=3"),
    ({"n_levels": 0}, "n_levels"), ({"seed": -1}, "seed"), ({"codebook_size": 0}, "codebook_size"),
])
def test_residual_kmeans_bad_inputs(kwargs, match):
    args = {"X": np.random.default_rng(0).normal(size=(20, 3)), "n_levels": 3, "codebook_size": 4, **kwargs}
    with pytest.raises(CourseKitError, match=match):
        residual_kmeans(**args)


# ---------------------------------------------------------------------------- unique IDs
def test_collision_index_by_brute_force():
    codes = np.random.default_rng(2).integers(0, 3, size=(200, 2))
    seen: dict[tuple, int] = {}
    expected = []
    for row in map(tuple, codes):
        expected.append(seen.get(row, 0))
        seen[row] = seen.get(row, 0) + 1
    np.testing.assert_array_equal(collision_index(codes), expected)


def test_semantic_ids_are_unique_with_duplicated_items():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 5))
    X = np.vstack([X, X[:10], X[:3]])                  # exact duplicates always collide
    ids = semantic_ids(X, n_levels=2, codebook_size=4, seed=0)
    L = ids.quantizer.codes
    assert ids.unique and ids.depth == 3 and ids.codes.shape == (73, 3)
    groups = pd.Series([tuple(r) for r in L]).value_counts()
    assert ids.level_sizes == (4, 4, int(groups.max()))
    assert ids.n_collided == int(groups[groups > 1].sum()) and ids.n_collided >= 26
    np.testing.assert_array_equal(ids.offsets, [0, 4, 8])
    assert ids.vocab_size == 8 + groups.max()
    np.testing.assert_array_equal(ids.tokens, ids.codes + [0, 4, 8])
    assert ids.codes[60, 2] > ids.codes[0, 2]          # the duplicate comes later in item order
    assert len(np.unique(ids.tokens)) <= ids.vocab_size


# ---------------------------------------------------------------------------- prefix agreement
def _brute_agreement(codes, attrs, depth, group):
    cols = [c for c in attrs.columns if c.startswith(group + "=")] if group != "all" else list(attrs.columns)
    sets = [frozenset(c for c in cols if attrs.iloc[i][c]) for i in range(len(attrs))]
    n = len(codes)

    def jac(a, b):
        return len(a & b) / len(a | b) if a | b else 1.0

    same, other, lift = [], [], []
    for i in range(n):
        partners = [j for j in range(n) if j != i and tuple(codes[j][:depth]) == tuple(codes[i][:depth])]
        o = np.mean([jac(sets[i], sets[j]) for j in range(n) if j != i])
        if partners:
            s = np.mean([jac(sets[i], sets[j]) for j in partners])
            same.append(s)
            lift.append(s - o)
        other.append(o)
    return np.mean(same), np.mean(other), np.mean(lift)


def _random_attributes(rng, n):
    cat = rng.integers(0, 3, n)
    words = rng.random((n, 5)) < 0.4
    frame = pd.DataFrame({f"category=c{k}": (cat == k).astype(int) for k in range(3)})
    for w in range(5):
        frame[f"word=w{w}"] = words[:, w].astype(int)
    return frame, cat


def test_prefix_agreement_matches_brute_force():
    rng = np.random.default_rng(4)
    attrs, cat = _random_attributes(rng, 40)
    codes = np.column_stack([np.where(rng.random(40) < 0.7, cat, rng.integers(0, 3, 40)), rng.integers(0, 3, 40)])
    for depth in (1, 2):
        out = prefix_agreement(codes, attrs, depth)
        assert list(out.index) == ["category", "word", "all"]
        for group in out.index:
            same, other, lift = _brute_agreement(codes, attrs, depth, group)
            assert out.loc[group, "same_prefix"] == pytest.approx(same)
            assert out.loc[group, "random_pair"] == pytest.approx(other)
            assert out.loc[group, "lift"] == pytest.approx(lift)
        sizes = pd.Series([tuple(r[:depth]) for r in codes]).value_counts()
        assert out.loc["word", "n_pairs_same"] == int((sizes * (sizes - 1) // 2).sum())
        assert out.loc["word", "n_pairs_all"] == 40 * 39 // 2
    out = prefix_agreement(codes, attrs, 1)
    assert out.loc["category", "lift"] > 3 * out.loc["category", "lift_se"] > 0     # codes follow the category
    assert abs(out.loc["word", "lift"]) < 4 * out.loc["word", "lift_se"]            # words are independent


def test_prefix_agreement_on_the_shop():
    from coursekit.datasets import load_shop

    truth = load_shop().truth
    A = truth["item_attributes"]
    X = A.to_numpy(float) + np.random.default_rng(0).normal(0, 0.05, A.shape)
    ids = semantic_ids(X, n_levels=2, codebook_size=8, seed=0)
    out = prefix_agreement(ids.codes, A, depth=1)
    cat = out.loc["category"]
    assert cat["same_prefix"] > cat["random_pair"] + 3 * cat["lift_se"]       # SE clustered over 8 prefixes
    assert out.loc["all", "lift"] > 0
    assert set(out.index) >= {"category", "brand", "price", "word", "all"}


@pytest.mark.parametrize("codes, attrs, depth, match", [
    (np.zeros((3, 2), int), pd.DataFrame({"a=1": [1, 0]}), 1, "align them"),
    (np.zeros((2, 2), int), np.ones((2, 2)), 1, "DataFrame"),
    (np.zeros((2, 2), int), pd.DataFrame({"a=1": [1, 0]}), 3, "depth must be at most"),
    (np.zeros((2, 2)), pd.DataFrame({"a=1": [1, 0]}), 1, "integer"),
    (np.zeros((2, 2), int), pd.DataFrame({"a=1": [1, 0]}), 0, "depth"),
])
def test_prefix_agreement_bad_inputs(codes, attrs, depth, match):
    with pytest.raises(CourseKitError, match=match):
        prefix_agreement(codes, attrs, depth)


# ---------------------------------------------------------------------------- trie
def _random_codes(rng, n, sizes):
    codes = np.column_stack([rng.integers(0, k, n) for k in sizes])
    return np.unique(codes, axis=0)[rng.permutation(len(np.unique(codes, axis=0)))]


def test_trie_against_python_sets():
    rng = np.random.default_rng(5)
    codes = _random_codes(rng, 150, (4, 5, 6))
    values = rng.permutation(len(codes)) + 100
    trie = PrefixTrie(codes, values)
    assert trie.depth == 3 and len(trie) == len(codes)
    rows = [tuple(r) for r in codes]
    for t in range(3):
        prefixes = list(itertools.product(range(7), repeat=t))             # includes prefixes of no item
        mask = trie.allowed_mask(np.array(prefixes, dtype=np.int64).reshape(len(prefixes), t), 9)
        for p, m in zip(prefixes, mask):
            expected = sorted({r[t] for r in rows if r[:t] == p})
            assert trie.allowed(list(p)).tolist() == expected
            assert np.flatnonzero(m).tolist() == expected
            assert (p in trie) == any(r[:t] == p for r in rows)
    for r, v in zip(rows, values):
        assert trie.lookup(r) == v and r in trie
    probe = np.array(list(itertools.product(range(7), repeat=3)))
    lookup = {r: v for r, v in zip(rows, values)}
    np.testing.assert_array_equal(trie.values_of(probe), [lookup.get(tuple(p), -1) for p in probe])
    assert trie.allowed([0, 0, 0]).size == 0 and trie.allowed([9]).size == 0 and (-1,) not in trie


def test_trie_bad_inputs():
    with pytest.raises(CourseKitError, match="distinct"):
        PrefixTrie([[0, 1], [0, 1]])
    with pytest.raises(CourseKitError, match=">= 0"):
        PrefixTrie([[0, -1]])
    with pytest.raises(CourseKitError, match="one integer >= 0 per sequence"):
        PrefixTrie([[0, 1], [1, 1]], values=[1])
    trie = PrefixTrie([[0, 1], [1, 1]])
    with pytest.raises(CourseKitError, match="no item's sequence"):
        trie.lookup([1, 0])
    with pytest.raises(CourseKitError, match="vocab_size"):
        trie.allowed_mask(np.zeros((1, 0), int), 1)
    with pytest.raises(CourseKitError, match="no next token"):
        trie.allowed_mask([[0, 1]], 2)


# ---------------------------------------------------------------------------- beam search
class RandomStep:
    """Log-probs that are a fixed random function of (query, prefix); counts its calls."""

    def __init__(self, vocab_size: int, seed: int = 0, sharp: float = 2.0):
        self.V, self.seed, self.sharp, self.calls = vocab_size, seed, sharp, []

    def one(self, q: int, prefix) -> np.ndarray:
        z = np.random.default_rng([self.seed, int(q), len(prefix), *map(int, prefix)]).normal(size=self.V)
        z = self.sharp * z
        return z - np.log(np.exp(z - z.max()).sum()) - z.max()

    def __call__(self, query, prefixes):
        self.calls.append((np.asarray(query).copy(), np.asarray(prefixes).shape))
        return np.stack([self.one(q, p) for q, p in zip(query, prefixes)]).reshape(len(query), self.V)

    def total(self, q: int, seq) -> float:
        return float(sum(self.one(q, seq[:t])[seq[t]] for t in range(len(seq))))


def test_constrained_beam_search_is_exact_with_a_wide_beam():
    rng = np.random.default_rng(6)
    codes = _random_codes(rng, 40, (3, 4, 4))
    trie = PrefixTrie(codes, np.arange(len(codes)))
    step = RandomStep(vocab_size=5, seed=1)
    n_q, beam = 4, len(codes) + 3
    values, scores = constrained_beam_search(step, trie, n_q, beam, 5)
    assert len(step.calls) == 3 and step.calls[0][1] == (n_q, 0)          # one batched call per depth
    for q in range(n_q):
        totals = np.array([step.total(q, c) for c in codes])
        order = np.argsort(-totals)
        np.testing.assert_array_equal(values[q, :len(codes)], order)
        np.testing.assert_allclose(scores[q, :len(codes)], totals[order])
        assert np.all(values[q, len(codes):] == -1) and np.all(scores[q, len(codes):] == -np.inf)


def test_narrow_beams_return_only_items():
    rng = np.random.default_rng(7)
    codes = _random_codes(rng, 300, (8, 8, 3))
    trie = PrefixTrie(codes, np.arange(len(codes)))
    step = RandomStep(vocab_size=8, seed=2)
    for beam in (1, 3, 10):
        values, scores = constrained_beam_search(step, trie, 6, beam, 8)
        assert values.shape == (6, beam) and (values >= 0).all()            # 100 % valid
        assert np.all(np.diff(scores, axis=1) <= 1e-12)                      # best first
        for q in range(6):
            np.testing.assert_allclose(scores[q], [step.total(q, codes[v]) for v in values[q]])
    # the best of a wider beam is at least as good
    v1, s1 = constrained_beam_search(step, trie, 6, 1, 8)
    v10, s10 = constrained_beam_search(step, trie, 6, 10, 8)
    assert np.all(s10[:, 0] >= s1[:, 0] - 1e-12)


def test_free_beam_search_matches_enumeration_and_invents_items():
    rng = np.random.default_rng(8)
    codes = _random_codes(rng, 20, (4, 4))
    trie = PrefixTrie(codes, np.arange(len(codes)))
    step = RandomStep(vocab_size=4, seed=3)
    seqs, scores = beam_search(step, 2, 3, 16, 4)
    everything = list(itertools.product(range(4), repeat=2))
    for q in range(3):
        totals = np.array([step.total(q, s) for s in everything])
        order = np.argsort(-totals)
        np.testing.assert_array_equal(seqs[q], np.array(everything)[order])
        np.testing.assert_allclose(scores[q], totals[order])
    values, _ = beam_search(step, 2, 3, 16, 4, trie=trie)
    lookup = {tuple(c): i for i, c in enumerate(codes)}
    np.testing.assert_array_equal(values, [[lookup.get(tuple(s), -1) for s in row] for row in seqs])
    assert (values == -1).sum() == 3 * (16 - len(codes))


def test_beam_search_bad_step_and_arguments():
    trie = PrefixTrie([[0, 1], [1, 0]])
    with pytest.raises(CourseKitError, match="shape"):
        constrained_beam_search(lambda q, p: np.zeros((len(q), 3)), trie, 2, 2, 4)
    with pytest.raises(CourseKitError, match="NaN"):
        constrained_beam_search(lambda q, p: np.full((len(q), 2), np.nan), trie, 2, 2, 2)
    with pytest.raises(CourseKitError, match="beam_size"):
        constrained_beam_search(lambda q, p: np.zeros((len(q), 2)), trie, 2, 0, 2)
    with pytest.raises(CourseKitError, match="PrefixTrie"):
        constrained_beam_search(lambda q, p: np.zeros((len(q), 2)), [[0, 1]], 2, 2, 2)
    with pytest.raises(CourseKitError, match="depth 3"):
        beam_search(lambda q, p: np.zeros((len(q), 2)), 3, 1, 1, 2, trie=trie)


def test_beam_search_is_fast_on_a_catalogue():
    import time

    rng = np.random.default_rng(9)
    codes = np.column_stack([rng.integers(0, 16, 5000), rng.integers(0, 16, 5000), rng.integers(0, 16, 5000)])
    codes = np.column_stack([codes, collision_index(codes)])
    V = 16 * 3 + int(codes[:, 3].max()) + 1
    tokens = codes + [0, 16, 32, 48]
    trie = PrefixTrie(tokens)
    table = np.log(rng.dirichlet(np.ones(V), size=1000))

    def step(q, prefixes):       # a cheap "model": one fixed distribution per query
        return table[q]

    t0 = time.perf_counter()
    values, _ = constrained_beam_search(step, trie, 1000, 20, V)
    assert (values >= 0).all() and time.perf_counter() - t0 < 5.0
