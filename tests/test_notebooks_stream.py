"""Lesson 05 (real-time interest) and its exercises: checks, committed student notebook, smoke runs.

The notebook runs (papermill, smoke mode) are marked ``notebook`` and ``slow``; each runs once per session
and the tests assert the values it recorded with :func:`coursekit.record.record`: relations that must hold
on any data (the drift truth, exact fold-in, bounds), not fragile point values.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from coursekit.exercises import check
from coursekit.exercises.ex05 import (
    ToyRecommender,
    reference_decayed_profile_update,
    reference_fold_in_update,
    reference_prequential_hits,
)
from tests.conftest import assert_known_mistake_hint, execute_notebook, exercise_notebook_tests

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "05_realtime_interest.ipynb"
SOLUTION = ROOT / "exercises" / "05_realtime_interest_solution.ipynb"
STUDENT = ROOT / "exercises" / "05_realtime_interest.ipynb"
EXERCISES = {"ex05_decayed_profile_update": "decayed_profile_update", "ex05_fold_in_update": "fold_in_update",
             "ex05_prequential_hits": "prequential_hits", "ex05_causal_mask": "causal_mask"}
SMOKE_BUDGET_S = 300   # per-test timeout; the lesson's smoke target is 3 minutes on an idle 2-core CPU


# ------------------------------------------------------------------ references agree with the library
def test_profile_reference_matches_decayed_profile():
    import pandas as pd

    from coursekit.interactions import Interactions
    from coursekit.stream import DecayedProfile

    rng = np.random.default_rng(0)
    V = rng.normal(size=(5, 3))
    log = pd.DataFrame({"user_id": [1], "item_id": [0], "timestamp": [0]})
    rec = DecayedProfile(V, half_life=40.0, normalize=False).initialize(Interactions.from_frame(log, items=range(5)))
    S, W, t_last = V[0].copy(), 1.0, 0
    for i, t in [(3, 10), (1, 55), (3, 200)]:
        rec.update(1, i, t)
        S, W, p = reference_decayed_profile_update(S, W, t_last, V[i], t, 40.0)
        t_last = t
    np.testing.assert_allclose(p, rec.profile(1), atol=1e-12)


def test_fold_in_reference_matches_ials_fold_in():
    import pandas as pd

    from coursekit.interactions import Interactions
    from coursekit.models import IALS

    rng = np.random.default_rng(1)
    log = pd.DataFrame({"user_id": rng.integers(0, 10, 200), "item_id": rng.integers(0, 15, 200)})
    model = IALS(factors=4, iterations=3, seed=0).fit(Interactions.from_frame(log))
    Y = model.item_factors_
    A, b, counts = Y.T @ Y + model.reg * np.eye(4), np.zeros(4), {}
    history = [3, 7, 3, 1, 3]
    for i in history:
        old = counts.get(i, 0.0)
        A, b, x = reference_fold_in_update(A, b, Y[i], old, old + 1.0, model.alpha, model.reg)
        counts[i] = old + 1.0
    np.testing.assert_allclose(x, model.user_factors(model.items_.ids[np.array(history)]), atol=1e-10)


def test_prequential_reference_matches_coursekit_prequential_order():
    rec = ToyRecommender(4)
    events = [(1, 0, 1), (2, 0, 2), (1, 2, 3), (3, 0, 4), (2, 2, 5)]
    hits = reference_prequential_hits(copy.deepcopy(rec), events, 1)
    assert hits == [True, True, False, True, True]   # by hand: counts and seen sets before each event
    assert check("ex05_prequential_hits", reference_prequential_hits, verbose=False)


def test_causal_mask_reference_is_coursekits_mask_and_the_leak_test_catches_leaks():
    import time

    import torch

    from coursekit.exercises.ex05 import _mask_transposed, future_leak, reference_causal_mask
    from coursekit.models.transformer import build_sequence_net

    net = build_sequence_net(8, 6, dim=8, n_layers=1, n_heads=2, max_len=5, dropout=0.0, causal=True)
    allowed = net.attention_mask(torch.tensor([[1, 2, 3, 4, 5]]))[0, 0].numpy()
    np.testing.assert_array_equal(allowed, reference_causal_mask(5))
    assert future_leak(reference_causal_mask(12)) is None
    assert future_leak(_mask_transposed(12)) == (0, 1)
    leaky = reference_causal_mask(6)
    leaky[3, 5] = True                                  # one future item visible at position 3
    assert future_leak(leaky) == (3, 4)                 # items from position 4 on changed: position 3 moves
    start = time.perf_counter()
    assert check("ex05_causal_mask", lambda L: torch.ones(L, L).tril().bool(), verbose=False)   # a torch answer
    assert check("ex05_causal_mask", lambda L: np.tril(np.ones((L, L), dtype=int)), verbose=False)  # 0/1 ints
    result = check("ex05_causal_mask", lambda L: np.eye(L, dtype=bool), verbose=False)
    assert not result and "cannot see position" in result.message
    assert time.perf_counter() - start < 5


# ------------------------------------------------------------------ committed notebooks
(test_committed_student_notebook_is_current, test_solution_functions_pass_and_student_stubs_are_not_attempted,
 test_stub_exception_and_wrong_types) = exercise_notebook_tests(
    SOLUTION, STUDENT, EXERCISES, ("imports", "ex1-code", "ex2-code", "ex3-code", "ex4-code"), {"SMOKE": True})


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("which, expected", [(SOLUTION, "passed"), (STUDENT, "not attempted")])
def test_exercise_notebook_runs(which, expected, tmp_path):
    rec, _ = execute_notebook(which, tmp_path, {"SMOKE": True, "DATASET": "shop"})
    assert rec["check_status"] == {name: expected for name in EXERCISES}
    if expected == "passed":
        assert rec["profile_max_abs_diff"] < 1e-10 and rec["fold_in_max_abs_diff"] < 1e-8
        assert all(0 <= v <= 1 for v in rec["prequential_hr10"].values())


# ------------------------------------------------------------------ the lesson
_LESSON: dict = {}


@pytest.fixture(scope="module")
def lesson(tmp_path_factory, request):
    def run(dataset: str) -> tuple[dict, float]:
        if dataset not in _LESSON:
            if dataset == "movielens":
                request.getfixturevalue("movielens")
            tmp = tmp_path_factory.mktemp(f"nb05-{dataset}")
            _LESSON[dataset] = execute_notebook(LESSON, tmp, {"SMOKE": True, "DATASET": dataset})
        return _LESSON[dataset]
    return run


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.timeout(SMOKE_BUDGET_S)
@pytest.mark.parametrize("dataset", ["shop", "movielens"])
def test_lesson_05_records(dataset, lesson):
    rec, _ = lesson(dataset)
    assert rec["smoke"] is True
    # the simulator's drift: drift users leave their old categories
    assert rec["old_category_share_before"] > 0.4 > 0.2 > rec["old_category_share_after"]
    # incremental fold-in == full fold-in
    assert rec["fold_in_max_abs_diff"] < 1e-8
    # the drift users split at the cut: some drift inside the warm-up (the sequence models can learn from them)
    if dataset == "shop":
        assert 0 < rec["drift_users_drifted_in_warmup"] < 300
    # the sequence models: same budget, early stopping on a validation part, curves recorded per epoch
    training, curves = rec["seq_training"], rec["seq_valid_curves"]
    assert set(training) == set(curves) == {"SASRec", "BERT4Rec"}
    for name, row in training.items():
        assert len(curves[name]) == row["epochs run"] and 1 <= row["best epoch"] <= row["epochs run"], name
        assert row["best valid NDCG@10"] == pytest.approx(max(curves[name])), name
        assert row["stopped early"] == (row["epochs run"] < 3), name        # smoke: at most 3 epochs
        assert all(0 <= v <= 1 for v in curves[name]), name
    assert max(curves["SASRec"]) > curves["SASRec"][0]                 # validation improves with training
    assert 0 < rec["seq_valid_mostpopular"] < 1
    # drift recovery against the true drift times
    to_recover = rec["drift_events_to_recover"]
    profile = next(k for k in to_recover if k.startswith("decayed profile"))
    plain = next(k for k in to_recover if k.startswith("plain mean profile"))
    assert to_recover["static iALS (no updates)"] in ("Infinity", float("inf"))
    assert float(to_recover[profile]) <= 5 and float(to_recover[profile]) < float(to_recover[plain])
    after = rec["drift_alignment_after_10"]
    assert after[profile] > 0 > after["static iALS (no updates)"]
    assert rec["drift_recovered_within_10"][profile] > rec["drift_recovered_within_10"]["static iALS (no updates)"]
    # the same lists read as the share in the new taste's categories: the profile moves into them
    assert 0 <= rec["drift_new_share_before"][profile] < rec["drift_new_share_after_10"][profile] <= 1
    change = rec["drift_change"]
    assert set(change) == set(to_recover)
    for name, row in change.items():   # paired before/after summaries: finite, consistent, same users for all
        assert row["alignment change"] == pytest.approx(row["alignment after"] - row["alignment before"]), name
        assert row["alignment change SE"] > 0 and row["users"] == change[profile]["users"] > 10, name
    assert change[profile]["alignment change"] > 3 * change[profile]["alignment change SE"]
    # the section's claims are rendered from the run and recorded; the story's claims are required
    claims = {c["key"]: c for c in rec["claims"]}
    required = {"profile_follows_drift", "profile_beats_plain_mean_early", "profile_beats_static_after",
                "sasrec_reacts", "sasrec_vs_static_change", "sasrec_learned", "bert4rec_learned", "sasrec_vs_bert4rec"}
    assert required == {k for k, c in claims.items() if c["required"]}
    assert all(claims[k]["full_only"] for k in required)   # one SASRec epoch in smoke mode is not expected to react
    assert claims["profile_follows_drift"]["holds"]        # holds by a wide margin even on the smoke data
    assert not claims["foldin_vs_profile_early"]["required"]
    for key in ("sasrec_vs_static_post_drift_ndcg", "sasrec_vs_static_pre_drift_ndcg",
                "profile_vs_static_post_drift_ndcg"):
        assert not claims[key]["required"], key     # stated with their SE, whichever way the run goes
    assert all(0 <= v <= 1 for v in rec["drift_ndcg"].values())
    for key in ("sasrec_reacts", "sasrec_vs_static_change", "foldin_vs_profile_early",
                "sasrec_vs_static_post_drift_ndcg", "sasrec_vs_static_pre_drift_ndcg"):
        assert claims[key]["n"] > 10
        assert np.isfinite(claims[key]["se"]) and f"over {claims[key]['n']:,} drift users" in claims[key]["text"]
    # prequential values are rates; latency values are positive milliseconds
    assert all(0 <= v <= 1 for v in rec["prequential_hr"].values())
    assert all(0 <= v <= 1 for v in rec["prequential_ndcg"].values())
    assert rec["prequential_events"] > 100
    # every online method is compared with the static iALS, paired over users with scored events
    vs = rec["prequential_vs_static"]
    assert set(vs) == set(rec["prequential_hr"]) - {"static iALS"}
    assert {"SASRec state", "BERT4Rec state"} <= set(vs)
    seq_claim = claims["sasrec_vs_bert4rec"]                             # paired over the same users
    assert seq_claim["n"] == vs["SASRec state"]["n"] and seq_claim["se"] > 0
    for name, c in vs.items():
        assert c["n"] >= 10 and c["se"] > 0, name   # MovieLens: 1,500 smoke events come from a few dozen users
        assert c["verdict"] in ("beats", "loses to", "no measurable difference"), name
        assert (c["verdict"] == "no measurable difference") == (abs(c["estimate"]) <= 2 * c["se"]), name
    for name, row in rec["latency_ms"].items():
        assert all(v > 0 for v in row.values()), name
        assert row["update p50 (ms)"] <= row["update p99 (ms)"]


# ------------------------------------------------------------------ check() feedback on wrong answers
@pytest.mark.parametrize("name, wrong, hint", [
    ("ex05_decayed_profile_update", "_profile_exp", "2 ** (-dt / h)"),
    ("ex05_decayed_profile_update", "_profile_no_weight_decay", "Decay the weight W"),
    ("ex05_fold_in_update", "_foldin_b_cnew", "add only the difference"),
    ("ex05_fold_in_update", "_foldin_add_reg", "already inside A"),
    ("ex05_prequential_hits", "_preq_train_first", "Test first, then train"),
    ("ex05_prequential_hits", "_preq_no_update", "recommender.update"),
    ("ex05_causal_mask", "_mask_transposed", "Your mask is transposed"),
    ("ex05_causal_mask", "_mask_strict", "The diagonal is missing"),
    ("ex05_causal_mask", "_mask_inverted", "True = may attend"),
])
def test_known_mistakes_get_specific_hints(name, wrong, hint):
    import coursekit.exercises.ex05 as ex05

    assert_known_mistake_hint(ex05, name, wrong, hint)
