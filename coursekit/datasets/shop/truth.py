r"""The simulator's ground truth as a dict, and the functions that read it.

``Dataset.truth`` holds every hidden quantity of the shop (:func:`build_truth`); the helpers
compute the true taste :math:`\theta_u(t)`, affinity :math:`a_{ui}(t)`, purchase probability,
choice distribution and expected rating from it, for any user, item and time.

>>> from coursekit.datasets.shop import make_shop
>>> shop = make_shop(n_users=20, n_items=10, n_events=100, seed=0)
>>> affinity(shop.truth, [1]).shape
(1, 10)
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError
from coursekit.datasets.shop.params import EPOCH, ShopParams
from coursekit.datasets.shop.vocabulary import attribute_names

__all__ = ["build_truth", "taste_at", "affinity", "purchase_probability", "choice_probabilities",
           "expected_rating"]

def build_truth(it: dict, us: dict, x: np.ndarray, params: ShopParams, config: dict) -> dict[str, Any]:
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



def taste_at(truth: dict[str, Any], user_ids: ArrayLike, time: ArrayLike | None = None) -> np.ndarray:
    """Taste vectors (len(user_ids), F) in force at ``time`` (scalar or per user; None = time 0).

    >>> from coursekit.datasets.shop import make_shop
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


def affinity(truth: dict[str, Any], user_ids: ArrayLike, item_ids: ArrayLike | None = None,
             time: ArrayLike | None = None) -> np.ndarray:
    r"""True affinities :math:`a_{ui}(t) = \theta_u(t)^\top x_i`, shape (len(user_ids), n_items).

    ``item_ids`` None means every item, in item-id order.
    """
    x = truth["item_attributes"]
    if item_ids is not None:
        x = x.loc[np.atleast_1d(np.asarray(item_ids, dtype=np.int64))]
    return taste_at(truth, user_ids, time) @ x.to_numpy(dtype=float).T


def purchase_probability(truth: dict[str, Any], user_ids: ArrayLike, item_ids: ArrayLike | None = None,
                         time: ArrayLike | None = None) -> np.ndarray:
    r""":math:`P(\text{purchase} \mid u \text{ looks at } i) = \sigma(a_{ui}(t) - c_2)`: a bandit reward."""
    a = affinity(truth, user_ids, item_ids, time)
    return 1.0 / (1.0 + np.exp(-(a - truth["params"]["purchase_cut"])))


def choice_probabilities(truth: dict[str, Any], user_ids: ArrayLike, time: ArrayLike | None = None) -> np.ndarray:
    r"""The simulator's choice distribution over all items (0 for items not released by ``time``).

    :math:`P(i \mid u, t) \propto \exp(\beta\, a_{ui}(t) + w\, q_i)` over the items released by
    :math:`t` (``time`` None = time 0), shape (len(user_ids), n_items) in item-id order.

    >>> from coursekit.datasets.shop import make_shop
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


def expected_rating(truth: dict[str, Any], user_ids: ArrayLike, item_ids: ArrayLike | None = None,
                    time: ArrayLike | None = None) -> np.ndarray:
    r"""Mean of the simulated rating, :math:`E[r_{ui}] = 1 + \sum_k \Phi((\mu_{ui} - \tau_k)/\sigma)`
    with :math:`\mu_{ui} = b_u + b_i + g\,a_{ui}(t)`; shape (len(user_ids), n_items or len(item_ids)).

    >>> from coursekit.datasets.shop import make_shop
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

