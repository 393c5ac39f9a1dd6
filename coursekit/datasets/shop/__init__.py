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

.. math:: P(i \mid u, t) = \frac{\exp(\beta\, a_{ui}(t) + w\,q_i)}
                              {\sum_{j \in \mathcal{R}_t} \exp(\beta\, a_{uj}(t) + w\,q_j)},

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

The simulator is split by concept: :mod:`~coursekit.datasets.shop.params` (:class:`ShopParams`,
the clock), :mod:`~coursekit.datasets.shop.vocabulary` (attributes and their wordings),
:mod:`~coursekit.datasets.shop.catalogue` (items and texts),
:mod:`~coursekit.datasets.shop.population` (users, tastes, events),
:mod:`~coursekit.datasets.shop.truth` (the ground truth and its helpers),
:mod:`~coursekit.datasets.shop.simulate` (:func:`make_shop`) and
:mod:`~coursekit.datasets.shop.files` (:func:`save_shop`, :func:`load_shop`).
"""
from coursekit.datasets.shop.files import FILES, SHOP_DATA, load_shop, main, save_shop
from coursekit.datasets.shop.params import DAY, EPOCH, ShopParams
from coursekit.datasets.shop.simulate import CITATION, LICENSE, make_shop
from coursekit.datasets.shop.truth import (
                                           affinity,
                                           choice_probabilities,
                                           expected_rating,
                                           purchase_probability,
                                           taste_at,
)
from coursekit.datasets.shop.vocabulary import (
                                           BAND_FORMS,
                                           BRANDS,
                                           CATEGORIES,
                                           CATEGORY_FORMS,
                                           EVENT_TYPES,
                                           FILLERS,
                                           LINE_NAMES,
                                           N_ATTRIBUTES,
                                           N_WORDS_PER_ITEM,
                                           NOUN_FORMS,
                                           PRICE_BANDS,
                                           WORD_FORMS,
                                           WORDS,
                                           attribute_names,
)

__all__ = ["make_shop", "load_shop", "save_shop", "main", "ShopParams", "SHOP_DATA", "FILES", "LICENSE", "CITATION",
           "EPOCH", "DAY", "taste_at", "affinity", "purchase_probability", "choice_probabilities", "expected_rating",
           "attribute_names", "N_ATTRIBUTES", "N_WORDS_PER_ITEM", "EVENT_TYPES", "CATEGORIES", "BRANDS",
           "PRICE_BANDS", "WORDS", "LINE_NAMES", "WORD_FORMS", "BAND_FORMS", "NOUN_FORMS", "CATEGORY_FORMS", "FILLERS"]
