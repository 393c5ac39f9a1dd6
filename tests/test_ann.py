"""ANN retrieval over item vectors: exact search, HNSW recall, exclusion, recall@k, bad inputs."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.sparse as sp

from coursekit._validation import CourseKitError
from coursekit.models.ann import ANNIndex, recall_at_k
from coursekit.models.ranking import top_k

pytest.importorskip("faiss", reason="faiss-cpu is not installed (pip install faiss-cpu)")


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(0)
    return rng.normal(size=(800, 16)), rng.normal(size=(40, 16))


def test_exact_matches_full_ranking(vectors):
    items, users = vectors
    idx, val = ANNIndex(items, method="exact").search(users, k=25)
    ref_idx, ref_val = top_k(users @ items.T, 25)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(val, ref_val)


def test_hnsw_recall_high_and_grows_with_ef(vectors):
    items, users = vectors
    exact, _ = ANNIndex(items, method="exact").search(users, k=50)
    rec = {ef: recall_at_k(ANNIndex(items, ef_search=ef).search(users, k=50)[0], exact).mean() for ef in (8, 200)}
    assert rec[200] > 0.95
    assert rec[200] >= rec[8]


def test_hnsw_scores_are_inner_products_best_first(vectors):
    items, users = vectors
    idx, val = ANNIndex(items).search(users, k=10)
    np.testing.assert_allclose(val, np.einsum("nd,nkd->nk", users, items[idx]), rtol=1e-4, atol=1e-4)
    assert (np.diff(val, axis=1) <= 1e-6).all()


def test_hnsw_is_deterministic_given_seed(vectors):
    items, users = vectors
    a = ANNIndex(items, ef_search=8, seed=3).search(users, k=20)[0]
    b = ANNIndex(items, ef_search=8, seed=3).search(users, k=20)[0]
    np.testing.assert_array_equal(a, b)


def test_one_query_equals_batch(vectors):
    """A query's hits do not depend on the other queries, not even on how many items they exclude."""
    items, users = vectors
    index = ANNIndex(items, ef_search=16)
    exclude = [np.arange(3 * u) for u in range(len(users))]
    batch = index.search(users, k=10, exclude=exclude)[0]
    alone = np.vstack([index.search(u, k=10, exclude=[x])[0] for u, x in zip(users, exclude)])
    np.testing.assert_array_equal(alone, batch)


@pytest.mark.parametrize("method", ["exact", "hnsw"])
def test_exclude_sparse_and_lists_agree_and_never_return_excluded(vectors, method):
    items, users = vectors
    rng = np.random.default_rng(1)
    index = ANNIndex(items, method=method)
    top, _ = index.search(users, k=10)
    lists = [np.r_[top[u, :5], rng.choice(np.setdiff1d(np.arange(800), top[u]), size=u % 7, replace=False)]
             for u in range(len(users))]
    r = np.repeat(np.arange(len(users)), [len(x) for x in lists])
    csr = sp.csr_matrix((np.ones(len(r)), (r, np.concatenate(lists))), shape=(len(users), 800))
    a, va = index.search(users, k=10, exclude=lists)
    b, vb = index.search(users, k=10, exclude=csr)
    np.testing.assert_array_equal(a, b)
    for u in range(len(users)):
        assert not np.isin(a[u], lists[u]).any()
        assert len(set(a[u].tolist())) == 10
    np.testing.assert_array_equal(a[:, :5], top[:, 5:10])   # the next best items move up


def test_padding_when_everything_is_excluded():
    items = np.eye(3)
    idx, val = ANNIndex(items, method="hnsw").search([[1.0, 0.0, 0.0]], k=5, exclude=[[0, 1]])
    assert idx.tolist() == [[2, -1, -1]]
    assert np.isneginf(val[0, 1:]).all()


def test_cosine_metric_ignores_length():
    items = np.array([[10.0, 0.0], [0.6, 0.8]])
    assert ANNIndex(items, method="exact").search([[0.6, 0.8]], k=1)[0].tolist() == [[0]]
    assert ANNIndex(items, metric="cosine", method="exact").search([[0.6, 0.8]], k=1)[0].tolist() == [[1]]


def test_recall_at_k_by_hand():
    np.testing.assert_allclose(recall_at_k([[1, 2, 3], [7, 8, 9]], [[3, 4, 5], [9, 8, 7]]), [1 / 3, 1.0])
    assert np.isnan(recall_at_k([[1]], [[-1]])[0])


@pytest.mark.parametrize("kwargs, match", [
    ({"vectors": np.zeros((0, 3))}, "non-empty 2-D"),
    ({"vectors": np.array([[np.nan, 1.0]])}, "finite"),
    ({"vectors": np.ones((3, 2)), "method": "ivf"}, "method"),
    ({"vectors": np.ones((3, 2)), "metric": "l2"}, "metric"),
    ({"vectors": np.ones((3, 2)), "M": 0}, "M"),
])
def test_bad_construction(kwargs, match):
    with pytest.raises(CourseKitError, match=match):
        ANNIndex(**kwargs)


def test_bad_search_inputs():
    index = ANNIndex(np.eye(3), method="exact")
    with pytest.raises(CourseKitError, match="queries must have shape"):
        index.search(np.ones((2, 4)), k=1)
    with pytest.raises(CourseKitError, match="k"):
        index.search(np.ones(3), k=0)
    with pytest.raises(CourseKitError, match="exclude must have shape"):
        index.search(np.ones((2, 3)), k=1, exclude=sp.csr_matrix((1, 3)))
    with pytest.raises(CourseKitError, match="outside"):
        index.search(np.ones((1, 3)), k=1, exclude=[[5]])
    with pytest.raises(CourseKitError, match="2-D"):
        recall_at_k([1, 2], [[1, 2]])


def test_missing_faiss_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(CourseKitError, match="pip install faiss-cpu"):
        ANNIndex(np.eye(3), method="hnsw")
    ANNIndex(np.eye(3), method="exact").search(np.ones(3), k=2)   # exact search needs no faiss


def test_import_coursekit_does_not_load_faiss():
    import subprocess

    code = "import sys, coursekit, coursekit.models, coursekit.system; print('faiss' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
