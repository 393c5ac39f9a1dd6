"""Exercises of lesson 09 (generative recommenders): checks, references vs. the library, committed notebooks.

The notebook runs (papermill, smoke mode) are marked ``notebook`` and ``slow``; they assert the values the
notebook recorded with :func:`coursekit.record.record`: relations that hold on any data, not point values.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coursekit.exercises.ex09 import (
    reference_allowed_next_tokens,
    reference_constrained_step,
    reference_hallucination_rate,
)
from tests.conftest import assert_known_mistake_hint, execute_notebook, exercise_notebook_tests

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "exercises" / "09_generative_solution.ipynb"
STUDENT = ROOT / "exercises" / "09_generative.ipynb"
EXERCISES = {"ex09_allowed_next_tokens": "allowed_next_tokens", "ex09_constrained_step": "constrained_step",
             "ex09_hallucination_rate": "hallucination_rate"}
SMOKE_BUDGET_S = 300   # per-test timeout of the notebook runs


# ------------------------------------------------------------------ references agree with the library
def test_allowed_reference_matches_prefix_trie():
    from coursekit.generative.trie import PrefixTrie

    rng = np.random.default_rng(0)
    codes = np.unique(np.column_stack([rng.integers(0, k, 300) for k in (6, 6, 4)]), axis=0)
    trie = PrefixTrie(codes)
    for t in range(4):
        for row in codes[rng.choice(len(codes), 20)]:
            prefix = row[:t].tolist()
            np.testing.assert_array_equal(reference_allowed_next_tokens(codes.tolist(), prefix), trie.allowed(prefix))
    assert reference_allowed_next_tokens(codes.tolist(), [9]).size == 0


def test_constrained_step_reference_drives_the_library_beam():
    """A beam search built from the reference step returns what constrained_beam_search returns."""
    from coursekit.generative.trie import PrefixTrie, constrained_beam_search

    rng = np.random.default_rng(1)
    codes = np.unique(np.column_stack([rng.integers(0, 5, 80), rng.integers(5, 10, 80), rng.integers(10, 13, 80)]),
                      axis=0)
    trie, V = PrefixTrie(codes), 13
    table = rng.normal(0, 2, (4, 3, V))
    logp = table - np.log(np.exp(table).sum(-1, keepdims=True))

    def step(q, prefixes):
        return logp[q, prefixes.shape[1]]

    library, lib_scores = constrained_beam_search(step, trie, 4, 6, V)
    for q in range(4):
        prefixes, scores = np.zeros((1, 0), dtype=np.int64), np.zeros(1)
        for _ in range(3):
            rows, toks, scores = reference_constrained_step(step(np.full(len(prefixes), q), prefixes),
                                                            trie.allowed_mask(prefixes, V), scores, 6)
            prefixes = np.column_stack([prefixes[rows], toks])
        np.testing.assert_array_equal(trie.values_of(prefixes), library[q])
        np.testing.assert_allclose(scores, lib_scores[q])


def test_hallucination_reference_matches_coursekit_generative_explanations():
    from coursekit.generative.explanations import check_explanations, hallucination_summary

    rng = np.random.default_rng(2)
    pool = [f"word=w{j}" for j in range(12)]
    true = [set(rng.choice(pool, 4, replace=False)) for _ in range(200)]
    said = [set(rng.choice(pool, int(rng.integers(0, 4)), replace=False)) for _ in range(200)]
    lib = hallucination_summary(check_explanations(said, true, [set()] * 200)).loc["hallucination_rate", "estimate"]
    assert reference_hallucination_rate(said, true) == pytest.approx(lib, abs=1e-12)
    assert reference_hallucination_rate([set()], [{"a"}]) == 0.0      # the exercise's rule (the library: NaN)


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
        assert rec["allowed_mismatches"] == 0
        beam = rec["beam"]
        assert beam["same_lists"] == 1.0
        assert beam["valid_constrained"] == 1.0 and beam["valid_mine"] == 1.0
        assert beam["valid_free"] < 1.0                                  # free decoding invents IDs
        rates = rec["hallucination"]
        for r in rates.values():
            assert r["mine"] == pytest.approx(r["library"], abs=1e-12)
        own, sib, rand = rates["own copy"], rates["a sibling's copy"], rates["a random item's copy"]
        assert own["mine"] < 0.05                                        # the extractor reads product copy well
        assert sib["mine"] + 3 * sib["se"] < rand["mine"]                # siblings are alike ...
        assert sib["mine"] > 0.3                                         # ... but far from identical
    else:
        assert rec["n_passed"] == 0 and "beam" not in rec and "hallucination" not in rec


# ------------------------------------------------------------------ check() feedback on wrong answers
@pytest.mark.parametrize("name, wrong, hint", [
    ("ex09_allowed_next_tokens", "_allowed_unsorted", "Sort the tokens"),
    ("ex09_allowed_next_tokens", "_allowed_duplicates", "each allowed token once"),
    ("ex09_allowed_next_tokens", "_allowed_ignores_prefix", "not reachable from this prefix"),
    ("ex09_allowed_next_tokens", "_allowed_first_token_only", "WHOLE prefix"),
    ("ex09_constrained_step", "_step_no_beam_scores", "beam's score so far"),
    ("ex09_constrained_step", "_step_no_mask", "Only allowed pairs"),
    ("ex09_constrained_step", "_step_renormalised", "Do not renormalise"),
    ("ex09_constrained_step", "_step_one_per_row", "PAIRS overall"),
    ("ex09_constrained_step", "_step_ties_reversed", "lower row, then the lower token"),
    ("ex09_hallucination_rate", "_rate_mean_of_rates", "Pool the counts"),
    ("ex09_hallucination_rate", "_rate_empty_counts_zero", "adds nothing to either sum"),
    ("ex09_hallucination_rate", "_rate_supported", "share of assertions that are TRUE"),
    ("ex09_hallucination_rate", "_rate_over_true", "ASSERTED attributes"),
    ("ex09_hallucination_rate", "_rate_nan", "not NaN"),
])
def test_known_mistakes_get_specific_hints(name, wrong, hint):
    import coursekit.exercises.ex09 as ex09

    assert_known_mistake_hint(ex09, name, wrong, hint)
