"""Exercise checks of lessons 02 and 03 (coursekit.exercises.ex02 / ex03) and their notebooks."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coursekit.exercises import check, exercise_names
from coursekit.exercises.ex02 import reference_cosine_item_similarity, reference_item_knn_score, toy_matrix
from coursekit.exercises.ex03 import (
    TRAIN_PARAMS,
    _train_no_negatives,
    _train_users_only,
    ndcg_at_10,
    reference_ials_user,
    reference_sgd_epoch,
    reference_train_ials,
    training_split,
)
from coursekit.exercises.generate import check_student_notebook, diff_student_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {
    "02": (ROOT / "exercises" / "02_collaborative_filtering_solution.ipynb",
           ROOT / "exercises" / "02_collaborative_filtering.ipynb"),
    "03": (ROOT / "exercises" / "03_matrix_factorization_solution.ipynb",
           ROOT / "exercises" / "03_matrix_factorization.ipynb"),
}
EXERCISES = {"02": {"ex02_cosine_item_similarity": "cosine_item_similarity", "ex02_item_knn_score": "item_knn_score"},
             "03": {"ex03_sgd_epoch": "sgd_epoch", "ex03_ials_user_update": "ials_user_update",
                    "ex03_train_ials": "train_ials"}}
ALL = {name: fn for lesson in EXERCISES.values() for name, fn in lesson.items()}


# ------------------------------------------------------------------ independent implementations
def loop_cosine(R):
    """Pairwise column cosine with explicit loops over a dense copy (independent of the reference)."""
    D = np.asarray(sp.csr_matrix(R).toarray(), dtype=float)
    n = D.shape[1]
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            ni, nj = np.linalg.norm(D[:, i]), np.linalg.norm(D[:, j])
            out[i, j] = D[:, i] @ D[:, j] / (ni * nj) if ni > 0 and nj > 0 and i != j else 0.0
    return out


def loop_knn(R, S, user, k):
    D = sp.csr_matrix(R).toarray()[user]
    S = np.asarray(S, dtype=float)
    n = len(S)
    out = np.zeros(n)
    for j in range(n):
        cands = sorted((i for i in range(n) if i != j), key=lambda i: (-S[i, j], i))[:k]
        out[j] = sum(D[i] * S[i, j] for i in cands)
    return out


def dense_ials(Q, item_index, values, alpha, reg):
    """x = (Q^T C Q + reg I)^-1 Q^T C p with the full n x n diagonal C (no Gram trick)."""
    n, f = Q.shape
    c, p = np.ones(n), np.zeros(n)
    c[item_index] += alpha * np.asarray(values, dtype=float)
    p[item_index] = 1.0
    C = np.diag(c)
    return np.linalg.solve(Q.T @ C @ Q + reg * np.eye(f), Q.T @ C @ p)


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


# ------------------------------------------------------------------ registry and statuses
def test_exercises_are_registered():
    assert set(ALL) <= set(exercise_names())


@pytest.mark.parametrize("name, fn", [
    ("ex02_cosine_item_similarity", loop_cosine),
    ("ex02_item_knn_score", loop_knn),
    ("ex03_sgd_epoch", reference_sgd_epoch),
    ("ex03_ials_user_update", dense_ials),
])
def test_independent_solution_passes(name, fn):
    result = check(name, fn, verbose=False)
    assert result.status == "passed", result.message
    assert result.n_passed == result.n_cases >= 5


@pytest.mark.parametrize("name", sorted(ALL))
def test_stub_is_not_attempted(name, capsys):
    result = check(name, stub)
    assert result.status == "not attempted"
    assert "not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(ALL))
def test_student_exception_is_reported(name):
    def broken(*args):
        return [][1]

    result = check(name, broken, verbose=False)
    assert result.status == "failed" and "IndexError" in result.message


@pytest.mark.parametrize("name, answer", [
    ("ex02_cosine_item_similarity", None), ("ex02_cosine_item_similarity", "x"),
    ("ex02_cosine_item_similarity", np.zeros((2, 2))), ("ex02_item_knn_score", [1.0]),
    ("ex03_sgd_epoch", None), ("ex03_sgd_epoch", (1, 2)), ("ex03_ials_user_update", np.full(3, np.nan)),
    ("ex03_train_ials", None), ("ex03_train_ials", (np.zeros((3, 2)), np.zeros((3, 2)))), ("ex03_train_ials", "x"),
    ("ex03_train_ials", (np.full((800, 4), np.nan), np.ones((200, 4)))),
])
def test_wrong_types_fail_gracefully(name, answer):
    result = check(name, lambda *a: answer, verbose=False)
    assert result.status == "failed" and result.details[0]["problem"]


# ------------------------------------------------------------------ known mistakes give the specific hint
def _cos_user(R):
    return loop_cosine(sp.csr_matrix(R).T)


def _cos_nan(R):
    D = sp.csr_matrix(R).toarray()
    n = np.linalg.norm(D, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (D.T @ D) / np.outer(n, n)
    np.fill_diagonal(s, 0.0)
    return s


def _knn_self(R, S, user, k):
    D = sp.csr_matrix(R).toarray()[user]
    S = np.asarray(S, float)
    out = np.zeros(len(S))
    for j in range(len(S)):
        cands = sorted(range(len(S)), key=lambda i: (-S[i, j], i))[:k]
        out[j] = sum(D[i] * S[i, j] for i in cands)
    return out


def _sgd_new_p(users, items, ratings, mu, bu, bi, P, Q, lr, reg):
    bu, bi, P, Q = (np.array(x, dtype=float) for x in (bu, bi, P, Q))
    for u, i, r in zip(users, items, ratings):
        e = r - (mu + bu[u] + bi[i] + P[u] @ Q[i])
        bu[u] += lr * (e - reg * bu[u])
        bi[i] += lr * (e - reg * bi[i])
        P[u] = P[u] + lr * (e * Q[i] - reg * P[u])
        Q[i] = Q[i] + lr * (e * P[u] - reg * Q[i])
    return bu, bi, P, Q


def _ials_local_gram(Q, idx, values, alpha, reg):
    Qu = np.asarray(Q, float)[idx]
    c = 1 + alpha * np.asarray(values, float)
    return np.linalg.solve(Qu.T @ np.diag(c) @ Qu + reg * np.eye(Qu.shape[1]), Qu.T @ c)


@pytest.mark.parametrize("name, wrong, hint", [
    ("ex02_cosine_item_similarity", _cos_user, "user-user"),
    ("ex02_cosine_item_similarity", _cos_nan, "NaN"),
    ("ex02_item_knn_score", _knn_self, "own k neighbours"),
    ("ex03_sgd_epoch", _sgd_new_p, "NEW P[u]"),
    ("ex03_sgd_epoch", lambda *a: reference_sgd_epoch(*a[:-1], 0.0), "regularisation"),
    ("ex03_ials_user_update", _ials_local_gram, "only the user's items"),
    ("ex03_ials_user_update", lambda Q, idx, v, a, reg: dense_ials(Q, idx, v, a, 0.0), "lambda * I"),
])
def test_known_mistakes_get_specific_hints(name, wrong, hint):
    result = check(name, wrong, verbose=False)
    assert result.status == "failed"
    assert hint in result.message, result.message


# ------------------------------------------------------------------ the training exercise (ex03_train_ials)
def dense_train_ials(R, factors, alpha, reg, n_iters, seed):
    """iALS with the full n x n confidence matrix per row (independent of the reference), items first."""
    R = sp.csr_matrix(R).toarray()
    rng = np.random.default_rng(seed + 100)           # a different start than the reference
    X, Y = rng.normal(0, 0.1, (R.shape[0], factors)), rng.normal(0, 0.1, (R.shape[1], factors))
    for _ in range(n_iters):
        for M, A, B in ((R, X, Y), (R.T, Y, X)):
            for r in range(M.shape[0]):
                A[r] = dense_ials(B, np.flatnonzero(M[r]), M[r][M[r] > 0], alpha, reg)
    return X, Y


def test_training_reference_beats_most_popular_and_an_independent_loop_passes():
    import time

    train, test = training_split()
    X, Y = reference_train_ials(train, seed=0, **TRAIN_PARAMS)
    pop = np.asarray(train.sum(axis=0)).ravel()
    ref, popular = ndcg_at_10(X @ Y.T, train, test), ndcg_at_10(np.tile(pop, (train.shape[0], 1)), train, test)
    assert ref > 0.3 and 0.8 * ref > popular + 0.02          # the bar is clearly above MostPopular
    from threadpoolctl import threadpool_limits

    for fn in (reference_train_ials, dense_train_ials):
        start = time.perf_counter()
        with threadpool_limits(1):      # a thousand tiny solves: BLAS threads only spin on a shared machine
            result = check("ex03_train_ials", fn, verbose=False)
        assert result.status == "passed", result.message
        assert time.perf_counter() - start < 20


@pytest.mark.parametrize("wrong", [_train_users_only, _train_no_negatives])
def test_training_mistakes_fail_below_most_popular_with_the_hint(wrong):
    result = check("ex03_train_ials", wrong, verbose=False)
    assert result.status == "failed"
    text = " ".join(result.message.split())
    assert "worse than recommending the most popular items" in text
    assert "updating only the users" in text and "Q.T @ Q term" in text


def test_training_has_its_points_and_time_limit():
    from coursekit.exercises import get_exercise

    ex = get_exercise("ex03_train_ials")
    assert ex.points == 2 and ex.time_limit == 60
    result = check("ex03_train_ials", reference_train_ials, verbose=False, time_limit=1e-3)
    assert result.status == "failed" and result.timed_out


# ------------------------------------------------------------------ the docstring examples
EXERCISE_MODULES = sorted(f.stem for f in (ROOT / "coursekit" / "exercises").glob("*.py") if f.stem != "__init__")


@pytest.mark.parametrize("module", EXERCISE_MODULES)
def test_exercise_module_doctests(module):
    """Every example in the docstrings of coursekit/exercises runs and prints what it claims."""
    import doctest
    import importlib

    mod = importlib.import_module(f"coursekit.exercises.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples of {mod.__name__} fail"


def test_ex02_knn_docstring_example_agrees_with_the_solution():
    R = sp.csr_matrix(np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]]))
    S = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]])
    assert reference_item_knn_score(R, S, 0, 1).tolist() == loop_knn(R, S, 0, 1).tolist() == [0.0, 0.5, 0.0]


# ------------------------------------------------------------------ hand values and agreement with coursekit
def test_cosine_hand_value_on_the_toy_matrix():
    s = reference_cosine_item_similarity(toy_matrix())
    assert s[0, 1] == pytest.approx(40 / 42)          # The Matrix vs Terminator 2, computed in lesson 02
    assert s[0, 4] == 0.0 and np.all(np.diag(s) == 0.0)   # an item is not its own neighbour


def test_knn_score_hand_value():
    R = sp.csr_matrix(np.array([[1.0, 0.0, 2.0]]))
    S = np.array([[1.0, 0.8, 0.1], [0.8, 1.0, 0.3], [0.1, 0.3, 1.0]])
    # item 1: neighbours (k=1) = {0} -> 1 * 0.8; item 0: {1} -> 0; item 2: {1} -> 0
    assert reference_item_knn_score(R, S, 0, 1).tolist() == [0.0, 0.8, 0.0]
    # k=2: item 1 <- 1*0.8 + 2*0.3; item 0 <- 2*0.1; item 2 <- 1*0.1
    assert np.allclose(reference_item_knn_score(R, S, 0, 2), [0.2, 1.4, 0.1])


def test_ials_reference_equals_dense_formula_and_coursekit_fold_in():
    from coursekit.interactions import Interactions
    from coursekit.models.ials import IALS

    rng = np.random.default_rng(0)
    log = pd.DataFrame({"user_id": rng.integers(0, 30, 400), "item_id": rng.integers(0, 25, 400)})
    inter = Interactions.from_frame(log)
    model = IALS(factors=4, iterations=3, solver="cholesky", alpha=3.0, reg=0.5, seed=0).fit(inter)
    counts = inter.matrix("count").tocsr()
    for u in range(5):
        row = counts[u]
        ref = reference_ials_user(model.item_factors_, row.indices, row.data, model.alpha, model.reg)
        assert np.allclose(ref, dense_ials(model.item_factors_, row.indices, row.data, 3.0, 0.5))
        assert np.allclose(ref, model.user_factors(model.items_.ids[row.indices], row.data), atol=1e-10)
        assert np.allclose(ref, model.user_factors_[u], atol=1e-8)


def test_sgd_reference_matches_coursekit_biased_mf_with_batch_size_1():
    """BiasedMF(batch_size=1) is exact Funk SGD: one epoch in its shuffled order equals the reference."""
    from coursekit.interactions import Interactions
    from coursekit.models.factorization import BiasedMF

    rng = np.random.default_rng(1)
    log = pd.DataFrame({"user_id": rng.integers(0, 15, 120), "item_id": rng.integers(0, 12, 120),
                        "rating": rng.integers(1, 6, 120).astype(float), "timestamp": np.arange(120)})
    log = log.drop_duplicates(["user_id", "item_id"]).reset_index(drop=True)
    inter = Interactions.from_frame(log)
    kw = dict(factors=3, reg=0.05, lr=0.02, n_epochs=1, solver="sgd", batch_size=1, seed=7, init_std=0.1)
    model = BiasedMF(**kw).fit(inter)
    gen = np.random.default_rng(7)
    P0, Q0 = gen.normal(0, 0.1, (inter.n_users, 3)), gen.normal(0, 0.1, (inter.n_items, 3))
    u, i, r = inter.user_index, inter.item_index, inter.ratings
    perm = gen.permutation(len(r))
    bu, bi, P, Q = reference_sgd_epoch(u[perm], i[perm], r[perm], float(r.mean()), np.zeros(inter.n_users),
                                       np.zeros(inter.n_items), P0, Q0, 0.02, 0.05)
    assert np.allclose(bu, model.user_bias_) and np.allclose(bi, model.item_bias_)
    assert np.allclose(P, model.user_factors_) and np.allclose(Q, model.item_factors_)


def test_cosine_reference_matches_coursekit_similarity():
    from coursekit.models.similarity import similarity_matrix

    empty = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [3.0, 0.0, 0.0]]))   # item 1 has no interaction
    for m in (toy_matrix(), empty, sp.random(80, 30, density=0.1, format="csr", random_state=3)):
        got = similarity_matrix(m, "cosine").toarray()
        assert np.allclose(got, reference_cosine_item_similarity(m), atol=1e-10)


# ------------------------------------------------------------------ the committed notebooks
@pytest.mark.parametrize("lesson", sorted(NOTEBOOKS))
def test_committed_student_notebook_is_current(lesson):
    solution, student = NOTEBOOKS[lesson]
    assert check_student_notebook(solution, student), diff_student_notebook(solution, student)[:3000]


def _namespace(path: Path, lesson: str) -> dict:
    cells = {c["id"]: "".join(c["source"]) for c in json.loads(path.read_text())["cells"]
             if c["cell_type"] == "code"}
    ns: dict = {}
    for cid in ["imports", "ex1-code", "ex2-code", "ex3-code"][:4 if "ex3-code" in cells else 3]:
        exec(compile(cells[cid], f"{path.name}:{cid}", "exec"), ns)
    return ns


@pytest.mark.parametrize("lesson", sorted(NOTEBOOKS))
def test_solution_functions_pass_and_student_stubs_are_not_attempted(lesson):
    solution, student = NOTEBOOKS[lesson]
    sol, stu = _namespace(solution, lesson), _namespace(student, lesson)
    for name, fn in EXERCISES[lesson].items():
        assert check(name, sol[fn], verbose=False).status == "passed", name
        assert check(name, stu[fn], verbose=False).status == "not attempted", name


@pytest.mark.parametrize("lesson", sorted(NOTEBOOKS))
def test_solution_docstring_examples_hold(lesson):
    """The examples in the exercise functions' docstrings (what students read first) match the solutions."""
    import doctest

    sol = _namespace(NOTEBOOKS[lesson][0], lesson)
    for fn in EXERCISES[lesson].values():
        finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        tests = finder.find(sol[fn], fn, globs=dict(sol))
        assert tests and tests[0].examples, f"{fn} has no docstring example"
        for test in tests:
            runner.run(test, out=lambda _: None)
        assert runner.failures == 0, f"the docstring example of {fn} disagrees with its solution"


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("lesson, which", [("02", 0), ("02", 1), ("03", 0), ("03", 1)])
def test_exercise_notebook_runs(lesson, which, tmp_path):
    import papermill as pm

    from coursekit.record import load_records

    path = NOTEBOOKS[lesson][which]
    expected = "passed" if which == 0 else "not attempted"
    env = {"COURSEKIT_RECORDS": str(tmp_path / "records"), "COURSEKIT_NOTEBOOK": f"ex{lesson}"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        pm.execute_notebook(str(path), str(tmp_path / path.name), parameters={"SMOKE": True, "DATASET": "shop"},
                            cwd=str(path.parent), kernel_name="python3", progress_bar=False)
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    records = load_records(f"ex{lesson}", tmp_path / "records")
    assert records["check_status"] == {name: expected for name in EXERCISES[lesson]}
    if expected == "passed" and lesson == "02":
        assert records["max_abs_diff_vs_coursekit"] < 1e-9
    if expected == "passed" and lesson == "03":
        assert records["ials_max_abs_diff"] < 1e-8
        assert 0.3 < records["sgd_final_test_rmse"] < 2.0
