"""The shared candidate re-ranking base: its score rule against a loop, and its checked save format."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from coursekit import CourseKitError
from coursekit.business.revenue import RevenueReranker
from coursekit.interactions import Interactions
from coursekit.models import IALS, MMRReranker, MostPopular, Recommender
from coursekit.models.candidate_rerank import rerank_scores


def _loop_rerank_scores(base: np.ndarray, order: np.ndarray, n_candidates: int) -> np.ndarray:
    """Independent version: walk each user's list, re-ranked candidates first, then the base order."""
    out = np.empty_like(base)
    for u in range(base.shape[0]):
        placed = [i for i in order[u] if i >= 0]
        for pos, i in enumerate(placed):
            out[u, i] = -pos
        rest = sorted(range(base.shape[1]), key=lambda i: (-base[u, i], i))
        for rank, i in enumerate(rest):
            if i not in placed:
                out[u, i] = -(n_candidates + rank)
    return out


def test_rerank_scores_matches_a_loop():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 5, size=(6, 9)).astype(float)          # ties on purpose
    order = np.stack([rng.permutation(9)[:4] for _ in range(6)])
    order[2, 3] = -1                                               # a short row
    np.testing.assert_array_equal(rerank_scores(base, order, 4), _loop_rerank_scores(base, order, 4))


@pytest.fixture(scope="module")
def train():
    rng = np.random.default_rng(3)
    log = pd.DataFrame({"user_id": rng.integers(0, 60, 600), "item_id": rng.integers(100, 140, 600)})
    return Interactions.from_frame(log.drop_duplicates())


def _models(train):
    prices = pd.Series(np.linspace(1.0, 9.0, train.n_items), index=train.items.ids)
    return [MMRReranker(IALS(factors=4, iterations=2, seed=0), lam=0.3, n_candidates=8),
            MMRReranker(MostPopular(), lam=0.6, n_candidates=5,
                        item_vectors=np.random.default_rng(1).normal(size=(train.n_items, 3))),
            RevenueReranker(MostPopular(), prices, gamma=1.5, n_candidates=6)]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_save_load_round_trip(train, tmp_path, which):
    model = _models(train)[which].fit(train)
    model.save(tmp_path / "m")
    loaded = Recommender.load(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.get_params().keys() == model.get_params().keys()
    users = train.users.ids[:10]
    np.testing.assert_array_equal(loaded.score(users), model.score(users))


@pytest.mark.parametrize("edit, match", [({"lam": 7}, "lam must be in"), ({"n_candidates": 0}, "n_candidates")])
def test_edited_settings_are_refused_on_load(train, tmp_path, edit, match):
    _models(train)[0].fit(train).save(tmp_path / "m")
    path = tmp_path / "m" / "params.json"
    meta = json.loads(path.read_text())
    meta["params"].update(edit)
    path.write_text(json.dumps(meta))
    with pytest.raises(CourseKitError, match=match) as err:
        Recommender.load(tmp_path / "m")
    assert "params.json" in str(err.value)


def test_damaged_state_is_refused_on_load(train, tmp_path):
    _models(train)[2].fit(train).save(tmp_path / "m")
    arrays = tmp_path / "m" / "state" / "arrays.safetensors"
    data = bytearray(arrays.read_bytes())
    data[-1] ^= 0xFF
    arrays.write_bytes(bytes(data))
    with pytest.raises(CourseKitError, match="SHA-256"):
        Recommender.load(tmp_path / "m")


def test_a_base_that_is_not_a_model_is_refused_before_fitting(train):
    with pytest.raises(CourseKitError, match="MMRReranker wraps a coursekit Recommender as base, got str"):
        MMRReranker("ials").fit(train)
