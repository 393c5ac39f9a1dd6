"""Exercises of lesson 08 (recommenders in business): checks, references vs. the library, committed notebooks.

The notebook runs (papermill, smoke mode) are marked ``notebook`` and ``slow``; they assert the values the
notebook recorded with :func:`coursekit.record.record`: relations that hold on any data, not point values.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coursekit.exercises.ex08 import reference_cuped, reference_ips, reference_sample_size
from tests.conftest import assert_known_mistake_hint, execute_notebook, exercise_notebook_tests

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "exercises" / "08_business_solution.ipynb"
STUDENT = ROOT / "exercises" / "08_business.ipynb"
EXERCISES = {"ex08_ips": "ips", "ex08_sample_size": "sample_size", "ex08_cuped": "cuped"}
SMOKE_BUDGET_S = 300   # per-test timeout of the notebook runs


# ------------------------------------------------------------------ references agree with the library
def test_ips_reference_matches_coursekit_business_ope():
    from coursekit.business.ope import LoggedBandit, ips

    rng = np.random.default_rng(0)
    n, k = 500, 6
    logging = rng.dirichlet(np.ones(k), n)
    target = rng.dirichlet(np.full(k, 0.3), n)
    actions = np.array([rng.choice(k, p=p) for p in logging])
    rewards = (rng.random(n) < 0.3).astype(float)
    log = LoggedBandit(np.arange(n), np.tile(np.arange(k), (n, 1)), logging, actions, rewards)
    rows = np.arange(n)
    mine = reference_ips(rewards.tolist(), logging[rows, actions].tolist(), target[rows, actions].tolist())
    assert mine == pytest.approx(ips(log, target)[0], abs=1e-12)


def test_sample_size_reference_matches_coursekit_business_abtest():
    from coursekit.business.abtest import sample_size

    for sd, mde, alpha, power in [(1.0, 0.2, 0.05, 0.8), (3.7, 0.41, 0.01, 0.9), (104.4, 3.2, 0.05, 0.8),
                                  (0.2179, 0.005, 0.1, 0.95)]:
        assert reference_sample_size(sd, mde, alpha, power) == sample_size(sd, mde, alpha, power)


def test_cuped_reference_matches_coursekit_business_abtest():
    from coursekit.business.abtest import cuped

    rng = np.random.default_rng(1)
    x = rng.gamma(2.0, 1.0, 300)
    y = 0.7 * x + rng.normal(size=300)
    adjusted, theta, reduction = cuped(y, x)
    np.testing.assert_allclose(reference_cuped(y.tolist(), x.tolist()), adjusted, atol=1e-12)
    assert reduction == pytest.approx(1 - adjusted.var(ddof=1) / y.var(ddof=1))


def test_sample_size_reference_by_hand():
    assert reference_sample_size(1.0, 0.2, 0.05, 0.8) == 393          # 392.4 rounded up


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
        ips = rec["ips"]
        assert rec["ips_abs_diff"] < 1e-12
        assert abs(ips["mine"] - ips["truth"]) < 4 * ips["se"]          # IPS is unbiased
        assert ips["truth"] > ips["logging"]                            # greedy iALS beats the popularity logger
        assert rec["sample_size"]["mine"] == rec["sample_size"]["library"]
        assert rec["cuped_max_abs_diff"] < 1e-9
        assert rec["cuped"]["variance_reduction"] > 0
        assert rec["cuped"]["mean_after"] == pytest.approx(rec["cuped"]["mean_before"])
        assert rec["sample_size_cuped"] < rec["sample_size"]["mine"]
    else:
        assert rec["n_passed"] == 0 and "ips" not in rec and "cuped" not in rec


# ------------------------------------------------------------------ check() feedback on wrong answers
@pytest.mark.parametrize("name, wrong, hint", [
    ("ex08_ips", "_ips_inverted", "target / logging"),
    ("ex08_ips", "_ips_self_normalised", "self-normalised IPS"),
    ("ex08_ips", "_ips_matching_only", "also those with weight 0"),
    ("ex08_ips", "_ips_no_weights", "value of the LOGGING policy"),
    ("ex08_sample_size", "_size_one_sided", "two-sided"),
    ("ex08_sample_size", "_size_no_factor_two", "factor 2"),
    ("ex08_sample_size", "_size_rounded", "Round UP"),
    ("ex08_sample_size", "_size_sd_not_squared", "Square sd / mde"),
    ("ex08_cuped", "_cuped_var_y", "not var(y)"),
    ("ex08_cuped", "_cuped_not_centred", "without centring x"),
    ("ex08_cuped", "_cuped_plus", "SUBTRACT"),
    ("ex08_cuped", "_cuped_correlation", "regression slope"),
])
def test_known_mistakes_get_specific_hints(name, wrong, hint):
    import coursekit.exercises.ex08 as ex08

    assert_known_mistake_hint(ex08, name, wrong, hint)
