r"""Prequential (test-then-train) evaluation of online recommenders.

For every streamed event :math:`e = (u, i, t)`, in time order:

1. **test**: ask the recommender for user :math:`u`'s top-:math:`k` list *from its current
   state* (everything before :math:`e`, nothing of :math:`e`);
2. score it: the hit :math:`\mathrm{HR}@k_e = [\,i \in L_u\,]` and
   :math:`\mathrm{NDCG}@k_e = 1/\log_2(r + 2)` if :math:`i` is at 0-based rank :math:`r`
   of :math:`L_u` (else 0); with one relevant item the ideal DCG is 1;
3. **train**: apply :math:`e` with ``update``.

Averaging over a sliding window of events gives curves that show how quality moves over
time; comparing an online updater with a model trained once on the warm-up
(:class:`~coursekit.stream.baselines.FrozenModel`) and one retrained periodically
(:class:`~coursekit.stream.baselines.PeriodicRetrain`) shows what real-time updates buy.

Repeats (an item the user already touched) cannot be hit while seen items are excluded,
so by default they are not scored (``skip_repeats=True``; they still update the state).

Example
-------
>>> import numpy as np, pandas as pd
>>> from coursekit.interactions import Interactions
>>> from coursekit.stream.replay import Replay
>>> from coursekit.stream.baselines import RecencyPopularity
>>> log = pd.DataFrame({"user_id": [1, 2, 3, 4], "item_id": [7, 7, 8, 7], "timestamp": [1, 2, 3, 4]})
>>> res = prequential(RecencyPopularity(half_life=10.0), Replay(Interactions.from_frame(log), warmup=0.5), k=1)
>>> res[["user", "item", "hit"]].values.tolist()    # user 4 is shown item 7, the most popular: a hit
[[3, 8, False], [4, 7, True]]
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.stream.online import OnlineRecommender
from coursekit.stream.replay import Replay

__all__ = ["prequential", "sliding_mean", "compare_prequential", "summary"]


def prequential(recommender: OnlineRecommender, replay: Replay, k: int = 10, max_events: int | None = None,
                skip_repeats: bool = True, initialize: bool = True, timing: bool = False) -> pd.DataFrame:
    """Test-then-train over the stream of ``replay``; one row per streamed event.

    Parameters
    ----------
    recommender : OnlineRecommender
    replay : Replay
        Its warm-up initialises the recommender (unless ``initialize=False``).
    k : int
        List length.
    max_events : int, optional
        Stop after this many streamed events.
    skip_repeats : bool
        Do not score events on items the user already touched (they are still applied).
    timing : bool
        Add ``recommend_ms`` and ``update_ms`` columns (wall-clock per call).

    Returns
    -------
    DataFrame
        ``position, timestamp, user, item`` (external ids), ``scored`` (False for skipped repeats),
        ``rank`` (0-based rank of the item in the list, -1 if absent or not scored), ``hit``,
        ``ndcg``, ``cold`` (the user had no event before this one), ``repeat``.
    """
    if not isinstance(recommender, OnlineRecommender):
        raise CourseKitError(f"prequential needs an OnlineRecommender, got {type(recommender).__name__}.")
    if not isinstance(replay, Replay):
        raise CourseKitError(f"replay must be a coursekit.stream.Replay, got {type(replay).__name__}.")
    k = check_positive_int(k, "k")
    if initialize:
        recommender.initialize(replay.warmup)
    batch = replay.stream_arrays(0, max_events)
    n = len(batch)
    rank = np.full(n, -1, dtype=np.int64)
    scored = np.zeros(n, dtype=bool)
    repeat = np.zeros(n, dtype=bool)
    cold = np.zeros(n, dtype=bool)
    t_rec = np.full(n, np.nan)
    t_upd = np.full(n, np.nan)
    seen: dict[int, set] = {}
    clock = perf = time.perf_counter
    for e in range(n):
        u, i, t = int(batch.user[e]), int(batch.item[e]), int(batch.timestamp[e])
        v = batch.value[e]
        s = seen.get(u)
        if s is None:
            s = seen[u] = set(recommender.seen_items(u).tolist())
        cold[e] = not s
        repeat[e] = i in s
        if not (skip_repeats and repeat[e]):
            t0 = clock()
            idx, _ = recommender.recommend_index(u, k)      # test: the state before the event
            t_rec[e] = (perf() - t0) * 1e3
            where = np.flatnonzero(idx == i)
            rank[e] = int(where[0]) if where.size else -1
            scored[e] = True
        t0 = clock()
        recommender.update_index(u, i, t, None if np.isnan(v) else float(v))   # then train
        t_upd[e] = (perf() - t0) * 1e3
        s.add(i)
    hit = rank >= 0
    ndcg = np.where(hit, 1.0 / np.log2(np.maximum(rank, 0) + 2.0), 0.0)
    out = pd.DataFrame({
        "position": batch.position, "timestamp": batch.timestamp,
        "user": replay.users.ids[batch.user], "item": replay.items.ids[batch.item],
        "scored": scored, "rank": rank, "hit": hit & scored, "ndcg": np.where(scored, ndcg, np.nan),
        "cold": cold, "repeat": repeat,
    })
    out.loc[~scored, "hit"] = False
    if timing:
        out["recommend_ms"], out["update_ms"] = t_rec, t_upd
    out.attrs.update(k=k, method=type(recommender).__name__)
    return out


def sliding_mean(result: pd.DataFrame, window: int = 1000,
                 metrics: tuple[str, ...] = ("hit", "ndcg")) -> pd.DataFrame:
    r"""Mean of each metric over the last ``window`` *scored* events, at every scored event.

    .. math:: \bar m_n = \frac{1}{w} \sum_{e = n - w + 1}^{n} m_e

    (fewer than ``w`` events at the start: the mean of those there are).

    >>> res = pd.DataFrame({"scored": [True] * 4, "hit": [1, 0, 1, 1], "ndcg": [1.0, 0, 0.5, 0.5],
    ...                     "timestamp": [1, 2, 3, 4]})
    >>> sliding_mean(res, window=2)["hit"].tolist()
    [1.0, 0.5, 0.5, 1.0]
    """
    window = check_positive_int(window, "window")
    sc = result[result["scored"]].reset_index(drop=True)
    out = pd.DataFrame({"event": np.arange(1, len(sc) + 1), "timestamp": sc["timestamp"].to_numpy()})
    for m in metrics:
        out[m] = sc[m].astype(float).rolling(window, min_periods=1).mean().to_numpy()
    return out


def compare_prequential(recommenders: dict[str, OnlineRecommender], replay: Replay, k: int = 10,
                        max_events: int | None = None, **kwargs: bool) -> pd.DataFrame:
    """Run :func:`prequential` for each named recommender over the same replay; rows tagged ``method``."""
    parts = []
    for name, rec in recommenders.items():
        res = prequential(rec, replay, k=k, max_events=max_events, **kwargs)
        parts.append(res.assign(method=name))
    return pd.concat(parts, ignore_index=True)


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """HR@k and NDCG@k (means over scored events) per ``method``, with the number of events.

    >>> res = pd.DataFrame({"method": ["a", "a"], "scored": [True, True], "hit": [True, False],
    ...                     "ndcg": [1.0, 0.0]})
    >>> summary(res)["hit_rate"].tolist()
    [0.5]
    """
    sc = results[results["scored"]]
    g = sc.groupby("method", sort=False)
    return pd.DataFrame({"hit_rate": g["hit"].mean(), "ndcg": g["ndcg"].mean(), "events": g.size()})
