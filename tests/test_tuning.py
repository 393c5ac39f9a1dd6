"""coursekit.tuning: grid search of a model factory on a validation split."""
from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

import coursekit.tuning as tuning
from coursekit._validation import CourseKitError
from coursekit.interactions import Interactions
from coursekit.models.ease import EASE
from coursekit.models.neighbors import ItemKNN
from coursekit.splits import user_temporal_split
from coursekit.tuning import grid_search


def test_doctests():
    assert doctest.testmod(tuning, optionflags=doctest.ELLIPSIS).failed == 0


@pytest.fixture(scope="module")
def parts():
    rng = np.random.default_rng(0)
    n_users, n_items = 120, 40
    taste = rng.integers(0, 4, n_users)            # four groups of users, each with its block of items
    rows = []
    for u in range(n_users):
        items = rng.choice(np.arange(10) + 10 * taste[u], size=6, replace=False)
        items = np.r_[items, rng.integers(0, n_items, 2)]
        rows += [(u, int(i), t) for t, i in enumerate(items)]
    log = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).drop_duplicates(["user_id", "item_id"])
    split = user_temporal_split(Interactions.from_frame(log), test_frac=0.25)
    return split.train, split.test


class Spy:
    """A fake model factory that records its calls and scores by a known function of its parameters."""

    def __init__(self, best):
        self.best, self.calls = best, []

    def __call__(self, a=1.0, b="x"):
        self.calls.append((a, b))
        return _Fake(a, b, self.best)


class _Fake:
    def __init__(self, a, b, best):
        self.a, self.b, self.best = a, b, best

    def fit(self, train):
        return self


def _score(model, train, valid):
    return -abs(np.log(model.a) - np.log(model.best)) - (model.b != "x")


def test_table_best_and_curve(parts):
    fit_part, valid = parts
    spy = Spy(best=10.0)
    res = grid_search(spy, {"a": [1.0, 10.0, 100.0], "b": ["x", "y"]}, fit_part, valid, score=_score, label="v")
    assert len(res.table) == 6 and len(spy.calls) == 6
    assert res.table.columns.tolist() == ["a", "b", "v", "fit s"]
    assert res.best_params == {"a": 10.0, "b": "x"} and res.best_value == 0.0
    assert res.at_edge == []                                          # 10 is interior
    assert res.curve("a")["a"].tolist() == [1.0, 10.0, 100.0]         # b held at its best value
    assert "interior to the grid" in res.describe()
    assert isinstance(res.make(), _Fake) and res.make(a=1.0).a == 1.0


def test_expand_extends_the_edge_until_the_best_is_interior(parts):
    fit_part, valid = parts
    spy = Spy(best=1000.0)
    res = grid_search(spy, {"a": [1.0, 10.0]}, fit_part, valid, score=_score, label="v", expand=3)
    assert res.grid["a"] == [1.0, 10.0, 100.0, 1000.0, 10000.0]         # geometric steps upward
    assert res.best_params == {"a": 1000.0} and res.at_edge == []
    # not enough extensions: the best stays on the edge, and the result says so
    spy = Spy(best=1000.0)
    res = grid_search(spy, {"a": [1.0, 10.0]}, fit_part, valid, score=_score, label="v", expand=1)
    assert res.best_params == {"a": 100.0} and res.at_edge == ["a"]
    assert "edge of the grid for a" in res.describe()


def test_lower_edge_and_zero_and_integers(parts):
    fit_part, valid = parts
    spy = Spy(best=1.0)
    res = grid_search(spy, {"a": [4, 8]}, fit_part, valid, score=_score, label="v", expand=2)
    assert res.grid["a"] == [1, 2, 4, 8] and res.best_params["a"] == 1 and res.at_edge == ["a"]
    assert all(isinstance(v, int) for v in res.grid["a"])
    spy = Spy(best=1e-9)
    res = grid_search(spy, {"a": [0, 5]}, fit_part, valid, score=lambda m, t, v: -m.a, label="v", expand=2)
    assert res.grid["a"] == [0, 5] and res.at_edge == []                # 0 ("off") is a natural edge


def test_details_add_columns(parts):
    fit_part, valid = parts
    res = grid_search(Spy(best=1.0), {"a": [1.0, 2.0]}, fit_part, valid, score=_score, label="v",
                      details=lambda m: {"twice a": 2 * m.a})
    assert res.table.columns.tolist() == ["a", "v", "twice a", "fit s"]
    assert res.table["twice a"].tolist() == [2.0, 4.0]


def test_a_diverged_setting_is_recorded_as_nan_and_never_chosen(parts):
    fit_part, valid = parts

    class Diverges(_Fake):
        def fit(self, train):
            if self.a > 5:
                raise FloatingPointError("diverged")
            return self

    res = grid_search(lambda a: Diverges(a, "x", 1.0), {"a": [1.0, 2.0, 10.0]}, fit_part, valid,
                      score=lambda m, t, v: m.a, label="v", expand=2)
    assert res.best_params == {"a": 2.0}
    assert np.isnan(res.table.loc[res.table["a"] == 10.0, "v"]).all()


def test_lower_is_better(parts):
    fit_part, valid = parts
    res = grid_search(Spy(best=1.0), {"a": [1.0, 2.0, 3.0]}, fit_part, valid, score=lambda m, t, v: m.a,
                      label="RMSE", higher_is_better=False)
    assert res.best_params == {"a": 1.0}


def test_real_models_on_a_validation_split(parts):
    fit_part, valid = parts
    res = grid_search(ItemKNN, {"k": [1, 5, 20]}, fit_part, valid)
    assert res.label == "NDCG@10" and res.table["NDCG@10"].between(0, 1).all()
    assert res.best_value == res.table["NDCG@10"].max()
    res = grid_search(EASE, {"reg": [1.0, 10.0]}, fit_part, valid, metric="recall", k=5)
    assert res.label == "recall@5"


@pytest.mark.parametrize("kwargs, match", [
    (dict(grid={}), "grid must be a non-empty dict"),
    (dict(grid={"k": []}), r"grid\['k'\] must be a non-empty list"),
    (dict(grid={"k": "abc"}), r"grid\['k'\] must be a non-empty list"),
    (dict(grid={"k": [1]}, metric="auc"), "metric must be one of"),
    (dict(grid={"k": [1]}, expand=-1), "expand must be an integer >= 0"),
    (dict(grid={"k": [1]}, factory=3), "factory must be callable"),
    (dict(grid={"k": [1]}, details="epoch"), "details must be a callable"),
])
def test_bad_input_names_the_argument(parts, kwargs, match):
    fit_part, valid = parts
    args = {"factory": ItemKNN, **kwargs}
    with pytest.raises(CourseKitError, match=match):
        grid_search(args.pop("factory"), args.pop("grid"), fit_part, valid, **args)
    with pytest.raises(CourseKitError, match="valid must be coursekit Interactions"):
        grid_search(ItemKNN, {"k": [1]}, fit_part, valid.frame)
