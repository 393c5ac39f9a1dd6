r"""How fast an online recommender follows a known change of taste (the shop's drift users).

The shop simulator (:func:`coursekit.datasets.make_shop`) replaces the taste vector of some
users at a known time (``truth["drift"]``): :math:`\theta_u^{old}` before, :math:`\theta_u^{new}`
after. For a top-:math:`k` list :math:`L` shown to such a user, the **taste alignment**

.. math:: m(L) = \frac{1}{|L|} \sum_{i \in L} \big(\theta_u^{new} - \theta_u^{old}\big)^\top x_i

is the mean true affinity of the listed items under the new taste minus that under the old one
(:math:`x_i` the item's attribute vector). Before the drift the lists serve the old taste
(:math:`m < 0`); a recommender has **recovered** once :math:`m > 0`. :func:`drift_recovery`
records :math:`m` at every event of every drift user *before* the event is applied (test-then-train,
as in :mod:`coursekit.stream.prequential`), indexed by :math:`j`, the number of post-drift events
the recommender has already seen (:math:`j < 0` before the drift).

A second, plainer reading of the same lists: the **new-category share**, the fraction of the
listed items whose category the user's *new* taste likes (:math:`\theta^{new}_{u,c} > 0`; the
shop's drift draws a new taste that likes none of the old categories). :func:`drift_window_mean`
averages either measure per user over a window of :math:`j`, for paired before/after comparisons
(:func:`coursekit.claims.compare`). The third column, ``ndcg``, scores the list against the event
itself (:math:`1/\log_2(r + 2)` at rank :math:`r`, 0 if absent, NaN for a repeat, which cannot be
hit while seen items are excluded): how well the method predicts what the drifted user does next.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.stream.online import OnlineRecommender
from coursekit.stream.replay import Replay

__all__ = ["drift_recovery", "recovery_summary", "drift_window_mean"]


def drift_recovery(recommender: OnlineRecommender, replay: Replay, truth: dict, k: int = 10,
                   only_drift_users: bool = False, initialize: bool = True, before: int = 3,
                   after: int | None = None, max_users: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Taste alignment of the top-``k`` lists of drift users around their drift time.

    Parameters
    ----------
    recommender : OnlineRecommender
    replay : Replay
        Over the shop's interactions (``dataset.to_interactions()``).
    truth : dict
        The shop's ``Dataset.truth`` (``drift``, ``user_tastes``, ``drift_tastes``, ``item_attributes``).
        A user whose drift time falls before the replay's cut has post-drift events in the warm-up
        that :math:`j` does not count: keep in ``truth["drift"]`` only the users who drift in the stream.
    k : int
    only_drift_users : bool
        Apply only the drift users' events (much faster). Right for updaters whose user state
        depends on the user's own events only (profiles, fold-in, SGD without item updates,
        sequence models); not for popularity.
    before : int
        Also record this many events before each drift (:math:`j = -before .. -1`).
    after : int, optional
        Record up to :math:`j = after`; with ``only_drift_users`` a user's later events are skipped.
    max_users : int, optional
        Follow only this many drift users (drawn with ``seed``), to save time.

    Returns
    -------
    DataFrame
        ``user, timestamp, j, alignment, new_share, ndcg`` (one row per recorded event); ``new_share``
        is the share of the list in categories the new taste likes (NaN when the truth has no
        ``category=...`` attributes); ``ndcg`` is NDCG@k of the list for the event's item (NaN for
        a repeat).
    """
    k = check_positive_int(k, "k")
    drift = truth["drift"]
    if drift.empty:
        raise CourseKitError("this shop has no drift users (drift_user_frac=0).")
    if initialize:
        recommender.initialize(replay.warmup)
    users = replay.users
    if max_users is not None and check_positive_int(max_users, "max_users") < len(drift):
        drift = drift.iloc[np.sort(np.random.default_rng(seed).permutation(len(drift))[:max_users])]
    du = users.index(drift["user_id"].to_numpy())
    d_time = dict(zip(du.tolist(), drift["drift_time"].to_numpy().tolist()))
    X = truth["item_attributes"].reindex(replay.items.ids).fillna(0).to_numpy(dtype=float)
    delta = (truth["drift_tastes"].loc[drift["user_id"]].to_numpy(float)
             - truth["user_tastes"].loc[drift["user_id"]].to_numpy(float)) @ X.T      # (n_drift, n_items)
    row = dict(zip(du.tolist(), range(len(du))))
    cats = [c for c in truth["item_attributes"].columns if str(c).startswith("category=")]
    if cats:
        liked = truth["drift_tastes"].loc[drift["user_id"], cats].to_numpy(float) > 0      # (n_drift, n_cat)
        in_cat = truth["item_attributes"][cats].reindex(replay.items.ids).fillna(0).to_numpy(float) > 0
        new_like = (liked.astype(float) @ in_cat.T.astype(float)) > 0                    # (n_drift, n_items)
    else:
        new_like = None
    ev = replay.stream_arrays()
    is_drift = np.isin(ev.user, du)
    # events per drift user, counted from the drift: j = #post-drift events before this one
    t_drift = np.array([d_time.get(int(u), np.iinfo(np.int64).max) for u in ev.user])
    post_drift = is_drift & (ev.timestamp >= t_drift)
    j = np.zeros(len(ev), dtype=np.int64)
    post = np.flatnonzero(post_drift)
    j[post] = pd.Series(ev.user[post]).groupby(ev.user[post]).cumcount().to_numpy()
    pre = np.flatnonzero(is_drift & ~post_drift)[::-1]                      # counted back from the drift
    j[pre] = -(pd.Series(ev.user[pre]).groupby(ev.user[pre]).cumcount().to_numpy() + 1)
    record = is_drift & (j >= -before) & (j <= (np.iinfo(np.int64).max if after is None else after))
    skip = ~is_drift if only_drift_users else np.zeros(len(ev), dtype=bool)
    if only_drift_users and after is not None:
        skip |= post_drift & (j > after)
    out = []
    for e in range(len(ev)):
        u = int(ev.user[e])
        if skip[e]:
            continue
        if record[e]:
            idx, _ = recommender.recommend_index(u, k)
            idx = idx[idx >= 0]
            share = float(new_like[row[u], idx].mean()) if new_like is not None and idx.size else np.nan
            hit = np.flatnonzero(idx == ev.item[e])
            gain = np.nan if ev.item[e] in recommender.seen_items(u) else (
                1.0 / np.log2(hit[0] + 2.0) if hit.size else 0.0)
            out.append((int(users.ids[u]), int(ev.timestamp[e]), int(j[e]), float(delta[row[u], idx].mean()), share,
                        gain))
        v = ev.value[e]
        recommender.update_index(u, int(ev.item[e]), int(ev.timestamp[e]), None if np.isnan(v) else float(v))
    return pd.DataFrame(out, columns=["user", "timestamp", "j", "alignment", "new_share", "ndcg"])


def recovery_summary(result: pd.DataFrame, max_j: int = 30) -> dict:
    r"""Events to recover per drift user: the first :math:`j \ge 0` with alignment :math:`> 0`.

    Users who never recover within their recorded events count as not recovered (censored).
    Returns the median over users (inf when fewer than half recover), the share recovered within
    5 and within 10 events, and the number of users.

    >>> r = pd.DataFrame({"user": [1, 1, 1, 2, 2], "j": [-1, 0, 1, 0, 1], "alignment": [-1, -0.5, 0.2, 0.1, 0.3]})
    >>> recovery_summary(r)["median_events_to_recover"]
    0.5
    """
    post = result[(result["j"] >= 0) & (result["j"] <= max_j)]
    firsts = []
    for _, g in post.groupby("user"):
        rec = g.loc[g["alignment"] > 0, "j"]
        firsts.append(float(rec.min()) if len(rec) else np.inf)
    firsts = np.array(firsts)
    return {"median_events_to_recover": float(np.median(firsts)) if firsts.size else np.nan,
            "recovered_within_5": float(np.mean(firsts <= 5)) if firsts.size else np.nan,
            "recovered_within_10": float(np.mean(firsts <= 10)) if firsts.size else np.nan,
            "users": int(firsts.size)}


def drift_window_mean(result: pd.DataFrame, j_min: int, j_max: int, column: str = "alignment") -> pd.Series:
    r"""Per drift user, the mean of ``column`` over the recorded events with :math:`j_{min} \le j \le j_{max}`.

    Two windows of the same :func:`drift_recovery` result, aligned on their common users, give the
    paired before/after values of a claim (e.g. ``j`` in -3..-1 against 10..30); two methods'
    results over the same window give a paired comparison of the methods.

    Parameters
    ----------
    result : DataFrame
        Output of :func:`drift_recovery`.
    j_min, j_max : int
        The window, inclusive (negative: before the drift).
    column : str
        ``"alignment"``, ``"new_share"`` or ``"ndcg"`` (NaN repeats are left out of the mean).

    Returns
    -------
    Series
        Indexed by user id (users with at least one recorded event in the window).

    >>> r = pd.DataFrame({"user": [1, 1, 1, 2, 2], "j": [-1, 0, 1, -1, 3], "alignment": [-1.0, 0.5, 1.5, -2.0, 1.0]})
    >>> drift_window_mean(r, 0, 5).tolist()
    [1.0, 1.0]
    >>> drift_window_mean(r, -3, -1).tolist()
    [-1.0, -2.0]
    """
    if column not in result.columns:
        raise CourseKitError(f"column={column!r} is not in the drift_recovery result; use one of "
                             f"{[c for c in result.columns if c not in ('user', 'timestamp', 'j')]}.")
    if j_min > j_max:
        raise CourseKitError(f"j_min must not exceed j_max, got j_min={j_min}, j_max={j_max}.")
    part = result[result["j"].between(j_min, j_max)]
    return part.groupby("user")[column].mean().rename(f"{column} j={j_min}..{j_max}")
