"""The fast paths of ItemKNN/UserKNN similarities and BPR give what a simple reference gives.

* the sparse similarity path (cosine and Jaccard on positive values) against the dense blocks
  and a per-row Python top-k (ties broken by lower column index);
* :func:`coursekit.models.row_top_k.csr_row_top_k` against the same Python top-k;
* the hand-written BPR gradients against torch autograd on the same loss;
* the two membership tests of BPR's negative sampling (bitmap, sorted keys) against each other.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from coursekit.models.bpr import BPR, SeenLookup, bpr_gradients, sample_negatives
from coursekit.models.row_top_k import csr_row_top_k
from coursekit.models.similarity import ColumnSimilarity


def _reference_top_k(dense: np.ndarray, k: int) -> np.ndarray:
    """Per row, the k largest positive entries; ties by lower column (Python loops)."""
    out = np.zeros_like(dense)
    for r, row in enumerate(dense):
        cand = sorted((-v, c) for c, v in enumerate(row) if v > 0)
        for neg_v, c in cand[:k]:
            out[r, c] = -neg_v
    return out


def _random_matrix(rng: np.random.Generator, binary: bool) -> sp.csr_matrix:
    n_rows, n_cols = int(rng.integers(2, 25)), int(rng.integers(2, 30))
    X = sp.random(n_rows, n_cols, density=float(rng.uniform(0.1, 0.6)), format="csr",
                  random_state=int(rng.integers(2**31)))
    X.data = np.ones_like(X.data) if binary else np.round(X.data * 8 + 1) / 2  # ratings 0.5..4.5, many ties
    return X


@pytest.mark.parametrize("seed", range(40))
def test_sparse_similarity_path_equals_dense_blocks_and_reference(seed):
    rng = np.random.default_rng(seed)
    X = _random_matrix(rng, binary=seed % 2 == 0)
    measure = ("cosine", "jaccard")[seed % 3 == 0]
    shrinkage, min_support = (0.0, 1) if seed % 4 else (2.5, 2)
    k = int(rng.integers(1, X.shape[1] + 2))
    sim = ColumnSimilarity(X, measure, shrinkage, min_support, block_entries=int(rng.choice([5, 60, 10**6])))
    assert sim.sparse
    rows = np.arange(X.shape[1])
    dense = sim.block(rows)
    np.testing.assert_array_equal(sim.sparse_block(rows).toarray(), dense)  # same operations: bit for bit
    got = sim.top_k(k)
    np.testing.assert_array_equal(got.toarray(), _reference_top_k(dense, k))
    assert (got.data != 0).all() and got.has_sorted_indices


def test_cosine_block_matches_numpy():
    rng = np.random.default_rng(0)
    X = _random_matrix(rng, binary=False).toarray()
    norms = np.linalg.norm(X, axis=0)
    ref = (X.T @ X) / np.outer(norms, norms).clip(1e-300)
    np.fill_diagonal(ref, 0.0)
    ref[:, norms == 0] = 0.0
    ref[norms == 0, :] = 0.0
    got = ColumnSimilarity(sp.csr_matrix(X), "cosine").sparse_block(np.arange(X.shape[1])).toarray()
    np.testing.assert_allclose(got, ref, atol=1e-12)


def test_centred_measures_keep_the_dense_path():
    X = sp.csr_matrix(np.array([[5, 3, 0], [4, 0, 4], [1, 1, 5.0]]))
    assert not ColumnSimilarity(X, "pearson").sparse
    assert not ColumnSimilarity(sp.csr_matrix(np.array([[1.0, -1.0], [2.0, 1.0]])), "cosine").sparse


@pytest.mark.parametrize("seed", range(20))
def test_csr_row_top_k_matches_reference_with_ties(seed):
    rng = np.random.default_rng(seed)
    n_rows, n_cols = int(rng.integers(1, 40)), int(rng.integers(1, 60))
    dense = rng.integers(0, 4, (n_rows, n_cols)) * (rng.random((n_rows, n_cols)) < 0.5) / 4.0  # few values
    M = sp.csr_matrix(dense)
    perm = rng.permutation(M.nnz)  # unsorted indices within rows, as a sparse product leaves them
    for r in range(n_rows):
        lo, hi = M.indptr[r], M.indptr[r + 1]
        order = lo + np.argsort(perm[lo:hi])
        M.indices[lo:hi], M.data[lo:hi] = M.indices[order], M.data[order]
    k = int(rng.integers(1, n_cols + 2))
    r, c, v = csr_row_top_k(M, k, max_entries=int(rng.choice([1, 50, 10**6])),
                            max_padding=float(rng.choice([1.0, 2.0])))
    got = np.zeros_like(dense)
    got[r, c] = v
    assert len(r) == len(set(zip(r.tolist(), c.tolist())))
    np.testing.assert_array_equal(got, _reference_top_k(dense, k))


# ---------------------------------------------------------------------------- BPR
@pytest.mark.parametrize("with_bias", [True, False])
def test_bpr_gradients_match_autograd(with_bias):
    import torch
    gen = torch.Generator().manual_seed(0)
    W = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    H = torch.randn(7, 4, generator=gen, dtype=torch.float64)
    b = torch.randn(7, generator=gen, dtype=torch.float64)
    u = torch.tensor([0, 0, 1, 4, 4, 4, 2])  # repeated users and items: the gradients add up
    i = torch.tensor([1, 2, 1, 3, 3, 0, 6])
    j = torch.tensor([5, 5, 0, 1, 6, 5, 3])
    reg = 0.07
    leaves = [t.clone().requires_grad_() for t in (W, H, b)]
    Wa, Ha, ba = leaves
    x = (Wa[u] * (Ha[i] - Ha[j])).sum(1) + ((ba[i] - ba[j]) if with_bias else 0)
    penalty = Wa[u].square().sum(1) + Ha[i].square().sum(1) + Ha[j].square().sum(1)
    if with_bias:
        penalty = penalty + ba[i].square() + ba[j].square()
    loss = torch.nn.functional.softplus(-x).mean() + reg * penalty.mean()
    loss.backward()
    for t in (W, H, b):
        t.grad = torch.full_like(t, 99.0)  # stale values must be overwritten
    rank_loss = bpr_gradients(W, H, b if with_bias else None, u, i, j, reg)
    torch.testing.assert_close(W.grad, Wa.grad)
    torch.testing.assert_close(H.grad, Ha.grad)
    if with_bias:
        torch.testing.assert_close(b.grad, ba.grad)
    torch.testing.assert_close(rank_loss, torch.nn.functional.softplus(-x.detach()).sum())


def test_negative_sampling_bitmap_and_sorted_keys_agree():
    rng = np.random.default_rng(0)
    seen = sp.random(30, 50, density=0.3, format="csr", random_state=1)
    seen.data[:] = 1.0
    users = np.repeat(np.arange(30), 20)
    bitmap, keys = SeenLookup(seen), SeenLookup(seen, max_bits=0)
    assert bitmap.bits is not None and keys.keys is not None
    query = rng.integers(0, 30 * 50, 5000)
    np.testing.assert_array_equal(bitmap(query), keys(query))
    a = sample_negatives(seen, users, np.random.default_rng(3), lookup=bitmap)
    b = sample_negatives(seen, users, np.random.default_rng(3), lookup=keys)
    np.testing.assert_array_equal(a, b)
    assert not np.asarray(seen[users, a]).any()


def test_bpr_fit_restores_torch_threads():
    import pandas as pd
    import torch

    from coursekit.interactions import Interactions

    before = torch.get_num_threads()
    log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 30, 30]})
    BPR(factors=2, epochs=2, device="cpu").fit(Interactions.from_frame(log))
    assert torch.get_num_threads() == before
