"""Text models for new items chosen on validation (lesson 06): inputs, validation split, buckets."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from coursekit._validation import CourseKitError
from coursekit.coldstart import (
    bucket_table,
    cold_item_mask,
    history_buckets,
    text_inputs,
    validate_cold_models,
    validation_cold_split,
)
from coursekit.interactions import Interactions
from coursekit.models import MostPopular, ProfileRecommender, TwoTower


@pytest.fixture(scope="module")
def log() -> Interactions:
    """200 users x 60 items in two taste groups (items 1..30 vs 31..60)."""
    rng = np.random.default_rng(1)
    users = np.repeat(np.arange(1, 201), 15)
    group = users % 2
    items = np.where(rng.random(users.size) < 0.9, group * 30 + rng.integers(0, 30, users.size),
                     rng.integers(0, 60, users.size)) + 1
    return Interactions.from_frame(pd.DataFrame({"user_id": users, "item_id": items,
                                                 "timestamp": rng.integers(0, 10_000, users.size)}))


def group_vectors(noise: float = 0.1) -> pd.DataFrame:
    ids = np.arange(1, 61)
    g = (ids > 30).astype(float)
    rng = np.random.default_rng(0)
    return pd.DataFrame(np.c_[g, 1 - g, rng.normal(scale=noise, size=(60, 3))], index=ids)


def test_validation_split_comes_from_training_items_only(log):
    v = validation_cold_split(log, frac=0.2, seed=0)
    assert len(v.train) + len(v.test) == len(log)
    held = cold_item_mask(v.train, v.test)
    assert held.sum() > 0 and (v.train.item_counts()[held] == 0).all()
    with pytest.raises(CourseKitError, match="frac"):
        validation_cold_split(log, frac=1.5)


def test_validate_cold_models_ranks_informative_content_first(log):
    v = validation_cold_split(log, frac=0.2, seed=0)
    rng = np.random.default_rng(3)
    noise = pd.DataFrame(rng.normal(size=(60, 5)), index=np.arange(1, 61))
    table = validate_cold_models({"content": ProfileRecommender(group_vectors()), "noise": ProfileRecommender(noise),
                                  "popularity": MostPopular()}, v)
    assert table.loc["content", "ndcg"] > table.loc["noise", "ndcg"] + 2 * table.loc["content", "se"]
    assert (table["users"] == table["users"].iloc[0]).all() and np.isnan(table.loc["content", "best_epoch"])
    assert set(table.attrs["models"]) == {"content", "noise", "popularity"}
    with pytest.raises(CourseKitError, match="empty"):
        validate_cold_models({}, v)


def test_validate_cold_models_early_stops_a_two_tower(log):
    v = validation_cold_split(log, frac=0.2, seed=0)
    tt = TwoTower(group_vectors(), dim=8, epochs=4, batch_size=128, early_stopping=1, user_embedding=True,
                  temperature=0.2, lr=1e-2, device="cpu", seed=0)
    table = validate_cold_models({"two-tower": tt}, v)
    assert 1 <= table.loc["two-tower", "best_epoch"] <= 4 and len(tt.valid_history_) >= 1


def test_history_buckets_and_bucket_table(log):
    users = np.arange(log.n_users)
    labels = history_buckets(log, users, edges=(1, 15, 16))
    assert set(labels) <= {"1-14", "15", ">=16"}
    assert (labels == "15").sum() == (log.user_counts() == 15).sum()
    with pytest.raises(CourseKitError, match="increasing"):
        history_buckets(log, users, edges=(5, 2))
    a, b = np.linspace(0, 1, 10), np.linspace(0, 1, 10) - 0.1
    t = bucket_table({"A": a, "B": b}, np.array(["x"] * 5 + ["y"] * 5), reference="A", events=np.ones(10),
                     order=["y", "x"])
    assert list(t.index) == ["y", "x", "all"] and t.loc["all", "users"] == 10 and t.loc["x", "test events"] == 5
    assert t.loc["all", "A - B"] == "+0.1000 ± 0.0000"
    with pytest.raises(CourseKitError, match="reference"):
        bucket_table({"A": a}, np.array(["x"] * 10), reference="C")
    with pytest.raises(CourseKitError, match="align"):
        bucket_table({"A": a[:3]}, np.array(["x"] * 10), reference="A")


def test_text_inputs_tfidf_on_both_sources():
    items = pd.DataFrame({"item_id": [1, 2, 3], "title": ["Oak mug", "Elm cup", "Oak cup"],
                          "text": ["A rustic mug.", "A soft cup.", "A rustic cup."], "category": ["kitchen"] * 3,
                          "brand": ["Oak", "Elm", "Oak"], "price_band": ["budget", "premium", "budget"],
                          "words": [["rustic"], ["soft"], ["rustic"]]})
    out = text_inputs(SimpleNamespace(items=items), [3, 1, 2], kinds=("TF-IDF",))
    assert set(out) == {("TF-IDF", "descriptions"), ("TF-IDF", "summaries")}
    assert out["TF-IDF", "summaries"].index.tolist() == [3, 1, 2]
    with pytest.raises(CourseKitError, match="encoder"):
        text_inputs(SimpleNamespace(items=items), [1, 2, 3])
    with pytest.raises(CourseKitError, match="kinds"):
        text_inputs(SimpleNamespace(items=items), [1, 2, 3], kinds=("BM25",))
