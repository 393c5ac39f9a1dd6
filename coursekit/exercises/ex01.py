r"""Checks for the exercises of lesson 01 (evaluation).

Single-user, student-friendly signatures (plain lists and sets of item ids):

``ex01_precision_at_k(recommended, relevant, k)``
    :math:`P@k = |\mathrm{top}_k \cap R| / k` (``k`` even when the list is shorter).
``ex01_ndcg_at_k(recommended, relevant, k)``
    binary NDCG, :math:`DCG@k / IDCG@k` with discount :math:`1/\log_2(j+1)`,
    :math:`IDCG@k = \sum_{j=1}^{\min(k,|R|)} 1/\log_2(j+1)`.
``ex01_average_precision_at_k(recommended, relevant, k)``
    :math:`AP@k = \frac{1}{\min(k,|R|)}\sum_{j=1}^{k} P@j\,\mathrm{rel}_j`.
``ex01_temporal_split(df, test_frac)``
    per user, the last :math:`\min(\lfloor f\,n_u + 0.5\rfloor, n_u - 1)` events by
    ``(timestamp, item_id)`` go to test; returns ``(train_df, test_df)``.

Expected answers come from hand computation (hand cases) and from the reference
implementations :mod:`coursekit.metrics` and :func:`coursekit.splits.user_temporal_split`
(random cases), so the exercises and the library can never disagree.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coursekit.exercises.checks import Case, Exercise, Mistake, register
from coursekit.exercises.compare import compare_number

SEED = 20240101


# ---------------------------------------------------------------------------- reference wrappers
def single_user_metric(metric: Callable, recommended: Sequence[int], relevant: Sequence[int], k: int) -> float:
    """Evaluate a per-user :mod:`coursekit.metrics` function on one user's plain lists.

    Item ids are mapped to indices of the union of ``recommended`` and ``relevant``.

    >>> from coursekit.metrics import precision_at_k
    >>> single_user_metric(precision_at_k, [5, 7, 9], {7, 11}, 2)
    0.5
    """
    rec = np.asarray(list(recommended), dtype=np.int64)
    rel = np.asarray(sorted(set(relevant)), dtype=np.int64)
    universe = np.union1d(rec, rel)
    topk = np.searchsorted(universe, rec)[None, :]
    relevant_csr = sp.csr_matrix((np.ones(rel.size), (np.zeros(rel.size, dtype=np.int64),
                                                      np.searchsorted(universe, rel))),
                                 shape=(1, max(universe.size, 1)))
    if topk.shape[1] == 0:
        topk = np.full((1, 1), -1, dtype=np.int64)
    return float(metric(topk, relevant_csr, k)[0])


def reference_temporal_split(df: pd.DataFrame, test_frac: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The answer to ``ex01_temporal_split``: :func:`coursekit.splits.user_temporal_split` on a frame."""
    from coursekit.interactions import Interactions
    from coursekit.splits import user_temporal_split

    s = user_temporal_split(Interactions.from_frame(df), test_frac=test_frac)
    return s.train.frame, s.test.frame


def _metric(name: str) -> Callable:
    import coursekit.metrics as m

    return getattr(m, name)


# ---------------------------------------------------------------------------- random cases
def _random_lists(n: int, seed: int) -> list[tuple[list[int], set[int], int]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(1, 11))
        length = int(min(rng.integers(max(1, k - 2), k + 6), 30))
        recommended = (rng.choice(30, length, replace=False) + 100).tolist()
        relevant = set((rng.choice(30, int(rng.integers(1, 9)), replace=False) + 100).tolist())
        out.append((recommended, relevant, k))
    return out


def _metric_cases(metric: str, hand: list[Case], seed: int) -> Callable[[], list[Case]]:
    def build() -> list[Case]:
        cases = list(hand)
        for j, (rec, rel, k) in enumerate(_random_lists(20, seed)):
            cases.append(Case(f"random case {j + 1}", (rec, rel, k),
                              lambda rec=rec, rel=rel, k=k: single_user_metric(_metric(metric), rec, rel, k)))
        return cases
    return build


def _hits(recommended, relevant, k) -> list[int]:
    rel = set(relevant)
    return [1 if item in rel else 0 for item in list(recommended)[:k]]


# ---------------------------------------------------------------------------- precision@k
register(Exercise(
    name="ex01_precision_at_k",
    title="Precision at k",
    cases=_metric_cases("precision_at_k", [
        Case("two hits in the top 3", ([1, 2, 3, 4, 5], {1, 3, 9}, 3), 2 / 3),
        Case("no hit", ([4, 5, 6], {1}, 3), 0.0),
        Case("hits after position k do not count", ([7, 8, 1, 3], {1, 3}, 2), 0.0,
             hint="Only the first k recommended items count: look at recommended[:k]."),
        Case("list shorter than k", ([1, 2], {1, 2, 3}, 5), 2 / 5,
             hint="Divide by k, even when fewer than k items were recommended: an empty slot is a miss."),
        Case("k = 1", ([3, 1], {3}, 1), 1.0),
        Case("relevant given as a list", ([10, 20, 30], [30], 3), 1 / 3),
    ], SEED + 1),
    compare=compare_number,
    hint="Precision@k = (number of the first k recommended items that are relevant) / k.",
    mistakes=[
        Mistake(lambda rec, rel, k: sum(_hits(rec, rel, k)) / len(set(rel)),
                "You divided by the number of relevant items: that is recall@k. Precision@k divides by k."),
        Mistake(lambda rec, rel, k: sum(_hits(rec, rel, k)) / max(len(list(rec)[:k]), 1),
                "You divided by the length of the list. Precision@k divides by k, even when the list is "
                "shorter than k (an empty slot is a wasted slot)."),
        Mistake(lambda rec, rel, k: sum(_hits(rec, rel, len(list(rec)))) / k,
                "You counted hits in the whole list. Only the first k items count: recommended[:k]."),
    ],
))


# ---------------------------------------------------------------------------- NDCG@k
def _dcg(hits: list[int], offset: int = 1) -> float:
    return sum(h / math.log2(j + offset) for j, h in enumerate(hits, start=1))


register(Exercise(
    name="ex01_ndcg_at_k",
    title="NDCG at k (binary relevance)",
    cases=_metric_cases("ndcg_at_k", [
        Case("the lesson's example: one hit at rank 2", ([5, 7, 9], {4, 7}, 3),
             (1 / math.log2(3)) / (1 + 1 / math.log2(3))),
        Case("perfect ranking", ([3, 1, 2], {1, 2, 3}, 3), 1.0),
        Case("more relevant items than k", ([1, 2], {1, 2, 3, 4}, 2), 1.0,
             hint="The ideal list has only min(k, |relevant|) relevant items: IDCG stops at rank k."),
        Case("a single relevant item at rank 2", ([9, 1, 8, 7, 6], {1}, 5), 1 / math.log2(3)),
        Case("no hit", ([4, 5, 6], {1, 2}, 3), 0.0),
        Case("list shorter than k", ([2], {1, 2}, 3), 1 / (1 + 1 / math.log2(3))),
    ], SEED + 2),
    compare=compare_number,
    hint="DCG@k = sum over ranks j = 1..k of rel_j / log2(j + 1); NDCG@k = DCG@k / IDCG@k, where IDCG@k is "
         "the DCG of the best possible list: min(k, |relevant|) hits at the top.",
    mistakes=[
        Mistake(lambda rec, rel, k: _dcg(_hits(rec, rel, k)),
                "You returned DCG. Divide it by IDCG@k (the DCG of the ideal list) to get NDCG."),
        Mistake(lambda rec, rel, k: _dcg(_hits(rec, rel, k)) / _dcg([1] * len(set(rel))),
                "Your IDCG counts all relevant items. The ideal list has only min(k, |relevant|) hits, "
                "so a list of k hits scores 1."),
        Mistake(lambda rec, rel, k: _dcg(_hits(rec, rel, k)) / _dcg([1] * k),
                "Your IDCG assumes k relevant items. Use min(k, |relevant|)."),
        Mistake(lambda rec, rel, k: _dcg(_hits(rec, rel, k), 2) / _dcg([1] * min(k, len(set(rel))), 2),
                "Off by one in the discount: rank j (starting at 1) is discounted by log2(j + 1), so rank 1 "
                "has discount 1/log2(2) = 1. With enumerate() starting at 0, use log2(i + 2)."),
    ],
))


# ---------------------------------------------------------------------------- AP@k
def _ap_sum(rec, rel, k) -> float:
    hits = _hits(rec, rel, k)
    return sum(h * sum(hits[:j]) / j for j, h in enumerate(hits, start=1))


register(Exercise(
    name="ex01_average_precision_at_k",
    title="Average precision at k",
    cases=_metric_cases("average_precision_at_k", [
        Case("hits at ranks 1 and 3, three relevant", ([1, 2, 3], {1, 3, 5}, 3), (1 + 2 / 3) / 3),
        Case("perfect list, more relevant items than k", ([1, 2, 3], {1, 2, 3, 4, 5}, 3), 1.0,
             hint="Normalise by min(k, |relevant|): a list of k hits is perfect even if more items were relevant."),
        Case("one hit at rank 1, three relevant", ([1, 8, 9], {1, 2, 3}, 3), 1 / 3,
             hint="The relevant items you missed count as precision 0: divide by min(k, |relevant|), "
                  "not by the number of hits."),
        Case("fewer relevant items than k", ([5, 1, 6, 2], {1, 2}, 4), (1 / 2 + 2 / 4) / 2),
        Case("no hit", ([4, 5, 6], {1}, 3), 0.0),
        Case("list shorter than k", ([1, 2], {2, 7}, 5), (1 / 2) / 2),
    ], SEED + 3),
    compare=compare_number,
    hint="AP@k = (1 / min(k, |relevant|)) * sum over the ranks j <= k that hold a relevant item of "
         "precision@j.",
    mistakes=[
        Mistake(lambda rec, rel, k: _ap_sum(rec, rel, k) / k,
                "You divided by k. AP@k divides by min(k, |relevant|): a user with 2 relevant items "
                "who gets both at the top should score 1, not 2/k."),
        Mistake(lambda rec, rel, k: _ap_sum(rec, rel, k) / max(sum(_hits(rec, rel, k)), 1),
                "You divided by the number of hits. Then one hit at rank 1 scores 1.0 however many relevant "
                "items were missed; AP@k divides by min(k, |relevant|)."),
        Mistake(lambda rec, rel, k: _ap_sum(rec, rel, k) / len(set(rel)),
                "You divided by |relevant|. That is trec_eval's convention; this course uses min(k, |relevant|), "
                "so a perfect list scores 1 even when more than k items are relevant."),
        Mistake(lambda rec, rel, k: sum(_hits(rec, rel, k)) / k,
                "That is precision@k (the mean of the labels in the top k), which is also what the 'MAP = "
                "sum(score * label) / sum(score)' of some write-ups gives when the scores are equal: it is not "
                "average precision. AP averages precision@j at the ranks j of the hits."),
        Mistake(lambda rec, rel, k: sum(sum(_hits(rec, rel, k)[:j]) / j for j in range(1, k + 1)) / k,
                "You averaged precision@j over every rank j. AP only takes precision@j at the ranks that hold a "
                "relevant item (multiply by rel_j)."),
    ],
))


# ---------------------------------------------------------------------------- temporal split
COLS = ["user_id", "item_id", "timestamp"]


def _rows(frame: pd.DataFrame, cols: list[str]) -> list[tuple]:
    return sorted(map(tuple, frame[cols].to_numpy().tolist()))


def compare_split(expected: tuple[pd.DataFrame, pd.DataFrame], got: Any) -> str | None:
    """``None`` when ``got`` is the expected ``(train_df, test_df)`` (row order and index ignored)."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return f"return a tuple (train_df, test_df); got {type(got).__name__}."
    train, test = got
    for name, part in (("train_df", train), ("test_df", test)):
        if not isinstance(part, pd.DataFrame):
            return f"{name} must be a pandas DataFrame, got {type(part).__name__}."
    exp_train, exp_test = expected
    cols = list(exp_train.columns)
    for name, part in (("train_df", train), ("test_df", test)):
        missing = [c for c in cols if c not in part.columns]
        if missing:
            return f"{name} lacks column(s) {missing}: keep every column of df."
    all_rows = _rows(pd.concat([exp_train, exp_test]), cols)
    if _rows(pd.concat([train[cols], test[cols]]), cols) != all_rows:
        return (f"train_df and test_df together must hold every row of df exactly once "
                f"(df has {len(all_rows)} rows; you returned {len(train)} + {len(test)}).")
    last_train = train.groupby("user_id")["timestamp"].max()
    first_test = test.groupby("user_id")["timestamp"].min()
    common = last_train.index.intersection(first_test.index)
    late = common[(last_train[common] > first_test[common]).to_numpy()]
    if len(late):
        u = late[0]
        return (f"leakage: user {u} has a training event at time {last_train[u]}, after one of their test "
                f"events (time {first_test[u]}); {len(late)} user(s) are affected.")
    n_exp = exp_test.groupby("user_id").size()
    n_got = test.groupby("user_id").size().reindex(n_exp.index.union(test["user_id"].unique()), fill_value=0)
    n_exp = n_exp.reindex(n_got.index, fill_value=0)
    wrong = n_got.index[(n_got != n_exp).to_numpy()]
    if len(wrong):
        u = wrong[0]
        n_u = int((pd.concat([exp_train, exp_test])["user_id"] == u).sum())
        return (f"wrong number of test events: user {u} has {n_u} events, so {int(n_exp[u])} should be in test, "
                f"you put {int(n_got[u])}; {len(wrong)} user(s) are affected.")
    if _rows(test, cols) != _rows(exp_test, cols):
        return ("the right number of test events per user, but not the right events: among events with the "
                "same timestamp, the one with the larger item_id counts as later.")
    return None


def same_split(a: Any, b: Any) -> bool:
    """Whether two ``(train_df, test_df)`` answers hold the same rows (order and index ignored)."""
    try:
        cols = [c for c in a[0].columns if c in b[0].columns]
        return all(_rows(x, cols) == _rows(y, cols) for x, y in zip(a, b)) and len(a) == len(b) == 2
    except Exception:  # noqa: BLE001 - anything malformed is simply not the same
        return False


def _show_split(value: Any) -> str:
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, pd.DataFrame) for v in value):
        train, test = value
        per_user = test.groupby("user_id").size().to_dict() if "user_id" in test.columns else {}
        text = "; ".join(f"{u}: {n}" for u, n in list(per_user.items())[:8])
        more = " ..." if len(per_user) > 8 else ""
        return f"train {len(train)} rows, test {len(test)} rows (test events per user: {text}{more})"
    return repr(value)


def _split_frame(rows: list[tuple[int, int, int]], seed: int = 0) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLS)
    return df.sample(frac=1, random_state=seed).reset_index(drop=True)


def _random_split_frame(n_users: int, n_events: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"user_id": rng.integers(1, n_users + 1, n_events),
                       "item_id": rng.integers(1, 60, n_events),
                       "timestamp": 1_600_000_000 + 3600 * rng.integers(0, 25, n_events),  # many ties
                       "rating": rng.integers(1, 11, n_events) / 2})
    return df


def _split_cases() -> list[Case]:
    hand = [
        ("three users, distinct times", _split_frame(
            [(1, 10, 100), (1, 11, 200), (1, 12, 300), (1, 13, 400),
             (2, 10, 150), (2, 14, 250), (3, 12, 50), (3, 15, 60), (3, 16, 70)], 1), 0.5, ""),
        ("equal timestamps", pd.DataFrame(
            [(7, 40, 500), (7, 30, 500), (7, 20, 500), (7, 10, 500), (8, 6, 1), (8, 5, 1)], columns=COLS), 0.5,
         "Sort each user's events by timestamp AND item_id: among equal timestamps the larger item_id "
         "counts as later, e.g. df.sort_values(['user_id', 'timestamp', 'item_id'])."),
        ("a user with a single event keeps it in train", _split_frame(
            [(1, 1, 10), (2, 1, 10), (2, 2, 20), (2, 3, 30)], 3), 0.5,
         "n_test = min(int(test_frac * n + 0.5), n - 1): every user keeps at least one training event."),
        ("round half up", _split_frame(
            [(1, 1, 1), (1, 2, 2), (2, 1, 1), (2, 2, 2), (2, 3, 3), (2, 4, 4), (2, 5, 5), (2, 6, 6)], 4), 0.25,
         "n_test = int(test_frac * n + 0.5) rounds 0.5 up. Python's round() rounds 0.5 to the nearest even "
         "number (round(0.5) == 0), which is not the rule here."),
    ]
    cases = [Case(name, (df, f), lambda df=df, f=f: reference_temporal_split(df, f), hint)
             for name, df, f, hint in hand]
    for j, (n_users, n_events, f) in enumerate([(30, 300, 0.2), (50, 600, 0.3), (10, 80, 0.5)]):
        df = _random_split_frame(n_users, n_events, SEED + 10 + j)
        cases.append(Case(f"random log {j + 1} ({n_events} events, test_frac={f})", (df, f),
                          lambda df=df, f=f: reference_temporal_split(df, f)))
    return cases


def _wrong_random(df, test_frac):
    test = df.sample(frac=test_frac, random_state=0)
    return df.drop(test.index), test


def _wrong_counts(rounding: Callable[[np.ndarray], np.ndarray], cap: bool = True,
                  by: tuple[str, ...] = ("user_id", "timestamp", "item_id")):
    def split(df, test_frac):
        d = df.sort_values(list(by), kind="stable")
        n = d.groupby("user_id")["item_id"].transform("size").to_numpy()
        pos_from_end = n - 1 - d.groupby("user_id").cumcount().to_numpy()
        n_test = rounding(test_frac * n)
        if cap:
            n_test = np.minimum(n_test, n - 1)
        is_test = pos_from_end < n_test
        return d[~is_test], d[is_test]
    return split


_wrong_no_tie_break = _wrong_counts(lambda x: np.floor(x + 0.5).astype(int), by=("user_id", "timestamp"))


def _wrong_global(df, test_frac):
    cut = df["timestamp"].quantile(1 - test_frac)
    return df[df["timestamp"] < cut], df[df["timestamp"] >= cut]


register(Exercise(
    name="ex01_temporal_split",
    title="A leakage-free per-user temporal split",
    cases=_split_cases,
    compare=compare_split,
    same=same_split,
    show=_show_split,
    hint="For each user: order their events by (timestamp, item_id); the last min(int(test_frac * n + 0.5), n - 1) "
         "events go to test, the rest to train. groupby('user_id').cumcount() on the sorted frame gives each "
         "event's position within its user.",
    mistakes=[  # checked in this order: the most specific first
        Mistake(_wrong_no_tie_break,
                "Ties: among a user's events with the same timestamp, the one with the larger item_id counts as "
                "later. Sort by ['user_id', 'timestamp', 'item_id'], not by the timestamp alone."),
        Mistake(_wrong_counts(lambda x: np.round(x).astype(int)),
                "Rounding: round() sends 0.5 to the nearest even number (round(0.5) == 0). "
                "Use int(test_frac * n + 0.5)."),
        Mistake(_wrong_counts(lambda x: np.floor(x + 1e-9).astype(int)),
                "int(test_frac * n) rounds down. The rule rounds half up: int(test_frac * n + 0.5)."),
        Mistake(_wrong_counts(lambda x: np.floor(x + 0.5).astype(int), cap=False),
                "Every user must keep at least one training event: n_test = min(int(test_frac * n + 0.5), n - 1)."),
        Mistake(_wrong_random, "A random split puts later events in train and earlier ones in test: the model "
                "would learn from the future. Split each user's events by time."),
        Mistake(_wrong_global, "That is a global time cut (one date for everybody). Here each user's own last "
                "events go to test."),
    ],
))
