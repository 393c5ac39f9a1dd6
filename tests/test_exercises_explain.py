"""Exercises of lesson 07 (explainability and trust): checks, references vs. the library, committed notebooks.

The notebook runs (papermill, smoke mode) are marked ``notebook`` and ``slow``; they assert the values the
notebook recorded with :func:`coursekit.record.record`: relations that hold on any data, not point values.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coursekit.exercises.ex07 import (
    AdditiveScore,
    reference_deletion_curve,
    reference_expected_calibration_error,
    reference_itemknn_contributions,
)
from coursekit.interactions import Interactions
from tests.conftest import assert_known_mistake_hint, execute_notebook, exercise_notebook_tests

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "exercises" / "07_explainability_and_trust_solution.ipynb"
STUDENT = ROOT / "exercises" / "07_explainability_and_trust.ipynb"
EXERCISES = {"ex07_itemknn_contributions": "itemknn_contributions", "ex07_deletion_curve": "deletion_curve",
             "ex07_expected_calibration_error": "expected_calibration_error"}
SMOKE_BUDGET_S = 300   # per-test timeout of the notebook runs


def _fitted_itemknn(k: int = 5, seed: int = 0):
    from coursekit.models import ItemKNN

    rng = np.random.default_rng(seed)
    users = rng.integers(0, 30, 500)
    items = np.where(rng.random(500) < 0.7, (users % 3) * 8 + rng.integers(0, 8, 500), rng.integers(0, 24, 500))
    train = Interactions.from_frame(pd.DataFrame({"user_id": users, "item_id": items}).drop_duplicates())
    return ItemKNN(k=k).fit(train)


# ------------------------------------------------------------------ references agree with the library
def test_contributions_reference_matches_itemknn_and_explain():
    model = _fitted_itemknn(k=5)
    sim_all = model._sim().block(np.arange(model.n_items))
    for user in model.users_.ids[:12]:
        u = model.users_.index([user])[0]
        history = model.seen_[u].indices
        for item in model.recommend([user], k=3)[0][0]:
            i = model.items_.index([item])[0]
            row = sim_all[i].copy()
            row[i] = 1.0                              # as a plain cosine matrix has it: must not count
            mine = reference_itemknn_contributions(list(history), row, i, model.k)
            lib = model.contributions(user, item).set_index("item_id")["contribution"]
            np.testing.assert_allclose(mine, lib.reindex(model.items_.ids[history]).fillna(0.0).to_numpy(), atol=1e-12)
            assert mine.sum() == pytest.approx(model.score([user], items=[item])[0, 0], abs=1e-12)
    from coursekit import explain

    user = model.users_.ids[0]
    item = model.recommend([user], k=1)[0][0, 0]
    i, u = model.items_.index([item])[0], model.users_.index([user])[0]
    history = model.seen_[u].indices
    frame = explain.exact_contributions(model, user, item).set_index("feature")   # feature = history item id
    mine = reference_itemknn_contributions(list(history), sim_all[i], i, model.k)
    np.testing.assert_allclose(mine, frame["contribution"].reindex(model.items_.ids[history]).to_numpy(), atol=1e-12)


def test_deletion_reference_matches_explain_faithfulness():
    from coursekit.explain import faithfulness as faith
    from coursekit.explain import history_scorer

    model = _fitted_itemknn(k=6, seed=1)
    user = model.users_.ids[2]
    item = model.recommend([user], k=1)[0][0, 0]
    hs = history_scorer(model, user)
    i = model.items_.index([item])[0]
    contrib = np.random.default_rng(0).normal(size=len(hs.history))
    order = np.array(sorted(range(len(contrib)), key=lambda p: (-contrib[p], p)))
    theirs = faith.deletion_curve_values(lambda Z: hs.scores(Z, targets=[item])[:, 0], order)
    neighbours = model.neighbors_[i].toarray().ravel()
    mine = reference_deletion_curve(lambda items: float(neighbours[list(items)].sum()), list(hs.history), contrib)
    np.testing.assert_allclose((mine - mine[-1]) / (mine[0] - mine[-1]), theirs, atol=1e-12)


def test_ece_reference_matches_coursekit_trust():
    from coursekit.trust import expected_calibration_error

    rng = np.random.default_rng(3)
    for n_bins in (1, 4, 10, 25):
        p = rng.random(300).tolist() + [1.0, 0.0]
        y = (rng.random(302) < 0.4).astype(int).tolist()
        assert reference_expected_calibration_error(p, y, n_bins) == pytest.approx(
            expected_calibration_error(p, y, n_bins), abs=1e-12)


def test_deletion_reference_by_hand():
    f = AdditiveScore({10: 0.5, 11: 0.1, 12: 0.3})
    np.testing.assert_allclose(reference_deletion_curve(f, [11, 10, 12], [0.1, 0.5, 0.3]), [0.9, 0.4, 0.1, 0.0])


# ------------------------------------------------------------------ committed notebooks
(test_committed_student_notebook_is_current, test_solution_functions_pass_and_student_stubs_are_not_attempted,
 test_stub_exception_and_wrong_types) = exercise_notebook_tests(SOLUTION, STUDENT, EXERCISES)


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.timeout(SMOKE_BUDGET_S)
@pytest.mark.parametrize("which, expected", [(SOLUTION, "passed"), (STUDENT, "not attempted")])
def test_exercise_notebook_runs(which, expected, tmp_path):
    rec, _ = execute_notebook(which, tmp_path, {"SMOKE": True, "DATASET": "shop"})
    assert rec["check_status"] == {name: expected for name in EXERCISES}
    if expected == "passed":
        assert rec["n_passed"] == 3
        assert rec["contrib_max_abs_diff"] < 1e-9
        assert rec["deletion_auc"]["exact"] < rec["deletion_auc"]["random"]
        assert rec["ece"]["after"] < rec["ece"]["before"]
        assert rec["ece_max_abs_diff"] < 1e-12
    else:
        assert rec["n_passed"] == 0 and "ece" not in rec


# ------------------------------------------------------------------ check() feedback on wrong answers
@pytest.mark.parametrize("name, wrong, hint", [
    ("ex07_itemknn_contributions", "_contrib_with_self", "not its own neighbour"),
    ("ex07_itemknn_contributions", "_contrib_history_topk", "among ALL items"),
    ("ex07_itemknn_contributions", "_contrib_no_pruning", "contributes 0, however similar"),
    ("ex07_deletion_curve", "_deletion_ascending", "MOST important item first"),
    ("ex07_deletion_curve", "_deletion_abs", "not its absolute value"),
    ("ex07_deletion_curve", "_deletion_one_at_a_time", "Removals accumulate"),
    ("ex07_deletion_curve", "_deletion_no_start", "score of the full history"),
    ("ex07_expected_calibration_error", "_ece_unweighted", "share of the pairs"),
    ("ex07_expected_calibration_error", "_ece_signed", "must not cancel"),
    ("ex07_expected_calibration_error", "_ece_open_last_bin", "belongs to the last bin"),
])
def test_known_mistakes_get_specific_hints(name, wrong, hint):
    import coursekit.exercises.ex07 as ex07

    assert_known_mistake_hint(ex07, name, wrong, hint)
