"""Exercises of lesson 06 (cold start): checks, references vs. the library, committed notebooks.

The notebook runs (papermill, smoke mode) are marked ``notebook`` and ``slow``; they assert the values the
notebook recorded with :func:`coursekit.record.record`: relations that hold on any data, not point values.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coursekit.exercises import check
from coursekit.exercises.ex06 import (
    reference_ridge_attribute_map,
    reference_strict_cold_item_split,
    reference_ucb1_choice,
)
from tests.conftest import assert_known_mistake_hint, execute_notebook, exercise_notebook_tests

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "exercises" / "06_cold_start_solution.ipynb"
STUDENT = ROOT / "exercises" / "06_cold_start.ipynb"
EXERCISES = {"ex06_strict_cold_item_split": "strict_cold_item_split",
             "ex06_ridge_attribute_map": "ridge_attribute_map", "ex06_ucb1_choice": "ucb1_choice"}
SMOKE_BUDGET_S = 300   # per-test timeout of the notebook runs


# ------------------------------------------------------------------ references agree with the library
def test_split_reference_matches_strict_cold_items():
    from coursekit.coldstart import strict_cold_items
    from coursekit.interactions import Interactions

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user_id": rng.integers(1, 40, 800), "item_id": rng.integers(1, 90, 800),
                          "timestamp": rng.integers(0, 10_000, 800)})
    train, test = reference_strict_cold_item_split(frame, 0.2)
    cold = test["item_id"].unique()
    assert len(cold) == int(0.2 * frame["item_id"].nunique())
    first = frame.groupby("item_id")["timestamp"].min()
    assert first.loc[cold].min() >= first.drop(cold).max()          # the newest items
    split = strict_cold_items(Interactions.from_frame(frame), cold_items=cold)
    key = ["user_id", "item_id", "timestamp"]
    pd.testing.assert_frame_equal(split.test.frame[key].sort_values(key).reset_index(drop=True),
                                  test[key].sort_values(key).reset_index(drop=True), check_dtype=False)
    assert len(split.train) == len(train) and not train["item_id"].isin(cold).any()


def test_ridge_reference_matches_coldstart_ridge_map():
    from coursekit.coldstart import ridge_map

    rng = np.random.default_rng(1)
    for n, d, reg in [(50, 8, 0.5), (20, 35, 2.0), (100, 71, 10.0)]:         # primal and dual forms
        C = (rng.random((n, d)) < 0.2).astype(float)
        Y = rng.normal(size=(n, 4))
        C_new = (rng.random((7, d)) < 0.2).astype(float)
        W, c_mean, y_mean = ridge_map(C, Y, reg=reg)
        np.testing.assert_allclose(reference_ridge_attribute_map(C, Y, C_new, reg), (C_new - c_mean) @ W + y_mean,
                                   atol=1e-9)


def test_ridge_reference_by_hand():
    # one attribute, centred: c = (0, 1, 2), y = (1, 3, 5): slope 2 * 2 / (2 + reg)
    C, Y = np.array([[0.0], [1.0], [2.0]]), np.array([[1.0], [3.0], [5.0]])
    assert reference_ridge_attribute_map(C, Y, np.array([[3.0]]), 2.0)[0, 0] == pytest.approx(3.0 + 2 * 4 / 4)


def test_ucb_reference_matches_coldstart_ucb1():
    from coursekit.coldstart.bandit_policies import UCB1

    rng = np.random.default_rng(2)
    for _ in range(300):
        K = int(rng.integers(2, 40))
        policy = UCB1().reset(1, K, 1, [np.random.default_rng(0)])
        policy.n[0] = rng.integers(1, 300, K)
        policy.s[0] = np.round(policy.n[0] * rng.random(K), 4)
        assert policy.select(1, np.zeros((1, K, 1)))[0] == reference_ucb1_choice(policy.n[0], policy.s[0])


# ------------------------------------------------------------------ committed notebooks
(test_committed_student_notebook_is_current, test_solution_functions_pass_and_student_stubs_are_not_attempted,
 test_stub_exception_and_wrong_types) = exercise_notebook_tests(SOLUTION, STUDENT, EXERCISES,
    wrong_answers=(None, "text", 3.0, (1, 2), True))


def test_references_pass_their_own_checks():
    for name, fn in [("ex06_strict_cold_item_split", reference_strict_cold_item_split),
                     ("ex06_ridge_attribute_map", reference_ridge_attribute_map),
                     ("ex06_ucb1_choice", reference_ucb1_choice)]:
        assert check(name, fn, verbose=False).status == "passed", name


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.timeout(SMOKE_BUDGET_S)
@pytest.mark.parametrize("which, expected", [(SOLUTION, "passed"), (STUDENT, "not attempted")])
def test_exercise_notebook_runs(which, expected, tmp_path):
    rec, _ = execute_notebook(which, tmp_path, {"SMOKE": True, "DATASET": "shop"})
    assert rec["check_status"] == {name: expected for name in EXERCISES}
    if expected == "passed":
        assert rec["n_passed"] == 3
        assert rec["split_leak_events"] == 0 and rec["split_matches_library"] is True
        assert rec["ridge_max_abs_diff"] < 1e-8
        ndcg = rec["cold_ndcg10"]
        assert ndcg["iALS + your ridge map"] > ndcg["iALS alone (never saw the cold items)"]
        assert ndcg["iALS + your ridge map"] > ndcg["random"]
        assert rec["ucb_agreement"] == 1.0
        regret = rec["bandit_final_regret"]
        assert set(regret) == {"your UCB1", "UCB1", "Thompson (Beta)", "random"}
        assert all(v >= 0 for v in regret.values())
    else:
        assert rec["n_passed"] == 0
        assert not {"split_leak_events", "ridge_max_abs_diff", "ucb_agreement"} & set(rec)


# ------------------------------------------------------------------ check() feedback on wrong answers
@pytest.mark.parametrize("name, wrong, hint", [
    ("ex06_strict_cold_item_split", "_split_event_time", "per-event time split"),
    ("ex06_strict_cold_item_split", "_split_keep_first_event", "left the first event"),
    ("ex06_strict_cold_item_split", "_split_last_activity", "by their FIRST event"),
    ("ex06_strict_cold_item_split", "_split_test_only", "whole log as training data"),
    ("ex06_ridge_attribute_map", "_ridge_no_reg", "left out the regulariser"),
    ("ex06_ridge_attribute_map", "_ridge_reg_outside", "INSIDE the inverse"),
    ("ex06_ridge_attribute_map", "_ridge_not_centred", "Centre C and Y first"),
    ("ex06_ridge_attribute_map", "_ridge_forgot_mean", "did not add the mean factor"),
    ("ex06_ucb1_choice", "_ucb_greedy", "left out the exploration bonus"),
    ("ex06_ucb1_choice", "_ucb_log_arm_count", "TOTAL number of pulls"),
    ("ex06_ucb1_choice", "_ucb_no_sqrt", "Take the square root"),
])
def test_known_mistakes_get_specific_hints(name, wrong, hint):
    import coursekit.exercises.ex06 as ex06

    assert_known_mistake_hint(ex06, name, wrong, hint)
