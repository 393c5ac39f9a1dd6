r"""A synthetic shop with known ground truth: the course's embedded, offline data set.

:func:`make_shop` simulates a catalogue, customers with latent tastes, and a
timestamped event log (views, clicks, purchases, ratings, short reviews). Everything the
simulator used is returned in ``Dataset.truth`` so that later lessons can check what a
method recovers: tastes (explanations, onboarding), drift users and times (real-time
updates), release times (cold start), the choice model (bandit rewards, the
:class:`~coursekit.models.oracle.Oracle`) and the rating model. The defaults are calibrated
against MovieLens ml-latest-small (long tail, ratings per user, RMSE ladder, gain of
personalised ranking over popularity): see ``datasets/shop/README.md`` and
``benchmarks/bench_shop_calibration.py``.

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

.. math:: P(i \mid u, t) = \frac{\exp(\beta\, a_{ui}(t) + w\,q_i)}{\sum_{j \in \mathcal{R}_t} \exp(\beta\, a_{uj}(t) + w\,q_j)},

(:math:`\beta` = ``taste_scale``, :math:`w` = ``popularity_weight``: the balance of taste and
popularity), and the event type follows an ordered logit on :math:`y = a_{ui} + \varepsilon`,
:math:`\varepsilon \sim \mathrm{Logistic}(0, 1)`: view if :math:`y < c_1`, click if
:math:`c_1 \le y < c_2`, purchase if :math:`y \ge c_2`; so
:math:`P(\text{purchase}) = \sigma(a_{ui} - c_2)`.

Ratings: every (user, item) pair is rated at most once, at its first click or purchase
(with probability ``rated_click_share`` or ``rated_share``). The rating thresholds a latent

.. math:: z_{ui} = b_u + b_i + g\, a_{ui}(t) + \eta, \qquad \eta \sim N(0, \sigma^2),
          \qquad \text{rating} = 1 + \#\{k : z_{ui} > \tau_k\},

with a user bias :math:`b_u \sim N(0, \sigma_u^2)` (generous or harsh raters), an item bias
:math:`b_i` (quality as raters see it: correlated with the popularity term with correlation
``item_bias_popularity_corr``, not equal to it) and the personal taste :math:`g\,a_{ui}`.
A share of ratings comes with a review written from the item's attributes, the rating and
the user's taste (it names the item word the user likes most, or dislikes most).

Text: titles are short ("Bluestem Willow vase"); descriptions are product copy in which every
attribute appears in one of several surface forms (:data:`WORD_FORMS`, :data:`BAND_FORMS`,
:data:`NOUN_FORMS`, :data:`CATEGORY_FORMS`: "waterproof" may read "rainproof" or "Keeps the
rain out."), in random order and sentence shapes, mixed with filler sentences that carry no
attribute (:data:`FILLERS`, some with attribute words on purpose: "Ships in recycled
packaging."), so word overlap alone does not recover the attributes. The text has its own
random stream (seeded by ``[seed, 1]``): the wording never changes the events.

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
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_memory, check_positive_int
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

# ------------------------------------------------------------------ surface forms of the copy
#: Adjective forms (used inside a phrase: "a waterproof jacket") and sentence forms of every
#: attribute word. Descriptions and reviews draw among them, so the same attribute is written
#: in several ways and word overlap alone does not recover it.
WORD_FORMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "waterproof": (("waterproof", "water-resistant", "rainproof", "weatherproof"),
                   ("Keeps the rain out.", "Shrugs off a downpour.", "Stays dry in wet weather.")),
    "vintage": (("vintage", "vintage-style", "old-school", "heritage"),
                ("Inspired by designs from decades past.", "Looks like a flea-market find.")),
    "organic": (("organic", "certified organic", "natural"),
                ("Made from organically grown materials.", "No synthetic pesticides went into it.")),
    "lightweight": (("lightweight", "featherlight", "light"),
                    ("You will barely notice the weight.", "Weighs next to nothing.")),
    "durable": (("durable", "long-lasting", "hard-wearing", "built-to-last"),
                ("Built to last for years.", "Made to take a beating.")),
    "handmade": (("handmade", "hand-crafted", "artisan-made"),
                 ("Each one is made by hand.", "Crafted by hand in a small workshop.")),
    "recycled": (("recycled", "upcycled", "second-life"),
                 ("Made from recycled materials.", "Gives post-consumer plastic a second life.")),
    "minimalist": (("minimalist", "minimal", "pared-back", "clean-lined"),
                   ("Nothing you do not need.", "A clean, uncluttered design.")),
    "ergonomic": (("ergonomic", "comfort-shaped", "body-friendly"),
                  ("Shaped to fit the body.", "Designed to reduce strain.")),
    "wireless": (("wireless", "cordless", "cable-free", "Bluetooth"),
                 ("No cables to get tangled.", "Connects without a cord.")),
    "compact": (("compact", "space-saving", "small"),
                ("Fits in the smallest of spaces.", "Takes up little room.")),
    "insulated": (("insulated", "thermal", "heat-retaining"),
                  ("Keeps the warmth in.", "Holds the temperature for hours.")),
    "breathable": (("breathable", "airy", "ventilated"),
                   ("Lets air flow through.", "Stays fresh and never stuffy.")),
    "classic": (("classic", "timeless", "traditional"),
                ("A design that never goes out of style.", "A shape that has stood the test of time.")),
    "modern": (("modern", "contemporary", "up-to-date"),
               ("Fresh, current styling.", "A look for today.")),
    "rustic": (("rustic", "farmhouse-style", "country-style"),
               ("Has a warm, countryside feel.", "Brings a cabin feel to any room.")),
    "portable": (("portable", "travel-ready", "on-the-go"),
                 ("Easy to take anywhere.", "Goes wherever you go.")),
    "foldable": (("foldable", "collapsible", "fold-flat"),
                 ("Folds flat for storage.", "Collapses down when not in use.")),
    "leather": (("leather", "full-grain leather", "genuine leather"),
                ("Made of real leather.", "Crafted from genuine hide.")),
    "cotton": (("cotton", "pure cotton", "cotton-blend"),
               ("Made with soft cotton.", "Cotton through and through.")),
    "wool": (("wool", "merino", "woollen"),
             ("Knitted from wool.", "Merino fibres keep the chill away.")),
    "bamboo": (("bamboo", "bamboo-fibre"),
               ("Made from fast-growing bamboo.", "Bamboo fibre throughout.")),
    "stainless": (("stainless", "stainless-steel", "rust-proof"),
                  ("Stainless steel that will not rust.", "Rust is never an issue.")),
    "ceramic": (("ceramic", "stoneware", "porcelain"),
                ("Fired ceramic finish.", "Made of glazed stoneware.")),
    "cozy": (("cozy", "snug", "comfy"),
             ("Perfect for curling up.", "Feels like a warm hug.")),
    "sleek": (("sleek", "streamlined", "slick"),
              ("Smooth, elegant lines.", "Looks sharp on any shelf.")),
    "rugged": (("rugged", "tough", "heavy-duty"),
               ("Ready for rough terrain.", "Handles the toughest conditions.")),
    "colorful": (("colorful", "vibrant", "bright", "multicolored"),
                 ("Comes in bold, cheerful colours.", "Adds a splash of colour.")),
    "quiet": (("quiet", "silent", "whisper-quiet", "low-noise"),
              ("You will hardly hear it.", "Runs almost silently.")),
    "quick-drying": (("quick-drying", "fast-drying", "quick-dry"),
                     ("Dries in no time.", "Dry again within the hour.")),
    "soft": (("soft", "plush", "velvety"),
             ("Soft to the touch.", "Gentle on the skin.")),
    "sturdy": (("sturdy", "solid", "robust", "stable"),
               ("Solidly put together.", "Will not wobble or bend.")),
    "stretchy": (("stretchy", "flexible", "elastic"),
                 ("Stretches with you.", "Gives where you need it.")),
    "scented": (("scented", "fragranced", "perfumed"),
                ("Carries a gentle fragrance.", "Leaves a pleasant scent behind.")),
    "unscented": (("unscented", "fragrance-free", "scent-free"),
                  ("No added fragrance.", "Free of perfumes.")),
    "rechargeable": (("rechargeable", "USB-rechargeable", "battery-powered"),
                     ("Charges over USB.", "No more disposable batteries.")),
    "adjustable": (("adjustable", "customizable", "tunable"),
                   ("Adjusts to fit you.", "Set it just the way you like.")),
    "eco-friendly": (("eco-friendly", "sustainable", "planet-friendly", "green"),
                     ("Made with the planet in mind.", "A lower-impact choice.")),
    "retro": (("retro", "throwback", "70s-inspired"),
              ("A throwback look.", "Straight out of the seventies.")),
    "slim": (("slim", "slender", "thin", "low-profile"),
             ("Slim enough to slip anywhere.", "A slender profile.")),
}
#: Adjective and sentence forms of the price bands.
BAND_FORMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "budget": (("budget-friendly", "affordable", "wallet-friendly", "inexpensive", "low-cost"),
               ("Easy on the wallet.", "Great value for money.", "A bargain at this price.")),
    "mid": (("mid-range", "fairly priced", "reasonably priced", "mid-priced"),
            ("Sensibly priced.", "Quality without the premium price tag.", "A fair price for what you get.")),
    "premium": (("premium", "high-end", "luxurious", "top-of-the-line"),
                ("An investment piece.", "Worth every penny of its price.", "From our top-tier range.")),
}
#: Ways of naming each product noun (the canonical noun comes first and is used in the title).
NOUN_FORMS: dict[str, tuple[str, ...]] = {
    "jacket": ("jacket", "shell jacket", "coat"), "parka": ("parka", "winter parka", "hooded coat"),
    "raincoat": ("raincoat", "rain jacket", "mac"), "vest": ("vest", "gilet", "bodywarmer"),
    "hiking boot": ("hiking boot", "trail boot", "walking boot"),
    "sneaker": ("sneaker", "trainer", "running shoe"), "sandal": ("sandal", "slide", "summer sandal"),
    "loafer": ("loafer", "slip-on", "moccasin"), "backpack": ("backpack", "rucksack", "daypack"),
    "duffel bag": ("duffel bag", "holdall", "weekender"), "suitcase": ("suitcase", "carry-on", "trolley case"),
    "tote bag": ("tote bag", "tote", "shopper"), "kettle": ("kettle", "electric kettle", "water boiler"),
    "skillet": ("skillet", "frying pan", "pan"), "mug": ("mug", "cup", "coffee mug"),
    "knife set": ("knife set", "knife block", "set of knives"), "headset": ("headset", "headphones", "over-ear headset"),
    "speaker": ("speaker", "sound box", "audio speaker"), "charger": ("charger", "charging dock", "power adapter"),
    "desk lamp": ("desk lamp", "task light", "reading lamp"), "blanket": ("blanket", "throw", "bedspread"),
    "cushion": ("cushion", "throw pillow", "pillow"), "vase": ("vase", "flower vase", "bud vase"),
    "candle": ("candle", "pillar candle", "tealight set"), "face cream": ("face cream", "moisturiser", "day cream"),
    "shampoo": ("shampoo", "hair wash", "cleansing shampoo"), "lip balm": ("lip balm", "lip care stick", "lip salve"),
    "soap bar": ("soap bar", "bar soap", "soap"), "yoga mat": ("yoga mat", "exercise mat", "workout mat"),
    "water bottle": ("water bottle", "drinks bottle", "flask"),
    "tennis racket": ("tennis racket", "racquet", "tennis racquet"),
    "jump rope": ("jump rope", "skipping rope", "speed rope"),
}
#: Ways of naming each category (in "Part of our ... range").
CATEGORY_FORMS: dict[str, tuple[str, ...]] = {
    "outerwear": ("outerwear", "coats and jackets", "outdoor clothing"), "footwear": ("footwear", "shoe", "boots and shoes"),
    "travel": ("travel", "luggage", "bags and luggage"), "kitchen": ("kitchen", "cookware", "kitchenware"),
    "electronics": ("electronics", "tech", "gadget"), "home": ("home", "home decor", "living room"),
    "beauty": ("beauty", "personal care", "skincare"), "sports": ("sports", "fitness", "activewear"),
}
#: Sentences that carry no attribute (some reuse attribute words on purpose: "recycled packaging").
FILLERS: tuple[str, ...] = (
    "Ships in recycled packaging.", "Free returns within 30 days.", "Backed by a one-year warranty.",
    "A classic gift idea.", "Care instructions are on the label.", "Ships within two business days.",
    "Designed in-house by our team.", "Available while stocks last.", "Please check the size guide before ordering.",
    "Colours may vary slightly from the photos.", "Part of the new season collection.",
    "Fits a modern lifestyle.", "Customers often buy it together with a matching accessory.",
    "Limited stock.", "Now with faster delivery.",
)
_OPENERS_ADJ = (
    "The {brand} {line} is a {adjs} {noun}.", "Meet the {line}: a {adjs} {noun} from {brand}.",
    "A {adjs} {noun} by {brand}.", "Introducing the {brand} {line}, our {adjs} {noun}.",
    "{brand} {line}: the {adjs} {noun} you have been waiting for.",
)
_OPENERS_PLAIN = ("{brand} presents the {line} {noun}.", "{line} {noun} by {brand}.", "This {noun} comes from {brand}.")
_LISTS = ("It is {a}.", "{A}, as promised.", "Wonderfully {a}.", "{A} and {b}.", "Features: {a}, {b}.",
          "It is {a} and {b}.", "{A}, {b} and {c}.", "{A}, {b}, and {c} as well.")
_CATEGORY_SENTENCES = ("Part of our {cat} range.", "Find more in {cat}.", "A favourite in our {cat} shop.")
_REVIEWS = {  # by sentiment: 0 negative (1-2 stars), 1 mixed (3), 2 positive (4-5)
    0: ("Disappointed: too {wd} for me, and not worth it for a {band} {noun}.",
        "Returned it. I do not want a {wd} {noun}, even from {brand}.",
        "The {wd} design put me off; I expected more from {brand}.",
        "Not for me. The {noun} is {wd} and that is a deal-breaker."),
    1: ("Decent {noun}. I like that it is {wl}, but the {wd} part is meh.",
        "Okay for a {band} item. {WL} as promised, nothing special otherwise.",
        "It does the job. {WL} is nice, {wd} less so."),
    2: ("Love the {wl} {noun}, great value for a {band} item.",
        "{brand} got it right: {wl} and exactly as described.",
        "Really happy with this {noun}. The {wl} feel is just what I wanted.",
        "Would buy again. {WL} and well made."),
}
_REVIEW_TAILS = ("", "", "", " Arrived quickly.", " Bought it as a gift.", " Packaging was fine.",
                 " Delivery took a while.", " My second one already.")


@dataclass(frozen=True)
class ShopParams:
    """Parameters of the choice and feedback model (stored in ``truth["params"]``).

    Attributes
    ----------
    popularity_weight : float
        :math:`w`, weight of the popularity term :math:`q_i` in the choice logit.
    zipf_exponent : float
        :math:`s` in :math:`q_i = -s \\log r_i`.
    taste_scale : float
        :math:`\\beta`, weight of the affinity :math:`a_{ui}` in the choice logit (the knob of
        "taste against popularity": 0 makes every user choose by popularity alone).
    activity_sigma : float
        Standard deviation of the log-normal user activity (heavier-tailed events per user when larger).
    click_cut, purchase_cut : float
        Ordered-logit cut points :math:`c_1 < c_2` of the event type.
    rating_cuts : tuple of 4 floats
        Increasing thresholds :math:`\\tau_1 < \\dots < \\tau_4` of the latent rating.
    rating_noise : float
        :math:`\\sigma`, standard deviation of the rating noise :math:`\\eta`.
    rating_taste_weight : float
        :math:`g`, weight of the affinity in the latent rating.
    user_bias_sd, item_bias_sd : float
        Standard deviations of the user rating bias :math:`b_u` (generous or harsh raters) and of the
        item rating bias :math:`b_i` (quality).
    item_bias_popularity_corr : float
        Correlation, in [-1, 1], of :math:`b_i` with the popularity term :math:`q_i`.
    rated_share : float
        Probability that a pair whose first engaged event is a purchase gets a rating.
    rated_click_share : float
        Probability that a pair whose first engaged event is a click gets a rating.
    review_share : float
        Probability that a rating carries a review text.
    """

    popularity_weight: float = 1.0
    zipf_exponent: float = 0.95
    taste_scale: float = 1.3
    activity_sigma: float = 0.6
    click_cut: float = 2.2
    purchase_cut: float = 4.8
    rating_cuts: tuple[float, float, float, float] = (1.0, 2.2, 3.6, 5.4)
    rating_noise: float = 0.6
    rating_taste_weight: float = 1.5
    user_bias_sd: float = 0.7
    item_bias_sd: float = 0.7
    item_bias_popularity_corr: float = 0.4
    rated_share: float = 0.95
    rated_click_share: float = 0.9
    review_share: float = 0.5

    def validate(self) -> ShopParams:
        """Raise :class:`CourseKitError` naming the first bad field; return ``self``.

        >>> ShopParams(rating_noise=-1.0).validate()
        Traceback (most recent call last):
        ...
        coursekit._validation.CourseKitError: ShopParams.rating_noise must be a finite number >= 0, got -1.0.
        """
        def number(name: str) -> float:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not np.isfinite(value):
                raise CourseKitError(f"ShopParams.{name} must be a finite number, got {value!r}.")
            return float(value)

        for name in ("popularity_weight", "zipf_exponent", "taste_scale", "activity_sigma", "rating_noise",
                     "rating_taste_weight", "user_bias_sd", "item_bias_sd"):
            if number(name) < 0:
                raise CourseKitError(f"ShopParams.{name} must be a finite number >= 0, got {getattr(self, name)!r}.")
        for name in ("click_cut", "purchase_cut"):
            number(name)
        if not self.click_cut < self.purchase_cut:
            raise CourseKitError(f"ShopParams.click_cut must be below purchase_cut, got click_cut={self.click_cut!r} "
                                 f"and purchase_cut={self.purchase_cut!r}.")
        if not -1.0 <= number("item_bias_popularity_corr") <= 1.0:
            raise CourseKitError(f"ShopParams.item_bias_popularity_corr must lie in [-1, 1], "
                                 f"got {self.item_bias_popularity_corr!r}.")
        for name in ("rated_share", "rated_click_share", "review_share"):
            if not 0.0 <= number(name) <= 1.0:
                raise CourseKitError(f"ShopParams.{name} must be a probability in [0, 1], got {getattr(self, name)!r}.")
        cuts = self.rating_cuts
        try:
            cuts_arr = np.asarray(cuts, dtype=float)
        except (TypeError, ValueError):
            cuts_arr = np.array([])
        if cuts_arr.shape != (4,) or not np.isfinite(cuts_arr).all() or not (np.diff(cuts_arr) > 0).all():
            raise CourseKitError(f"ShopParams.rating_cuts must be 4 increasing finite numbers, got {cuts!r}.")
        return self


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

    rank = rng.permutation(n_items) + 1
    quality = np.round(-params.zipf_exponent * np.log(rank), 4)
    # rating bias (quality as judged by raters): correlated with popularity, not equal to it
    z = -np.log(rank)
    z = (z - z.mean()) / (z.std() or 1.0)
    rho = params.item_bias_popularity_corr
    rating_bias = np.round(params.item_bias_sd * (rho * z + np.sqrt(1.0 - rho**2) * rng.normal(size=n_items)), 4)

    release = np.zeros(n_items, dtype=np.int64)
    late = rng.permutation(n_items)[: int(round(late_frac * n_items))]
    release[late] = rng.integers(int(days * DAY / 6), int(days * DAY * 5 / 6), size=late.size)
    return dict(category=category, brand=brand, band=band, words=words, quality=quality,
                rating_bias=rating_bias, release=EPOCH + release)


def _describe_item(rng: np.random.Generator, brand: str, line: str, noun: str, category: str, band: str,
                   words: list[str]) -> str:
    """One product description: every attribute in one of its surface forms, in random order, plus filler."""
    noun_form = NOUN_FORMS[noun][rng.integers(len(NOUN_FORMS[noun]))]
    attrs = [BAND_FORMS[band]] + [WORD_FORMS[w] for w in words]
    order = rng.permutation(len(attrs))
    # each attribute is an adjective in the opener, an item of a list sentence, or a sentence of its own
    slot = rng.choice(3, size=len(attrs), p=[0.35, 0.35, 0.3])
    in_opener = [k for k in order if slot[k] == 0][:2]
    listed = [k for k in order if slot[k] == 1 or (slot[k] == 0 and k not in in_opener)]
    alone = [k for k in order if slot[k] == 2]

    def adj(k: int) -> str:
        forms = attrs[k][0]
        return forms[rng.integers(len(forms))]

    if in_opener:
        template = _OPENERS_ADJ[rng.integers(len(_OPENERS_ADJ))]
        adjs = " ".join(adj(k) for k in in_opener) if len(in_opener) == 1 or rng.random() < 0.5 \
            else ", ".join(adj(k) for k in in_opener)
    else:
        template = _OPENERS_PLAIN[rng.integers(len(_OPENERS_PLAIN))]
        adjs = ""
    opener = template.format(brand=brand, line=line, noun=noun_form, adjs=adjs)
    opener = opener[:1].upper() + opener[1:]
    body: list[str] = []
    while listed:
        n = min(len(listed), int(rng.integers(1, 4)))
        part, listed = listed[:n], listed[n:]
        options = [t for t in _LISTS if t.count("{") == n]
        values = [adj(k) for k in part] + ["", ""]
        text = options[rng.integers(len(options))].format(a=values[0], A=values[0][:1].upper() + values[0][1:],
                                                          b=values[1], c=values[2])
        body.append(text)
    for k in alone:
        forms = attrs[k][1]
        body.append(forms[rng.integers(len(forms))])
    if rng.random() < 0.4:
        cat = CATEGORY_FORMS[category]
        body.append(_CATEGORY_SENTENCES[rng.integers(len(_CATEGORY_SENTENCES))].format(cat=cat[rng.integers(len(cat))]))
    n_fill = int(rng.choice(3, p=[0.35, 0.45, 0.2]))
    body += [FILLERS[j] for j in rng.choice(len(FILLERS), size=n_fill, replace=False)]
    body = [body[j] for j in rng.permutation(len(body))]
    return _articles(" ".join([opener, *body]))


_AN = re.compile(r"\b([Aa]) (?=[aeiouAEIO])")


def _articles(text: str) -> str:
    """'a' -> 'an' before a vowel sound ("an affordable mug"; "a USB-rechargeable lamp" stays).

    >>> _articles("A airy vest and a USB-rechargeable lamp, a organic mug.")
    'An airy vest and a USB-rechargeable lamp, an organic mug.'
    """
    return _AN.sub(lambda m: m.group(1) + "n ", text)


def _item_table(it: dict[str, Any], rng: np.random.Generator) -> pd.DataFrame:
    """Readable item table (short title, product copy, attributes, release time); ``rng`` draws only the text."""
    n = len(it["category"])
    cat_names = np.array(list(CATEGORIES), dtype=object)
    nouns = _nouns(it["category"], it["noun"])
    words = np.array(WORDS, dtype=object)
    brands = np.array(BRANDS, dtype=object)[it["brand"]]
    lines = np.array(LINE_NAMES, dtype=object)[it["line"]]
    bands = np.array(PRICE_BANDS, dtype=object)[it["band"]]
    text = [_describe_item(rng, brands[j], lines[j], nouns[j], cat_names[it["category"][j]], bands[j],
                           words[it["words"][j]].tolist()) for j in range(n)]
    title = brands + " " + lines + " " + nouns
    return pd.DataFrame({
        "item_id": np.arange(1, n + 1, dtype=np.int64),
        "title": pd.array(title, dtype="str"),
        "text": pd.array(np.array(text, dtype=object), dtype="str"),
        "category": pd.array(cat_names[it["category"]], dtype="str"),
        "brand": pd.array(brands, dtype="str"),
        "price_band": pd.array(bands, dtype="str"),
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


def _make_users(rng: np.random.Generator, n_users: int, days: int, drift_frac: float,
                params: ShopParams) -> dict[str, Any]:
    horizon = days * DAY
    signup = np.where(rng.random(n_users) < 0.75, 0,
                      rng.integers(0, int(0.75 * horizon), size=n_users)).astype(np.int64)
    activity = np.round(rng.lognormal(0.0, params.activity_sigma, size=n_users), 4)
    tastes = _make_tastes(rng, n_users)
    drift_users = np.sort(rng.permutation(n_users)[: int(round(drift_frac * n_users))])
    window = horizon - signup[drift_users]
    drift_time = signup[drift_users] + (rng.uniform(0.35, 0.65, size=drift_users.size) * window).astype(np.int64)
    new_tastes = _make_tastes(rng, drift_users.size, avoid_categories=tastes[drift_users, :_N_CAT] > 0)
    rating_bias = np.round(rng.normal(0.0, params.user_bias_sd, size=n_users), 4)
    return dict(signup=EPOCH + signup, activity=activity, tastes=tastes, drift_users=drift_users,
                drift_time=EPOCH + drift_time, new_tastes=new_tastes, rating_bias=rating_bias)


# ------------------------------------------------------------------ events
def _event_users_and_times(rng: np.random.Generator, n_events: int, users: dict[str, Any],
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


def _pick_form(rng: np.random.Generator, forms: list[tuple[str, ...]], index: np.ndarray) -> np.ndarray:
    """For each entry of ``index``, one of ``forms[index]`` drawn uniformly (vectorized)."""
    table = np.array([list(f) + [""] * (max(map(len, forms)) - len(f)) for f in forms], dtype=object)
    count = np.array([len(f) for f in forms])
    return table[index, (rng.random(index.size) * count[index]).astype(np.int64)]


def _reviews(rng: np.random.Generator, rating: np.ndarray, word_weights: np.ndarray,
             item_words: np.ndarray, it: dict[str, Any], item: np.ndarray) -> np.ndarray:
    """Review texts: sentiment from the rating; names the item word the user likes (dislikes) most,
    each in one of its surface forms (:data:`WORD_FORMS`)."""
    rows = np.arange(item.size)
    best = np.argmax(word_weights, axis=1)
    others = word_weights.astype(float)  # the disliked word is another of the item's words
    others[rows, best] = np.inf
    word_adj = [WORD_FORMS[w][0] for w in WORDS]
    liked = _pick_form(rng, word_adj, item_words[rows, best])
    disliked = _pick_form(rng, word_adj, item_words[rows, np.argmin(others, axis=1)])
    noun_forms = [NOUN_FORMS[n] for v in CATEGORIES.values() for n in v]
    sentiment = np.where(rating >= 4, 2, np.where(rating >= 3, 1, 0))
    fields = {
        "wl": liked, "WL": _cap(liked), "wd": disliked,
        "noun": _pick_form(rng, noun_forms, it["category"][item] * 4 + it["noun"][item]),
        "band": _pick_form(rng, [BAND_FORMS[b][0] for b in PRICE_BANDS], it["band"][item]),
        "brand": np.array(BRANDS, dtype=object)[it["brand"][item]],
    }
    out = np.empty(item.size, dtype=object)
    for s, templates in _REVIEWS.items():
        rows = np.flatnonzero(sentiment == s)
        choice = rng.integers(len(templates), size=rows.size)
        out[rows] = _render(templates, choice, {k: v[rows] for k, v in fields.items()})
    tails = np.array(_REVIEW_TAILS, dtype=object)
    out = out + tails[rng.integers(len(tails), size=item.size)]
    return np.asarray(pd.Series(out, dtype=object).str.replace(_AN, lambda m: m.group(1) + "n ", regex=True),
                      dtype=object)


def _nouns(category: np.ndarray, noun: np.ndarray) -> np.ndarray:
    """The product noun of each item ("jacket", "yoga mat", ...)."""
    return np.array([list(v) for v in CATEGORIES.values()], dtype=object)[category, noun]


# ------------------------------------------------------------------ public API
def make_shop(n_users: int = 2000, n_items: int = 1000, n_events: int = 220_000, seed: int = 0, *,
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
        Choice, rating and feedback model parameters (defaults: :class:`ShopParams`, calibrated
        against MovieLens); checked by :meth:`ShopParams.validate` (a :class:`CourseKitError`
        names the bad field and value).

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
    # about 200 bytes per event (the log's columns and the sampler's work arrays) and the dense tastes/attributes
    check_memory(200.0 * n_events + 16.0 * N_ATTRIBUTES * (n_users + n_items),
                 f"make_shop(n_users={n_users}, n_items={n_items}, n_events={n_events})",
                 "lower n_events, n_users or n_items.")
    if days > 40_000:
        raise CourseKitError(f"days must be at most 40000 (about 110 years), got {days}.")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise CourseKitError(f"seed must be a non-negative integer, got {seed!r}.")
    if not 0.0 <= late_item_frac <= 0.9:
        raise CourseKitError(f"late_item_frac must lie in [0, 0.9] (some items must exist at time 0), "
                             f"got {late_item_frac!r}.")
    if not 0.0 <= drift_user_frac <= 1.0:
        raise CourseKitError(f"drift_user_frac must lie in [0, 1], got {drift_user_frac!r}.")
    if params is None:
        params = ShopParams()
    if not isinstance(params, ShopParams):
        raise CourseKitError(f"params must be a ShopParams, got {type(params).__name__}.")
    params.validate()
    rng = np.random.default_rng(seed)
    text_rng = np.random.default_rng([int(seed), 1])  # the copy has its own stream: wording never moves events

    it = _make_items(rng, n_items, days, late_item_frac, params)
    us = _make_users(rng, n_users, days, drift_user_frac, params)
    it["noun"] = text_rng.integers(4, size=n_items)
    it["line"] = text_rng.integers(len(LINE_NAMES), size=n_items)
    items = _item_table(it, text_rng)
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

    item = _choose_items(rng, state, t, params.taste_scale * theta, x, params.popularity_weight * it["quality"],
                         it["release"])
    aff = _affinity_of_events(theta, state, cols, item)

    y = aff + rng.logistic(size=aff.size)
    event = (y >= params.click_cut).astype(np.int8) + (y >= params.purchase_cut)
    # one rating per (user, item) pair, at the pair's first click or purchase, with a share by event type
    engaged = np.flatnonzero(event >= 1)
    _, first = np.unique(user[engaged] * n_items + item[engaged], return_index=True)
    candidates = np.sort(engaged[first])
    share = np.where(event[candidates] == 2, params.rated_share, params.rated_click_share)
    rated = candidates[rng.random(candidates.size) < share]
    latent = (us["rating_bias"][user[rated]] + it["rating_bias"][item[rated]]
              + params.rating_taste_weight * aff[rated] + rng.normal(0.0, params.rating_noise, size=rated.size))
    rating = np.full(aff.size, np.nan)
    rating[rated] = 1.0 + (latent[:, None] > np.asarray(params.rating_cuts, dtype=float)[None, :]).sum(axis=1)
    review = np.full(aff.size, None, dtype=object)
    reviewed = rated[rng.random(rated.size) < params.review_share]
    word_cols = _OFF_WORD + it["words"][item[reviewed]]
    review[reviewed] = _reviews(text_rng, rating[reviewed], theta[state[reviewed, None], word_cols],
                                it["words"][item[reviewed]], it, item[reviewed])

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
        "item_rating_bias": pd.Series(it["rating_bias"], index=item_ids, name="rating_bias"),
        "release_time": pd.Series(it["release"].astype(np.int64), index=item_ids, name="release_time"),
        "user_tastes": pd.DataFrame(us["tastes"], index=user_ids, columns=names),
        "user_activity": pd.Series(us["activity"], index=user_ids, name="activity"),
        "user_rating_bias": pd.Series(us["rating_bias"], index=user_ids, name="rating_bias"),
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
    r"""The simulator's choice distribution over all items (0 for items not released by ``time``).

    :math:`P(i \mid u, t) \propto \exp(\beta\, a_{ui}(t) + w\, q_i)` over the items released by
    :math:`t` (``time`` None = time 0), shape (len(user_ids), n_items) in item-id order.

    >>> shop = make_shop(n_users=20, n_items=10, n_events=100, seed=0)
    >>> p = choice_probabilities(shop.truth, [1, 2])
    >>> p.shape, bool(np.allclose(p.sum(axis=1), 1.0))
    ((2, 10), True)
    """
    params = truth["params"]
    a = affinity(truth, user_ids, None, time)
    logits = params.get("taste_scale", 1.0) * a + params["popularity_weight"] * truth["item_quality"].to_numpy()
    t = EPOCH if time is None else np.asarray(time)
    released = truth["release_time"].to_numpy()[None, :] <= np.reshape(t, (-1, 1))
    logits = np.where(released, logits, -np.inf)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def expected_rating(truth: dict[str, Any], user_ids, item_ids=None, time=None) -> np.ndarray:
    r"""Mean of the simulated rating, :math:`E[r_{ui}] = 1 + \sum_k \Phi((\mu_{ui} - \tau_k)/\sigma)`
    with :math:`\mu_{ui} = b_u + b_i + g\,a_{ui}(t)`; shape (len(user_ids), n_items or len(item_ids)).

    >>> shop = make_shop(n_users=20, n_items=10, n_events=100, seed=0)
    >>> r = expected_rating(shop.truth, [1, 2])
    >>> r.shape, bool(((r >= 1) & (r <= 5)).all())
    ((2, 10), True)
    """
    from scipy.special import ndtr

    params = truth["params"]
    users = np.atleast_1d(np.asarray(user_ids, dtype=np.int64))
    a = affinity(truth, users, item_ids, time)
    bi = truth["item_rating_bias"]
    bi = (bi if item_ids is None else bi.loc[np.atleast_1d(np.asarray(item_ids, dtype=np.int64))]).to_numpy()
    mu = truth["user_rating_bias"].loc[users].to_numpy()[:, None] + bi[None, :] + params["rating_taste_weight"] * a
    cuts = np.asarray(params["rating_cuts"], dtype=float)
    sigma = max(float(params["rating_noise"]), 1e-12)
    return 1.0 + ndtr((mu[..., None] - cuts) / sigma).sum(axis=-1)


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
                                "activity": tr["user_activity"].to_numpy(),
                                "rating_bias": tr["user_rating_bias"].to_numpy()})
    users_truth = users_truth.merge(tr["drift"], on="user_id", how="left")
    users_truth["drift_time"] = users_truth["drift_time"].astype("Int64")
    tastes = pd.concat([tr["user_tastes"].assign(state="initial"), tr["drift_tastes"].assign(state="after_drift")])
    tastes = tastes.reset_index()[["user_id", "state", *tr["attribute_names"]]]
    tastes = tastes.replace(0.0, np.nan)  # sparse: empty fields compress to nothing
    quality = pd.concat([tr["item_quality"], tr["item_rating_bias"]], axis=1).reset_index()
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
              quality=quality["quality"].to_numpy(), rating_bias=quality["rating_bias"].to_numpy(),
              release=items["release_time"].to_numpy())
    x = _attribute_matrix(_item_columns(it["category"], it["brand"], it["band"], it["words"]))
    drift = users_truth.dropna(subset=["drift_time"])
    initial = tastes[tastes["state"] == "initial"]
    after = tastes[tastes["state"] == "after_drift"]
    us = dict(tastes=initial[names].to_numpy(), activity=users_truth["activity"].to_numpy(),
              rating_bias=users_truth["rating_bias"].to_numpy(),
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
    (220000, 6)
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
