r"""Exact explanations of additive recommenders: ItemKNN (implicit) and EASE.

Both score an item :math:`i` for user :math:`u` as a sum over the user's history :math:`H_u`:

.. math::

    \text{ItemKNN:}\quad s_{ui} = \sum_{j \in H_u} x_{uj}\, S_{ij}\,[j \in N_k(i)],
    \qquad
    \text{EASE:}\quad s_{ui} = \sum_{j \in H_u} x_{uj}\, B_{ji},

so the share :math:`\phi_j` of each history item is known exactly and
:math:`\sum_j \phi_j = s_{ui}` ("because you liked *j*"). For an additive value function these
shares are also the Shapley values (a linear game's Shapley value is its coefficient), which is
why they serve as ground truth for LIME and KernelSHAP.

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> from coursekit.models import EASE
>>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 20, 10]})
>>> model = EASE(reg=1.0).fit(Interactions.from_frame(log))
>>> f = exact_contributions(model, user=3, item=20)
>>> bool(abs(f["contribution"].sum() - model.score([3], items=[20])[0, 0]) < 1e-12)
True
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError
from coursekit.explain.contributions import contributions_frame

if TYPE_CHECKING:
    from coursekit.models.base import Recommender

__all__ = ["exact_contributions", "is_additive"]


def is_additive(model: Recommender) -> bool:
    """True for the models whose score is a sum over history items (ItemKNN implicit, EASE)."""
    from coursekit.models import EASE, ItemKNN

    return isinstance(model, EASE) or (isinstance(model, ItemKNN) and model.feedback == "implicit")


def exact_contributions(model: Recommender, user: int, item: int) -> pd.DataFrame:
    """Every history item's exact share of ``model.score(user, item)`` (external ids), largest first.

    History items outside the target's neighbourhood (ItemKNN) get contribution 0, so the table
    always lists the whole history.
    """
    if not is_additive(model):
        raise CourseKitError(f"{type(model).__name__} is not additive over the history; exact contributions exist "
                             "for ItemKNN(feedback='implicit') and EASE. Use kernel_shap or lime for other models.")
    model.check_fitted()
    u = int(model.users_.index([user])[0])
    row = model.seen_[u]
    hist, x = row.indices.astype(np.int64), row.data.astype(np.float64)
    ids, shares = model.history_contributions(user, item)   # ItemKNN: only the target's neighbours
    phi = np.zeros(len(hist))
    phi[np.searchsorted(hist, model.items_.index(ids))] = np.asarray(shares, dtype=np.float64)
    phi *= x   # weighted history rows (binary in the course: x = 1)
    score = float(model.score([user], items=[item])[0, 0])
    return contributions_frame(model.items_.ids[hist], phi, method="exact", base=0.0, score=score)
