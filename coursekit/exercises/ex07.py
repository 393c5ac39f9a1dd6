r"""Checks for the exercises of lesson 07 (explainability and trust).

``ex07_itemknn_contributions(history, sim_row, item, k)``
    The exact "because you liked X" shares of an implicit ItemKNN score. ``sim_row`` holds the
    similarities :math:`s_{ij}` of the target item :math:`i` to every item :math:`j` (``sim_row[i]``,
    the item with itself, may be 1 and never counts). The neighbourhood :math:`N_k(i)` is the ``k``
    items :math:`j \ne i` with the largest **positive** :math:`s_{ij}` (ties: lower index first), and

    .. math:: s_{ui} = \sum_{j \in I_u} c_j, \qquad c_j = s_{ij}\,\mathbb{1}[j \in N_k(i)] .

    Returns the array :math:`(c_j)` aligned with ``history`` (what
    :meth:`coursekit.models.ItemKNN.contributions` reports).

``ex07_deletion_curve(score_fn, history, contributions)``
    Remove the history items one after another, most important first (decreasing contribution; ties:
    earlier in ``history`` first), **cumulatively**, and re-score the target after each removal with
    ``score_fn(remaining_history)``. Returns the ``len(history) + 1`` scores, starting with the full
    history's.

``ex07_expected_calibration_error(probs, labels, n_bins)``
    With ``n_bins`` equal-width bins :math:`[b/B, (b+1)/B)` (the last one closed),

    .. math:: \mathrm{ECE} = \sum_b \frac{|B_b|}{n}\,\bigl|\bar y_b - \bar p_b\bigr| .

Expected answers come from reference implementations written here, independent of
:mod:`coursekit.models.neighbors` and :mod:`coursekit.trust` (the tests check them against each other).
"""
from __future__ import annotations

import numpy as np

from coursekit.exercises.checks import Case, Exercise, Mistake, register
from coursekit.exercises.compare import compare_array, compare_number, same_array, show_array

SEED = 20240707


# ---------------------------------------------------------------------------- references
def _neighbours(sim_row, item: int, k: int) -> set[int]:
    """The ``k`` items ``j != item`` with the largest positive similarity (ties: lower index)."""
    cand = [(-float(s), j) for j, s in enumerate(sim_row) if j != item and s > 0]
    return {j for _, j in sorted(cand)[:k]}


def reference_itemknn_contributions(history, sim_row, item, k):
    """Contribution of each history item to the ItemKNN score of ``item`` (aligned with ``history``).

    >>> reference_itemknn_contributions([0, 2, 3], [0.5, 1.0, 0.2, 0.4], 1, k=2).tolist()   # N_2(1) = {0, 3}
    [0.5, 0.0, 0.4]
    """
    nb = _neighbours(sim_row, int(item), int(k))
    return np.array([float(sim_row[j]) if j in nb else 0.0 for j in history], dtype=np.float64)


def reference_deletion_curve(score_fn, history, contributions):
    """Scores of the target after removing 0, 1, ..., n history items, most important first.

    >>> reference_deletion_curve(lambda h: float(sum(h)), [1, 5, 2], [0.1, 0.9, 0.5]).tolist()   # remove 5, 2, 1
    [8.0, 3.0, 1.0, 0.0]
    """
    history = list(history)
    order = sorted(range(len(history)), key=lambda p: (-float(contributions[p]), p))
    removed: set[int] = set()
    scores = [float(score_fn(list(history)))]
    for p in order:
        removed.add(p)
        scores.append(float(score_fn([h for q, h in enumerate(history) if q not in removed])))
    return np.array(scores)


def reference_expected_calibration_error(probs, labels, n_bins):
    """Equal-width ECE, by an explicit loop over the bins.

    >>> round(reference_expected_calibration_error([0.1, 0.2, 0.8], [0, 1, 1], 2), 6)
    0.3
    """
    n = len(probs)
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        members = [j for j, p in enumerate(probs) if lo <= p < hi or (b == n_bins - 1 and p == 1.0)]
        if members:
            conf = sum(probs[j] for j in members) / len(members)
            rate = sum(labels[j] for j in members) / len(members)
            total += len(members) / n * abs(rate - conf)
    return total


# ---------------------------------------------------------------------------- exercise 1: ItemKNN contributions
def _cosine_row(rng: np.random.Generator, n_users: int, n_items: int, item: int) -> np.ndarray:
    X = (rng.random((n_users, n_items)) < 0.3).astype(float)
    X[rng.integers(0, n_users), item] = 1.0
    norms = np.sqrt(X.sum(axis=0))
    norms[norms == 0] = 1.0
    return (X[:, item] @ X) / (norms[item] * norms)       # sim_row[item] = 1 (cosine with itself)


def _contrib_cases() -> list[Case]:
    hand_row = [0.5, 1.0, 0.2, 0.4, 0.0, 0.6]
    cases = [
        Case("hand: N_2(1) = {5, 0}", ([0, 2, 3, 5], hand_row, 1, 2), np.array([0.5, 0.0, 0.0, 0.6]),
             hint="Item 1's 2 nearest neighbours are 5 (0.6) and 0 (0.5): only they contribute."),
        Case("hand: the target is in the history", ([1, 0, 3], hand_row, 1, 3), np.array([0.0, 0.5, 0.4]),
             hint="An item is never its own neighbour: sim_row[item] does not count (contribution 0)."),
        Case("hand: zero similarity is no neighbour", ([4, 2], [0.3, 1.0, 0.2, 0.0, 0.0], 1, 4),
             np.array([0.0, 0.2]), hint="Only positive similarities make neighbours."),
        Case("hand: a tie at the boundary (lower index wins)", ([0, 2, 3], [1.0, 0.2, 0.5, 0.5], 0, 2),
             np.array([0.0, 0.5, 0.5]), hint="With k = 2, items 2 and 3 tie at 0.5 and both fit."),
        Case("hand: a tie that does not fit", ([2, 3], [1.0, 0.7, 0.5, 0.5], 0, 2), np.array([0.5, 0.0]),
             hint="Ties are broken by the lower item index: N_2(0) = {1, 2}, so item 3 is left out."),
    ]
    rng = np.random.default_rng(SEED)
    for n_items, k, with_target in [(12, 3, True), (20, 5, False), (30, 4, True), (40, 10, True)]:
        item = int(rng.integers(0, n_items))
        row = _cosine_row(rng, 15, n_items, item)
        history = [int(h) for h in rng.choice(n_items, size=min(n_items - 1, 8), replace=False)]
        if with_target and item not in history:
            history[int(rng.integers(0, len(history)))] = item
        args = (history, row, item, k)
        cases.append(Case(f"random: {n_items} items, k={k}" + (", target in history" if item in history else ""),
                          args, lambda args=args: reference_itemknn_contributions(*args)))
    return cases


def _contrib_with_self(history, sim_row, item, k):      # the item counts as its own neighbour
    cand = sorted((-float(s), j) for j, s in enumerate(sim_row) if s > 0)
    nb = {j for _, j in cand[:k]}
    return np.array([float(sim_row[j]) if j in nb else 0.0 for j in history])


def _contrib_history_topk(history, sim_row, item, k):   # the k most similar *history* items
    cand = sorted((-float(sim_row[j]), j) for j in history if j != item and sim_row[j] > 0)
    nb = {j for _, j in cand[:k]}
    return np.array([float(sim_row[j]) if j in nb else 0.0 for j in history])


def _contrib_no_pruning(history, sim_row, item, k):     # every similar history item, no top-k
    return np.array([float(sim_row[j]) if j != item and sim_row[j] > 0 else 0.0 for j in history])


register(Exercise(
    name="ex07_itemknn_contributions",
    title="Exact ItemKNN contributions ('because you liked X')",
    cases=_contrib_cases,
    compare=lambda e, g: compare_array(e, g, rtol=1e-7, atol=1e-9, what="a numpy array"),
    same=same_array,
    show=show_array,
    hint="neighbours = the k items j != item with the largest sim_row[j] > 0 (sort by (-sim, j)); "
         "contribution of history item j = sim_row[j] if j is a neighbour else 0; "
         "return an array aligned with history.",
    mistakes=[
        Mistake(_contrib_with_self, "An item is not its own neighbour: leave out j == item (sim_row[item] is the "
                                    "item's similarity with itself) before taking the k largest."),
        Mistake(_contrib_history_topk, "N_k(i) is the k nearest neighbours of the item among ALL items (what "
                                       "ItemKNN stores), not the k most similar items of this user's history."),
        Mistake(_contrib_no_pruning, "Keep only the item's k nearest neighbours: a history item outside N_k(i) "
                                     "contributes 0, however similar."),
    ],
))


# ---------------------------------------------------------------------------- exercise 2: deletion curve
class AdditiveScore:
    """``score(history) = sum of weights[j]`` over the history (an ItemKNN-like additive score)."""

    def __init__(self, weights: dict[int, float]):
        self.weights = dict(weights)

    def __call__(self, history) -> float:
        return float(sum(self.weights.get(int(j), 0.0) for j in history))

    def __repr__(self) -> str:
        return f"AdditiveScore({self.weights})"


class SaturatingScore:
    """``score(history) = tanh(sum of weights) + bonus`` when two given items are both present (not additive)."""

    def __init__(self, weights: dict[int, float], pair: tuple[int, int], bonus: float):
        self.weights, self.pair, self.bonus = dict(weights), tuple(pair), float(bonus)

    def __call__(self, history) -> float:
        h = [int(j) for j in history]
        s = float(np.tanh(sum(self.weights.get(j, 0.0) for j in h)))
        return s + (self.bonus if self.pair[0] in h and self.pair[1] in h else 0.0)

    def __repr__(self) -> str:
        return f"SaturatingScore({self.weights}, pair={self.pair}, bonus={self.bonus})"


def _deletion_cases() -> list[Case]:
    f = AdditiveScore({10: 0.5, 11: 0.1, 12: 0.3})
    cases = [
        Case("hand: additive score, 3 items", (f, [10, 11, 12], [0.5, 0.1, 0.3]), np.array([0.9, 0.4, 0.1, 0.0]),
             hint="Start with the full history (0.9), remove 10 (0.5), then 12 (0.3), then 11."),
        Case("hand: a tie (earlier position first)", (AdditiveScore({1: 2.0, 2: 1.0, 3: 2.0}), [3, 2, 1],
                                                      [2.0, 1.0, 2.0]), np.array([5.0, 3.0, 1.0, 0.0]),
             hint="Items 3 and 1 tie: 3 comes first in history, so it goes first."),
        Case("hand: a negative contribution goes last", (AdditiveScore({1: 0.4, 2: -0.6, 3: 0.2}), [1, 2, 3],
                                                        [0.4, -0.6, 0.2]), np.array([0.0, -0.4, -0.6, 0.0]),
             hint="Order by the signed contribution: 0.4, 0.2, then -0.6 (most harmful last)."),
        Case("hand: empty history", (AdditiveScore({}), [], []), np.array([0.0]),
             hint="With nothing to delete the curve is the one starting point."),
    ]
    rng = np.random.default_rng(SEED + 1)
    for n in (5, 8, 12):
        items = [int(j) for j in rng.choice(100, n, replace=False)]
        w = {j: float(v) for j, v in zip(items, rng.normal(0.3, 0.5, n))}
        fn = SaturatingScore(w, (items[0], items[1]), float(rng.uniform(0.2, 1.0)))
        contrib = [round(float(w[j] + rng.normal(0, 0.1)), 3) for j in items]
        args = (fn, items, contrib)
        cases.append(Case(f"random: {n} items, non-additive score", args,
                          lambda args=args: reference_deletion_curve(*args)))
    return cases


def _deletion_ascending(score_fn, history, contributions):
    history = list(history)
    order = sorted(range(len(history)), key=lambda p: (float(contributions[p]), p))
    return _cumulative(score_fn, history, order)


def _deletion_abs(score_fn, history, contributions):
    history = list(history)
    order = sorted(range(len(history)), key=lambda p: (-abs(float(contributions[p])), p))
    return _cumulative(score_fn, history, order)


def _cumulative(score_fn, history, order):
    removed: set[int] = set()
    scores = [float(score_fn(list(history)))]
    for p in order:
        removed.add(p)
        scores.append(float(score_fn([h for q, h in enumerate(history) if q not in removed])))
    return np.array(scores)


def _deletion_one_at_a_time(score_fn, history, contributions):   # each item removed alone, then put back
    history = list(history)
    order = sorted(range(len(history)), key=lambda p: (-float(contributions[p]), p))
    return np.array([float(score_fn(history))] +
                    [float(score_fn([h for q, h in enumerate(history) if q != p])) for p in order])


def _deletion_no_start(score_fn, history, contributions):
    return reference_deletion_curve(score_fn, history, contributions)[1:]


register(Exercise(
    name="ex07_deletion_curve",
    title="A deletion curve (faithfulness of an explanation)",
    cases=_deletion_cases,
    compare=lambda e, g: compare_array(e, g, rtol=1e-7, atol=1e-9, what="a numpy array"),
    same=same_array,
    show=show_array,
    hint="order = positions sorted by (-contribution, position); scores = [score_fn(history)]; then remove the "
         "items in that order one after another (cumulatively) and append score_fn(remaining) after each removal.",
    mistakes=[
        Mistake(_deletion_ascending, "Remove the MOST important item first (decreasing contribution): a faithful "
                                     "explanation makes the score fall fast at the start."),
        Mistake(_deletion_abs, "Order by the signed contribution, not its absolute value: an item that lowers the "
                               "score (negative contribution) is removed last."),
        Mistake(_deletion_one_at_a_time, "Removals accumulate: after step m the first m items are all gone "
                                         "(do not put an item back before removing the next)."),
        Mistake(_deletion_no_start, "The curve starts with the score of the full history (nothing removed yet): "
                                    "len(history) + 1 values."),
    ],
))


# ---------------------------------------------------------------------------- exercise 3: ECE
def _ece_cases() -> list[Case]:
    cases = [
        Case("hand: 3 pairs, 2 bins", ([0.1, 0.2, 0.8], [0, 1, 1], 2), 0.3,
             hint="Bin [0, .5): confidence .15, hit rate .5; bin [.5, 1]: .8 vs 1. Weight by 2/3 and 1/3."),
        Case("hand: perfectly calibrated", ([0.25, 0.25, 0.25, 0.25], [1, 0, 0, 0], 4), 0.0),
        Case("hand: p = 1 belongs to the last bin", ([1.0, 0.95, 0.1], [0, 1, 0], 10), 0.475 * 2 / 3 + 0.1 / 3,
             hint="The last bin is [0.9, 1.0], closed: p = 1.0 and 0.95 share it (confidence .975, hit rate .5)."),
        Case("hand: bins of unequal size", ([0.1, 0.1, 0.1, 0.1, 0.9], [0, 0, 0, 0, 0], 2), (4 * 0.1 + 0.9) / 5,
             hint="Weight each bin's gap by its share of the pairs: 4/5 * 0.1 + 1/5 * 0.9."),
        Case("hand: over- and under-confident bins do not cancel", ([0.2, 0.2, 0.8, 0.8], [1, 1, 0, 0], 2), 0.8,
             hint="Take the absolute gap per bin: |1 - .2| and |0 - .8|."),
    ]
    rng = np.random.default_rng(SEED + 2)
    for n, bins in [(50, 5), (200, 10), (1000, 15)]:
        p = np.round(rng.beta(0.6, 2.5, n), 3).tolist()
        y = (rng.random(n) < np.sqrt(p)).astype(int).tolist()
        args = (p, y, bins)
        cases.append(Case(f"random: {n} pairs, {bins} bins", args,
                          lambda args=args: reference_expected_calibration_error(*args)))
    return cases


def _bin_stats(probs, labels, n_bins):
    p, y = np.asarray(probs, float), np.asarray(labels, float)
    b = np.minimum((p * n_bins).astype(int), n_bins - 1)
    out = []
    for j in range(n_bins):
        m = b == j
        if m.any():
            out.append((m.sum(), y[m].mean(), p[m].mean()))
    return out, len(p)


def _ece_unweighted(probs, labels, n_bins):
    stats, _ = _bin_stats(probs, labels, n_bins)
    return float(np.mean([abs(r - c) for _, r, c in stats]))


def _ece_signed(probs, labels, n_bins):
    stats, n = _bin_stats(probs, labels, n_bins)
    return float(abs(sum(m / n * (r - c) for m, r, c in stats)))


def _ece_open_last_bin(probs, labels, n_bins):     # p = 1.0 falls outside every bin
    p, y = np.asarray(probs, float), np.asarray(labels, float)
    b = (p * n_bins).astype(int)
    total = 0.0
    for j in range(n_bins):
        m = b == j
        if m.any():
            total += m.sum() / len(p) * abs(y[m].mean() - p[m].mean())
    return float(total)


register(Exercise(
    name="ex07_expected_calibration_error",
    title="Expected calibration error (equal-width bins)",
    cases=_ece_cases,
    compare=compare_number,
    hint="bin = min(int(p * n_bins), n_bins - 1); for every non-empty bin add (count / n) * |mean label - mean p|.",
    mistakes=[
        Mistake(_ece_unweighted, "Weight each bin by its share of the pairs (|B_b| / n): an unweighted mean over "
                                 "bins lets a bin of one pair count as much as a bin of thousands."),
        Mistake(_ece_signed, "Take the absolute gap in every bin before summing: over-confident and "
                             "under-confident bins must not cancel."),
        Mistake(_ece_open_last_bin, "p = 1.0 belongs to the last bin ([1 - 1/B, 1], closed): use "
                                    "min(int(p * n_bins), n_bins - 1)."),
    ],
))
