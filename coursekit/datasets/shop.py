r"""A synthetic shop with known ground truth: the course's embedded, offline data set.

:func:`make_shop` simulates a catalogue, customers with latent tastes, and a
timestamped event log (views, clicks, purchases, ratings, short reviews). Everything the
simulator used is returned in ``Dataset.truth`` so that later lessons can check what a
method recovers: tastes (explanations, onboarding), drift users and times (real-time
updates), release times (cold start) and the choice model (bandit rewards).

The model
---------
Every item :math:`i` has a binary attribute vector :math:`x_i \in \{0,1\}^F` (one
category, one brand, one price band, three attribute words; :math:`F = 8 + 20 + 3 + 40`)
and a popularity term :math:`q_i = -s\log r_i` (:math:`r_i` a random rank, Zipf-like).
Every user :math:`u` has a sparse taste vector :math:`\theta_u(t) \in \mathbb{R}^F`
(replaced by a new one at the drift time for drift users). The *affinity* is

.. math:: a_{ui}(t) = \theta_u(t)^\top x_i,

an event of user :math:`u` at time :math:`t` picks an item among those released by
:math:`t` (:math:`\mathcal{R}_t`) with the softmax (multinomial logit) choice rule

.. math:: P(i \mid u, t) = \frac{\exp(a_{ui}(t) + w\,q_i)}{\sum_{j \in \mathcal{R}_t} \exp(a_{uj}(t) + w\,q_j)},

and the event type follows an ordered logit on :math:`y = a_{ui} + \varepsilon`,
:math:`\varepsilon \sim \mathrm{Logistic}(0, 1)`: view if :math:`y < c_1`, click if
:math:`c_1 \le y < c_2`, purchase if :math:`y \ge c_2`; so
:math:`P(\text{purchase}) = \sigma(a_{ui} - c_2)`. A share of purchases is rated:
:math:`\text{rating} = 1 + \#\{k : a_{ui} + \eta > \tau_k\}`, :math:`\eta \sim N(0, \sigma^2)`;
a share of ratings comes with a review written from the item's attributes, the rating
and the user's taste (it names the item word the user likes most, or dislikes most).

Sampling is vectorized: events are sorted by *taste state* (a user before or after
drift), and per block of states a flat, row-offset cumulative distribution turns one
``np.searchsorted`` into an inverse-CDF draw for every event of the block. Items not yet
released at the event's time are rejected and redrawn (exact: rejection sampling from
the unrestricted choice gives the restricted one); the few left after some rounds are
drawn exactly with the Gumbel-max trick.

>>> data = make_shop(n_users=50, n_items=40, n_events=500, seed=1)
>>> data.interactions.columns.tolist()
['user_id', 'item_id', 'rating', 'timestamp', 'event', 'review']
>>> len(data.interactions), data.items.shape[0]
(500, 40)
"""
from __future__ import annotations

import functools
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.datasets.base import Dataset

EPOCH = 1_735_689_600  # 2025-01-01T00:00:00Z, time 0 of the shop
DAY = 86_400

CATEGORIES: dict[str, tuple[str, ...]] = {
    "outerwear": ("jacket", "parka", "raincoat", "vest"),
    "footwear": ("hiking boot", "sneaker", "sandal", "loafer"),
    "travel": ("backpack", "duffel bag", "suitcase", "tote bag"),
    "kitchen": ("kettle", "skillet", "mug", "knife set"),
    "electronics": ("headset", "speaker", "charger", "desk lamp"),
    "home": ("blanket", "cushion", "vase", "candle"),
    "beauty": ("face cream", "shampoo", "lip balm", "soap bar"),
    "sports": ("yoga mat", "water bottle", "tennis racket", "jump rope"),
}
BRANDS: tuple[str, ...] = (
    "Northpeak", "Lumen", "Bramblewood", "Solstice", "Harborline", "Kestrel", "Oakhollow",
    "Tidewater", "Ironbark", "Velora", "Pinecrest", "Mistral", "Copperfield", "Halcyon",
    "Redfern", "Nimbus", "Bluestem", "Granite Row", "Wildmere", "Saltmarsh",
)
PRICE_BANDS: tuple[str, ...] = ("budget", "mid", "premium")
WORDS: tuple[str, ...] = (
    "waterproof", "vintage", "organic", "lightweight", "durable", "handmade", "recycled",
    "minimalist", "ergonomic", "wireless", "compact", "insulated", "breathable", "classic",
    "modern", "rustic", "portable", "foldable", "leather", "cotton", "wool", "bamboo",
    "stainless", "ceramic", "cozy", "sleek", "rugged", "colorful", "quiet", "quick-drying",
    "soft", "sturdy", "stretchy", "scented", "unscented", "rechargeable", "adjustable",
    "eco-friendly", "retro", "slim",
)
LINE_NAMES: tuple[str, ...] = (
    "Aurora", "Summit", "Breeze", "Atlas", "Ember", "Drift", "Nova", "Juniper", "Cascade",
    "Meridian", "Willow", "Falcon", "Harbor", "Sierra", "Lark", "Boreal", "Zephyr", "Maple",
    "Orbit", "Quartz", "Sable", "Tundra", "Echo", "Canyon", "Fjord", "Luna", "Cedar",
    "Pioneer", "Ridge", "Wren",
)
N_WORDS_PER_ITEM = 3
EVENT_TYPES: tuple[str, ...] = ("view", "click", "purchase")

_DESCRIPTIONS = (
    "{name} {w1} {noun} by {brand}, a {band} {category} item, {w2} and {w3}.",
    "The {brand} {name} {noun}: {w1}, {w2} and {w3}. A {band} pick in {category}.",
    "{W1} and {w2} {noun} from the {name} line by {brand}; {w3} too. {Band}-priced {category}.",
    "Meet the {name}, a {w1} {noun} by {brand}. {W2}, {w3} and priced for the {band} shelf.",
)
_REVIEWS = {  # by sentiment: 0 negative (1-2 stars), 1 mixed (3), 2 positive (4-5)
    0: ("Disappointed: too {wd} for me, and not worth it for a {band} {noun}.",
        "Returned it. I do not want a {wd} {noun}, even from {brand}.",
        "The {wd} design put me off; I expected more from {brand}."),
    1: ("Decent {noun}. I like that it is {wl}, but the {wd} part is meh.",
        "Okay for a {band} item. {WL} as promised, nothing special otherwise."),
    2: ("Love the {wl} {noun}, great value for a {band} {category} item.",
        "{Brand} got it right: {wl} and exactly as described.",
        "Really happy with this {noun}. The {wl} feel is just what I wanted."),
}


@dataclass(frozen=True)
class ShopParams:
    """Parameters of the choice and feedback model (stored in ``truth["params"]``).

    Attributes
    ----------
    popularity_weight : float
        :math:`w`, weight of the popularity term :math:`q_i` in the choice logit.
    zipf_exponent : float
        :math:`s` in :math:`q_i = -s \\log r_i`.
    click_cut, purchase_cut : float
        Ordered-logit cut points :math:`c_1 < c_2` of the event type.
    rating_cuts : tuple of 4 floats
        Thresholds :math:`\\tau_1 < \\dots < \\tau_4` of the rating.
    rating_noise : float
        :math:`\\sigma`, standard deviation of the rating noise :math:`\\eta`.
    rated_share : float
        Probability that a purchase carries a rating.
    review_share : float
        Probability that a rating carries a review text.
    """

    popularity_weight: float = 1.0
    zipf_exponent: float = 0.7
    click_cut: float = 2.5
    purchase_cut: float = 4.8
    rating_cuts: tuple[float, float, float, float] = (0.5, 1.5, 2.5, 3.5)
    rating_noise: float = 1.0
    rated_share: float = 0.6
    review_share: float = 0.5


# ------------------------------------------------------------------ attribute layout
def attribute_names() -> list[str]:
    """Names of the :math:`F = 71` item attributes, in the column order of ``x_i`` and ``theta_u``.

    >>> names = attribute_names()
    >>> len(names), names[0], names[8], names[28], names[31]
    (71, 'category=outerwear', 'brand=Northpeak', 'price=budget', 'word=waterproof')
    """
    return ([f"category={c}" for c in CATEGORIES] + [f"brand={b}" for b in BRANDS]
            + [f"price={p}" for p in PRICE_BANDS] + [f"word={w}" for w in WORDS])


_N_CAT, _N_BRAND, _N_BAND, _N_WORD = len(CATEGORIES), len(BRANDS), len(PRICE_BANDS), len(WORDS)
_OFF_BRAND = _N_CAT
_OFF_BAND = _OFF_BRAND + _N_BRAND
_OFF_WORD = _OFF_BAND + _N_BAND
N_ATTRIBUTES = _OFF_WORD + _N_WORD


def _item_columns(category: np.ndarray, brand: np.ndarray, band: np.ndarray, words: np.ndarray) -> np.ndarray:
    """(n_items, 6) int array: the attribute columns that are 1 for each item."""
    return np.column_stack([category, _OFF_BRAND + brand, _OFF_BAND + band, _OFF_WORD + words])


def _attribute_matrix(cols: np.ndarray) -> np.ndarray:
    """Dense binary (n_items, F) matrix from the active columns."""
    x = np.zeros((cols.shape[0], N_ATTRIBUTES), dtype=np.int8)
    x[np.arange(cols.shape[0])[:, None], cols] = 1
    return x


# ------------------------------------------------------------------ helpers
def _top_k_random(rng: np.random.Generator, logits: np.ndarray, k: int) -> np.ndarray:
    """k distinct indices per row, drawn without replacement with P proportional to exp(logits) (Gumbel top-k)."""
    keys = logits + rng.gumbel(size=logits.shape)
    return np.argsort(-keys, axis=1, kind="stable")[:, :k]


def _render(templates: tuple[str, ...], choice: np.ndarray, fields: dict[str, np.ndarray]) -> np.ndarray:
    """Fill ``templates[choice[r]]`` with row r of ``fields``, vectorized per template.

    >>> _render(("{a}-{b}", "{b}!"), np.array([0, 1]), {"a": np.array(["x", "y"]), "b": np.array(["1", "2"])}).tolist()
    ['x-1', '2!']
    """
    import string

    out = np.empty(len(choice), dtype=object)
    for k, template in enumerate(templates):
        rows = np.flatnonzero(choice == k)
        if rows.size == 0:
            continue
        text = np.full(rows.size, "", dtype=object)
        for literal, name, _, _ in string.Formatter().parse(template):
            text = text + literal
            if name is not None:
                text = text + np.asarray(fields[name], dtype=object)[rows]
        out[rows] = text
    return out


def _cap(words) -> np.ndarray:
    return np.array([w[:1].upper() + w[1:] for w in words], dtype=object)


# ------------------------------------------------------------------ catalogue
def _make_items(rng: np.random.Generator, n_items: int, days: int, late_frac: float,
                params: ShopParams) -> dict[str, Any]:
    category = rng.choice(_N_CAT, size=n_items, p=rng.dirichlet(np.full(_N_CAT, 5.0)))
    brand_band = rng.integers(_N_BAND, size=_N_BRAND)  # each brand has a usual price band
    brand = rng.integers(_N_BRAND, size=n_items)
    band = np.where(rng.random(n_items) < 0.6, brand_band[brand], rng.integers(_N_BAND, size=n_items))
    word_pref = np.log(rng.dirichlet(np.full(_N_WORD, 0.5), size=_N_CAT) + 1e-12)  # per category
    words = _top_k_random(rng, word_pref[category], N_WORDS_PER_ITEM)
    noun = rng.integers(4, size=n_items)
    line = rng.integers(len(LINE_NAMES), size=n_items)
    template = rng.integers(len(_DESCRIPTIONS), size=n_items)

    rank = rng.permutation(n_items) + 1
    quality = np.round(-params.zipf_exponent * np.log(rank), 4)

    release = np.zeros(n_items, dtype=np.int64)
    late = rng.permutation(n_items)[: int(round(late_frac * n_items))]
    release[late] = rng.integers(int(days * DAY / 6), int(days * DAY * 5 / 6), size=late.size)
    return dict(category=category, brand=brand, band=band, words=words, noun=noun, line=line,
                template=template, quality=quality, release=EPOCH + release)


def _item_table(it: dict[str, Any]) -> pd.DataFrame:
    """Readable item table (title, description text, attributes, release time)."""
    n = len(it["category"])
    cat_names = np.array(list(CATEGORIES), dtype=object)
    nouns = _nouns(it["category"], it["noun"])
    words = np.array(WORDS, dtype=object)
    fields = {
        "name": np.array(LINE_NAMES, dtype=object)[it["line"]],
        "brand": np.array(BRANDS, dtype=object)[it["brand"]],
        "noun": nouns,
        "category": cat_names[it["category"]],
        "band": np.array(PRICE_BANDS, dtype=object)[it["band"]],
        "Band": _cap(PRICE_BANDS)[it["band"]],
    }
    for j in range(N_WORDS_PER_ITEM):
        fields[f"w{j + 1}"] = words[it["words"][:, j]]
        fields[f"W{j + 1}"] = _cap(WORDS)[it["words"][:, j]]
    title = fields["brand"] + " " + fields["name"] + " " + fields["w1"] + " " + fields["noun"]
    return pd.DataFrame({
        "item_id": np.arange(1, n + 1, dtype=np.int64),
        "title": pd.array(title, dtype="str"),
        "text": pd.array(_render(_DESCRIPTIONS, it["template"], fields), dtype="str"),
        "category": pd.array(fields["category"], dtype="str"),
        "brand": pd.array(fields["brand"], dtype="str"),
        "price_band": pd.array(fields["band"], dtype="str"),
        "words": list(words[it["words"]].tolist()),
        "release_time": it["release"].astype(np.int64),
    })


# ------------------------------------------------------------------ users
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

    block(0, _N_CAT, 2, 0, (1.5, 2.5), (0, 0), avoid_categories)
    single = rng.random(n) < 0.5  # half of the users like one category only
    second = np.argsort(-theta[:, :_N_CAT], axis=1)[:, 1]
    theta[single, second[single]] = 0.0
    block(_OFF_BRAND, _N_BRAND, 2, 1, (0.5, 1.5), (0.5, 1.5))
    block(_OFF_BAND, _N_BAND, 1, 1, (0.5, 1.0), (0.5, 1.0))
    block(_OFF_WORD, _N_WORD, 4, 2, (0.3, 1.0), (0.3, 1.0))
    return np.round(theta, 2)


def _make_users(rng: np.random.Generator, n_users: int, days: int, drift_frac: float) -> dict[str, Any]:
    horizon = days * DAY
    signup = np.where(rng.random(n_users) < 0.75, 0,
                      rng.integers(0, int(0.75 * horizon), size=n_users)).astype(np.int64)
    activity = np.round(rng.lognormal(0.0, 1.0, size=n_users), 4)
    tastes = _make_tastes(rng, n_users)
    drift_users = np.sort(rng.permutation(n_users)[: int(round(drift_frac * n_users))])
    window = horizon - signup[drift_users]
    drift_time = signup[drift_users] + (rng.uniform(0.35, 0.65, size=drift_users.size) * window).astype(np.int64)
    new_tastes = _make_tastes(rng, drift_users.size, avoid_categories=tastes[drift_users, :_N_CAT] > 0)
    return dict(signup=EPOCH + signup, activity=activity, tastes=tastes, drift_users=drift_users,
                drift_time=EPOCH + drift_time, new_tastes=new_tastes)


# ------------------------------------------------------------------ events
def _event_users_and_times(rng: np.random.Generator, n_events: int, users: dict[str, Any],
                           days: int) -> tuple[np.ndarray, np.ndarray]:
    """User index and time of every event, sorted by user then time.

    Each user gets ``min(3, n_events // n_users)`` events, the rest is split by a multinomial
    with weights ``activity * active window``; times are uniform over the user's window.
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


def _choose_items(rng: np.random.Generator, state: np.ndarray, t: np.ndarray, theta: np.ndarray,
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


def _affinity_of_events(theta: np.ndarray, state: np.ndarray, cols: np.ndarray, item: np.ndarray) -> np.ndarray:
    """a = theta[state] . x[item], summed over the item's 6 active columns (no (E, F) matrix)."""
    return theta[state[:, None], cols[item]].sum(axis=1)


def _reviews(rng: np.random.Generator, rating: np.ndarray, word_weights: np.ndarray,
             item_words: np.ndarray, items: pd.DataFrame, it_category: np.ndarray, it_noun: np.ndarray,
             item: np.ndarray) -> np.ndarray:
    """Review texts: sentiment from the rating; names the item word the user likes (dislikes) most."""
    words = np.array(WORDS, dtype=object)
    rows = np.arange(item.size)
    best = np.argmax(word_weights, axis=1)
    others = word_weights.astype(float)  # the disliked word is another of the item's words
    others[rows, best] = np.inf
    liked = words[item_words[rows, best]]
    disliked = words[item_words[rows, np.argmin(others, axis=1)]]
    sentiment = np.where(rating >= 4, 2, np.where(rating >= 3, 1, 0))
    fields = {
        "wl": liked, "WL": _cap(liked), "wd": disliked,
        "noun": _nouns(it_category, it_noun)[item],
        "band": items["price_band"].to_numpy(dtype=object)[item],
        "category": items["category"].to_numpy(dtype=object)[item],
        "brand": items["brand"].to_numpy(dtype=object)[item],
        "Brand": items["brand"].to_numpy(dtype=object)[item],
    }
    out = np.empty(item.size, dtype=object)
    for s, templates in _REVIEWS.items():
        rows = np.flatnonzero(sentiment == s)
        choice = rng.integers(len(templates), size=rows.size)
        out[rows] = _render(templates, choice, {k: v[rows] for k, v in fields.items()})
    return out


def _nouns(category: np.ndarray, noun: np.ndarray) -> np.ndarray:
    """The product noun of each item ("jacket", "yoga mat", ...)."""
    return np.array([list(v) for v in CATEGORIES.values()], dtype=object)[category, noun]


# ------------------------------------------------------------------ public API
def make_shop(n_users: int = 2000, n_items: int = 1000, n_events: int = 100_000, seed: int = 0, *,
              days: int = 180, late_item_frac: float = 0.1, drift_user_frac: float = 0.15,
              params: ShopParams | None = None) -> Dataset:
    """Simulate the shop (deterministic given the arguments; vectorized, millions of events in seconds).

    Parameters
    ----------
    n_users, n_items, n_events : int
        Sizes. Every user has at least ``min(3, n_events // n_users)`` events; items may have none.
    seed : int
        Seed of the only random generator used (``numpy.random.default_rng(seed)``).
    days : int
        Length of the log; timestamps are int seconds in ``[EPOCH, EPOCH + days * 86400)`` with
        ``EPOCH`` = 2025-01-01 UTC.
    late_item_frac : float
        Share of items released after time 0 (uniformly in the middle two thirds of the log).
    drift_user_frac : float
        Share of users whose taste is replaced at a drift time (35-65% into their active window;
        the new taste likes none of the old categories).
    params : ShopParams, optional
        Choice and feedback model parameters (defaults: :class:`ShopParams`).

    Returns
    -------
    Dataset
        ``interactions`` (user_id, item_id, rating, timestamp, event, review) sorted by user
        then time; ``items`` (item_id, title, text, category, brand, price_band, words,
        release_time); ``users`` (user_id, signup_time); ``truth`` (see ``datasets/shop/README.md``).

    Examples
    --------
    >>> shop = make_shop(n_users=100, n_items=50, n_events=2_000, seed=0)
    >>> shop.truth["user_tastes"].shape
    (100, 71)
    >>> bool((shop.interactions["timestamp"].to_numpy()
    ...       >= shop.items.set_index("item_id").loc[shop.interactions["item_id"], "release_time"].to_numpy()).all())
    True
    """
    n_users = check_positive_int(n_users, "n_users")
    n_items = check_positive_int(n_items, "n_items")
    n_events = check_positive_int(n_events, "n_events")
    days = check_positive_int(days, "days")
    if days > 40_000:
        raise CourseKitError(f"days must be at most 40000 (about 110 years), got {days}.")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise CourseKitError(f"seed must be an integer, got {seed!r}.")
    if not 0.0 <= late_item_frac <= 0.9:
        raise CourseKitError(f"late_item_frac must lie in [0, 0.9] (some items must exist at time 0), "
                             f"got {late_item_frac!r}.")
    if not 0.0 <= drift_user_frac <= 1.0:
        raise CourseKitError(f"drift_user_frac must lie in [0, 1], got {drift_user_frac!r}.")
    params = params or ShopParams()
    rng = np.random.default_rng(seed)

    it = _make_items(rng, n_items, days, late_item_frac, params)
    us = _make_users(rng, n_users, days, drift_user_frac)
    items = _item_table(it)
    cols = _item_columns(it["category"], it["brand"], it["band"], it["words"])
    x = _attribute_matrix(cols)

    user, t = _event_users_and_times(rng, n_events, us, days)
    # taste state: user u before drift is state u; drift user k after its drift time is n_users + k
    theta = np.vstack([us["tastes"], us["new_tastes"]])
    drift_rank = np.full(n_users, -1)
    drift_rank[us["drift_users"]] = np.arange(us["drift_users"].size)
    drift_at = np.full(n_users, np.iinfo(np.int64).max)
    drift_at[us["drift_users"]] = us["drift_time"]
    after = t >= drift_at[user]
    state = np.where(after, n_users + drift_rank[user], user)

    item = _choose_items(rng, state, t, theta, x, params.popularity_weight * it["quality"], it["release"])
    aff = _affinity_of_events(theta, state, cols, item)

    y = aff + rng.logistic(size=aff.size)
    event = (y >= params.click_cut).astype(np.int8) + (y >= params.purchase_cut)
    rating = np.full(aff.size, np.nan)
    rated = np.flatnonzero((event == 2) & (rng.random(aff.size) < params.rated_share))
    latent = aff[rated] + rng.normal(0.0, params.rating_noise, size=rated.size)
    rating[rated] = 1.0 + (latent[:, None] > np.asarray(params.rating_cuts)[None, :]).sum(axis=1)
    review = np.full(aff.size, None, dtype=object)
    reviewed = rated[rng.random(rated.size) < params.review_share]
    word_cols = _OFF_WORD + it["words"][item[reviewed]]
    review[reviewed] = _reviews(rng, rating[reviewed], theta[state[reviewed, None], word_cols],
                                it["words"][item[reviewed]], items, it["category"], it["noun"],
                                item[reviewed])

    interactions = pd.DataFrame({
        "user_id": (user + 1).astype(np.int64),
        "item_id": (item + 1).astype(np.int64),
        "rating": rating,
        "timestamp": t.astype(np.int64),
        "event": pd.array(np.array(EVENT_TYPES, dtype=object)[event], dtype="str"),
        "review": pd.array(review, dtype="str"),
    })
    users = pd.DataFrame({"user_id": np.arange(1, n_users + 1, dtype=np.int64),
                          "signup_time": us["signup"].astype(np.int64)})
    truth = _truth(it, us, x, params, dict(n_users=n_users, n_items=n_items, n_events=n_events, seed=int(seed),
                                           days=days, late_item_frac=late_item_frac,
                                           drift_user_frac=drift_user_frac))
    return Dataset(name="shop", interactions=interactions, items=items, users=users,
                   license=LICENSE, citation=CITATION, truth=truth)


LICENSE = "Synthetic data generated by coursekit.datasets.make_shop; MIT (as the coursekit package)."
CITATION = "coursekit synthetic shop (coursekit.datasets.make_shop), see datasets/shop/README.md."


def _truth(it: dict, us: dict, x: np.ndarray, params: ShopParams, config: dict) -> dict[str, Any]:
    names = attribute_names()
    item_ids = pd.Index(np.arange(1, x.shape[0] + 1, dtype=np.int64), name="item_id")
    user_ids = pd.Index(np.arange(1, us["tastes"].shape[0] + 1, dtype=np.int64), name="user_id")
    drift_ids = pd.Index((us["drift_users"] + 1).astype(np.int64), name="user_id")
    return {
        "attribute_names": names,
        "item_attributes": pd.DataFrame(x, index=item_ids, columns=names),
        "item_quality": pd.Series(it["quality"], index=item_ids, name="quality"),
        "release_time": pd.Series(it["release"].astype(np.int64), index=item_ids, name="release_time"),
        "user_tastes": pd.DataFrame(us["tastes"], index=user_ids, columns=names),
        "user_activity": pd.Series(us["activity"], index=user_ids, name="activity"),
        "drift": pd.DataFrame({"user_id": drift_ids.to_numpy(),
                               "drift_time": us["drift_time"].astype(np.int64)}),
        "drift_tastes": pd.DataFrame(us["new_tastes"], index=drift_ids, columns=names),
        "params": {**asdict(params), "rating_cuts": list(params.rating_cuts), "epoch": EPOCH, **config},
    }


# ------------------------------------------------------------------ ground-truth helpers
def taste_at(truth: dict[str, Any], user_ids, time=None) -> np.ndarray:
    """Taste vectors (len(user_ids), F) in force at ``time`` (scalar or per user; None = time 0).

    >>> shop = make_shop(n_users=20, n_items=10, n_events=100, seed=0)
    >>> taste_at(shop.truth, [1, 2]).shape
    (2, 71)
    """
    user_ids = np.atleast_1d(np.asarray(user_ids, dtype=np.int64))
    tastes = truth["user_tastes"]
    unknown = ~np.isin(user_ids, tastes.index.to_numpy())
    if unknown.any():
        raise CourseKitError(f"unknown shop user id(s) {user_ids[unknown][:5].tolist()}; ids run 1..{len(tastes)}.")
    theta = tastes.loc[user_ids].to_numpy(dtype=float, copy=True)
    if time is None:
        return theta
    time = np.broadcast_to(np.asarray(time, dtype=np.int64), user_ids.shape)
    drift = truth["drift"].set_index("user_id")["drift_time"]
    d = drift.reindex(user_ids).to_numpy(dtype=float)
    switched = ~np.isnan(d) & (time >= np.nan_to_num(d, nan=np.inf))
    if switched.any():
        theta[switched] = truth["drift_tastes"].loc[user_ids[switched]].to_numpy(dtype=float)
    return theta


def affinity(truth: dict[str, Any], user_ids, item_ids=None, time=None) -> np.ndarray:
    r"""True affinities :math:`a_{ui}(t) = \theta_u(t)^\top x_i`, shape (len(user_ids), n_items).

    ``item_ids`` None means every item, in item-id order.
    """
    x = truth["item_attributes"]
    if item_ids is not None:
        x = x.loc[np.atleast_1d(np.asarray(item_ids, dtype=np.int64))]
    return taste_at(truth, user_ids, time) @ x.to_numpy(dtype=float).T


def purchase_probability(truth: dict[str, Any], user_ids, item_ids=None, time=None) -> np.ndarray:
    r""":math:`P(\text{purchase} \mid u \text{ looks at } i) = \sigma(a_{ui}(t) - c_2)`: a bandit reward."""
    a = affinity(truth, user_ids, item_ids, time)
    return 1.0 / (1.0 + np.exp(-(a - truth["params"]["purchase_cut"])))


def choice_probabilities(truth: dict[str, Any], user_ids, time=None) -> np.ndarray:
    """The simulator's choice distribution over all items (0 for items not released by ``time``)."""
    a = affinity(truth, user_ids, None, time)
    logits = a + truth["params"]["popularity_weight"] * truth["item_quality"].to_numpy()
    t = EPOCH if time is None else np.asarray(time)
    released = truth["release_time"].to_numpy()[None, :] <= np.reshape(t, (-1, 1))
    logits = np.where(released, logits, -np.inf)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------ shipped files
SHOP_DATA = Path(__file__).resolve().parent / "shop_data"
_FILES = ("interactions.csv.gz", "items.csv.gz", "users.csv.gz", "truth_users.csv.gz",
          "truth_items.csv.gz", "truth_tastes.csv.gz", "params.json")
_GZIP = {"method": "gzip", "mtime": 0, "compresslevel": 9}  # mtime 0: same bytes on every write


def save_shop(data: Dataset, folder: str | os.PathLike) -> list[Path]:
    """Write a shop :class:`Dataset` to ``folder`` as csv.gz + JSON (what :func:`load_shop` reads)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tr = data.truth
    items = data.items.assign(words=data.items["words"].map("|".join))
    users_truth = pd.DataFrame({"user_id": tr["user_tastes"].index.to_numpy(),
                                "activity": tr["user_activity"].to_numpy()})
    users_truth = users_truth.merge(tr["drift"], on="user_id", how="left")
    users_truth["drift_time"] = users_truth["drift_time"].astype("Int64")
    tastes = pd.concat([tr["user_tastes"].assign(state="initial"), tr["drift_tastes"].assign(state="after_drift")])
    tastes = tastes.reset_index()[["user_id", "state", *tr["attribute_names"]]]
    tastes = tastes.replace(0.0, np.nan)  # sparse: empty fields compress to nothing
    quality = tr["item_quality"].reset_index()
    parts = {"interactions.csv.gz": data.interactions, "items.csv.gz": items, "users.csv.gz": data.users,
             "truth_users.csv.gz": users_truth, "truth_items.csv.gz": quality, "truth_tastes.csv.gz": tastes}
    written = []
    for name, frame in parts.items():
        frame.to_csv(folder / name, index=False, compression=_GZIP, lineterminator="\n")
        written.append(folder / name)
    (folder / "params.json").write_text(json.dumps(tr["params"], indent=2, sort_keys=True) + "\n")
    written.append(folder / "params.json")
    return written


def _read(folder: Path, name: str, **kw) -> pd.DataFrame:
    return pd.read_csv(folder / name, compression="gzip", **kw)


def _stamp(folder: Path) -> tuple:
    """(name, size, mtime) of every shop file: the cache key, so rewritten files are re-read."""
    missing = [f for f in _FILES if not (folder / f).exists()]
    if missing:
        raise CourseKitError(f"the shop files {missing} are missing from {folder}. Regenerate them with "
                             f"`python -m coursekit.datasets.shop` (or reinstall coursekit).")
    return tuple((f, (folder / f).stat().st_size, (folder / f).stat().st_mtime_ns) for f in _FILES)


@functools.lru_cache(maxsize=4)
def _read_shop(folder: str, stamp: tuple) -> Dataset:
    path = Path(folder)
    params = json.loads((path / "params.json").read_text())
    inter = _read(path, "interactions.csv.gz",
                  dtype={"user_id": np.int64, "item_id": np.int64, "rating": np.float64,
                         "timestamp": np.int64, "event": "str", "review": "str"})
    items = _read(path, "items.csv.gz", dtype={"item_id": np.int64, "release_time": np.int64},
                  keep_default_na=False)
    items["words"] = items["words"].str.split("|")
    users = _read(path, "users.csv.gz", dtype={"user_id": np.int64, "signup_time": np.int64})
    users_truth = _read(path, "truth_users.csv.gz", dtype={"user_id": np.int64, "drift_time": "Int64"})
    quality = _read(path, "truth_items.csv.gz", dtype={"item_id": np.int64})
    names = attribute_names()
    tastes = _read(path, "truth_tastes.csv.gz", dtype={"user_id": np.int64}).fillna(0.0)

    it = dict(category=_codes(items["category"], CATEGORIES), brand=_codes(items["brand"], BRANDS),
              band=_codes(items["price_band"], PRICE_BANDS),
              words=np.array([[WORDS.index(w) for w in ws] for ws in items["words"]], dtype=np.int64),
              quality=quality["quality"].to_numpy(), release=items["release_time"].to_numpy())
    x = _attribute_matrix(_item_columns(it["category"], it["brand"], it["band"], it["words"]))
    drift = users_truth.dropna(subset=["drift_time"])
    initial = tastes[tastes["state"] == "initial"]
    after = tastes[tastes["state"] == "after_drift"]
    us = dict(tastes=initial[names].to_numpy(), activity=users_truth["activity"].to_numpy(),
              drift_users=drift["user_id"].to_numpy() - 1, drift_time=drift["drift_time"].to_numpy(dtype=np.int64),
              new_tastes=after[names].to_numpy().reshape(-1, len(names)))
    sp = ShopParams(**{k: (tuple(v) if k == "rating_cuts" else v) for k, v in params.items()
                       if k in ShopParams.__dataclass_fields__})
    config = {k: params[k] for k in ("n_users", "n_items", "n_events", "seed", "days",
                                     "late_item_frac", "drift_user_frac")}
    truth = _truth(it, us, x, sp, config)
    return Dataset(name="shop", interactions=inter, items=items, users=users,
                   license=LICENSE, citation=CITATION, truth=truth)


def _codes(values: pd.Series, vocab) -> np.ndarray:
    vocab = list(vocab)
    codes = pd.Categorical(values, categories=vocab).codes
    if (codes < 0).any():
        raise CourseKitError(f"unexpected value(s) {sorted(set(values[codes < 0]))[:5]} in the shop files; "
                             f"regenerate them with `python -m coursekit.datasets.shop`.")
    return codes.astype(np.int64)


def _copy(data: Dataset) -> Dataset:
    truth = {k: (v.copy() if isinstance(v, (pd.DataFrame, pd.Series, dict, list)) else v)
             for k, v in data.truth.items()}
    items = data.items.copy()
    items["words"] = items["words"].map(list)
    return Dataset(name=data.name, interactions=data.interactions.copy(), items=items,
                   users=data.users.copy(), license=data.license, citation=data.citation, truth=truth)


def load_shop(path: str | os.PathLike | None = None) -> Dataset:
    """The embedded shop: ``make_shop()`` with its defaults, read from the files shipped in the package.

    Parameters
    ----------
    path : path, optional
        A folder written by :func:`save_shop` (default: the shipped ``coursekit/datasets/shop_data``).

    Returns
    -------
    Dataset
        Equal to ``make_shop()`` (a test checks it); each call returns fresh copies
        (the files are read once per process).

    Examples
    --------
    >>> shop = load_shop()
    >>> shop.interactions.shape
    (100000, 6)
    """
    folder = (Path(path) if path is not None else SHOP_DATA).resolve()
    return _copy(_read_shop(str(folder), _stamp(folder)))


def main(argv: list[str] | None = None) -> int:
    """``python -m coursekit.datasets.shop [FOLDER]``: regenerate the shipped shop files."""
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0]) if argv else SHOP_DATA
    start = time.perf_counter()
    data = make_shop()
    files = save_shop(data, folder)
    total = sum(f.stat().st_size for f in files)
    for f in files:
        print(f"{f.stat().st_size:>10,d}  {f}")
    print(f"{total:>10,d}  bytes in total; generated and written in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
