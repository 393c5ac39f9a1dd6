r"""Online recommenders: update a user's state after every event, recommend at once.

One interface, :class:`OnlineRecommender`:

``initialize(train)``
    Start from the warm-up interactions (fit what needs fitting, build the users' states).
``update(user, item, timestamp, value=None)``
    One new event (external ids); the user's state changes *now*, no retraining.
``recommend(user, k=10, exclude_seen=True)``
    Top-``k`` ``(item_ids, scores)`` for one user from the current state (1-d arrays,
    padded with id ``-1`` / score ``-inf`` like :meth:`Recommender.recommend`).

Implementations (each documents its update rule with the formula):

=======================  ===================================================================
:class:`DecayedProfile`  exponentially decayed mean of the item vectors a user touched
:class:`FoldInUpdater`   exact iALS / BiasedMF fold-in of the user vector, item factors fixed
:class:`OnlineSGD`       per-event SGD on the user (optionally item) factors
:class:`SequenceUpdater` a sequence model (SASRec / BERT4Rec) over the user's last N items
:class:`RecencyPopularity` decayed item counts, the same list for everyone
:class:`FrozenModel`     any coursekit ``Recommender`` trained once (the static baseline)
:class:`PeriodicRetrain` a ``Recommender`` refitted on everything seen every ``period`` events
=======================  ===================================================================

Single-user operations are vectorised over items (one matrix-vector product for the
scores) and cost :math:`O(f^2)` or less per update where the maths allows it. Internally,
users and items are indices of the universe of ``initialize``'s interactions; the
``*_index`` methods take indices and skip the id lookup (what the prequential loop and the
latency benchmark call).

Example
-------
>>> import numpy as np, pandas as pd
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 11, 12], "timestamp": [0, 5, 9]})
>>> V = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])   # item vectors of items 10, 11, 12
>>> rec = DecayedProfile(V, half_life=10.0).initialize(Interactions.from_frame(log))
>>> rec.update(2, 10, timestamp=19)
>>> rec.recommend(2, k=1)[0].tolist()     # item 12 is seen: 11 is the only candidate left
[11]
"""
from __future__ import annotations

import numpy as np

from coursekit._validation import CourseKitError, NotFittedError, check_positive_int
from coursekit.interactions import Interactions
from coursekit.models.base import PAD_ID, Recommender, top_k

__all__ = ["OnlineRecommender", "DecayedProfile", "FoldInUpdater", "OnlineSGD", "SequenceUpdater",
           "RecencyPopularity", "FrozenModel", "PeriodicRetrain", "top_k_1d"]


def top_k_1d(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` of one score vector, best first, ties by lower index, ``-inf`` padded as ``-1``.

    The one-row version of :func:`coursekit.models.base.top_k` (same result), for latency.

    >>> top_k_1d(np.array([0.1, 0.5, 0.5, -np.inf]), 4)[0].tolist()
    [1, 2, 0, -1]
    """
    n = scores.shape[0]
    k = min(k, n)
    if k < n:
        part = np.argpartition(-scores, k - 1)[:k]
        kth = scores[part].min()
        # all candidates >= the k-th value, so that ties are resolved by index, not by argpartition
        cand = np.flatnonzero(scores >= kth)
        if cand.size > 4 * k + 64:  # a huge tie: fall back to the exact 2-d routine
            idx, val = top_k(scores[None, :], k)
            return idx[0], val[0]
    else:
        cand = np.arange(n)
    order = np.lexsort((cand, -scores[cand]))[:k]
    idx = cand[order]
    val = scores[idx]
    idx = np.where(np.isneginf(val), PAD_ID, idx)
    return idx, val


class OnlineRecommender:
    """Base class: the online interface; subclasses implement ``_init``, ``_update`` and ``_scores``.

    Attributes set by :meth:`initialize`: ``users_``, ``items_`` (the universe), ``n_items``,
    ``item_popularity_`` (event counts, updated online; the fallback for users without any
    event), ``last_time_`` (per user, time of the latest event, or ``-inf``).
    """

    def initialize(self, train: Interactions) -> OnlineRecommender:
        """Build every user's state from ``train`` (the warm-up events) and return ``self``."""
        if not isinstance(train, Interactions):
            raise CourseKitError(f"initialize expects coursekit Interactions, got {type(train).__name__}.")
        self.users_, self.items_ = train.users, train.items
        self.n_items = train.n_items
        self.item_popularity_ = train.item_counts().astype(np.float64)
        self._n_events = train.user_counts().astype(np.int64)
        seen = train.matrix()
        self._seen = [list(r) for r in np.split(seen.indices, seen.indptr[1:-1])]
        self.last_time_ = np.full(train.n_users, -np.inf)
        if len(train) and train.has_timestamps:
            np.maximum.at(self.last_time_, train.user_index, train.timestamps.astype(np.float64))
        self._init(train)
        return self

    def _check_ready(self) -> None:
        if not hasattr(self, "items_"):
            raise NotFittedError(f"{type(self).__name__} has no state yet: call .initialize(train) first.")

    # ------------------------------------------------------------------ public, external ids
    def update(self, user, item, timestamp, value=None) -> None:
        """Apply one event ``(user, item, timestamp[, value])`` given by external ids."""
        self._check_ready()
        u = int(self.users_.index([user])[0])
        i = int(self.items_.index([item])[0])
        self.update_index(u, i, timestamp, value)

    def recommend(self, user, k: int = 10, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` external item ids and scores for one user (1-d arrays, best first)."""
        self._check_ready()
        u = int(self.users_.index([user])[0])
        idx, val = self.recommend_index(u, k, exclude_seen)
        return np.where(idx >= 0, self.items_.ids[np.maximum(idx, 0)], PAD_ID), val

    def score(self, user) -> np.ndarray:
        """Scores of every item for one user, from the current state."""
        self._check_ready()
        return self.score_index(int(self.users_.index([user])[0]))

    # ------------------------------------------------------------------ internal indices
    def update_index(self, u: int, i: int, timestamp, value=None) -> None:
        """:meth:`update` for internal indices (no id lookup)."""
        t = float(timestamp)
        if t < self.last_time_[u]:
            raise CourseKitError(f"event at time {timestamp} is older than user {u}'s last event "
                                 f"({self.last_time_[u]:.0f}); replay events in time order (coursekit.stream.Replay).")
        self._update(u, i, t, value)
        self.last_time_[u] = t
        self._n_events[u] += 1
        self._seen[u].append(i)
        self.item_popularity_[i] += 1.0

    def score_index(self, u: int) -> np.ndarray:
        if self._n_events[u] == 0:
            return self._cold_scores()
        return self._scores(u)

    def _cold_scores(self) -> np.ndarray:
        return self.item_popularity_.copy()

    def recommend_index(self, u: int, k: int = 10, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` internal item indices (``-1`` pads) and scores for internal user ``u``."""
        k = check_positive_int(k, "k")
        s = np.array(self.score_index(u), dtype=np.float64)
        if exclude_seen and self._seen[u]:
            s[self._seen[u]] = -np.inf
        if np.isnan(s).any():
            raise FloatingPointError(f"{type(self).__name__} produced NaN scores; lower the learning rate.")
        return top_k_1d(s, k)

    def seen_items(self, u: int) -> np.ndarray:
        """Internal indices of the items user ``u`` has touched: training items once each, then every streamed event."""
        return np.asarray(self._seen[u], dtype=np.int64)

    # ------------------------------------------------------------------ to implement
    def _init(self, train: Interactions) -> None:
        raise NotImplementedError

    def _update(self, u: int, i: int, t: float, value) -> None:
        raise NotImplementedError

    def _scores(self, u: int) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        params = {k: v for k, v in vars(self).items() if not k.startswith("_") and not k.endswith("_")
                  and k != "n_items" and not isinstance(v, (np.ndarray, Recommender))}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


def _item_vectors_of(source) -> np.ndarray:
    if isinstance(source, Recommender):
        return np.asarray(source._item_vectors(), dtype=np.float64)
    return np.asarray(source, dtype=np.float64)


def _check_half_life(h) -> float:
    try:
        h = float(h)
    except (TypeError, ValueError):
        raise CourseKitError(f"half_life must be a positive number of seconds (or inf), got {h!r}.") from None
    if not h > 0:
        raise CourseKitError(f"half_life must be > 0 seconds (np.inf: no forgetting), got {h!r}.")
    return h


# ---------------------------------------------------------------------------- a. decayed profile
class DecayedProfile(OnlineRecommender):
    r"""A user is the exponentially decayed mean of the vectors of the items they touched.

    With item vectors :math:`v_i` and half-life :math:`h`, an event :math:`(u, i, t, w)`
    (weight :math:`w`, default 1) updates the decayed sums

    .. math::

        S_u \leftarrow 2^{-\Delta t / h} S_u + w\, v_i, \qquad
        W_u \leftarrow 2^{-\Delta t / h} W_u + w, \qquad
        p_u = S_u / W_u, \qquad \Delta t = t - t_u^{\text{last}},

    so :math:`p_u = \sum_j 2^{-(t - t_j)/h} w_j v_{i_j} / \sum_j 2^{-(t - t_j)/h} w_j` is a
    weighted mean in which an event :math:`h` seconds old counts half. With
    :math:`h \to \infty` it is the plain mean of the history's vectors. Scores
    :math:`s_{ui} = v_i^\top p_u`. An update costs :math:`O(d)`, a recommendation
    :math:`O(|I| d)`.

    Parameters
    ----------
    item_vectors : array (n_items, d) or fitted Recommender
        Vectors aligned with the item indices of the universe (MiniLM text vectors, MF
        factors, ...); a fitted model gives its ``_item_vectors()``.
    half_life : float
        :math:`h` in seconds (``np.inf``: never forget).
    normalize : bool
        L2-normalise the item vectors first (cosine geometry; right for text embeddings).
    use_values : bool
        Weight each event by its ``value`` (e.g. the rating) instead of 1.

    Examples
    --------
    >>> import pandas as pd
    >>> from coursekit.interactions import Interactions
    >>> V = np.eye(3)
    >>> log = pd.DataFrame({"user_id": [1, 1], "item_id": [0, 1], "timestamp": [0, 10]})
    >>> rec = DecayedProfile(V, half_life=10.0, normalize=False).initialize(
    ...     Interactions.from_frame(log, items=[0, 1, 2]))
    >>> rec.profile(1).round(4).tolist()     # (0.5 e0 + e1) / 1.5
    [0.3333, 0.6667, 0.0]
    """

    def __init__(self, item_vectors, half_life: float = 7 * 86400.0, normalize: bool = True,
                 use_values: bool = False):
        self.item_vectors = item_vectors
        self.half_life = half_life
        self.normalize = normalize
        self.use_values = use_values

    def _init(self, train: Interactions) -> None:
        h = _check_half_life(self.half_life)
        V = _item_vectors_of(self.item_vectors)
        if V.ndim != 2 or V.shape[0] != train.n_items:
            raise CourseKitError(f"item_vectors must have one row per item of the universe ({train.n_items}), "
                                 f"got shape {V.shape}. Align them with train.items.ids.")
        if self.normalize:
            norms = np.linalg.norm(V, axis=1, keepdims=True)
            V = V / np.where(norms > 0, norms, 1.0)
        self._V = np.ascontiguousarray(V)
        w = self._weights(train)
        if len(train) and train.has_timestamps and np.isfinite(h):
            age = self.last_time_[train.user_index] - train.timestamps.astype(np.float64)
            w = w * np.exp2(-age / h)
        import scipy.sparse as sp

        Wm = sp.csr_matrix((w, (train.user_index, train.item_index)), shape=(train.n_users, train.n_items))
        self._S = np.asarray(Wm @ self._V)
        self._W = np.asarray(Wm.sum(axis=1)).ravel()

    def _weights(self, train: Interactions) -> np.ndarray:
        if not self.use_values:
            return np.ones(len(train))
        v = train.ratings
        if np.isnan(v).any():
            raise CourseKitError("use_values=True needs a value (rating) for every event; some are NaN.")
        return v

    def _update(self, u: int, i: int, t: float, value) -> None:
        w = 1.0
        if self.use_values:
            if value is None or not np.isfinite(value):
                raise CourseKitError("use_values=True: update needs a finite value (e.g. the rating).")
            w = float(value)
        last = self.last_time_[u]
        if np.isfinite(last) and np.isfinite(self.half_life):
            decay = 2.0 ** (-(t - last) / self.half_life)
            self._S[u] *= decay
            self._W[u] *= decay
        self._S[u] += w * self._V[i]
        self._W[u] += w

    def profile(self, user) -> np.ndarray:
        """:math:`p_u = S_u / W_u` for an external user id (zeros for a user without events)."""
        self._check_ready()
        u = int(self.users_.index([user])[0])
        return self._profile(u)

    def _profile(self, u: int) -> np.ndarray:
        return self._S[u] / self._W[u] if self._W[u] > 0 else np.zeros(self._V.shape[1])

    def _scores(self, u: int) -> np.ndarray:
        return self._V @ self._profile(u)


# ---------------------------------------------------------------------------- b. fold-in
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
    The result equals :meth:`IALS.fold_in` of the whole history (to rounding).

    **BiasedMF** (:class:`~coursekit.models.BiasedMF`), explicit ratings; with
    :math:`\tilde y_i = [q_i; 1]`, :math:`\tilde x_u = [p_u; b_u]`:

    .. math::

        A_u = \sum_{j} \tilde y_{i_j} \tilde y_{i_j}^\top + \lambda n_u I, \qquad
        b_u = \sum_j \tilde y_{i_j} (r_j - \mu - b_{i_j}),

    and a rating adds :math:`\tilde y_i \tilde y_i^\top + \lambda I` and
    :math:`\tilde y_i (r - \mu - b_i)`: the same closed form as :meth:`BiasedMF.fold_in`.

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
    >>> bool(np.allclose(rec.user_vector(3), model.fold_in(train.items.index([20, 30]))))
    True
    """

    def __init__(self, model):
        self.model = model

    def _init(self, train: Interactions) -> None:
        from coursekit.models.factorization import BiasedMF
        from coursekit.models.ials import IALS

        m = self.model
        if not isinstance(m, (IALS, BiasedMF)):
            raise CourseKitError(f"FoldInUpdater needs an IALS or BiasedMF model, got {type(m).__name__}.")
        if not hasattr(m, "seen_"):
            m.fit(train)
        if not np.array_equal(m.items_.ids, train.items.ids) or not np.array_equal(m.users_.ids, train.users.ids):
            raise CourseKitError("the model was fitted on another universe of users/items; fit it on the "
                                 "same interactions you pass to initialize (or leave it unfitted).")
        self._kind = "ials" if isinstance(m, IALS) else "mf"
        Y = m.item_factors_
        if self._kind == "ials":
            self._Y = np.ascontiguousarray(Y)
            self._G = Y.T @ Y + m.reg * np.eye(Y.shape[1])
            self._X = m.user_factors_.copy()
            self._counts = train.matrix("count", dtype=np.float64)
            self._r: dict[int, dict[int, float]] = {}
        else:
            self._Y = np.ascontiguousarray(np.hstack([Y, np.ones((Y.shape[0], 1))]))
            self._X = np.hstack([m.user_factors_, m.user_bias_[:, None]])
            keep = ~np.isnan(train.ratings) if "rating" in train.frame.columns else np.zeros(len(train), bool)
            self._rated = (train.user_index[keep], train.item_index[keep],
                           train.ratings[keep] - m.mu_ - m.item_bias_[train.item_index[keep]])
            self._rated_order = np.argsort(self._rated[0], kind="stable")
            self._rated_ptr = np.r_[0, np.cumsum(np.bincount(self._rated[0], minlength=train.n_users))]
        self._A: dict[int, np.ndarray] = {}
        self._b: dict[int, np.ndarray] = {}

    def _confidence(self, r: np.ndarray | float):
        m = self.model
        return 1.0 + m.alpha * (r if m.confidence == "linear" else np.log1p(r))

    def _start(self, u: int) -> None:
        """Build :math:`(A_u, b_u)` from the user's training history (once per user)."""
        if self._kind == "ials":
            row = self._counts[u]
            idx, r = row.indices, row.data.astype(np.float64)
            c = self._confidence(r)
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

    def _update(self, u: int, i: int, t: float, value) -> None:
        if u not in self._A:
            self._start(u)
        A, b, y = self._A[u], self._b[u], self._Y[i]
        if self._kind == "ials":
            v = 1.0 if value is None or not np.isfinite(value) else float(value)
            if v <= 0:
                raise CourseKitError(f"iALS fold-in needs a positive event count, got value={value!r}.")
            old = self._r[u].get(i)
            new = (old or 0.0) + v
            self._r[u][i] = new
            c_new = self._confidence(new)
            c_old = self._confidence(old) if old is not None else 1.0
            A += (c_new - c_old) * np.outer(y, y)
            b += (c_new - (c_old if old is not None else 0.0)) * y
        else:
            if value is None or not np.isfinite(value):
                raise CourseKitError("BiasedMF fold-in needs the rating as value= (explicit feedback).")
            A += np.outer(y, y)
            A.flat[:: A.shape[0] + 1] += self.model.reg
            b += y * (float(value) - self.model.mu_ - self.model.item_bias_[i])
        self._X[u] = np.linalg.solve(A, b)

    def user_vector(self, user) -> np.ndarray:
        """The current user vector (``[p_u, b_u]`` for BiasedMF) for an external user id."""
        self._check_ready()
        return self._X[int(self.users_.index([user])[0])].copy()

    def _scores(self, u: int) -> np.ndarray:
        s = self._Y @ self._X[u]
        if self._kind == "mf":
            s += self.model.mu_ + self.model.item_bias_
        return s


# ---------------------------------------------------------------------------- c. online SGD
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
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 30, 20]})
    >>> train = Interactions.from_frame(log)
    >>> rec = OnlineSGD(IALS(factors=2, iterations=3), lr=0.5, n_negatives=3).initialize(train)
    >>> before = rec.score(3)[2]                 # item 30 (index 2) for user 3
    >>> rec.update(3, 30, timestamp=0)
    >>> bool(rec.score(3)[2] > before)            # the step moves x_3 towards y_30
    True
    """

    def __init__(self, model, lr: float = 0.05, reg: float = 0.01, n_negatives: int = 8, steps: int = 1,
                 loss: str = "bpr", update_items: bool = False, seed: int = 0):
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
            raise CourseKitError(f"OnlineSGD needs a factor model (user_factors_, item_factors_), got {type(m).__name__}.")
        if m.item_factors_.shape[0] != train.n_items:
            raise CourseKitError("the model's item factors do not match the universe of train; fit it on train.")
        if self.loss not in ("bpr", "squared"):
            raise CourseKitError(f"loss must be 'bpr' or 'squared', got {self.loss!r}.")
        check_positive_int(self.n_negatives, "n_negatives")
        check_positive_int(self.steps, "steps")
        self._X = np.array(m.user_factors_, dtype=np.float64)
        self._Y = np.array(m.item_factors_, dtype=np.float64)
        self._rng = np.random.default_rng(self.seed)

    def _update(self, u: int, i: int, t: float, value) -> None:
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


# ---------------------------------------------------------------------------- d. sequence models
class SequenceUpdater(OnlineRecommender):
    r"""The user state is a forward pass of a sequence model over the last ``max_len`` items.

    After each event the user's item sequence :math:`(i_1, \dots, i_n)` grows by one and the
    model's output for the next position, :math:`h_u = f_\theta(i_{n-N+1}, \dots, i_n)`, is
    recomputed (:meth:`SASRec.encode_sequence`); scores are :math:`s_{ui} = e_i^\top h_u` (+ bias).
    The weights :math:`\theta` stay fixed: the reaction to a new event comes from the input.

    Parameters
    ----------
    model : fitted SASRec or BERT4Rec (:mod:`coursekit.models.sequential`)
    eager : bool
        Run the forward pass at ``update`` (the state is ready when the next request comes: what a
        serving system does, and what the latency benchmark times). ``False`` defers it to the next
        ``recommend`` (same results; cheaper when many events arrive between requests).
    """

    def __init__(self, model, eager: bool = True):
        self.model = model
        self.eager = eager

    def _init(self, train: Interactions) -> None:
        m = self.model
        if not hasattr(m, "encode_sequence"):
            raise CourseKitError(f"SequenceUpdater needs SASRec or BERT4Rec, got {type(m).__name__}.")
        if not hasattr(m, "seen_"):
            m.fit(train)
        if m.n_items != train.n_items:
            raise CourseKitError("the sequence model was fitted on another item universe; fit it on train.")
        from coursekit.splits import user_time_order

        order, _, _ = user_time_order(train)
        u_sorted, i_sorted = train.user_index[order], train.item_index[order]
        ptr = np.r_[0, np.cumsum(np.bincount(u_sorted, minlength=train.n_users))]
        N = m.max_len
        self._seq = [list(i_sorted[max(ptr[u], ptr[u + 1] - N):ptr[u + 1]]) for u in range(train.n_users)]
        self._h: dict[int, np.ndarray] = {}
        self._E, self._bias = m.output_embeddings()

    def _update(self, u: int, i: int, t: float, value) -> None:
        seq = self._seq[u]
        seq.append(i)
        if len(seq) > self.model.max_len:
            del seq[0]
        if self.eager:
            self._h[u] = self.model.encode_sequence(np.asarray(seq))
        else:
            self._h.pop(u, None)

    def _scores(self, u: int) -> np.ndarray:
        if u not in self._h:
            self._h[u] = self.model.encode_sequence(np.asarray(self._seq[u]))
        return self._E @ self._h[u] + self._bias


# ---------------------------------------------------------------------------- e. recency popularity
class RecencyPopularity(OnlineRecommender):
    r"""Online popularity with exponentially decayed counts: what is trending *now*.

    .. math:: n_i(t) = \sum_{e \text{ on } i} 2^{-(t - t_e)/h}

    Instead of decaying every count at each event (:math:`O(|I|)`), counts are kept in a
    moving unit: an event at time :math:`t` adds :math:`2^{(t - t_0)/h}` to its item, and
    :math:`n_i(t) = 2^{-(t-t_0)/h}\,\tilde n_i`, a factor common to all items that does not
    change the ranking. (The reference :math:`t_0` is moved, rescaling all counts once,
    before the factor overflows.) An update is :math:`O(1)`.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [5, 5, 6], "timestamp": [0, 0, 0]})
    >>> rec = RecencyPopularity(half_life=10.0).initialize(Interactions.from_frame(log))
    >>> rec.update(3, 6, timestamp=10)     # item 5: 2 * 1/2 = 1 now; item 6: 1/2 + 1 = 1.5
    >>> rec.recommend(1, k=1)[0].tolist()
    [6]
    """

    def __init__(self, half_life: float = 7 * 86400.0):
        self.half_life = half_life

    def _init(self, train: Interactions) -> None:
        h = _check_half_life(self.half_life)
        if not np.isfinite(h):
            raise CourseKitError("RecencyPopularity needs a finite half_life (inf is plain MostPopular).")
        t = train.timestamps.astype(np.float64) if len(train) else np.zeros(0)
        self._t0 = float(t.max()) if t.size else 0.0
        self._counts = np.bincount(train.item_index, weights=np.exp2((t - self._t0) / h), minlength=train.n_items)

    def _update(self, u: int, i: int, t: float, value) -> None:
        e = (t - self._t0) / self.half_life
        if e > 500:  # rescale to a new reference time
            self._counts *= 2.0 ** (-e)
            self._t0, e = t, 0.0
        self._counts[i] += 2.0 ** e

    def _scores(self, u: int) -> np.ndarray:
        return self._counts.copy()

    def _cold_scores(self) -> np.ndarray:
        return self._counts.copy()


# ---------------------------------------------------------------------------- static and retrained
class FrozenModel(OnlineRecommender):
    """A coursekit ``Recommender`` trained once on the warm-up; updates only extend the seen lists.

    The static baseline of the prequential comparison. If ``model`` is unfitted, ``initialize``
    fits it on the warm-up.
    """

    def __init__(self, model: Recommender):
        self.model = model

    def _init(self, train: Interactions) -> None:
        if not isinstance(self.model, Recommender):
            raise CourseKitError(f"FrozenModel wraps a coursekit Recommender, got {type(self.model).__name__}.")
        if not hasattr(self.model, "seen_"):
            self.model.fit(train)

    def _update(self, u: int, i: int, t: float, value) -> None:
        pass

    def _scores(self, u: int) -> np.ndarray:
        return self.model.score_indices(np.array([u]))[0]

    def score_index(self, u: int) -> np.ndarray:
        return self._scores(u)  # the model's own cold-user rule (training popularity)


class PeriodicRetrain(OnlineRecommender):
    """A ``Recommender`` refitted from scratch on every event seen so far, every ``period`` events.

    Between refits it behaves like :class:`FrozenModel`. ``factory()`` returns a new unfitted model.
    """

    def __init__(self, factory, period: int = 5000):
        self.factory = factory
        self.period = period

    def _init(self, train: Interactions) -> None:
        check_positive_int(self.period, "period")
        self._base = train
        self._new: list[tuple[int, int, float, float]] = []
        self.n_refits_ = 0
        self._fit(train)

    def _fit(self, data: Interactions) -> None:
        self.model_ = self.factory()
        self.model_.fit(data)

    def _update(self, u: int, i: int, t: float, value) -> None:
        self._new.append((u, i, t, np.nan if value is None else float(value)))
        if len(self._new) % self.period == 0:
            self._fit(self.data_so_far())
            self.n_refits_ += 1

    def data_so_far(self) -> Interactions:
        """Warm-up plus every streamed event so far, over the same universe."""
        import pandas as pd

        u, i, t, v = (np.array(c) for c in zip(*self._new)) if self._new else (np.zeros(0, int),) * 4
        extra = pd.DataFrame({"user_id": self.users_.ids[u.astype(np.int64)],
                              "item_id": self.items_.ids[i.astype(np.int64)],
                              "timestamp": t.astype(np.int64), "rating": v.astype(float)})
        cols = [c for c in ("user_id", "item_id", "timestamp", "rating") if c in self._base.frame.columns]
        frame = pd.concat([self._base.frame[cols], extra[cols]], ignore_index=True)
        return Interactions.from_frame(frame, users=self.users_, items=self.items_)

    def _scores(self, u: int) -> np.ndarray:
        return self.model_.score_indices(np.array([u]))[0]

    def score_index(self, u: int) -> np.ndarray:
        return self._scores(u)
