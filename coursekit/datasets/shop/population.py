r"""Customers and their events: signup, activity, sparse tastes with drift, and who chose what when.

Every event picks an item with the softmax choice rule over the items released by its time
(:func:`choose_items`, vectorised inverse-CDF draws with rejection of unreleased items), see
:mod:`coursekit.datasets.shop` for the model.

>>> tastes = _make_tastes(np.random.default_rng(0), 3)
>>> tastes.shape, bool((tastes[:, :N_CATEGORIES] > 0).any(axis=1).all())
((3, 71), True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from coursekit.datasets.shop.params import DAY, EPOCH, ShopParams
from coursekit.datasets.shop.vocabulary import (
    BAND_OFFSET,
    BRAND_OFFSET,
    N_ATTRIBUTES,
    N_BRANDS,
    N_CATEGORIES,
    N_PRICE_BANDS,
    N_WORDS,
    WORD_OFFSET,
)

__all__ = ["make_users", "event_users_and_times", "choose_items", "affinity_of_events"]

def _make_tastes(rng: np.random.Generator, n: int, avoid_categories: np.ndarray | None = None) -> np.ndarray:
    """Sparse taste vectors (n, F): 1-2 liked categories, 2 liked + 1 disliked brands,
    1 liked + 1 disliked price band, 4 liked + 2 disliked words; rounded to 0.01.

    ``avoid_categories`` (n, 8) bool: categories that must not be liked (used for drift).
    """
    theta = np.zeros((n, N_ATTRIBUTES))
    rows = np.arange(n)[:, None]

    def block(offset: int, size: int, n_like: int, n_dislike: int, like: tuple, dislike: tuple,
              avoid: np.ndarray | None = None) -> None:
        keys = rng.random((n, size))
        if avoid is not None:
            keys = keys + 2.0 * avoid  # avoided entries sort last
        pick = np.argsort(keys, axis=1)[:, : n_like + n_dislike]
        theta[rows, offset + pick[:, :n_like]] = rng.uniform(*like, size=(n, n_like))
        if n_dislike:
            theta[rows, offset + pick[:, n_like:]] = -rng.uniform(*dislike, size=(n, n_dislike))

    block(0, N_CATEGORIES, 2, 0, (1.5, 2.5), (0, 0), avoid_categories)
    single = rng.random(n) < 0.5  # half of the users like one category only
    second = np.argsort(-theta[:, :N_CATEGORIES], axis=1)[:, 1]
    theta[single, second[single]] = 0.0
    block(BRAND_OFFSET, N_BRANDS, 2, 1, (0.5, 1.5), (0.5, 1.5))
    block(BAND_OFFSET, N_PRICE_BANDS, 1, 1, (0.5, 1.0), (0.5, 1.0))
    block(WORD_OFFSET, N_WORDS, 4, 2, (0.3, 1.0), (0.3, 1.0))
    return np.round(theta, 2)


def make_users(rng: np.random.Generator, n_users: int, days: int, drift_frac: float,
                params: ShopParams) -> dict[str, Any]:
    horizon = days * DAY
    signup = np.where(rng.random(n_users) < 0.75, 0,
                      rng.integers(0, int(0.75 * horizon), size=n_users)).astype(np.int64)
    activity = np.round(rng.lognormal(0.0, params.activity_sigma, size=n_users), 4)
    tastes = _make_tastes(rng, n_users)
    drift_users = np.sort(rng.permutation(n_users)[: int(round(drift_frac * n_users))])
    window = horizon - signup[drift_users]
    drift_time = signup[drift_users] + (rng.uniform(0.35, 0.65, size=drift_users.size) * window).astype(np.int64)
    new_tastes = _make_tastes(rng, drift_users.size, avoid_categories=tastes[drift_users, :N_CATEGORIES] > 0)
    rating_bias = np.round(rng.normal(0.0, params.user_bias_sd, size=n_users), 4)
    return dict(signup=EPOCH + signup, activity=activity, tastes=tastes, drift_users=drift_users,
                drift_time=EPOCH + drift_time, new_tastes=new_tastes, rating_bias=rating_bias)


def event_users_and_times(rng: np.random.Generator, n_events: int, users: dict[str, Any],
                           days: int) -> tuple[np.ndarray, np.ndarray]:
    """User index and time of every event, sorted by user then time.

    Each user gets ``min(3, n_events // n_users)`` events, the rest is split by a multinomial
    with weights ``activity * active window`` (activity log-normal with ``activity_sigma``);
    times are uniform over the user's window.
    """
    n_users = users["activity"].size
    end = EPOCH + days * DAY
    window = (end - users["signup"]).astype(float)
    base = min(3, n_events // n_users)
    weights = users["activity"] * window
    counts = base + rng.multinomial(n_events - base * n_users, weights / weights.sum())
    user = np.repeat(np.arange(n_users, dtype=np.int64), counts)
    offset = users["signup"][user] - EPOCH + (rng.random(user.size) * window[user]).astype(np.int64)
    key = np.sort((user << 32) | offset)  # one int64 sort orders by user, then time (offset < 2**32)
    return key >> 32, EPOCH + (key & 0xFFFFFFFF)


def choose_items(rng: np.random.Generator, state: np.ndarray, t: np.ndarray, theta: np.ndarray,
                  x: np.ndarray, bias: np.ndarray, release: np.ndarray,
                  max_rounds: int = 20, block_cells: int = 4_000_000) -> np.ndarray:
    """Draw one item per event from softmax(theta[state] @ x.T + bias) over items released by t.

    Inverse-CDF draws: for a block of B states, ``cdf`` (B, n_items) plus the row number
    is one increasing array, so a single searchsorted of ``row + u`` (u ~ U[0, 1)) draws
    every event of the block. Events whose item is not yet released are redrawn.
    """
    n_items = x.shape[0]
    xf = x.astype(np.float64)
    item = np.empty(state.size, dtype=np.int64)
    order = np.argsort(state, kind="stable")
    per_block = max(1, block_cells // n_items)
    edges = np.arange(0, theta.shape[0] + per_block, per_block)
    bounds = np.searchsorted(state[order], edges)
    for b0, lo, hi in zip(edges[:-1], bounds[:-1], bounds[1:]):
        if lo == hi:
            continue
        ev = order[lo:hi]
        rows = state[ev] - b0
        cdf = theta[b0:b0 + per_block] @ xf.T  # logits, turned into the row CDFs in place
        cdf += bias
        cdf -= cdf.max(axis=1, keepdims=True)
        np.exp(cdf, out=cdf)
        np.cumsum(cdf, axis=1, out=cdf)
        cdf /= cdf[:, -1:]
        cdf += np.arange(cdf.shape[0])[:, None]
        flat = cdf.ravel()
        todo = np.arange(ev.size)
        for _ in range(max_rounds):
            pos = np.searchsorted(flat, rows[todo] + rng.random(todo.size), side="right")
            got = np.minimum(pos - rows[todo] * n_items, n_items - 1)
            item[ev[todo]] = got
            todo = todo[release[got] > t[ev[todo]]]
            if todo.size == 0:
                break
        for part in np.array_split(todo, -(-todo.size // per_block)) if todo.size else ():
            # exact Gumbel-max over the released items for the few events left
            lg = theta[b0 + rows[part]] @ xf.T + bias + rng.gumbel(size=(part.size, n_items))
            lg[release[None, :] > t[ev[part], None]] = -np.inf
            item[ev[part]] = np.argmax(lg, axis=1)
    return item


def affinity_of_events(theta: np.ndarray, state: np.ndarray, cols: np.ndarray, item: np.ndarray) -> np.ndarray:
    """a = theta[state] . x[item], summed over the item's 6 active columns (no (E, F) matrix)."""
    return theta[state[:, None], cols[item]].sum(axis=1)

