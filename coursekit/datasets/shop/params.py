"""The shop's clock and the parameters of its choice, event-type and rating models.

:class:`ShopParams` holds every number of the simulator's behaviour (the sizes and the seed
are arguments of :func:`~coursekit.datasets.shop.make_shop`); ``truth["params"]`` stores them.
Timestamps are int seconds from :data:`EPOCH`.

>>> ShopParams().validate().taste_scale
1.3
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coursekit._validation import CourseKitError

__all__ = ["EPOCH", "DAY", "ShopParams"]

EPOCH = 1_735_689_600  # 2025-01-01T00:00:00Z, time 0 of the shop
DAY = 86_400


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

