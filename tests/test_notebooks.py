"""Lessons 00 and 01 executed end to end in smoke mode (papermill, via coursekit.runner) on the shop and MovieLens.

Each (notebook, dataset) pair runs once per session; the tests assert the values the notebook recorded with
:func:`coursekit.record.record`: relations that must hold on any data (bounds, a random split flattering a model,
sampled metrics inflating popularity), the hand-computed worked example exactly, and the smoke-mode values measured
with SEED=0 (deterministic) within tolerances.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import need_movielens

ROOT = Path(__file__).resolve().parent.parent
NB00 = ROOT / "notebooks" / "00_setup_and_data.ipynb"
NB01 = ROOT / "notebooks" / "01_evaluation.ipynb"
SMOKE_BUDGET_S = 120    # the limit per lesson in smoke mode on this CPU
DATASETS = ["shop", "movielens"]

pytestmark = [pytest.mark.notebook, pytest.mark.slow, pytest.mark.xdist_group("notebooks_00_01")]

_CACHE: dict[tuple[str, str], tuple[dict, float]] = {}


def run(path: Path, dataset: str, tmp_root: Path) -> tuple[dict, float]:
    """Execute ``path`` in smoke mode on ``dataset`` once per session; return (records, seconds)."""
    key = (path.stem, dataset)
    if key not in _CACHE:
        if dataset == "movielens":
            need_movielens()
        pytest.importorskip("papermill")
        from coursekit.record import load_records
        from coursekit.runner import run_notebook

        out = tmp_root / f"{path.stem}-{dataset}"
        result = run_notebook(path, out, {"SMOKE": True, "DATASET": dataset, "SEED": 0})
        assert result.status == "ok", f"{path.name} on {dataset} failed: {result.error}"
        _CACHE[key] = (load_records(path.stem, out / "records"), result.seconds)
    return _CACHE[key]


@pytest.fixture(scope="session")
def nb_tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("notebooks_00_01")


def in_unit(x) -> bool:
    return 0.0 <= float(x) <= 1.0


# ------------------------------------------------------------------ lesson 00
MEASURED_00 = {   # smoke mode, SEED=0 (the data statistics do not depend on SMOKE or SEED)
    "shop": {"n_users": 2000, "n_items": 1000, "n_interactions": 100_000, "density": 0.0362555,
             "top10_share": 0.45166, "rated_share": 0.06869, "mean_rating": 4.1169},
    "movielens": {"n_users": 610, "n_items": 9742, "n_interactions": 100_836, "density": 0.0169683,
                  "top10_share": 0.60103, "rated_share": 1.0, "mean_rating": 3.5016},
}


@pytest.mark.parametrize("dataset", DATASETS)
def test_00_runs_within_budget_and_statistics_are_consistent(dataset, nb_tmp):
    rec, seconds = run(NB00, dataset, nb_tmp)
    assert seconds < SMOKE_BUDGET_S
    assert 0 < rec["density"] < 1 and in_unit(rec["top10_share"]) and in_unit(rec["rated_share"])
    assert rec["top10_share"] > 0.1               # a long tail: the top 10% hold more than their equal share
    assert rec["density"] <= rec["n_interactions"] / (rec["n_users"] * rec["n_items"]) + 1e-12
    assert in_unit(rec["repeat_event_share"]) and in_unit(rec["strong_pair_share"])
    assert rec["shop_late_items"] > 0 and rec["shop_drift_users"] > 0 and 0 < rec["shop_late_item_event_share"] < 1
    assert rec["device"] in {"cpu", "cuda", "mps"}
    assert rec["movielens_available"] is True     # this test only runs MovieLens when the archive is there
    for name, value in MEASURED_00[dataset].items():
        assert rec[name] == pytest.approx(value, rel=1e-3), name


# ------------------------------------------------------------------ lesson 01
MEASURED_01 = {   # smoke mode, SEED=0: per-user temporal split, warm users, k=10
    "shop": {"MostPopular": 0.0843, "ItemKNN (k=50)": 0.0963, "Random": 0.0084, "pop_sampled": 0.1945},
    "movielens": {"MostPopular": 0.0935, "ItemKNN (k=50)": 0.1276, "Random": 0.0166, "pop_sampled": 0.1864},
}


def test_01_worked_example_is_the_hand_value(nb_tmp):
    rec, _ = run(NB01, "shop", nb_tmp)
    ex = rec["worked_example"]
    expected = {"P@5": 0.4, "R@5": 2 / 3, "HR@5": 1.0, "RR@5": 1.0, "AP@5": 5 / 9,
                "NDCG@5": 1.5 / (1 + 1 / np.log2(3) + 0.5), "AUC": 16 / 21}
    for name, value in expected.items():
        assert ex[name] == pytest.approx(value, abs=1e-12), name
    assert rec["ap_at_5"] == pytest.approx(5 / 9)
    assert rec["wrong_map"] == pytest.approx(0.3) and abs(rec["wrong_map"] - rec["ap_at_5"]) > 0.1


@pytest.mark.parametrize("dataset", DATASETS)
def test_01_runs_within_budget_and_leakage_shows(dataset, nb_tmp):
    rec, seconds = run(NB01, dataset, nb_tmp)
    assert seconds < SMOKE_BUDGET_S
    leak = rec["leakage_ndcg"]
    assert all(in_unit(v) for v in leak.values())
    # the random split trains on the future: most test events precede the user's last training event
    assert rec["future_share_random"] > 0.5 and rec["future_share_global_temporal"] == 0.0
    # ... and it flatters the personalised model relative to the per-user temporal split
    assert leak["random | ItemKNN"] > leak["per-user temporal | ItemKNN"]
    assert rec["leakage_warm_users_global"] > 0


@pytest.mark.parametrize("dataset", DATASETS)
def test_01_baselines_and_sampled_pitfall(dataset, nb_tmp):
    rec, _ = run(NB01, dataset, nb_tmp)
    base = rec["baselines"]
    assert set(base) == {"Random", "MostPopular", "RecencyPopular", "ItemKNN (k=50)"}
    for model, row in base.items():
        for metric in ("precision", "recall", "map", "mrr", "ndcg", "hit_rate", "coverage", "gini", "personalization"):
            assert in_unit(row[metric]), (model, metric)
        assert row["novelty"] >= 0
        assert row["precision"] <= row["hit_rate"] and row["map"] <= row["mrr"] + 1e-12
    assert base["MostPopular"]["ndcg"] > 3 * base["Random"]["ndcg"]
    assert base["MostPopular"]["coverage"] < base["Random"]["coverage"]
    assert base["MostPopular"]["gini"] > base["Random"]["gini"]
    assert rec["baselines_best_ndcg_model"] == "ItemKNN (k=50)"
    # the sampled-metrics pitfall: popularity looks much stronger against 100 random negatives
    assert rec["popularity_ndcg_sampled"] > 1.5 * rec["popularity_ndcg_full"]
    sampled = rec["sampled_vs_full"]
    assert sampled["Random"]["HR@10 sampled, per test item"] == pytest.approx(10 / 101, abs=0.02)
    for model, row in sampled.items():
        assert row["NDCG@10 sampled (100 neg.)"] > row["NDCG@10 full ranking"], model
    sweep = rec["sampled_sweep"]
    for model in set(sweep["model"]):
        values = [v for m, v in zip(sweep["model"], sweep["NDCG@10"]) if m == model]
        assert values[0] > values[-1]            # more negatives, lower sampled NDCG
    for model in ("MostPopular", "ItemKNN (k=50)", "Random"):
        assert base[model]["ndcg"] == pytest.approx(MEASURED_01[dataset][model], abs=2e-3), model
    assert rec["popularity_ndcg_sampled"] == pytest.approx(MEASURED_01[dataset]["pop_sampled"], abs=5e-3)
