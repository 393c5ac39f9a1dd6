r"""The oracle: a recommender that ranks by the shop simulator's *true* choice probabilities.

On the synthetic shop (:func:`coursekit.datasets.make_shop`) the probability that user
:math:`u` picks item :math:`i` at time :math:`t` is known:

.. math:: P(i \mid u, t) = \frac{\exp(\beta\, a_{ui}(t) + w\, q_i)}{\sum_j \exp(\beta\, a_{uj}(t) + w\, q_j)},

with the true affinity :math:`a_{ui}(t) = \theta_u(t)^\top x_i` (see
:func:`coursekit.datasets.shop.choice_probabilities`). :class:`Oracle` scores every item by
this probability, so its ranking quality is a **ceiling**: no model fitted on the log can know
the users' tastes better than the simulator that generated them. It is evaluated like any
model (training items excluded, the same harness):

>>> from coursekit.datasets import make_shop
>>> from coursekit.evaluation import evaluate
>>> from coursekit.splits import user_temporal_split
>>> data = make_shop(n_users=200, n_items=100, n_events=6_000, seed=0)
>>> train, test = user_temporal_split(data.to_interactions(), test_frac=0.2)[:2]
>>> oracle = Oracle(data.truth).fit(train)
>>> oracle.score([1]).shape
(1, 100)
>>> res = evaluate(oracle, train, test, ks=(10,), metrics=["ndcg"], beyond=False)
>>> bool(res["value"].iloc[0] > 0)
True

Which taste
    A user's taste can change (the shop's drift users). By default (``time="last_train_event"``)
    the oracle uses the taste in force at the user's **last training event**, which is what a
    recommender deployed at the end of training could at best know; a drift that happens
    during the test period is not foreseen. ``time`` may also be a timestamp (int seconds,
    the same for every user), e.g. the end of the log for a "clairvoyant" oracle.

Which items
    By default every item of the catalogue is scored with the unrestricted softmax, so an item
    released during the test period is ranked by its true appeal (the simulator would offer it
    once released). With ``respect_release=True`` items not yet released at the reference time
    get probability 0, exactly :func:`~coursekit.datasets.shop.choice_probabilities`.

Why it is not in the shared contract suite
    The oracle needs the simulator's ground truth (``data.truth``) for the very user and item
    ids it is fitted on; the contract suite's data (:func:`coursekit.models.contract_fixtures.contract_data`)
    is a hand-made log with other ids and no truth. ``tests/test_oracle.py`` runs the same
    rules (shapes, order, exclusion of seen items, padding, unknown ids, cold users,
    determinism, save/load) on a small shop instead.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from coursekit._validation import CourseKitError
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender

__all__ = ["Oracle"]


class Oracle(Recommender):
    """Scores = the shop simulator's true choice probabilities (a ceiling for every model).

    Parameters
    ----------
    truth : dict
        ``Dataset.truth`` of a shop (``make_shop(...)`` or ``load_shop()``); needed by ``fit``
        only (a saved oracle is loaded without it).
    time : "last_train_event" or int
        Whose taste: the one in force at each user's last training event (default), or at
        this timestamp (seconds) for every user.
    respect_release : bool
        Give probability 0 to items not released at the reference time (default False: every
        item is scored by its unrestricted choice probability).

    Attributes
    ----------
    probabilities_ : array (n_users, n_items)
        The true choice probabilities over the training universe (rows of users without
        training events use time 0 with ``time="last_train_event"``; they get the ``cold_users``
        fallback anyway).
    reference_time_ : array (n_users,)
        The time at which each user's taste was taken.
    """

    def __init__(self, truth: dict[str, Any] | None = None, time: str | int = "last_train_event",
                 respect_release: bool = False):
        self.truth = truth
        self.time = time
        self.respect_release = respect_release

    def get_params(self) -> dict[str, Any]:
        """``time`` and ``respect_release`` (the truth is data, not a hyper-parameter: not saved)."""
        return {"time": self.time, "respect_release": self.respect_release}

    def _fit(self, train: Interactions) -> None:
        from coursekit.datasets.shop import EPOCH, affinity

        truth = self.truth
        if not isinstance(truth, dict) or "item_attributes" not in truth or "user_tastes" not in truth:
            raise CourseKitError("Oracle needs the shop's ground truth: Oracle(data.truth) with data = "
                                 "coursekit.load_dataset('shop') or make_shop(...). MovieLens has no truth.")
        if not isinstance(self.respect_release, (bool, np.bool_)):
            raise CourseKitError(f"respect_release must be True or False, got {self.respect_release!r}.")
        user_ids, item_ids = train.users.ids, train.items.ids
        known_items = truth["item_attributes"].index
        bad = item_ids[~np.isin(item_ids, known_items.to_numpy())]
        if bad.size:
            raise CourseKitError(f"item id(s) {bad[:5].tolist()} of the training universe are not in the shop's "
                                 f"truth (ids 1..{len(known_items)}): fit the oracle on data from the same shop.")
        bad = user_ids[~np.isin(user_ids, truth["user_tastes"].index.to_numpy())]
        if bad.size:
            raise CourseKitError(f"user id(s) {bad[:5].tolist()} of the training universe are not in the shop's "
                                 f"truth: fit the oracle on data from the same shop.")
        if isinstance(self.time, str):
            if self.time != "last_train_event":
                raise CourseKitError(f"time must be 'last_train_event' or a timestamp (int), got {self.time!r}.")
            t = np.full(train.n_users, EPOCH, dtype=np.int64)
            np.maximum.at(t, train.user_index, train.timestamps.astype(np.int64))
        elif isinstance(self.time, (int, np.integer)) and not isinstance(self.time, (bool, np.bool_)):
            t = np.full(train.n_users, int(self.time), dtype=np.int64)
        else:
            raise CourseKitError(f"time must be 'last_train_event' or a timestamp (int), got {self.time!r}.")
        params = truth["params"]
        a = affinity(truth, user_ids, item_ids, t)
        q = truth["item_quality"].loc[item_ids].to_numpy(dtype=np.float64)
        logits = params.get("taste_scale", 1.0) * a + params["popularity_weight"] * q[None, :]
        if self.respect_release:
            release = truth["release_time"].loc[item_ids].to_numpy()
            logits = np.where(release[None, :] <= t[:, None], logits, -np.inf)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        self.probabilities_ = p / p.sum(axis=1, keepdims=True)
        self.reference_time_ = t

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        return self.probabilities_[user_index].copy()
