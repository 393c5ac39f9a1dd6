r"""Fold-in updates: the exact user vector of a factor model after every event, item factors fixed.

A factor model's user vector is the solution of a small ridge system (the user step of ALS).
A new event changes that system by a rank-one term, so the updated vector costs one
:math:`f \times f` solve, not a refit: the model's own fold-in
(:meth:`IALS.user_factors <coursekit.models.IALS.user_factors>`,
:meth:`BiasedMF.user_factors <coursekit.models.BiasedMF.user_factors>`), kept up to date event by event.
"""
from __future__ import annotations

import numpy as np

from coursekit._validation import CourseKitError
from coursekit.interactions import RATING, Interactions
from coursekit.models import IALS, BiasedMF
from coursekit.stream.online import OnlineRecommender

__all__ = ["FoldInUpdater"]


class FoldInUpdater(OnlineRecommender):
    r"""Exact fold-in of the user vector after every event, item factors fixed.

    **iALS** (:class:`~coursekit.models.IALS`). The user vector solves
    :math:`A_u x_u = b_u` with

    .. math::

        A_u = \underbrace{Y^\top Y + \lambda I}_{G,\ \text{cached}}
              + \sum_{i \in H_u} (c_{ui} - 1)\, y_i y_i^\top, \qquad
        b_u = \sum_{i \in H_u} c_{ui}\, y_i ,

    :math:`c_{ui} = 1 + \alpha r_{ui}` (or :math:`1 + \alpha\log(1 + r_{ui})`), :math:`r_{ui}` the
    event count. An event on item :math:`i` raises :math:`r_{ui}` by the event's value (default 1),
    so :math:`c_{ui}` moves from :math:`c^{old}` (1 if new) to :math:`c^{new}` and

    .. math::

        A_u \mathrel{+}= (c^{new} - c^{old})\, y_i y_i^\top, \qquad
        b_u \mathrel{+}= (c^{new} - c^{old}[i \in H_u])\, y_i ,

    a rank-one change in :math:`O(f^2)`, then one :math:`f \times f` solve in :math:`O(f^3)`.
    :math:`G` and the confidences come from the model (:meth:`IALS.gram`,
    :meth:`IALS.confidence_of`); the result equals :meth:`IALS.user_factors` of the whole
    history (to rounding), and the scores :math:`Y x_u` equal :meth:`IALS.fold_in`.

    **BiasedMF** (:class:`~coursekit.models.BiasedMF`), explicit ratings; with
    :math:`\tilde y_i = [q_i; 1]`, :math:`\tilde x_u = [p_u; b_u]`:

    .. math::

        A_u = \sum_{j} \tilde y_{i_j} \tilde y_{i_j}^\top + \lambda n_u I, \qquad
        b_u = \sum_j \tilde y_{i_j} (r_j - \mu - b_{i_j}),

    and a rating adds :math:`\tilde y_i \tilde y_i^\top + \lambda I` and
    :math:`\tilde y_i (r - \mu - b_i)`: the same closed form as :meth:`BiasedMF.user_factors`.
    Scores are :math:`\mu + b_i + \tilde y_i^\top \tilde x_u`.

    **Negative event** (:meth:`push_away`, iALS only): an observation of preference
    :math:`p_{ui} = 0` with extra confidence :math:`w` (default :math:`\alpha`, one event's
    confidence; every unobserved item already has :math:`p = 0` at confidence 1):

    .. math:: A_u \leftarrow A_u + w\, y_i y_i^\top, \quad b_u \text{ unchanged}, \quad x_u = A_u^{-1} b_u .

    By Sherman-Morrison the scores move by
    :math:`\Delta s_{uj} = -\frac{w\,(y_j^\top A_u^{-1} y_i)(y_i^\top x_u)}{1 + w\, y_i^\top A_u^{-1} y_i}`.

    Parameters
    ----------
    model : IALS or BiasedMF
        Fitted on the warm-up interactions (if not fitted, :meth:`initialize` fits it).

    Notes
    -----
    A user's :math:`(A_u, b_u)` is built from the training history the first time the user
    has an event (:math:`O(|H_u| f^2)`, once) and updated incrementally afterwards. Users
    without streamed events keep the model's trained vector.

    Examples
    --------
    >>> import pandas as pd
    >>> from coursekit.models import IALS
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 30, 20]})
    >>> train = Interactions.from_frame(log)
    >>> model = IALS(factors=2, iterations=5, solver="cholesky").fit(train)
    >>> rec = FoldInUpdater(model).initialize(train)
    >>> rec.update(3, 30, timestamp=0)
    >>> bool(np.allclose(rec.user_vector(3), model.user_factors([20, 30])))
    True
    >>> bool(np.allclose(rec.score(3), model.fold_in([20, 30])))
    True
    """

    def __init__(self, model: IALS | BiasedMF):
        self.model = model

    @property
    def supports_push_away(self) -> bool:
        """A negative event is defined for iALS (implicit feedback), not for explicit ratings."""
        return isinstance(self.model, IALS)

    def _init(self, train: Interactions) -> None:
        m = self.model
        if not isinstance(m, (IALS, BiasedMF)):
            raise CourseKitError(f"FoldInUpdater needs an IALS or BiasedMF model, got {type(m).__name__}.")
        if not hasattr(m, "seen_"):
            m.fit(train)
        if not np.array_equal(m.items_.ids, train.items.ids) or not np.array_equal(m.users_.ids, train.users.ids):
            raise CourseKitError("the model was fitted on another universe of users/items; fit it on the "
                                 "same interactions you pass to initialize (or leave it unfitted).")
        self._implicit = isinstance(m, IALS)
        Y = m.item_factors_
        if self._implicit:
            self._Y = np.ascontiguousarray(Y)
            self._G = m.gram()
            self._X = m.user_factors_.copy()
            self._counts = train.matrix("count", dtype=np.float64)
            self._r: dict[int, dict[int, float]] = {}
        else:
            self._Y = np.ascontiguousarray(np.hstack([Y, np.ones((Y.shape[0], 1))]))
            self._X = np.hstack([m.user_factors_, m.user_bias_[:, None]])
            keep = ~np.isnan(train.ratings) if RATING in train.frame.columns else np.zeros(len(train), bool)
            self._rated = (train.user_index[keep], train.item_index[keep],
                           train.ratings[keep] - m.mu_ - m.item_bias_[train.item_index[keep]])
            self._rated_order = np.argsort(self._rated[0], kind="stable")
            self._rated_ptr = np.r_[0, np.cumsum(np.bincount(self._rated[0], minlength=train.n_users))]
        self._A: dict[int, np.ndarray] = {}
        self._b: dict[int, np.ndarray] = {}

    def _start(self, u: int) -> None:
        """Build :math:`(A_u, b_u)` from the user's training history (once per user)."""
        if self._implicit:
            row = self._counts[u]
            idx, r = row.indices, row.data.astype(np.float64)
            c = self.model.confidence_of(r)
            Yh = self._Y[idx]
            self._A[u] = self._G + (Yh.T * (c - 1.0)) @ Yh
            self._b[u] = Yh.T @ c
            self._r[u] = dict(zip(idx.tolist(), r.tolist()))
        else:
            sel = self._rated_order[self._rated_ptr[u]:self._rated_ptr[u + 1]]
            Yh = self._Y[self._rated[1][sel]]
            d = self._Y.shape[1]
            self._A[u] = Yh.T @ Yh + self.model.reg * len(sel) * np.eye(d)
            self._b[u] = Yh.T @ self._rated[2][sel]

    def _update(self, u: int, i: int, t: float, value: float | None) -> None:
        if u not in self._A:
            self._start(u)
        A, b, y = self._A[u], self._b[u], self._Y[i]
        if self._implicit:
            v = 1.0 if value is None or not np.isfinite(value) else float(value)
            if v <= 0:
                raise CourseKitError(f"iALS fold-in needs a positive event count, got value={value!r}.")
            old = self._r[u].get(i)
            new = (old or 0.0) + v
            self._r[u][i] = new
            c_new = float(self.model.confidence_of(new))
            c_old = float(self.model.confidence_of(old)) if old is not None else 1.0
            A += (c_new - c_old) * np.outer(y, y)
            b += (c_new - (c_old if old is not None else 0.0)) * y
        else:
            if value is None or not np.isfinite(value):
                raise CourseKitError("BiasedMF fold-in needs the rating as value= (explicit feedback).")
            A += np.outer(y, y)
            A.flat[:: A.shape[0] + 1] += self.model.reg
            b += y * (float(value) - self.model.mu_ - self.model.item_bias_[i])
        self._X[u] = np.linalg.solve(A, b)

    def _push_away(self, u: int, i: int, weight: float | None) -> None:
        w = float(self.model.alpha) if weight is None else weight
        if u not in self._A:
            self._start(u)
        y = self._Y[i]
        self._A[u] += w * np.outer(y, y)
        self._X[u] = np.linalg.solve(self._A[u], self._b[u])

    def user_vector(self, user: int) -> np.ndarray:
        """The current user vector (``[p_u, b_u]`` for BiasedMF) for an external user id."""
        self._check_ready()
        return self._X[int(self.users_.index([user])[0])].copy()

    def _scores(self, u: int) -> np.ndarray:
        s = self._Y @ self._X[u]
        if not self._implicit:
            s += self.model.mu_ + self.model.item_bias_
        return s

    def _vectors(self) -> np.ndarray:
        return self._Y
