r"""Checks for the exercises of lesson 09 (language models as generative recommenders).

``ex09_allowed_next_tokens(codes, prefix)``
    The items' semantic IDs ``codes`` (a list of equally long token lists) form a prefix trie. Return the
    sorted distinct tokens :math:`c_{i,t}` of the items :math:`i` whose first :math:`t = |\text{prefix}|`
    tokens equal ``prefix``: the tokens a constrained decoder may write next (empty when no item starts
    with ``prefix`` or when ``prefix`` is already a whole ID).

``ex09_constrained_step(log_probs, allowed, beam_scores, beam_size)``
    One step of constrained beam search. Beam :math:`r` (a row) has score :math:`s_r` and the model's
    next-token log-probabilities :math:`\log p_r(v)`; among the **allowed** pairs :math:`(r, v)` keep the
    ``beam_size`` best by :math:`s_r + \log p_r(v)` (ties: lower row, then lower token), best first. Return
    ``(rows, tokens, scores)``; fewer than ``beam_size`` when fewer pairs are allowed.

``ex09_hallucination_rate(asserted, true_attributes)``
    Explanation :math:`e` asserts the attributes :math:`A_e` about an item whose true attributes are
    :math:`T_e`; pooled over explanations

    .. math:: h = \frac{\sum_e |A_e \setminus T_e|}{\sum_e |A_e|}, \qquad h = 0 \text{ when nothing is asserted}.

Expected answers come from reference implementations written here, independent of
:mod:`coursekit.generative` (the tests check them against each other).
"""
from __future__ import annotations

import math

import numpy as np

from coursekit.exercises.checks import Case, Exercise, Mistake, register
from coursekit.exercises.compare import (
    compare_array,
    compare_arrays,
    compare_number,
    same_array,
    same_arrays,
    show_array,
    show_arrays,
)

SEED = 20240909
STEP_NAMES = ("rows", "tokens", "scores")


# ---------------------------------------------------------------------------- references
def reference_allowed_next_tokens(codes, prefix):
    """Sorted next tokens after ``prefix``, by a loop over the items.

    >>> reference_allowed_next_tokens([[0, 2, 0], [0, 3, 0], [1, 2, 0]], [0]).tolist()
    [2, 3]
    """
    t = len(prefix)
    found = {int(row[t]) for row in codes if len(row) > t and [int(x) for x in row[:t]] == [int(x) for x in prefix]}
    return np.array(sorted(found), dtype=np.int64)


def reference_constrained_step(log_probs, allowed, beam_scores, beam_size):
    """The ``beam_size`` best allowed (row, token) pairs, by sorting a list of tuples.

    >>> rows, tokens, scores = reference_constrained_step([[-1.0, -0.5], [-0.1, -3.0]], [[True, True], [False, True]],
    ...                                                   [0.0, -1.0], 2)
    >>> rows.tolist(), tokens.tolist(), scores.tolist()
    ([0, 0], [1, 0], [-0.5, -1.0])
    """
    pairs = []
    for r, (row, ok) in enumerate(zip(log_probs, allowed)):
        for v, (lp, a) in enumerate(zip(row, ok)):
            if a:
                pairs.append((-(float(beam_scores[r]) + float(lp)), r, v))
    best = sorted(pairs)[:beam_size]
    return (np.array([r for _, r, _ in best], dtype=np.int64), np.array([v for _, _, v in best], dtype=np.int64),
            np.array([-s for s, _, _ in best], dtype=np.float64))


def reference_hallucination_rate(asserted, true_attributes):
    """Pooled share of asserted attributes that are not true of the item (0.0 when nothing is asserted).

    >>> reference_hallucination_rate([{"a", "b"}, set(), {"c"}], [{"a"}, {"x"}, {"c", "d"}])   # 1 of 3 assertions
    0.3333333333333333
    """
    wrong = total = 0
    for said, true in zip(asserted, true_attributes):
        for attribute in said:
            total += 1
            wrong += attribute not in true
    return wrong / total if total else 0.0


# ---------------------------------------------------------------------------- exercise 1: the trie's next tokens
def _random_codes(rng: np.random.Generator, n: int, sizes: tuple[int, ...]) -> list[list[int]]:
    codes = np.column_stack([rng.integers(0, k, n) for k in sizes])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])       # global tokens, as in the lesson
    return (np.unique(codes, axis=0) + offsets)[rng.permutation(len(np.unique(codes, axis=0)))].tolist()


def _allowed_cases() -> list[Case]:
    hand = [[0, 4, 8], [0, 5, 8], [1, 4, 8], [0, 4, 9], [2, 6, 8]]
    cases = [
        Case("hand: after [0]", (hand, [0]), np.array([4, 5]),
             hint="Items starting with 0: [0,4,8], [0,5,8], [0,4,9]; their tokens at position 1 are 4, 5, 4."),
        Case("hand: the empty prefix", (hand, []), np.array([0, 1, 2]),
             hint="Every item starts with the empty prefix: return the distinct first tokens."),
        Case("hand: after [0, 4]", (hand, [0, 4]), np.array([8, 9])),
        Case("hand: a prefix no item has", (hand, [1, 5]), np.array([], dtype=np.int64),
             hint="No item starts with [1, 5]: nothing may follow (return an empty list)."),
        Case("hand: a whole ID has no next token", (hand, [0, 4, 8]), np.array([], dtype=np.int64),
             hint="[0, 4, 8] is already a complete ID: there is no position left."),
        Case("hand: the first token alone does not decide", ([[3, 7], [4, 6], [3, 5]], [4]), np.array([6]),
             hint="Match the whole prefix: only [4, 6] starts with [4]."),
        Case("hand: unsorted input", ([[1, 9, 2], [1, 7, 3], [1, 8, 3], [1, 7, 2]], [1]), np.array([7, 8, 9]),
             hint="Return the tokens sorted (ascending) and each once."),
    ]
    rng = np.random.default_rng(SEED)
    for n, sizes in [(30, (3, 4, 3)), (200, (8, 8, 4)), (1000, (16, 16, 8))]:
        codes = _random_codes(rng, n, sizes)
        for t in (1, 2):
            prefix = [int(x) for x in codes[int(rng.integers(len(codes)))][:t]]
            args = (codes, prefix)
            cases.append(Case(f"random: {len(codes)} items, prefix of length {t}", args,
                              lambda args=args: reference_allowed_next_tokens(*args)))
    return cases


def _matching(codes, prefix):
    return [row for row in codes if len(row) > len(prefix) and list(row[:len(prefix)]) == list(prefix)]


def _allowed_unsorted(codes, prefix):
    return list(dict.fromkeys(row[len(prefix)] for row in _matching(codes, prefix)))


def _allowed_duplicates(codes, prefix):
    return sorted(row[len(prefix)] for row in _matching(codes, prefix))


def _allowed_ignores_prefix(codes, prefix):
    return sorted({row[len(prefix)] for row in codes if len(row) > len(prefix)})


def _allowed_first_token_only(codes, prefix):
    t = len(prefix)
    return sorted({row[t] for row in codes if len(row) > t and (t == 0 or row[0] == prefix[0])})


register(Exercise(
    name="ex09_allowed_next_tokens",
    title="The next tokens a prefix trie allows",
    cases=_allowed_cases,
    compare=lambda e, g: compare_array(e, g, rtol=0, atol=0, what="a sorted list of tokens"),
    same=same_array,
    show=show_array,
    hint="t = len(prefix); keep the rows with list(row[:t]) == list(prefix) and len(row) > t; "
         "return sorted(set(row[t] for those rows)).",
    mistakes=[
        Mistake(_allowed_unsorted, "Sort the tokens (ascending): the check compares the sorted list."),
        Mistake(_allowed_duplicates, "Return each allowed token once (a set, then sorted): several items may share "
                                     "the next token."),
        Mistake(_allowed_ignores_prefix, "Only items whose first len(prefix) tokens equal the prefix count: the "
                                         "other items are not reachable from this prefix."),
        Mistake(_allowed_first_token_only, "Compare the WHOLE prefix (row[:len(prefix)] == prefix), not only its "
                                           "first token."),
    ],
))


# ---------------------------------------------------------------------------- exercise 2: a constrained beam step
def _step_cases() -> list[Case]:
    lp = [[-0.2, -1.8, -3.0], [-1.2, -0.5, -2.0]]
    cases = [
        Case("hand: 2 beams, 3 tokens, everything allowed", (lp, [[True] * 3] * 2, [-1.0, -0.4], 3),
             (np.array([1, 0, 1]), np.array([1, 0, 0]), np.array([-0.9, -1.2, -1.6])),
             hint="Totals: row 0: -1.2, -2.8, -4.0; row 1: -1.6, -0.9, -2.4. The best 3 overall."),
        Case("hand: the mask removes the best pair", (lp, [[True, True, True], [True, False, True]], [-1.0, -0.4], 2),
             (np.array([0, 1]), np.array([0, 0]), np.array([-1.2, -1.6])),
             hint="(row 1, token 1) is not allowed, however likely the model finds it."),
        Case("hand: a strong beam keeps several children", (lp, [[True] * 3] * 2, [0.0, -5.0], 3),
             (np.array([0, 0, 0]), np.array([0, 1, 2]), np.array([-0.2, -1.8, -3.0])),
             hint="The beam keeps the best PAIRS overall: all 3 may extend the same row."),
        Case("hand: fewer allowed pairs than the beam", (lp, [[False, True, False], [False, False, True]],
                                                         [-1.0, -0.4], 4),
             (np.array([1, 0]), np.array([2, 1]), np.array([-2.4, -2.8])),
             hint="Only 2 pairs are allowed: return those 2, best first."),
        Case("hand: ties (lower row, then lower token)", ([[-1.0, -1.0], [-1.0, -2.0]], [[True, True], [True, True]],
                                                          [0.0, 0.0], 2),
             (np.array([0, 0]), np.array([0, 1]), np.array([-1.0, -1.0])),
             hint="Three pairs tie at -1.0: (0, 0), (0, 1), (1, 0); keep the first two in (row, token) order."),
    ]
    rng = np.random.default_rng(SEED + 1)
    for B, V, beam in [(3, 5, 4), (8, 12, 8), (20, 40, 20), (50, 100, 30)]:
        z = rng.normal(0, 2, (B, V))
        logp = np.round(z - np.log(np.exp(z).sum(1, keepdims=True)), 6)
        allowed = rng.random((B, V)) < 0.3
        scores = np.round(np.sort(rng.normal(-3, 1, B))[::-1], 6)
        args = (logp, allowed, scores, beam)
        cases.append(Case(f"random: {B} beams, {V} tokens, beam {beam}", args,
                          lambda args=args: reference_constrained_step(*args)))
    return cases


def _flat_pick(total, allowed, beam_size, order="stable"):
    total = np.where(np.asarray(allowed, bool), np.asarray(total, float), -np.inf)
    V = total.shape[1]
    flat = total.ravel()
    idx = np.argsort(-flat, kind="stable") if order == "stable" else np.argsort(flat)[::-1]
    idx = idx[np.isfinite(flat[idx])][:beam_size]
    return idx // V, idx % V, flat[idx]


def _step_no_beam_scores(log_probs, allowed, beam_scores, beam_size):
    return _flat_pick(np.asarray(log_probs, float), allowed, beam_size)


def _step_no_mask(log_probs, allowed, beam_scores, beam_size):
    lp = np.asarray(log_probs, float)
    return _flat_pick(lp + np.asarray(beam_scores, float)[:, None], np.ones(lp.shape, bool), beam_size)


def _step_renormalised(log_probs, allowed, beam_scores, beam_size):
    lp, ok = np.asarray(log_probs, float), np.asarray(allowed, bool)
    with np.errstate(divide="ignore"):
        norm = np.log(np.where(ok, np.exp(lp), 0.0).sum(1, keepdims=True))
    return _flat_pick(lp - norm + np.asarray(beam_scores, float)[:, None], ok, beam_size)


def _step_one_per_row(log_probs, allowed, beam_scores, beam_size):
    total = np.where(np.asarray(allowed, bool), np.asarray(log_probs, float) + np.asarray(beam_scores, float)[:, None],
                     -np.inf)
    best = total.argmax(1)
    s = total[np.arange(len(total)), best]
    order = [r for r in np.argsort(-s, kind="stable") if np.isfinite(s[r])][:beam_size]
    return np.array(order, dtype=np.int64), best[order], s[order]


def _step_ties_reversed(log_probs, allowed, beam_scores, beam_size):
    total = np.asarray(log_probs, float) + np.asarray(beam_scores, float)[:, None]
    return _flat_pick(total, allowed, beam_size, order="reversed")


register(Exercise(
    name="ex09_constrained_step",
    title="One step of constrained beam search",
    cases=_step_cases,
    compare=lambda e, g: compare_arrays(e, g, STEP_NAMES, rtol=1e-9, atol=1e-9),
    same=same_arrays,
    show=lambda v: show_arrays(v, STEP_NAMES),
    hint="total = beam_scores[:, None] + log_probs; set total to -inf where not allowed; order the flat indices "
         "by np.argsort(-total.ravel(), kind='stable'), keep the first beam_size finite ones; "
         "rows = idx // V, tokens = idx % V.",
    mistakes=[
        Mistake(_step_no_beam_scores, "Add the beam's score so far (beam_scores[r]) to each log-probability: a beam "
                                      "ranks whole prefixes, not only the next token."),
        Mistake(_step_no_mask, "Only allowed pairs may be kept: a token the trie forbids leads to no item."),
        Mistake(_step_renormalised, "Do not renormalise over the allowed tokens: the score is the model's own "
                                    "log-probability of the prefix (forbidden tokens simply get -inf)."),
        Mistake(_step_one_per_row, "Keep the beam_size best (row, token) PAIRS overall: a strong row may keep several "
                                   "children and a weak row none (not one best token per row)."),
        Mistake(_step_ties_reversed, "Break ties by the lower row, then the lower token: sort by -score with a "
                                     "stable sort (np.argsort(-x, kind='stable')), not argsort(x)[::-1]."),
    ],
))


# ---------------------------------------------------------------------------- exercise 3: hallucination rate
def _rate_cases() -> list[Case]:
    cases = [
        Case("hand: one of four assertions is wrong",
             ([{"word=soft", "category=home"}, {"brand=Lumen", "price=mid"}],
              [{"word=soft", "category=kitchen"}, {"brand=Lumen", "price=mid"}]), 0.25,
             hint="Assertions: soft (true), home (false), Lumen (true), mid (true): 1 wrong out of 4."),
        Case("hand: explanations asserting nothing add nothing", ([set(), {"x"}, set()], [{"a"}, {"y"}, {"b", "c"}]),
             1.0, hint="The only assertion, x, is wrong: 1 / 1. Empty explanations change neither sum."),
        Case("hand: pooled, not averaged per explanation", ([{"a"}, {"b", "c", "d"}], [set(), {"b", "c", "d"}]),
             0.25, hint="Pool the counts: 1 wrong out of 4 assertions (not the mean of 1.0 and 0.0)."),
        Case("hand: nothing asserted at all", ([set(), set()], [{"a"}, {"b"}]), 0.0,
             hint="With 0 assertions there is nothing hallucinated: return 0.0 (not NaN, not an error)."),
        Case("hand: true attributes never said do not count", ([{"a"}], [{"a", "b", "c", "d"}]), 0.0,
             hint="Only what is asserted can be a hallucination; leaving out b, c, d is not one."),
        Case("hand: no explanations", ([], []), 0.0),
    ]
    rng = np.random.default_rng(SEED + 2)
    pool = [f"word=w{j}" for j in range(30)] + [f"category=c{j}" for j in range(6)]
    for n in (10, 100, 1000):
        true = [set(rng.choice(pool, 5, replace=False).tolist()) for _ in range(n)]
        said = []
        for t in true:
            k = int(rng.integers(0, 4))
            right = rng.choice(sorted(t), min(k, len(t)), replace=False).tolist()
            wrong = rng.choice(pool, int(rng.integers(0, 3)), replace=False).tolist()
            said.append(set(right[:k]) | set(wrong[:max(0, 3 - k)]))
        args = (said, true)
        cases.append(Case(f"random: {n} explanations", args, lambda args=args: reference_hallucination_rate(*args)))
    return cases


def _per_explanation(asserted, true_attributes):
    return [(len(a - t), len(a)) for a, t in zip(asserted, true_attributes)]


def _rate_mean_of_rates(asserted, true_attributes):
    rates = [w / n for w, n in _per_explanation(asserted, true_attributes) if n]
    return float(np.mean(rates)) if rates else 0.0


def _rate_empty_counts_zero(asserted, true_attributes):
    rates = [w / n if n else 0.0 for w, n in _per_explanation(asserted, true_attributes)]
    return float(np.mean(rates)) if rates else 0.0


def _rate_supported(asserted, true_attributes):
    pairs = _per_explanation(asserted, true_attributes)
    total = sum(n for _, n in pairs)
    return 1.0 - sum(w for w, _ in pairs) / total if total else 0.0


def _rate_over_true(asserted, true_attributes):
    wrong = sum(w for w, _ in _per_explanation(asserted, true_attributes))
    total = sum(len(t) for t in true_attributes)
    return wrong / total if total else 0.0


def _rate_nan(asserted, true_attributes):
    pairs = _per_explanation(asserted, true_attributes)
    total = sum(n for _, n in pairs)
    return sum(w for w, _ in pairs) / total if total else math.nan


register(Exercise(
    name="ex09_hallucination_rate",
    title="The hallucination rate of generated explanations",
    cases=_rate_cases,
    compare=compare_number,
    hint="wrong = sum(len(a - t) for a, t in zip(asserted, true_attributes)); total = sum(len(a) for a in asserted); "
         "return wrong / total if total else 0.0.",
    mistakes=[
        Mistake(_rate_mean_of_rates, "Pool the counts over explanations (sum of wrong / sum of asserted): a mean of "
                                     "per-explanation rates lets an explanation with one claim weigh as much as "
                                     "one with ten."),
        Mistake(_rate_empty_counts_zero, "An explanation that asserts nothing adds nothing to either sum; do not "
                                         "count it as a rate of 0."),
        Mistake(_rate_supported, "That is the share of assertions that are TRUE; the hallucination rate is the share "
                                 "that is not."),
        Mistake(_rate_over_true, "Divide by the number of ASSERTED attributes, not by the number of true ones."),
        Mistake(_rate_nan, "With nothing asserted, return 0.0 (no assertion can be wrong), not NaN."),
    ],
))
