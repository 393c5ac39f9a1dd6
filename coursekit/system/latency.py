r"""Latency of the whole system, request by request (p50 / p99 per stage, in milliseconds).

:func:`replay_latency` replays logged events in time order: for each event it answers the
user's request with :meth:`RecommenderSystem.serve <coursekit.system.pipeline.RecommenderSystem.serve>`
(timing every stage) and then feeds the event back with ``observe`` (the real-time fold-in, timed
as ``"observe"``), as a live system would. :func:`latency_summary` reduces the per-request times to
the percentiles that matter: :math:`p_{50}` (the typical request) and :math:`p_{99}` (the tail,
what 99 % of requests stay under).

Run it inside :func:`coursekit.stream.latency.single_threaded` to time one request on one core.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_columns, check_positive_int
from coursekit.system.pipeline import STAGES, RecommenderSystem

__all__ = ["replay_latency", "latency_summary"]


def replay_latency(system: RecommenderSystem, events: pd.DataFrame, k: int = 10, n_requests: int = 1000,
                   observe: bool = True, warm_calls: int = 20) -> pd.DataFrame:
    """Serve, then observe, the first ``n_requests`` events of ``events`` (by ``timestamp``).

    Parameters
    ----------
    system : RecommenderSystem
        Fitted. With ``observe=True`` its live state changes (call ``system.reset_live()`` afterwards).
    events : DataFrame
        Columns ``user_id``, ``item_id``, ``timestamp`` (e.g. the last two weeks of the log); events whose
        user or item is outside the system's universe are skipped.
    k : int
        List length per request.
    n_requests : int
        Requests replayed.
    observe : bool
        Feed each event back with ``observe`` after serving it.
    warm_calls : int
        Untimed requests first (lazy imports, first-use allocations).

    Returns
    -------
    DataFrame
        One row per request: ``user_id``, ``item_id``, one ``<stage>_ms`` column per stage, ``total_ms``
        (the whole ``serve``) and ``observe_ms`` (NaN when ``observe=False``).
    """
    import time

    if not isinstance(system, RecommenderSystem):
        raise CourseKitError(f"replay_latency times a coursekit RecommenderSystem, got {type(system).__name__}.")
    system.check_fitted()
    check_columns(events, ["user_id", "item_id", "timestamp"], "events")
    k = check_positive_int(k, "k")
    n_requests = check_positive_int(n_requests, "n_requests")
    ev = events[events["user_id"].isin(system.users_.ids) & events["item_id"].isin(system.items_.ids)]
    ev = ev.sort_values("timestamp", kind="stable").head(n_requests)
    if ev.empty:
        raise CourseKitError("no event of events has a user and an item of the system's universe; pass events of "
                             "the data the system was fitted on.")
    users, items = ev["user_id"].to_numpy(), ev["item_id"].to_numpy()
    for u in users[:warm_calls]:
        system.serve(int(u), k)
    rows = []
    for u, i in zip(users.tolist(), items.tolist()):
        timings = system.serve(u, k).timings
        obs = np.nan
        if observe:
            t0 = time.perf_counter()
            system.observe(u, [i])
            obs = (time.perf_counter() - t0) * 1e3
        rows.append([u, i, *(timings[s] for s in STAGES), timings["total"], obs])
    return pd.DataFrame(rows, columns=["user_id", "item_id", *(f"{s}_ms" for s in STAGES), "total_ms", "observe_ms"])


def latency_summary(latencies: pd.DataFrame) -> pd.DataFrame:
    """p50, p99 and mean of every ``*_ms`` column of :func:`replay_latency`'s frame, one row per stage.

    >>> frame = pd.DataFrame({"retrieval_ms": np.arange(1.0, 101.0), "total_ms": np.arange(1.0, 101.0)})
    >>> latency_summary(frame).loc["retrieval", ["p50", "p99"]].tolist()
    [50.5, 99.01]
    """
    cols = [c for c in latencies.columns if c.endswith("_ms")]
    if not cols:
        raise CourseKitError("latencies has no '<stage>_ms' column; pass the frame replay_latency returned.")
    values = latencies[cols].astype(float)
    out = pd.DataFrame({"p50": values.quantile(0.5), "p99": values.quantile(0.99), "mean": values.mean()})
    out.index = [c.removesuffix("_ms") for c in cols]
    out.index.name = "stage"
    return out
