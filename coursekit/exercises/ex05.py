r"""Checks for the exercises of lesson 05 (real-time interest updates).

``ex05_decayed_profile_update(S, W, t_last, v, t, half_life)``
    One event of the exponentially decayed profile (:class:`coursekit.stream.DecayedProfile`):

    .. math::

        d = 2^{-(t - t_{last})/h}, \qquad S' = d\,S + v, \qquad W' = d\,W + 1, \qquad p = S' / W'

    Returns ``(S_new, W_new, profile)``. A user without events has ``t_last = None``
    (no decay: :math:`d = 1`).

``ex05_fold_in_update(A, b, y, r_old, r_new, alpha, reg)``
    The incremental iALS fold-in of one event (:class:`coursekit.stream.FoldInUpdater`): the
    user's system :math:`A x = b` with :math:`A = Y^\top Y + \lambda I + \sum_i (c_i - 1) y_i y_i^\top`,
    :math:`b = \sum_i c_i y_i`, :math:`c = 1 + \alpha r`; an event raises the item's count from
    ``r_old`` (0: a new item) to ``r_new``:

    .. math::

        A' = A + (c_{new} - c_{old})\, y y^\top, \qquad
        b' = b + (c_{new} - c_{old}[r_{old} > 0])\, y, \qquad x = A'^{-1} b'

    Returns ``(A_new, b_new, x)`` (``reg`` is already inside ``A``; it is passed for reference).

``ex05_causal_mask(L)``
    SASRec's causal attention mask, ``(L, L)`` booleans with ``M[t, s] = s <= t`` (True: query ``t`` may
    attend to key ``s``, the convention of :mod:`coursekit.models.transformer`). The check runs a tiny
    self-attention stack with the mask, replaces the items after each position ``t`` and requires the
    outputs at positions ``<= t`` to stay unchanged (no future item leaks into a prediction).

``ex05_prequential_hits(recommender, events, k)``
    The test-then-train loop: for each ``(user, item, timestamp)`` in order, take
    ``recommender.recommend(user, k)`` (item ids), record whether ``item`` is in it, **then** call
    ``recommender.update(user, item, timestamp)``. Returns the list of hits (bools).

Expected answers come from reference implementations written here, independent of
:mod:`coursekit.stream` (the tests check both against each other).
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from coursekit.exercises.checks import Case, Exercise, Mistake, register
from coursekit.exercises.compare import compare_arrays, same_arrays, show_arrays

SEED = 20240505


# ---------------------------------------------------------------------------- references
def reference_decayed_profile_update(S: np.ndarray, W: float, t_last: float | None, v: np.ndarray, t: float,
                                     half_life: float) -> tuple[np.ndarray, float, np.ndarray]:
    """One decayed-profile event; returns ``(S_new, W_new, profile)``.

    >>> S, W, p = reference_decayed_profile_update(np.array([2.0, 0.0]), 2.0, 0, np.array([0.0, 1.0]), 10, 10)
    >>> S.tolist(), W, p.tolist()     # decay 1/2: S = [1, 0] + [0, 1], W = 1 + 1
    ([1.0, 1.0], 2.0, [0.5, 0.5])
    """
    S = np.asarray(S, dtype=np.float64)
    d = 1.0 if t_last is None else 2.0 ** (-(float(t) - float(t_last)) / float(half_life))
    S_new = d * S + np.asarray(v, dtype=np.float64)
    W_new = d * float(W) + 1.0
    return S_new, W_new, S_new / W_new


def reference_fold_in_update(A: np.ndarray, b: np.ndarray, y: np.ndarray, r_old: float, r_new: float, alpha: float,
                             reg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One incremental iALS fold-in event; returns ``(A_new, b_new, x)``.

    >>> A, b, x = reference_fold_in_update(np.eye(2), np.zeros(2), np.array([1.0, 0.0]), 0, 1, 1.0, 1.0)
    >>> A.tolist(), b.tolist(), x.tolist()     # c: 1 -> 2; A += e0 e0', b += 2 e0
    ([[2.0, 0.0], [0.0, 1.0]], [2.0, 0.0], [1.0, 0.0])
    """
    A = np.array(A, dtype=np.float64)
    b = np.array(b, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    c_old, c_new = 1.0 + alpha * float(r_old), 1.0 + alpha * float(r_new)
    A += (c_new - c_old) * np.outer(y, y)
    b += (c_new - (c_old if r_old > 0 else 0.0)) * y
    return A, b, np.linalg.solve(A, b)


def reference_prequential_hits(recommender: Any, events: list[tuple[int, int, int]], k: int) -> list[bool]:
    """Test-then-train hits of ``recommender`` over ``events`` (recommend, score, then update)."""
    hits = []
    for user, item, timestamp in events:
        ids = list(np.asarray(recommender.recommend(user, k)).ravel())
        hits.append(item in ids)
        recommender.update(user, item, timestamp)
    return hits


# ---------------------------------------------------------------------------- exercise 1: decayed profile
def _profile_cases() -> list[Case]:
    cases = [
        Case("hand: one half-life later", (np.array([2.0, 0.0]), 2.0, 0, np.array([0.0, 1.0]), 10, 10),
             (np.array([1.0, 1.0]), 2.0, np.array([0.5, 0.5]))),
        Case("first event of a user (t_last None: no decay)", (np.zeros(3), 0.0, None, np.array([1.0, 2.0, 3.0]), 5, 7),
             (np.array([1.0, 2.0, 3.0]), 1.0, np.array([1.0, 2.0, 3.0])),
             hint="With t_last None there is nothing to decay: S' = S + v, W' = W + 1."),
        Case("same timestamp: no decay", (np.array([1.0, 1.0]), 2.0, 50, np.array([4.0, 0.0]), 50, 3),
             (np.array([5.0, 1.0]), 3.0, np.array([5.0 / 3, 1.0 / 3]))),
    ]
    rng = np.random.default_rng(SEED)
    for _ in range(3):
        d = int(rng.integers(2, 9))
        args = (rng.normal(size=d), float(rng.uniform(0.5, 5)), int(rng.integers(0, 100)), rng.normal(size=d),
                int(rng.integers(100, 400)), float(rng.uniform(20, 200)))
        cases.append(Case(f"random: {d}-d vectors", args, lambda args=args: reference_decayed_profile_update(*args)))
    return cases


def _profile_exp(S, W, t_last, v, t, half_life):  # e^{-dt/h} instead of 2^{-dt/h}
    d = 1.0 if t_last is None else np.exp(-(t - t_last) / half_life)
    S_new = d * np.asarray(S, float) + v
    return S_new, d * W + 1.0, S_new / (d * W + 1.0)


def _profile_no_weight_decay(S, W, t_last, v, t, half_life):
    d = 1.0 if t_last is None else 2.0 ** (-(t - t_last) / half_life)
    S_new = d * np.asarray(S, float) + v
    return S_new, W + 1.0, S_new / (W + 1.0)


def _profile_decay_new(S, W, t_last, v, t, half_life):  # decays the new vector too
    d = 1.0 if t_last is None else 2.0 ** (-(t - t_last) / half_life)
    S_new = d * (np.asarray(S, float) + v)
    return S_new, d * (W + 1.0), S_new / (d * (W + 1.0))


register(Exercise(
    name="ex05_decayed_profile_update",
    title="One event of an exponentially decayed user profile",
    cases=_profile_cases,
    compare=lambda e, g: compare_arrays(e, g, ("S_new", "W_new", "profile"), rtol=1e-7, atol=1e-9),
    same=same_arrays,
    show=show_arrays,
    hint="d = 2 ** (-(t - t_last) / half_life) (d = 1 when t_last is None); S_new = d * S + v; "
         "W_new = d * W + 1; profile = S_new / W_new.",
    mistakes=[
        Mistake(_profile_exp, "The half-life h means: after h seconds an event counts half, so the factor is "
                              "2 ** (-dt / h), not exp(-dt / h) (that would be a 'mean life')."),
        Mistake(_profile_no_weight_decay, "Decay the weight W too (W_new = d * W + 1); otherwise the profile is "
                                          "not a weighted mean and shrinks towards zero."),
        Mistake(_profile_decay_new, "Only the OLD sums decay; the new event enters with weight 1."),
    ],
))


# ---------------------------------------------------------------------------- exercise 2: fold-in
def _foldin_cases() -> list[Case]:
    cases = [
        Case("hand: a new item, orthonormal y", (np.eye(2), np.zeros(2), np.array([1.0, 0.0]), 0, 1, 1.0, 1.0),
             (np.array([[2.0, 0.0], [0.0, 1.0]]), np.array([2.0, 0.0]), np.array([1.0, 0.0]))),
        Case("hand: a repeat (count 1 -> 2)", (np.array([[2.0, 0.0], [0.0, 1.0]]), np.array([2.0, 0.0]),
                                                 np.array([1.0, 0.0]), 1, 2, 1.0, 1.0),
             (np.array([[3.0, 0.0], [0.0, 1.0]]), np.array([3.0, 0.0]), np.array([1.0, 0.0])),
             hint="For an item already in the history, b gains (c_new - c_old) y, not c_new y."),
    ]
    rng = np.random.default_rng(SEED + 1)
    for f, r_old, r_new, alpha in [(3, 0, 1, 10.0), (5, 2, 3, 4.0), (8, 0, 2, 1.5), (4, 1, 4, 40.0)]:
        Y = rng.normal(0, 0.3, (20, f))
        hist = rng.choice(20, 6, replace=False)
        c = 1.0 + alpha * rng.integers(1, 4, 6)
        A = Y.T @ Y + 0.5 * np.eye(f) + (Y[hist].T * (c - 1)) @ Y[hist]
        b = Y[hist].T @ c
        args = (A, b, Y[int(rng.integers(0, 20))], r_old, r_new, alpha, 0.5)
        cases.append(Case(f"random: f={f}, count {r_old} -> {r_new}, alpha={alpha}", args,
                          lambda args=args: reference_fold_in_update(*args)))
    return cases


def _foldin_b_cnew(A, b, y, r_old, r_new, alpha, reg):
    A = np.array(A, float) + alpha * (r_new - r_old) * np.outer(y, y)
    b = np.array(b, float) + (1.0 + alpha * r_new) * np.asarray(y, float)
    return A, b, np.linalg.solve(A, b)


def _foldin_b_delta(A, b, y, r_old, r_new, alpha, reg):
    A = np.array(A, float) + alpha * (r_new - r_old) * np.outer(y, y)
    b = np.array(b, float) + alpha * (r_new - r_old) * np.asarray(y, float)
    return A, b, np.linalg.solve(A, b)


def _foldin_add_reg(A, b, y, r_old, r_new, alpha, reg):
    A = np.array(A, float) + alpha * (r_new - r_old) * np.outer(y, y) + reg * np.eye(len(y))
    c_old = 1.0 + alpha * r_old
    b = np.array(b, float) + ((1.0 + alpha * r_new) - (c_old if r_old > 0 else 0.0)) * np.asarray(y, float)
    return A, b, np.linalg.solve(A, b)


register(Exercise(
    name="ex05_fold_in_update",
    title="The incremental iALS fold-in of one event",
    cases=_foldin_cases,
    compare=lambda e, g: compare_arrays(e, g, ("A_new", "b_new", "x"), rtol=1e-7, atol=1e-9),
    same=same_arrays,
    show=show_arrays,
    hint="c_old = 1 + alpha * r_old, c_new = 1 + alpha * r_new; A_new = A + (c_new - c_old) * np.outer(y, y); "
         "b_new = b + (c_new - c_old) * y for a repeat, b + c_new * y for a new item (r_old == 0); "
         "x = np.linalg.solve(A_new, b_new). Copy A and b first.",
    mistakes=[
        Mistake(_foldin_b_cnew, "For an item already in the history (r_old > 0), b already holds c_old * y: "
                                "add only the difference (c_new - c_old) * y."),
        Mistake(_foldin_b_delta, "A new item (r_old == 0) had no term in b at all (p = 0 there): it enters "
                                 "with its whole confidence c_new * y, not just c_new - 1."),
        Mistake(_foldin_add_reg, "lambda I is already inside A (it is part of Y'Y + lambda I, cached once); "
                                 "adding it at every event over-regularises."),
    ],
))


# ---------------------------------------------------------------------------- exercise 3: prequential loop
class ToyRecommender:
    """A tiny online recommender for the prequential exercise: global counts, seen items excluded.

    ``recommend(user, k)`` returns the ``k`` most counted items the user has not touched (ties:
    smaller id first); ``update(user, item, timestamp)`` counts the item and marks it seen.
    """

    def __init__(self, n_items: int = 6, start: dict[int, int] | None = None):
        self.counts = np.zeros(n_items)
        for item, c in (start or {}).items():
            self.counts[item] = c
        self.seen: dict[Any, set] = {}

    def recommend(self, user: int, k: int) -> list[int]:
        s = self.counts.copy()
        s[list(self.seen.get(user, ()))] = -np.inf
        order = np.lexsort((np.arange(len(s)), -s))[:k]
        return [int(i) for i in order if np.isfinite(s[i])]

    def update(self, user: int, item: int, timestamp: int) -> None:
        self.counts[item] += 1
        self.seen.setdefault(user, set()).add(item)


def _preq_cases() -> list[Case]:
    hand_events = [(1, 0, 10), (2, 0, 11), (2, 1, 12), (3, 1, 13)]
    cases = []
    rec = ToyRecommender(3)
    # t=10: user 1 gets [0] (all 0, smallest id): hit. t=11: user 2 gets [0]: hit.
    # t=12: user 2 (seen 0) gets [1]: hit. t=13: user 3 gets [0] (count 2 > count 1): miss.
    cases.append(Case("hand: 3 items, k=1", (rec, hand_events, 1), [True, True, True, False],
                      hint="Recommend first, then update: at t=13 item 0 (count 2) beats item 1 (count 1)."))
    rng = np.random.default_rng(SEED + 2)
    for n_items, n_ev, k in [(8, 40, 2), (15, 120, 3), (30, 300, 5)]:
        events = [(int(rng.integers(0, 6)), int(rng.zipf(1.6) % n_items), 100 + e) for e in range(n_ev)]
        rec = ToyRecommender(n_items, {0: 1})
        frozen = copy.deepcopy(rec)
        cases.append(Case(f"random: {n_items} items, {n_ev} events, k={k}", (rec, events, k),
                          lambda frozen=frozen, events=events, k=k: reference_prequential_hits(
                              copy.deepcopy(frozen), events, k)))
    # the checker may call the function more than once: hand each call a fresh copy
    return [Case(c.name, _Fresh(c.args), c.expected, c.hint) for c in cases]


class _Fresh(tuple):
    """Case arguments whose recommender is deep-copied whenever the tuple is unpacked (fresh state)."""

    def __new__(cls, args):
        return super().__new__(cls, args)

    def __iter__(self):
        rec, events, k = tuple.__getitem__(self, slice(None))
        return iter((copy.deepcopy(rec), list(events), k))


def _preq_train_first(recommender, events, k):
    hits = []
    for user, item, timestamp in events:
        recommender.update(user, item, timestamp)
        hits.append(item in list(recommender.recommend(user, k)))
    return hits


def _preq_no_update(recommender, events, k):
    return [item in list(recommender.recommend(user, k)) for user, item, timestamp in events]


def _compare_hits(expected, got) -> str | None:
    if got is None:
        return "your function returned None; return the list of hits."
    try:
        got = [bool(h) for h in got]
    except TypeError:
        return f"return a list of booleans, got {type(got).__name__}."
    if len(got) != len(expected):
        return f"expected one hit value per event ({len(expected)}), got {len(got)}."
    wrong = [j for j, (e, g) in enumerate(zip(expected, got)) if e != g]
    if wrong:
        return f"{len(wrong)} of {len(expected)} hits differ, the first at event {wrong[0]}."
    return None


register(Exercise(
    name="ex05_prequential_hits",
    title="The prequential (test-then-train) loop",
    cases=_preq_cases,
    compare=_compare_hits,
    hint="for user, item, timestamp in events: top = recommender.recommend(user, k); "
         "hits.append(item in list(top)); recommender.update(user, item, timestamp). Return hits.",
    mistakes=[
        Mistake(_preq_train_first, "You updated before recommending: the model has then seen the event it is "
                                   "tested on (a leak). Test first, then train."),
        Mistake(_preq_no_update, "The recommender must learn from every event after it is scored: call "
                                 "recommender.update(user, item, timestamp) in the loop."),
    ],
))


# ---------------------------------------------------------------------------- exercise 4: SASRec's causal mask
def reference_causal_mask(L: int) -> np.ndarray:
    """SASRec's causal attention mask: ``M[t, s]`` is True when position ``t`` may attend to ``s`` (``s <= t``).

    The convention of :func:`coursekit.models.transformer.build_sequence_net` (``allowed``: True = may attend;
    rows are queries, columns keys).

    >>> reference_causal_mask(3).astype(int).tolist()
    [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    """
    L = int(L)
    t = np.arange(L)
    return t[None, :] <= t[:, None]


def attention_outputs(mask: np.ndarray, x: np.ndarray, seed: int = 0, n_layers: int = 2) -> np.ndarray:
    """A tiny self-attention stack (random weights from ``seed``) applied to ``x`` (L, d) under ``mask`` (L, L).

    ``mask[t, s]`` True lets query ``t`` see key ``s``; a masked score is ``-inf`` before the softmax.
    """
    rng = np.random.default_rng(seed)
    L, d = x.shape
    allowed = np.asarray(mask, dtype=bool)
    h = np.array(x, dtype=np.float64)
    for _ in range(n_layers):
        Wq, Wk, Wv = (rng.normal(0, d ** -0.5, (d, d)) for _ in range(3))
        scores = (h @ Wq) @ (h @ Wk).T / np.sqrt(d)
        scores = np.where(allowed, scores, -np.inf)
        scores -= scores.max(axis=1, keepdims=True)
        w = np.exp(scores)
        w /= w.sum(axis=1, keepdims=True)
        h = h + w @ (h @ Wv)
    return h


def future_leak(mask: np.ndarray, seed: int = 0) -> tuple[int, int] | None:
    """The first ``(t, s)`` with ``s > t`` whose change moves the output at ``t``, or ``None`` (no leak).

    For every ``t`` the items after ``t`` are replaced by random ones; the outputs at positions
    ``<= t`` of :func:`attention_outputs` must not move.
    """
    L = len(mask)
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=(L, 8))
    base = attention_outputs(mask, x, seed)
    for t in range(L - 1):
        x2 = x.copy()
        x2[t + 1:] = rng.normal(size=(L - t - 1, 8))
        out = attention_outputs(mask, x2, seed)
        moved = np.flatnonzero(~np.isclose(out[:t + 1], base[:t + 1], rtol=0, atol=1e-12).all(axis=1))
        if len(moved):
            return int(moved[0]), t + 1
    return None


def compare_causal_mask(expected: np.ndarray, got: Any) -> str | None:
    """``None`` when ``got`` is the (L, L) boolean causal mask; else what is wrong (a future leak first)."""
    if hasattr(got, "detach"):                          # a torch tensor
        got = got.detach().cpu().numpy()
    try:
        arr = np.asarray(got)
    except Exception as e:  # noqa: BLE001
        return f"return an (L, L) array of booleans ({type(e).__name__})."
    if arr.shape != expected.shape:
        return f"expected an array of shape {expected.shape}, got shape {arr.shape}."
    if arr.dtype != bool:
        if arr.dtype.kind not in "iuf" or not np.isin(arr, (0, 1)).all():
            return (f"return booleans (True = may attend), got dtype {arr.dtype}"
                    + (" with values other than 0 and 1" if arr.dtype.kind in "iuf" else "") + ".")
        arr = arr.astype(bool)
    if not arr.any(axis=1).all():
        row = int(np.flatnonzero(~arr.any(axis=1))[0])
        return f"position {row} may attend to nothing (an all-False row gives NaN after the softmax)."
    leak = future_leak(arr)
    if leak is not None:
        t, s = leak
        return (f"the future leaks: changing the items from position {s} on changes the output at position {t} "
                f"(mask[{t}, {s}:] must be False).")
    if not np.array_equal(arr, expected):
        t, s = map(int, np.argwhere(arr != expected)[0])
        return (f"no future leaks, but position {t} cannot see position {s} <= {t}: every position sees itself "
                f"and all earlier ones.")
    return None


def _mask_transposed(L):
    return np.triu(np.ones((L, L), dtype=bool))


def _mask_strict(L):
    return np.tril(np.ones((L, L), dtype=bool), k=-1)


def _mask_inverted(L):
    return ~np.tril(np.ones((L, L), dtype=bool))


def _mask_cases() -> list[Case]:
    return [Case("L = 3 (the docstring example)", (3,), reference_causal_mask(3)),
            Case("L = 1", (1,), np.ones((1, 1), dtype=bool), hint="One position sees itself: [[True]].")] + \
        [Case(f"L = {L}: perturb the items after t, the outputs up to t must not move", (L,),
              lambda L=L: reference_causal_mask(L)) for L in (5, 12, 50)]


register(Exercise(
    name="ex05_causal_mask",
    title="SASRec's causal attention mask: no future item leaks into a prediction",
    cases=_mask_cases,
    compare=compare_causal_mask,
    same=lambda a, b: np.array_equal(np.asarray(a), np.asarray(b)),
    show=lambda v: np.array2string(np.asarray(v).astype(int), threshold=50, edgeitems=3)
    if np.ndim(v) == 2 else repr(v),
    hint="mask[t, s] = (s <= t): row t (the query) sees the keys 0..t. np.tril(np.ones((L, L), dtype=bool)) "
         "builds it.",
    mistakes=[
        Mistake(_mask_transposed,
                "Your mask is transposed: np.triu lets position t see the items AFTER it (rows are the queries, "
                "columns the keys). Use np.tril, i.e. mask[t, s] = s <= t."),
        Mistake(_mask_strict,
                "The diagonal is missing: a position must also see its own item (s <= t, not s < t); the first "
                "row would otherwise see nothing."),
        Mistake(_mask_inverted,
                "You returned the positions to BLOCK; this convention (as in coursekit and "
                "torch's scaled_dot_product_attention with a boolean mask) is True = may attend."),
    ],
    points=1,
))
