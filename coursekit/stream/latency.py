r"""Latency of the online operations, one call at a time (p50 / p99 in milliseconds).

A real-time recommender answers one user at a time, so the figure that matters is the
distribution of single-call times, in particular its tail: :math:`p_{99}` is the time
99 % of calls stay under. :func:`measure_latency` replays stream events and times
``recommend_index`` (top-:math:`k` over the full catalogue, seen items excluded) and
``update_index`` separately with :func:`time.perf_counter`.

**Threads.** One-user operations are small matrix-vector products; a multi-threaded BLAS
spends more time waking and synchronising threads than computing, and on a shared machine
the other threads' cores are busy anyway. :func:`single_threaded` limits BLAS (with
``threadpoolctl``, when installed) and torch to one thread inside a ``with`` block.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import numpy as np

from coursekit._validation import check_positive_int
from coursekit.stream.online import OnlineRecommender
from coursekit.stream.replay import Replay

__all__ = ["measure_latency", "single_threaded"]


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Limit BLAS/OpenMP (via ``threadpoolctl`` if installed) and torch (if imported) to one thread."""
    import sys

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        threadpool_limits = None
    if torch is not None:
        torch.set_num_threads(1)
    try:
        if threadpool_limits is not None:
            with threadpool_limits(limits=1):
                yield
        else:
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(before)


def measure_latency(recommender: OnlineRecommender, replay: Replay, n_events: int = 1000, k: int = 10,
                    initialize: bool = True, warm_calls: int = 20) -> dict[str, float]:
    """Time ``recommend`` then ``update`` for each of the first ``n_events`` streamed events.

    Returns ``update_p50, update_p99, recommend_p50, recommend_p99`` (milliseconds) and ``events``.
    The first ``warm_calls`` recommendations (lazy caches, first-use allocations) are not timed.
    """
    n_events = check_positive_int(n_events, "n_events")
    if initialize:
        recommender.initialize(replay.warmup)
    ev = replay.stream_arrays(0, n_events)
    for j in range(min(warm_calls, len(ev))):
        recommender.recommend_index(int(ev.user[j]), k)
    upd, rec = np.empty(len(ev)), np.empty(len(ev))
    clock = time.perf_counter
    for j in range(len(ev)):
        u, i, t, v = int(ev.user[j]), int(ev.item[j]), int(ev.timestamp[j]), ev.value[j]
        t0 = clock()
        recommender.recommend_index(u, k)
        t1 = clock()
        recommender.update_index(u, i, t, None if np.isnan(v) else float(v))
        t2 = clock()
        rec[j], upd[j] = t1 - t0, t2 - t1
    q = lambda a, p: float(np.percentile(a, p) * 1e3)  # noqa: E731
    return {"update_p50": q(upd, 50), "update_p99": q(upd, 99), "recommend_p50": q(rec, 50),
            "recommend_p99": q(rec, 99), "events": int(len(ev))}
