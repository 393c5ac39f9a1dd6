"""Lesson 06 (cold start), executed end to end in smoke mode on the shop and on MovieLens.

Each dataset runs once per session through :func:`coursekit.runner.run_notebook`; the tests then assert
what the notebook recorded: relations that must hold on any data, not point values. Item vectors are
cached in a temporary folder, never in the shared data home.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "06_cold_start.ipynb"
SMOKE_BUDGET_S = 300   # per test; the lesson's smoke target is ~90 s per dataset on an idle 2-core CPU

pytestmark = [pytest.mark.notebook, pytest.mark.slow, pytest.mark.xdist_group("notebooks_coldstart"),
              pytest.mark.timeout(SMOKE_BUDGET_S)]

_CACHE: dict[str, tuple[dict, float]] = {}


def run(dataset: str, tmp_root: Path, request) -> tuple[dict, float]:
    if dataset in _CACHE:
        return _CACHE[dataset]
    if dataset == "movielens":
        request.getfixturevalue("movielens")
    from coursekit.record import load_records
    from coursekit.runner import run_notebook

    out = tmp_root / f"06-{dataset}"
    old = os.environ.get("COURSEKIT_SMOKE")
    os.environ["COURSEKIT_SMOKE"] = "1"
    try:
        params = {"SMOKE": True, "DATASET": dataset, "EMBEDDING_CACHE": str(tmp_root / "embeddings")}
        result = run_notebook(LESSON, out, params, timeout=900)
    finally:
        os.environ.pop("COURSEKIT_SMOKE") if old is None else os.environ.__setitem__("COURSEKIT_SMOKE", old)
    assert result.status == "ok", f"{LESSON.name} on {dataset} failed: {result.error}"
    _CACHE[dataset] = (load_records(LESSON.stem, out / "records"), result.seconds)
    return _CACHE[dataset]


@pytest.fixture(scope="session")
def nb_tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("notebooks_coldstart")


@pytest.mark.parametrize("dataset", ["shop", "movielens"])
def test_06_lesson_smoke(dataset, nb_tmp, request):
    rec, _ = run(dataset, nb_tmp, request)
    assert rec["smoke"] is True
    # the strict protocol: cold items exist and none kept a training event
    assert rec["cold_items"] > 0 and rec["cold_items_with_training_events"] == 0
    # a new item's iALS vector is (numerically) nothing: the leftover of the initialisation
    assert rec["ials_cold_norm_ratio"] < 1e-3
    cold, full = rec["ndcg_cold"], rec["ndcg_all"]
    for name, v in cold.items():
        assert 0 <= v <= 1 and 0 <= full[name] <= 1, name
    # among all items, models with no information about new items never rank one in the top 10
    assert full["iALS (item-blind)"] == 0.0 and full["popularity"] == 0.0
    # content kNN knows something about new items: above random scores among the cold items (paired claims
    # below). Not against the item-blind iALS: its cold-item order is one random draw shared by all users, which
    # can be lucky (it is on the smoke shop). The maps' claims are required in full runs only: a 300-item
    # corner with 16 factors is too small for them.
    for name in ("content kNN TF-IDF", "content kNN MiniLM"):
        assert cold[name] > cold["random"], name
    # a cold item has no count, so the count-gated hybrid ranks cold items exactly like its content part
    assert cold["hybrid (count gate)"] == pytest.approx(cold["content kNN MiniLM"])
    assert rec["best_method"] in cold and rec["best_over_tfidf"] > 0
    # the item-blind iALS gives every user nearly the same order of the cold items (one draw of noise),
    # random scores an independent one per user; over initialisation seeds it is no better than random
    agreement = rec["cold_order_agreement"]
    assert agreement["iALS (item-blind)"] > agreement["random"] + 0.1
    assert len(rec["item_blind_ndcg_over_seeds"]) == 5
    claims = {c["key"]: c for c in rec["claims"]}
    blind = claims["item_blind_is_random_over_seeds"]
    assert blind["n"] == 5 and not blind["required"]
    required = {k for k, c in claims.items() if c["required"]}
    knn = {f"content kNN {m} beats random among cold items" for m in ("TF-IDF", "MiniLM")}
    maps = {f"{m} beats random among cold items" for m in ("attr->factor ridge", "attr->factor MLP", "DropoutNet")}
    assert knn <= required and (maps <= required) == (dataset == "shop") and all(claims[k]["holds"] for k in knn)
    for key in ("minilm_vs_tfidf_cold", "attr->factor MLP vs its MiniLM input (cold)",
                "attr->factor ridge vs TF-IDF kNN (all items)"):
        assert not claims[key]["required"] and claims[key]["n"] == rec["results"][0]["users"], key
    assert rec["dropoutnet_loss_last"] < rec["dropoutnet_loss_first"]
    # section 3b: every text model's input is chosen on the pseudo-cold validation items (the argmax of its
    # validation NDCG over the four inputs), the two-tower's epochs by early stopping; the comparison on the
    # test cold items is paired over the same users as the table above, and required on the shop only
    chosen, valid = rec["text_chosen"], rec["text_validation"]
    assert set(chosen) == {"content kNN TF-IDF", "content kNN MiniLM", "two-tower"}
    for model, inp in chosen.items():
        tried = {k.split(" | ")[1]: v for k, v in valid.items() if k.split(" | ")[0] == model}
        assert len(tried) == (4 if model == "two-tower" else 2) and valid[f"{model} | {inp}"] == max(tried.values())
    assert chosen["content kNN TF-IDF"].startswith("TF-IDF") and chosen["content kNN MiniLM"].startswith("MiniLM")
    assert 1 <= rec["two_tower_best_epoch"] <= 4
    text = rec["text_ndcg_cold"]
    assert text["content kNN TF-IDF"] == pytest.approx(cold["content kNN TF-IDF"]) or \
        chosen["content kNN TF-IDF"] != "TF-IDF, descriptions"
    assert text["two-tower"] > cold["random"] and all(0 <= v <= 1 for v in text.values())
    buckets = rec["text_bucket_users"]
    assert buckets["all"] == rec["results"][0]["users"] == sum(v for k, v in buckets.items() if k != "all")
    for other in ("content kNN TF-IDF", "content kNN MiniLM"):
        c = claims[f"two-tower beats {other} (cold)"]
        assert c["required"] == (dataset == "shop") and c["n"] == buckets["all"]
    oracle = "oracle (true tastes, attributes)"
    assert (oracle in text) == (dataset == "shop") == ("oracle vs two-tower (cold)" in claims)
    if dataset == "shop":
        assert text[oracle] > cold["random"]
    # warm-up: at n = 0 the hybrid is its content part; it is never far below the better part
    warm, gap, se = rec["warmup"], rec["warmup_gap"], rec["warmup_gap_se"]
    assert warm["0"]["hybrid (learned gate)"] == pytest.approx(warm["0"]["content (MiniLM kNN)"])
    assert all(k in (1.0, 3.0, 10.0, 30.0, 100.0) for k in rec["warmup_kappa"].values())
    for n in gap:   # never worse than the better part by more than the noise (3 paired standard errors)
        if dataset == "movielens" and int(n) >= 10:
            # on the 300-item MovieLens corner the gate, chosen on the latest events of all training items
            # (where CF is strong), trusts CF too early for items with 10 interactions: the lesson's claim
            # shows it; the shop's smoke run and the full shop run hold
            continue
        assert gap[n] >= -3 * se[n] or gap[n] == 0.0, (n, gap[n], se[n])
    # new users: every k is judged on the same users; with k = 0 all methods are the popularity fallback
    nu = rec["new_users"]
    assert rec["new_users_n"] > 0
    assert len({round(m["k=0"], 12) for m in nu.values()}) == 1
    assert nu["iALS fold-in"]["k=10"] != nu["popularity"]["k=10"]
    # fold-in + popularity prior: beta from the grid, chosen on validation users; beta = 0 is plain fold-in
    for k, beta in rec["prior_beta"].items():
        assert beta in (0.0, 0.01, 0.03, 0.1, 0.3, 1.0), (k, beta)
        if beta == 0.0:
            assert nu["iALS fold-in + popularity prior"][f"k={k}"] == pytest.approx(nu["iALS fold-in"][f"k={k}"])
    q = rec["questions"]
    assert {r["strategy"] for r in q} == {"popular", "diverse", "informative"}
    # popular questions get at least as many "yes" answers as diverse ones of the same length
    by = {(r["strategy"], r["questions"]): r for r in q}
    for (s, n), r in by.items():
        if s == "diverse":
            assert by[("popular", n)]["yes per user"] >= r["yes per user"]
    regret, ratio = rec["bandit_final_regret"], rec["bandit_second_half_ratio"]
    assert set(regret) >= {"random", "UCB1", "LinUCB", "Thompson (Beta)"}
    assert all(v >= 0 for v in regret.values())
    if dataset == "shop":
        # ground-truth rewards: random regret grows linearly, LinUCB over content ends far below it
        assert 0.8 < ratio["random"] < 1.2
        assert regret["LinUCB"] < regret["random"]
        align = rec["attribute_alignment"]
        assert all(-1 <= v <= 1 for v in align.values())
        # a new item's iALS vector is a leftover of the initialisation: no measurable relation to its attributes
        # (the smoke run has a dozen cold items, so the text vectors' alignment is not required to be measurable)
        assert claims["alignment: iALS (item-blind)"]["verdict"] == "not beyond"
        assert max(align["TF-IDF"], align["MiniLM"]) > align["iALS (item-blind)"]
        assert claims["bandits: LinUCB vs random"]["required"] and blind["holds"]
        assert "own reviews (MiniLM)" in nu
    else:
        # user tags make the text predict popularity better than creation-time content (paired over items)
        assert rec["tag_probe_r2_with"] > rec["tag_probe_r2_without"]
        assert claims["tags_predict_popularity"]["holds"]
