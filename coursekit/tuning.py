r"""Hyperparameter tuning on a validation split: a grid search of a model factory.

The rule of the course: every model in a comparison is tuned on a **validation** part of the
training data, never on the test set. Cut it with a temporal split of ``train`` (for example
``user_temporal_split(train, test_frac=0.2)``: each user's latest training events validate the
model fitted on their earlier ones), tune there, then refit the best setting on all of
``train`` and evaluate once on test.

:func:`grid_search` fits ``factory(**params)`` for every combination of a grid and scores it
on the validation part (mean per-user NDCG@10 by default, the harness of
:func:`coursekit.evaluation.evaluate_per_user`, or any ``score`` function, e.g. an RMSE). With
``expand=n`` it also checks the **edges**: when the best value of a numeric parameter is the
largest (or smallest, positive) value of its grid, the curve may still be rising there, so the
grid is extended one geometric step in that direction (at most ``n`` times) until the best value
is interior. :attr:`TuningResult.at_edge` lists the parameters whose best value is still on an
edge after that (a lesson says so instead of calling the value "best").

Example
-------
>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> from coursekit.models.ease import EASE
>>> log = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 2, 3, 3], "item_id": [10, 20, 30, 10, 20, 30, 10, 20],
...                     "timestamp": [1, 2, 3, 1, 2, 3, 1, 2]})
>>> inter = Interactions.from_frame(log)
>>> fit_part, valid = inter.subset(inter.frame["timestamp"].to_numpy() < 3), \
...     inter.subset(inter.frame["timestamp"].to_numpy() == 3)
>>> res = grid_search(EASE, {"reg": [0.1, 1.0]}, fit_part, valid, metric="hit_rate", k=1)
>>> res.table.columns.tolist()
['reg', 'HR@1', 'fit s']
>>> res.best_params, res.best_value
({'reg': 0.1}, 1.0)
"""
from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_nonneg_int, check_positive_int
from coursekit.interactions import Interactions

__all__ = ["TuningResult", "grid_search", "METRIC_LABELS"]

METRIC_LABELS = {"ndcg": "NDCG", "recall": "recall", "precision": "precision", "map": "MAP", "mrr": "MRR",
                 "hit_rate": "HR"}


@dataclass
class TuningResult:
    """What :func:`grid_search` found.

    Attributes
    ----------
    table : DataFrame
        One row per evaluated combination: the parameters, the validation value (column
        :attr:`label`), any ``details`` columns and the fit time in seconds (``"fit s"``), in
        evaluation order.
    best_params : dict
        The combination with the best validation value (the first one on ties).
    best_value : float
        Its validation value.
    label : str
        Name of the value column (``"NDCG@10"``, or the ``label`` given with ``score``).
    higher_is_better : bool
    grid : dict
        The final grid per parameter (after any extension at the edges), sorted.
    at_edge : list of str
        Parameters whose best value is still the smallest or largest value of their grid (with at
        least two values): the optimum may lie beyond the grid. Empty when every best value is
        interior (a smallest value of 0, "switched off", counts as a natural edge and is not listed).
    """

    table: pd.DataFrame
    best_params: dict[str, Any]
    best_value: float
    label: str
    higher_is_better: bool
    grid: dict[str, list[Any]]
    at_edge: list[str] = field(default_factory=list)
    factory: Callable[..., Any] | None = None

    def make(self, **overrides: Any) -> Any:
        """A fresh, unfitted model with the best parameters (``overrides`` replace some of them)."""
        if self.factory is None:
            raise CourseKitError("this TuningResult has no factory; build the model from best_params yourself.")
        return self.factory(**{**self.best_params, **overrides})

    def curve(self, param: str) -> pd.DataFrame:
        """The validation value against ``param`` with the other parameters at their best values."""
        if param not in self.grid:
            raise CourseKitError(f"param must be one of the tuned parameters {list(self.grid)}, got {param!r}.")
        sel = np.ones(len(self.table), dtype=bool)
        for name, value in self.best_params.items():
            if name != param:
                sel &= (self.table[name] == value).to_numpy()
        return self.table.loc[sel, [param, self.label]].sort_values(param).reset_index(drop=True)

    def describe(self) -> str:
        """One sentence: the best parameters, the value, and whether they are interior to the grid."""
        params = ", ".join(f"{k} = {_fmt_value(v)}" for k, v in self.best_params.items())
        where = ("interior to the grid" if not self.at_edge else
                 f"on the edge of the grid for {', '.join(self.at_edge)} (the optimum may lie beyond it)")
        return (f"best on validation: {params} ({self.label} = {self.best_value:.4f}, "
                f"{len(self.table)} settings tried); {where}.")


def _fmt_value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)


def _check_grid(grid: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    if not isinstance(grid, Mapping) or not grid:
        raise CourseKitError(f"grid must be a non-empty dict of parameter name -> list of values, got {grid!r}; "
                             "e.g. grid={'reg': [10, 100, 1000]}.")
    out = {}
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray) or len(values) == 0:
            raise CourseKitError(f"grid[{name!r}] must be a non-empty list of values, got {values!r}; "
                                 f"e.g. grid={{{name!r}: [1, 10, 100]}}.")
        vals = list(dict.fromkeys(v.item() if isinstance(v, np.generic) else v for v in values))
        if all(_numeric(v) for v in vals):
            vals = sorted(vals)
        out[str(name)] = vals
    return out


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) \
        and math.isfinite(float(v))


def _step(values: list[Any], upward: bool) -> Any | None:
    """The next value beyond the edge: one geometric step (arithmetic when a value is <= 0), or None."""
    a, b = (values[-2], values[-1]) if upward else (values[1], values[0])
    if a > 0 and b > 0:
        new = b * (b / a)
    elif upward:
        new = b + (b - a)
    else:
        return None  # the lower edge at (or below) zero is a natural bound ("switched off")
    if isinstance(values[-1], (int, np.integer)) and all(isinstance(v, (int, np.integer)) for v in values):
        new = int(round(new))
        if new in values or new <= 0:
            return None
    return new


def _edges(grid: dict[str, list[Any]], best: dict[str, Any]) -> list[tuple[str, bool]]:
    """(param, upward) for every numeric parameter whose best value sits on an extendable edge."""
    out = []
    for name, values in grid.items():
        if len(values) < 2 or not all(_numeric(v) for v in values):
            continue
        if best[name] == values[-1]:
            out.append((name, True))
        elif best[name] == values[0] and values[0] > 0:
            out.append((name, False))
    return out


def grid_search(factory: Callable[..., Any], grid: Mapping[str, Sequence[Any]], train: Interactions,
                valid: Interactions, *, metric: str = "ndcg", k: int = 10,
                score: Callable[[Any, Interactions, Interactions], float] | None = None,
                label: str | None = None, higher_is_better: bool = True, expand: int = 0,
                fit: Callable[[Any, Interactions, Interactions], Any] | None = None,
                details: Callable[[Any], Mapping[str, Any]] | None = None) -> TuningResult:
    r"""Fit ``factory(**params)`` on ``train`` for each combination of ``grid``; score it on ``valid``.

    Parameters
    ----------
    factory : callable
        ``factory(**params)`` returns an unfitted recommender (a class, or a ``lambda`` that fixes
        the parameters that are not tuned).
    grid : dict of str -> list
        Values per parameter; every combination is tried (numeric values are sorted).
    train, valid : Interactions
        The fitting part and the validation part, cut from the *training* data (same universe),
        e.g. ``user_temporal_split(train, test_frac=0.2)``. Never the test set.
    metric, k : str, int
        Ranking metric of :func:`~coursekit.evaluation.evaluate_per_user` (mean over the users with
        a validation item), used unless ``score`` is given.
    score : callable, optional
        ``score(model, train, valid) -> float`` instead of the ranking metric (e.g. a validation RMSE
        with ``higher_is_better=False``).
    label : str, optional
        Column name of the value (default ``"NDCG@10"`` etc., or ``"score"`` with ``score``).
    higher_is_better : bool
        Direction of the value.
    expand : int
        How many times a numeric grid may be extended by one (geometric) step when its best value
        sits on the edge (0: never). Each extension fits the new values combined with all values of
        the other parameters.
    fit : callable, optional
        ``fit(model, train, valid)`` fits the model (default ``model.fit(train)``); e.g. pass
        ``lambda m, tr, va: m.fit(tr, valid=va)`` for a model with early stopping. A fit that raises
        :class:`FloatingPointError` (a diverged setting) gets the value NaN and is never chosen.
    details : callable, optional
        ``details(model) -> dict`` of extra columns for the table (e.g. the epoch early stopping
        chose, or the training error), recorded after each fit.

    Returns
    -------
    TuningResult
    """
    grid = _check_grid(grid)
    if details is not None and not callable(details):
        raise CourseKitError(f"details must be a callable details(model) -> dict, got {details!r}.")
    if not callable(factory):
        raise CourseKitError(f"factory must be callable (a model class or a lambda returning a model), "
                             f"got {factory!r}.")
    for name, part in (("train", train), ("valid", valid)):
        if not isinstance(part, Interactions):
            raise CourseKitError(f"{name} must be coursekit Interactions, got {type(part).__name__}; cut it from the "
                                 "training data with coursekit.splits.user_temporal_split(train, test_frac=0.2).")
    expand = check_nonneg_int(expand, "expand")
    if score is None:
        from coursekit.evaluation import RANKING_METRICS, evaluate_per_user

        if metric not in RANKING_METRICS:
            raise CourseKitError(f"metric must be one of {list(RANKING_METRICS)}, got {metric!r}.")
        k = check_positive_int(k, "k")

        def score(model, tr, va):
            return float(evaluate_per_user(model, tr, va, metric=metric, k=k).mean())

        label = label or f"{METRIC_LABELS[metric]}@{k}"
    elif not callable(score):
        raise CourseKitError(f"score must be a callable score(model, train, valid) -> float, got {score!r}.")
    label = label or "score"
    fit = fit or (lambda model, tr, va: model.fit(tr))
    names = list(grid)
    done: dict[tuple, dict[str, Any]] = {}
    sign = 1.0 if higher_is_better else -1.0

    def run_all() -> None:
        for combo in itertools.product(*(grid[n] for n in names)):
            if combo in done:
                continue
            params = dict(zip(names, combo))
            model = factory(**params)
            start = time.perf_counter()
            try:
                fit(model, train, valid)
            except FloatingPointError:      # the setting diverged (e.g. too large a step): it is not chosen
                done[combo] = {**params, label: float("nan"), "fit s": time.perf_counter() - start}
                continue
            seconds = time.perf_counter() - start
            value = float(score(model, train, valid))
            extra = dict(details(model)) if details is not None else {}
            done[combo] = {**params, label: value, **extra, "fit s": seconds}

    def best() -> tuple[dict[str, Any], float]:
        rows = [r for c, r in done.items() if all(v in grid[n] for n, v in zip(names, c))]
        values = np.array([sign * r[label] if math.isfinite(r[label]) else -np.inf for r in rows])
        row = rows[int(np.argmax(values))]
        return {n: row[n] for n in names}, row[label]

    run_all()
    for _ in range(expand):
        params, _ = best()
        moves = _edges(grid, params)
        changed = False
        for name, upward in moves:
            new = _step(grid[name], upward)
            if new is not None:
                grid[name] = sorted(grid[name] + [new])
                changed = True
        if not changed:
            break
        run_all()
    best_params, best_value = best()
    extra_cols = [c for r in done.values() for c in r if c not in names and c not in (label, "fit s")]
    table = pd.DataFrame(list(done.values()), columns=names + [label] + list(dict.fromkeys(extra_cols)) + ["fit s"])
    at_edge = [n for n, _ in _edges(grid, best_params)]
    return TuningResult(table=table, best_params=best_params, best_value=float(best_value), label=label,
                        higher_is_better=higher_is_better, grid=grid, at_edge=at_edge, factory=factory)
