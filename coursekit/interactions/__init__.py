"""The bottom layer: interaction logs, their id universe, time order and negative sampling.

Everything in coursekit (splits, models, metrics, evaluation, topic packages) meets on
:class:`Interactions` (see :mod:`coursekit.interactions.log`). What several layers above share
about logs lives here once: the time order with its tie rule (:mod:`~coursekit.interactions.order`),
the same-universe check (:mod:`~coursekit.interactions.universe`) and negative sampling
(:mod:`~coursekit.interactions.sampling`).
"""
from coursekit.interactions.log import ITEM, RATING, TIMESTAMP, USER, IdMap, Interactions
from coursekit.interactions.order import time_order, user_time_order
from coursekit.interactions.sampling import sample_negatives
from coursekit.interactions.universe import check_same_universe

__all__ = ["USER", "ITEM", "RATING", "TIMESTAMP", "IdMap", "Interactions", "time_order", "user_time_order",
           "sample_negatives", "check_same_universe"]
