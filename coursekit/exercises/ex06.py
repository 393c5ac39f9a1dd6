r"""Checks for the exercises of lesson 06 (cold start).

``ex06_strict_cold_item_split(frame, frac)``
    A strict cold-item split of an event log (columns ``user_id``, ``item_id``, ``timestamp``). The
    ``n_cold = max(1, int(frac * n_items))`` items whose **first** event is latest (the newest items;
    ties: larger item id first) are held out, with **every** one of their events: ``test`` holds all
    events of the cold items, ``train`` all the others (rows keep their order and index).
    Returns ``(train, test)``.

``ex06_ridge_attribute_map(C_train, Y_train, C_new, reg)``
    The attribute-to-factor map (Gantner et al. 2010): ridge regression of the items' CF factors
    :math:`Y` on their content :math:`C`, with an unpenalised intercept (centre both sides),

    .. math::

        W = (C_c^\top C_c + \lambda I)^{-1} C_c^\top Y_c, \qquad
        \hat Y_{new} = (C_{new} - \bar c)\, W + \bar y,

    :math:`C_c = C - \bar c`, :math:`Y_c = Y - \bar y` (column means over the training items).
    Returns :math:`\hat Y_{new}`, shape (n_new, f).

``ex06_ucb1_choice(counts, sums)``
    The arm UCB1 plays next: an arm never played (smallest index first) if there is one, else

    .. math:: \arg\max_k \; \frac{s_k}{n_k} + \sqrt{\frac{2 \ln N}{n_k}}, \qquad N = \sum_k n_k,

    ties to the smallest index. Returns an ``int``.

Expected answers come from reference implementations written here, independent of
:mod:`coursekit.coldstart` (``tests/test_exercises_coldstart.py`` checks both against each other).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from coursekit.exercises.checks import Case, Exercise, Mistake, register
from coursekit.exercises.compare import compare_array, same_array

SEED = 20240606


# ---------------------------------------------------------------------------- references
def _cold_items(frame: pd.DataFrame, frac: float) -> np.ndarray:
    first = frame.groupby("item_id")["timestamp"].min()
    n_cold = max(1, int(frac * len(first)))
    order = sorted(zip(first.to_numpy().tolist(), first.index.to_numpy().tolist()), reverse=True)
    return np.array([item for _, item in order[:n_cold]])


def reference_strict_cold_item_split(frame: pd.DataFrame, frac: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Strict cold-item split: the newest ``max(1, int(frac * n_items))`` items lose every training event.

    >>> log = pd.DataFrame({"user_id": [1, 2, 1, 3], "item_id": [10, 11, 11, 12], "timestamp": [1, 2, 5, 3]})
    >>> train, test = reference_strict_cold_item_split(log, 0.34)   # item 12 first appears last
    >>> train.item_id.tolist(), test.item_id.tolist()
    ([10, 11, 11], [12])
    """
    cold = frame["item_id"].isin(_cold_items(frame, frac))
    return frame[~cold], frame[cold]


def reference_ridge_attribute_map(C_train, Y_train, C_new, reg):
    r"""Ridge map content -> factors with an unpenalised intercept; returns the factors of ``C_new``.

    >>> C = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]); Y = np.array([[1.0], [2.0], [3.0]])
    >>> reference_ridge_attribute_map(C, Y, np.array([[1.0, 1.0]]), 0.0).round(6).tolist()   # exact fit
    [[3.0]]
    """
    C = np.asarray(C_train, dtype=np.float64)
    Y = np.asarray(Y_train, dtype=np.float64)
    c_bar, y_bar = C.mean(axis=0), Y.mean(axis=0)
    Cc, Yc = C - c_bar, Y - y_bar
    W = np.linalg.pinv(Cc.T @ Cc + reg * np.eye(C.shape[1])) @ Cc.T @ Yc
    return (np.asarray(C_new, dtype=np.float64) - c_bar) @ W + y_bar


def reference_ucb1_choice(counts, sums) -> int:
    """The arm UCB1 plays next (untried arms first; ties to the smallest index).

    >>> reference_ucb1_choice([3, 0, 2], [1.0, 0.0, 2.0])
    1
    >>> reference_ucb1_choice([1, 50], [0.0, 40.0])   # 0 + sqrt(2 ln 51) = 2.80 beats 0.8 + 0.40
    0
    """
    n = [float(c) for c in counts]
    for k, c in enumerate(n):
        if c == 0:
            return k
    total = sum(n)
    scores = [s / c + math.sqrt(2.0 * math.log(total) / c) for s, c in zip(sums, n)]
    return int(max(range(len(scores)), key=lambda k: (scores[k], -k)))


# ---------------------------------------------------------------------------- exercise 1: strict cold-item split
def _log(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def _random_log(rng: np.random.Generator, n_users: int, n_items: int, n_events: int) -> pd.DataFrame:
    frame = _log(np.column_stack([rng.integers(1, n_users + 1, n_events), rng.integers(1, n_items + 1, n_events),
                                  rng.integers(0, 10 * n_events, n_events)]))
    return frame.sample(frac=1.0, random_state=int(rng.integers(1 << 30))).set_index(
        pd.Index(rng.permutation(n_events) + 1000))


def _split_cases() -> list[Case]:
    hand = _log([[1, 10, 1], [2, 11, 2], [1, 11, 5], [3, 12, 3], [2, 12, 9]])
    ties = _log([[1, 5, 0], [1, 6, 0], [2, 5, 4], [2, 7, -1]])
    cases = [
        Case("hand: 3 items, frac 0.34 -> the newest item (12) and both its events",
             (hand, 0.34), (hand.iloc[[0, 1, 2]], hand.iloc[[3, 4]]),
             hint="Item 12 first appears at t=3 (after 10 at t=1 and 11 at t=2): ALL its events go to test, "
                  "the one at t=3 and the one at t=9."),
        Case("hand: ties on the first timestamp -> larger item id first",
             (ties, 0.5), (ties.iloc[[0, 2, 3]], ties.iloc[[1]]),
             hint="3 items -> int(0.5 * 3) = 1 cold item; items 5 and 6 both first appear at t=0: take 6."),
    ]
    rng = np.random.default_rng(SEED)
    for n_users, n_items, n_events, frac in [(8, 12, 60, 0.25), (30, 50, 400, 0.2), (100, 300, 3000, 0.1)]:
        frame = _random_log(rng, n_users, n_items, n_events)
        cases.append(Case(f"random: {n_events} events on {n_items} items, frac {frac}", (frame, frac),
                          lambda frame=frame, frac=frac: reference_strict_cold_item_split(frame, frac)))
    return cases


def _split_event_time(frame, frac):          # a per-event temporal split: the cold items keep old events
    cut = frame["timestamp"].quantile(1 - frac)
    late = frame["timestamp"] > cut
    return frame[~late], frame[late]


def _split_keep_first_event(frame, frac):    # the right items, but their first event stays in training
    cold = frame["item_id"].isin(_cold_items(frame, frac))
    first = frame.groupby("item_id")["timestamp"].transform("min") == frame["timestamp"]
    return frame[~cold | first], frame[cold & ~first]


def _split_last_activity(frame, frac):       # items by LAST event (most recently active), not first
    last = frame.groupby("item_id")["timestamp"].max()
    n_cold = max(1, int(frac * len(last)))
    order = sorted(zip(last.to_numpy().tolist(), last.index.to_numpy().tolist()), reverse=True)
    cold = frame["item_id"].isin([i for _, i in order[:n_cold]])
    return frame[~cold], frame[cold]


def _split_test_only(frame, frac):           # test is right but train is the whole log
    cold = frame["item_id"].isin(_cold_items(frame, frac))
    return frame, frame[cold]


def _as_pair(got):
    if got is None:
        return None, "your function returned None; return the tuple (train, test)."
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return None, f"return a tuple (train, test) of two DataFrames, got {type(got).__name__}."
    if not all(isinstance(g, pd.DataFrame) for g in got):
        return None, "train and test must both be pandas DataFrames (rows of the input frame)."
    return got, None


def _compare_split(expected, got) -> str | None:
    got, problem = _as_pair(got)
    if problem:
        return problem
    (e_train, e_test), (g_train, g_test) = expected, got
    cold = set(e_test["item_id"])
    g_test_items = set(g_test["item_id"]) if "item_id" in g_test else set()
    if "item_id" not in g_train or "item_id" not in g_test:
        return "keep the columns of the input frame (user_id, item_id, timestamp)."
    if g_test_items != cold:
        return (f"you held out items {sorted(g_test_items)[:8]}; the rule holds out the items whose FIRST event "
                f"is latest: {sorted(cold)[:8]}.")
    leak = int(g_train["item_id"].isin(cold).sum())
    if leak:
        return (f"your training part still holds {leak} event(s) of the cold items: the model would have seen "
                f"them, so this is not cold start.")
    if set(g_test.index) != set(e_test.index) or len(g_test) != len(e_test):
        return f"test must hold every event of the cold items ({len(e_test)} rows), got {len(g_test)}."
    if set(g_train.index) != set(e_train.index) or len(g_train) != len(e_train):
        return f"train must hold every event of the other items ({len(e_train)} rows), got {len(g_train)}."
    return None


def _same_split(a, b) -> bool:
    b, problem = _as_pair(b)
    return problem is None and all(set(x.index) == set(y.index) and len(x) == len(y) for x, y in zip(a, b))


def _show_split(value) -> str:
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, pd.DataFrame) for v in value):
        tr, te = value
        items = sorted(te["item_id"].unique().tolist()) if "item_id" in te else "?"
        return f"(train: {len(tr)} rows, test: {len(te)} rows, test items {items})"
    return repr(value)


register(Exercise(
    name="ex06_strict_cold_item_split",
    title="A strict cold-item split",
    cases=_split_cases,
    compare=_compare_split,
    same=_same_split,
    show=_show_split,
    hint="first = frame.groupby('item_id')['timestamp'].min(); n_cold = max(1, int(frac * len(first))); "
         "cold = the n_cold items with the largest (first timestamp, item id); "
         "mask = frame['item_id'].isin(cold); return frame[~mask], frame[mask].",
    mistakes=[
        Mistake(_split_event_time, "A per-event time split puts the LATEST EVENTS in test, but the items of those "
                                   "events still have older events in training: they are not cold. Hold out whole "
                                   "items, with every one of their events."),
        Mistake(_split_keep_first_event, "You left the first event of each cold item in training: one interaction "
                                         "is enough for CF to know the item. Every event of a cold item goes to test."),
        Mistake(_split_last_activity, "Choose the items by their FIRST event (when they appeared), not by their "
                                      "last one: a new item is one that appeared late."),
        Mistake(_split_test_only, "train must exclude the cold items' events (frame[~mask]); you returned the "
                                  "whole log as training data."),
    ],
))


# ---------------------------------------------------------------------------- exercise 2: ridge attribute map
def _ridge_cases() -> list[Case]:
    C = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    Y = np.array([[2.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 0.0]])     # exactly Y = C @ [[2, 0], [0, 1]]
    C_new = np.array([[1.0, 0.0], [1.0, 1.0]])
    cases = [
        Case("hand: an exact linear map, reg 0", (C, Y, C_new, 0.0), np.array([[2.0, 0.0], [2.0, 1.0]]),
             hint="With reg = 0 and Y exactly linear in C the map is exact: the new items get "
                  "C_new @ [[2, 0], [0, 1]]."),
        Case("hand: reg shrinks towards the mean factor", (C, Y, C_new, 1e6), np.tile(Y.mean(axis=0), (2, 1)),
             hint="A huge reg makes W ~ 0, so every new item gets the MEAN factor y_bar (the intercept is not "
                  "penalised)."),
    ]
    rng = np.random.default_rng(SEED + 1)
    for n, d, f, reg in [(40, 6, 3, 1.0), (25, 40, 4, 3.0), (200, 20, 8, 10.0)]:
        C = (rng.random((n, d)) < 0.3).astype(float)
        Y = C @ rng.normal(size=(d, f)) + 0.5 + rng.normal(0, 0.3, (n, f))
        C_new = (rng.random((5, d)) < 0.3).astype(float)
        args = (C, Y, C_new, reg)
        cases.append(Case(f"random: {n} items, {d} attributes, {f} factors, reg {reg}", args,
                          lambda args=args: reference_ridge_attribute_map(*args)))
    return cases


def _ridge_no_reg(C_train, Y_train, C_new, reg):
    C, Y = np.asarray(C_train, float), np.asarray(Y_train, float)
    c_bar, y_bar = C.mean(axis=0), Y.mean(axis=0)
    W = np.linalg.pinv(C - c_bar) @ (Y - y_bar)
    return (np.asarray(C_new, float) - c_bar) @ W + y_bar


def _ridge_not_centred(C_train, Y_train, C_new, reg):
    C, Y = np.asarray(C_train, float), np.asarray(Y_train, float)
    W = np.linalg.pinv(C.T @ C + reg * np.eye(C.shape[1])) @ C.T @ Y
    return np.asarray(C_new, float) @ W


def _ridge_forgot_mean(C_train, Y_train, C_new, reg):
    C, Y = np.asarray(C_train, float), np.asarray(Y_train, float)
    c_bar, y_bar = C.mean(axis=0), Y.mean(axis=0)
    W = np.linalg.pinv((C - c_bar).T @ (C - c_bar) + reg * np.eye(C.shape[1])) @ (C - c_bar).T @ (Y - y_bar)
    return (np.asarray(C_new, float) - c_bar) @ W


def _ridge_reg_outside(C_train, Y_train, C_new, reg):   # lambda added after inverting, not inside
    C, Y = np.asarray(C_train, float), np.asarray(Y_train, float)
    c_bar, y_bar = C.mean(axis=0), Y.mean(axis=0)
    Cc = C - c_bar
    W = (np.linalg.pinv(Cc.T @ Cc) + reg * np.eye(C.shape[1])) @ Cc.T @ (Y - y_bar)
    return (np.asarray(C_new, float) - c_bar) @ W + y_bar


register(Exercise(
    name="ex06_ridge_attribute_map",
    title="The ridge attribute-to-factor map",
    cases=_ridge_cases,
    compare=lambda e, g: compare_array(e, g, what="the predicted factors of the new items"),
    same=same_array,
    hint="c_bar, y_bar = C.mean(0), Y.mean(0); Cc, Yc = C - c_bar, Y - y_bar; "
         "W = np.linalg.solve(Cc.T @ Cc + reg * np.eye(d), Cc.T @ Yc); return (C_new - c_bar) @ W + y_bar.",
    mistakes=[
        Mistake(_ridge_no_reg, "You left out the regulariser: W = (Cc'Cc + reg I)^{-1} Cc'Yc. Without it the map "
                               "overfits (and is not unique when there are more attributes than items)."),
        Mistake(_ridge_reg_outside, "reg belongs INSIDE the inverse, (Cc'Cc + reg I)^{-1} Cc'Yc, not added to "
                                    "(Cc'Cc)^{-1} afterwards."),
        Mistake(_ridge_not_centred, "Centre C and Y first (subtract the column means) so that the intercept is "
                                    "not penalised, and add y_bar back to the predictions."),
        Mistake(_ridge_forgot_mean, "You centred Y but did not add the mean factor y_bar back: "
                                    "Y_new = (C_new - c_bar) @ W + y_bar."),
    ],
))


# ---------------------------------------------------------------------------- exercise 3: UCB1 arm choice
def _ucb_cases() -> list[Case]:
    cases = [
        Case("hand: an arm never played goes first", ([3, 0, 2], [1.0, 0.0, 2.0]), 1,
             hint="Arm 1 has count 0: UCB1 plays every arm once before using the formula."),
        Case("hand: two untried arms -> the smaller index", ([0, 4, 0], [0.0, 1.0, 0.0]), 0),
        Case("hand: the bonus uses the TOTAL count", ([1, 100, 3], [0.0, 80.0, 1.5]), 0,
             hint="N = 104: arm 0 scores 0 + sqrt(2 ln 104 / 1) = 3.05, arm 1 0.8 + sqrt(2 ln 104 / 100) = 1.10, "
                  "arm 2 0.5 + sqrt(2 ln 104 / 3) = 2.26."),
        Case("hand: a square-root width", ([15, 109, 8], [9.0, 98.1, 2.0]), 0,
             hint="N = 132: arm 0 scores 0.6 + sqrt(2 ln 132 / 15) = 1.407, arm 1 0.9 + sqrt(2 ln 132 / 109) = 1.199, "
                  "arm 2 0.25 + sqrt(2 ln 132 / 8) = 1.355."),
        Case("hand: the bonus wins over a better mean", ([1, 50], [0.0, 40.0]), 0,
             hint="N = 51: arm 0 scores 0 + sqrt(2 ln 51 / 1) = 2.80, arm 1 scores 0.8 + sqrt(2 ln 51 / 50) = 1.20."),
        Case("hand: the square root matters", ([30, 300], [15.0, 270.0]), 0,
             hint="N = 330: arm 0 scores 0.5 + sqrt(2 ln 330 / 30) = 1.122, arm 1 0.9 + sqrt(2 ln 330 / 300) = 1.097."),
        Case("hand: the better mean when the counts are equal", ([10, 10, 10], [2.0, 7.0, 5.0]), 1),
    ]
    rng = np.random.default_rng(SEED + 2)
    for K in (3, 8, 20, 50):
        for _ in range(3):
            counts = rng.integers(1, 200, K)
            sums = np.round(counts * rng.beta(1, 3, K), 3)
            args = (counts.tolist(), sums.tolist())
            cases.append(Case(f"random: {K} arms, {int(counts.sum())} pulls", args,
                              lambda args=args: reference_ucb1_choice(*args)))
    return cases


def _ucb_scores(counts, sums, bonus):
    n = np.asarray(counts, float)
    s = np.asarray(sums, float)
    if (n == 0).any():
        return int(np.flatnonzero(n == 0)[0])
    return int(np.argmax(s / n + bonus(n, n.sum())))


def _ucb_greedy(counts, sums):
    return _ucb_scores(counts, sums, lambda n, N: 0.0)


def _ucb_log_arm_count(counts, sums):
    return _ucb_scores(counts, sums, lambda n, N: np.sqrt(2 * np.log(n) / n))


def _ucb_no_sqrt(counts, sums):
    return _ucb_scores(counts, sums, lambda n, N: 2 * np.log(N) / n)


def _compare_arm(expected, got) -> str | None:
    if isinstance(got, (bool, np.bool_)) or got is None:
        return f"return the arm index (an int), got {type(got).__name__}."
    try:
        value = int(got)
    except (TypeError, ValueError):
        return f"return the arm index (an int), got {type(got).__name__}."
    if value != got:
        return f"return an integer arm index, got {got!r}."
    return None if value == expected else "wrong arm."


register(Exercise(
    name="ex06_ucb1_choice",
    title="The arm UCB1 plays next",
    cases=_ucb_cases,
    compare=_compare_arm,
    hint="If some count is 0 return the first such arm; else N = sum(counts) and return the argmax of "
         "sums[k] / counts[k] + sqrt(2 * log(N) / counts[k]) (np.argmax takes the smallest index on ties).",
    mistakes=[
        Mistake(_ucb_greedy, "You left out the exploration bonus sqrt(2 ln N / n_k): that is the greedy choice, "
                             "which can lock onto a mediocre arm forever."),
        Mistake(_ucb_log_arm_count, "The bonus uses the log of the TOTAL number of pulls N = sum(counts), not of "
                                    "the arm's own count: sqrt(2 ln N / n_k)."),
        Mistake(_ucb_no_sqrt, "Take the square root: the bonus is sqrt(2 ln N / n_k), a confidence width that "
                              "shrinks like 1 / sqrt(n_k)."),
    ],
))
