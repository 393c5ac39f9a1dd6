r"""Online SGD: a few gradient steps on the user's (and optionally the items') factors per event.

Cheaper than an exact fold-in and applicable to any factor model, at the price of a learning
rate to tune: the update follows the gradient of the model's loss on the new event and a few
sampled negatives.
"""
from __future__ import annotations

import numpy as np

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender
from coursekit.stream.online import OnlineRecommender

__all__ = ["OnlineSGD"]


class OnlineSGD(OnlineRecommender):
    r"""Per-event stochastic gradient steps on the user (and optionally the item) factors.

    Starting from a fitted factor model (:math:`x_u, y_i`), an event :math:`(u, i)` draws
    ``n_negatives`` items :math:`j` uniformly and takes ``steps`` gradient steps of size
    :math:`\eta` on

    ``loss="bpr"``
        .. math:: \ell = -\sum_j \log \sigma\big(x_u^\top (y_i - y_j)\big)
                  + \tfrac{\lambda}{2}\lVert x_u\rVert^2
    ``loss="squared"`` (implicit targets 1 for the item, 0 for the negatives)
        .. math:: \ell = (1 - x_u^\top y_i)^2 + \sum_j (x_u^\top y_j)^2 + \lambda\lVert x_u\rVert^2

    vectorised over the negatives: :math:`\nabla_{x_u}\ell` is one product with the
    :math:`(1 + n_{neg}) \times f` matrix of the touched item vectors. With
    ``update_items=True`` the touched item vectors take their step too. Costs
    :math:`O(n_{neg} f)` per step.

    Parameters
    ----------
    model : fitted Recommender with ``user_factors_`` and ``item_factors_`` (IALS, BPR, BiasedMF)
    lr, reg : float
    n_negatives, steps : int
    loss : {"bpr", "squared"}
    update_items : bool
    seed : int

    Examples
    --------
    >>> import pandas as pd
    >>> from coursekit.models import IALS
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 4], "item_id": [10, 20, 10, 30, 20, 40, 30]})
    >>> train = Interactions.from_frame(log)
    >>> model = IALS(factors=2, iterations=5, reg=0.1, alpha=10.0)
    >>> rec = OnlineSGD(model, lr=0.5, n_negatives=3).initialize(train)
    >>> before = rec.score(3)[2]                 # item 30 (index 2) for user 3
    >>> rec.update(3, 30, timestamp=0)
    >>> bool(rec.score(3)[2] > before)            # the step moves x_3 towards y_30
    True
    """

    def __init__(self, model: Recommender, lr: float = 0.05, reg: float = 0.01, n_negatives: int = 8,
                 steps: int = 1, loss: str = "bpr", update_items: bool = False, seed: int = 0):
        self.model = model
        self.lr = lr
        self.reg = reg
        self.n_negatives = n_negatives
        self.steps = steps
        self.loss = loss
        self.update_items = update_items
        self.seed = seed

    def _init(self, train: Interactions) -> None:
        m = self.model
        if not hasattr(m, "seen_"):
            m.fit(train)
        if not (hasattr(m, "user_factors_") and hasattr(m, "item_factors_")):
            raise CourseKitError("OnlineSGD needs a factor model (user_factors_, item_factors_), "
                                 f"got {type(m).__name__}.")
        if m.item_factors_.shape[0] != train.n_items:
            raise CourseKitError("the model's item factors do not match the universe of train; fit it on train.")
        if self.loss not in ("bpr", "squared"):
            raise CourseKitError(f"loss must be 'bpr' or 'squared', got {self.loss!r}.")
        check_positive_int(self.n_negatives, "n_negatives")
        check_positive_int(self.steps, "steps")
        self._X = np.array(m.user_factors_, dtype=np.float64)
        self._Y = np.array(m.item_factors_, dtype=np.float64)
        self._rng = np.random.default_rng(self.seed)

    def _update(self, u: int, i: int, t: float, value: float | None) -> None:
        neg = self._rng.integers(0, self.n_items, self.n_negatives)
        x = self._X[u]
        for _ in range(self.steps):
            yi, Yn = self._Y[i], self._Y[neg]
            if self.loss == "bpr":
                diff = yi[None, :] - Yn                    # (n, f)
                g = -0.5 * (1.0 - np.tanh(0.5 * (diff @ x)))   # d/dz of -log sigma(z) = -1/(1+e^z), no overflow
                gx = g @ diff + self.reg * x
                gi, gn = g.sum() * x, -g[:, None] * x[None, :]
            else:
                ei, en = yi @ x - 1.0, Yn @ x
                gx = 2.0 * (ei * yi + en @ Yn + self.reg * x)
                gi, gn = 2.0 * ei * x, 2.0 * en[:, None] * x[None, :]
            if self.update_items:
                self._Y[i] -= self.lr * gi
                np.subtract.at(self._Y, neg, self.lr * gn)
            x -= self.lr * gx
        self._X[u] = x

    def _scores(self, u: int) -> np.ndarray:
        return self._Y @ self._X[u]

    def _vectors(self) -> np.ndarray:
        return self._Y
