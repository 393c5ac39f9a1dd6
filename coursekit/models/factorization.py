r"""Biased matrix factorization for explicit ratings (Funk / Koren).

The model predicts a rating :math:`\hat r_{ui}` and is fitted to the *rated* training
events (events whose ``rating`` is NaN are ignored); :math:`\mu` is the mean training
rating, :math:`\mathcal{K}` the set of rated training events, :math:`n_u` (:math:`n_i`)
the number of rated events of user ``u`` (item ``i``). Its bias-only special case,
:math:`\hat r_{ui} = \mu + b_u + b_i`, is :class:`coursekit.models.BaselineOnly`
(:mod:`coursekit.models.baselines`).

:class:`BiasedMF`
    .. math:: \hat r_{ui} = \mu + b_u + b_i + p_u^\top q_i,

    .. math:: \min_{p, q, b} \sum_{(u,i)\in\mathcal{K}} \Big[(r_{ui} - \hat r_{ui})^2
              + \lambda\big(\lVert p_u\rVert^2 + \lVert q_i\rVert^2 + b_u^2 + b_i^2\big)\Big]

    the objective of Koren, Bell & Volinsky (2009), with the penalty inside the sum over
    ratings, so a user with :math:`n_u` ratings pays :math:`\lambda n_u \lVert p_u\rVert^2`
    (the "weighted-:math:`\lambda`" regularization of ALS-WR, Zhou et al. 2008). Both
    solvers minimise this same objective:

    * ``solver="sgd"`` -- Funk's stochastic gradient descent; one epoch is a shuffled pass
      over the ratings, each rating giving the update
      :math:`e = r_{ui} - \hat r_{ui}`, :math:`b_u \mathrel{+}= \eta(e - \lambda b_u)`,
      :math:`b_i \mathrel{+}= \eta(e - \lambda b_i)`,
      :math:`p_u \mathrel{+}= \eta(e q_i - \lambda p_u)`,
      :math:`q_i \mathrel{+}= \eta(e p_u - \lambda q_i)`.
      For speed the updates of ``batch_size`` consecutive (shuffled) ratings are computed
      from the same parameter values and then summed into the parameters (mini-batch SGD,
      vectorized with numpy). With a small batch relative to the data this is a common and
      close approximation of per-rating SGD; ``batch_size=1`` is exact Funk SGD (slow).
    * ``solver="als"`` -- alternating least squares: with the item side fixed, each user's
      ``[p_u, b_u]`` is an exact ridge regression on the augmented item vectors
      ``[q_i, 1]`` with targets :math:`r_{ui} - \mu - b_i`, and vice versa. All users (items)
      are solved together, grouped by rating count into padded blocks
      (batched Gram matrices and :func:`numpy.linalg.solve`). Each epoch solves the items
      first and then the users, so the stored user vectors are exactly
      :meth:`BiasedMF.user_factors` of their ratings against the final item factors.

Cold users and items (no rated training events) keep :math:`p = 0`, :math:`b = 0`, so
their predicted rating is :math:`\mu + b_i` (cold user) or :math:`\mu + b_u + p_u^\top 0 = \mu + b_u`
(cold item). In ``recommend``, users with no training events at all get the named
``cold_users="popular"`` fallback of :class:`~coursekit.models.base.Recommender`.

Rating models rank by predicted rating, which is a poor way to choose the top items
(a highly rated but rarely seen film beats a film everyone watches): lesson 03 shows it.

Example
-------
>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 30, 20],
...                     "rating": [5.0, 3.0, 4.0, 2.0, 3.0]})
>>> model = BiasedMF(factors=2, n_epochs=5, solver="als", reg=0.1).fit(Interactions.from_frame(log))
>>> model.predict_rating([1], [30]).shape
(1,)
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from threadpoolctl import threadpool_limits

from coursekit._validation import (
    CourseKitError,
    check_choice,
    check_id_array,
    check_nonneg_number,
    check_positive_int,
    check_positive_number,
    check_seed,
)
from coursekit.interactions import Interactions, check_same_universe
from coursekit.models.base import Recommender
from coursekit.models.rating_solvers import add_rows, als_half_step, rated_events, required_ratings

__all__ = ["BiasedMF"]


# ---------------------------------------------------------------------------- BiasedMF
class BiasedMF(Recommender):
    r"""Biased matrix factorization :math:`\hat r_{ui} = \mu + b_u + b_i + p_u^\top q_i` (SGD or ALS).

    The objective and both solvers are described in the module docstring
    (:mod:`coursekit.models.factorization`).

    Parameters
    ----------
    factors : int
        Length :math:`k` of :math:`p_u` and :math:`q_i`.
    reg : float
        :math:`\lambda \ge 0`, applied per rating (inside the sum over ratings).
    lr : float
        SGD learning rate :math:`\eta` (unused by ALS).
    n_epochs : int
        SGD passes over the ratings, or ALS rounds (items, then users).
    solver : {"sgd", "als"}
    init_std : float
        Standard deviation of the normal initialisation of :math:`p, q` (biases start at 0).
    batch_size : int
        SGD mini-batch size (see the module docstring; ``1`` is exact per-rating SGD).
    seed : int
        Seed of the initialisation and of the SGD shuffling.
    record_history : bool
        Record train RMSE, objective and (when ``fit`` gets ``valid``) validation RMSE per epoch.
    clip : bool
        ``predict_rating`` clips to the range of training ratings (scores for ranking are not clipped).
    early_stopping : int, optional
        Patience in epochs: with ``fit(train, valid=...)``, stop when the validation RMSE has not
        improved for this many epochs and keep the parameters of the best epoch
        (:attr:`best_epoch_`). ``n_epochs`` is then the maximum. ``None`` (default): run all epochs.

    Notes
    -----
    The defaults (SGD, ``factors=64, reg=0.1, lr=0.03, n_epochs=50``) did well on validation parts
    (a random eighth of the training ratings) of both course data sets, the shop and ml-latest-small:
    on MovieLens the validation RMSE is flat from about epoch 30, on the shop it still improves
    slowly after 50. ``lr`` much above 0.03 diverges on MovieLens (the mini-batch sums the updates
    of a popular item). Tune ``reg`` and stop early with ``early_stopping`` and ``fit(..., valid=...)``
    for a new data set (lesson 03). An earlier tuning on ml-latest-small alone
    (``benchmarks/bench_explicit_mf.py``) gave SGD ``factors=100, reg=0.1, lr=0.01, n_epochs=54``
    and ALS ``factors=20, reg=0.2, n_epochs=20``.

    Attributes
    ----------
    mu_ : float
    user_bias_, item_bias_ : arrays (n_users,), (n_items,)
    user_factors_, item_factors_ : arrays (n_users, k), (n_items, k)
    history_train_rmse_, history_valid_rmse_, history_objective_ : arrays (n_epochs_run_,)
        Learning curves (NaN where not recorded); also as the dict :attr:`history_`.
    n_epochs_run_ : int
        Epochs run (``n_epochs``, or fewer when early stopping stopped the fit).
    best_epoch_ : int
        The epoch (1-based) whose parameters the model keeps: the one of lowest validation RMSE
        with ``early_stopping``, else the last.

    Examples
    --------
    >>> import pandas as pd
    >>> from coursekit.interactions import Interactions
    >>> rng = np.random.default_rng(0)
    >>> P, Q = rng.normal(size=(30, 2)), rng.normal(size=(20, 2))
    >>> u, i = np.divmod(np.arange(600), 20)
    >>> log = pd.DataFrame({"user_id": u, "item_id": i, "rating": 3 + (P @ Q.T)[u, i]})
    >>> m = BiasedMF(factors=2, reg=1e-4, n_epochs=20, solver="als").fit(Interactions.from_frame(log))
    >>> bool(m.history_train_rmse_[-1] < 0.01)   # a rank-2 matrix is fitted exactly
    True

    Early stopping on a validation part (same universe, e.g. from ``random_split``):

    >>> fit_part, valid = log.iloc[::2], log.iloc[1::2]
    >>> es = BiasedMF(factors=2, n_epochs=200, early_stopping=5, lr=0.05, seed=0)
    >>> es = es.fit(Interactions.from_frame(fit_part, users=u, items=i),
    ...             valid=Interactions.from_frame(valid, users=u, items=i))
    >>> es.n_epochs_run_ < 200, es.best_epoch_ == es.n_epochs_run_ - 5
    (True, True)
    """

    capabilities = frozenset({"ratings", "similar_items", "fold_in", "save"})

    def __init__(self, factors: int = 64, reg: float = 0.1, lr: float = 0.03, n_epochs: int = 50,
                 solver: str = "sgd", init_std: float = 0.1, batch_size: int = 2048, seed: int = 0,
                 record_history: bool = True, clip: bool = True, early_stopping: int | None = None):
        self.factors = factors
        self.reg = reg
        self.lr = lr
        self.n_epochs = n_epochs
        self.solver = solver
        self.init_std = init_std
        self.batch_size = batch_size
        self.seed = seed
        self.record_history = record_history
        self.clip = clip
        self.early_stopping = early_stopping

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Interactions, valid: Interactions | None = None) -> BiasedMF:
        """Fit on ``train``; with ``valid`` (same id universe) the validation RMSE is recorded per epoch."""
        if valid is not None and isinstance(train, Interactions):
            check_same_universe(train, valid, names=("train", "valid"))
        self._valid = valid
        try:
            return super().fit(train)
        finally:
            del self._valid

    def _fit(self, train: Interactions) -> None:
        check_seed(self.seed)
        k = check_positive_int(self.factors, "factors")
        n_epochs = check_positive_int(self.n_epochs, "n_epochs")
        solver = check_choice(self.solver, "solver", ["sgd", "als"])
        reg = check_nonneg_number(self.reg, "reg")
        init_std = check_nonneg_number(self.init_std, "init_std")
        if solver == "sgd":
            check_positive_number(self.lr, "lr")
            check_positive_int(self.batch_size, "batch_size")
        patience = None if self.early_stopping is None else check_positive_int(self.early_stopping, "early_stopping")
        if patience is not None and self._valid is None:
            raise CourseKitError(
                f"early_stopping={self.early_stopping!r} needs a validation part: call fit(train, valid=valid) "
                "with valid cut from the training data (e.g. random_split(rated, valid_frac=0.1)), "
                "or set early_stopping=None."
            )
        u, i, r = rated_events(train, type(self).__name__)
        n_users, n_items = train.n_users, train.n_items
        rng = np.random.default_rng(self.seed)
        self.mu_ = float(r.mean())
        self.rating_min_, self.rating_max_ = float(r.min()), float(r.max())
        self.user_factors_ = rng.normal(0.0, init_std, (n_users, k))
        self.item_factors_ = rng.normal(0.0, init_std, (n_items, k))
        self.user_bias_, self.item_bias_ = np.zeros(n_users), np.zeros(n_items)
        self._zero_cold(u, i)
        valid = None
        if self._valid is not None:
            vu, vi, vr = rated_events(self._valid, "valid")
            valid = (vu, vi, vr)
        hist = np.full((3, n_epochs), np.nan)
        # The solvers run many tiny BLAS calls (batched k x k systems, small products), for which
        # OpenBLAS threads only add overhead, and on a busy 2-core machine slow a fit down by 10-30x.
        with threadpool_limits(limits=1, user_api="blas"):
            run = self._run_epochs(u, i, r, reg, solver, n_epochs, hist, valid, rng, patience)
        self.history_train_rmse_, self.history_valid_rmse_, self.history_objective_ = hist[:, :run]

    _PARAMS = ("user_factors_", "item_factors_", "user_bias_", "item_bias_")

    def _run_epochs(self, u, i, r, reg, solver, n_epochs, hist, valid, rng, patience=None) -> int:
        """Run the epochs; return how many ran (fewer than ``n_epochs`` when early stopping stopped)."""
        n_users, n_items = len(self.user_bias_), len(self.item_bias_)
        best_rmse, best_state = np.inf, None
        self.best_epoch_ = n_epochs
        for epoch in range(n_epochs):
            if solver == "sgd":
                self._sgd_epoch(u, i, r, reg, float(self.lr), int(self.batch_size), rng)
            else:
                self._als_epoch(u, i, r, reg, n_users, n_items)
            finite = np.isfinite(self.user_factors_).all() and np.isfinite(self.item_factors_).all()
            if finite and (self.record_history or patience is not None):
                with np.errstate(over="ignore", invalid="ignore"):   # huge factors: reported just below
                    hist[:, epoch] = self._epoch_record(u, i, r, reg, valid)
                finite = bool(np.isfinite(hist[0, epoch]) and np.isfinite(hist[2, epoch]))
            if not finite:
                raise FloatingPointError(
                    f"BiasedMF diverged in epoch {epoch + 1} (non-finite factors); "
                    f"lower lr (now {self.lr}) or raise reg (now {self.reg})."
                )
            if patience is None:
                continue
            if hist[1, epoch] < best_rmse:
                best_rmse, self.best_epoch_ = hist[1, epoch], epoch + 1
                best_state = [getattr(self, name).copy() for name in self._PARAMS]
            elif epoch + 1 - self.best_epoch_ >= patience:
                break
        self.n_epochs_run_ = epoch + 1 if n_epochs else 0
        if best_state is not None and self.best_epoch_ < self.n_epochs_run_:
            for name, value in zip(self._PARAMS, best_state):
                setattr(self, name, value)
        return self.n_epochs_run_

    def _zero_cold(self, u: np.ndarray, i: np.ndarray) -> None:
        """Users / items without rated events keep zero factors (prediction falls back to biases)."""
        self.user_factors_[np.bincount(u, minlength=len(self.user_factors_)) == 0] = 0.0
        self.item_factors_[np.bincount(i, minlength=len(self.item_factors_)) == 0] = 0.0

    def _sgd_epoch(self, u, i, r, reg, lr, batch, rng) -> None:
        perm = rng.permutation(len(r))
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported after the epoch
            self._sgd_batches(perm, u, i, r, reg, lr, batch)

    def _sgd_batches(self, perm, u, i, r, reg, lr, batch) -> None:
        P, Q, bu, bi = self.user_factors_, self.item_factors_, self.user_bias_, self.item_bias_
        n_users, n_items = len(bu), len(bi)
        for s in range(0, len(r), batch):
            sel = perm[s:s + batch]
            uu, ii = u[sel], i[sel]
            pu, qi = P[uu], Q[ii]
            e = r[sel] - (self.mu_ + bu[uu] + bi[ii] + np.einsum("bk,bk->b", pu, qi))
            # every rating's update from the same (pre-batch) values, summed per user / item
            bu += lr * np.bincount(uu, e - reg * bu[uu], minlength=n_users)
            bi += lr * np.bincount(ii, e - reg * bi[ii], minlength=n_items)
            add_rows(P, uu, lr * (e[:, None] * qi - reg * pu))
            add_rows(Q, ii, lr * (e[:, None] * pu - reg * qi))

    def _als_epoch(self, u, i, r, reg, n_users, n_items) -> None:
        ones_u = np.ones((n_users, 1))
        ones_i = np.ones((n_items, 1))
        # items: x_i = [q_i, b_i] against [p_u, 1], targets r - mu - b_u
        x = als_half_step(i, u, r - self.mu_ - self.user_bias_[u],
                          np.hstack([self.user_factors_, ones_u]), n_items, reg)
        self.item_factors_, self.item_bias_ = x[:, :-1].copy(), x[:, -1].copy()
        # users: x_u = [p_u, b_u] against [q_i, 1], targets r - mu - b_i
        x = als_half_step(u, i, r - self.mu_ - self.item_bias_[i],
                          np.hstack([self.item_factors_, ones_i]), n_users, reg)
        self.user_factors_, self.user_bias_ = x[:, :-1].copy(), x[:, -1].copy()

    def _epoch_record(self, u, i, r, reg, valid) -> tuple[float, float, float]:
        raw = self._raw(u, i)
        nu = np.bincount(u, minlength=len(self.user_bias_))
        ni = np.bincount(i, minlength=len(self.item_bias_))
        penalty = (nu @ (np.einsum("uk,uk->u", self.user_factors_, self.user_factors_) + self.user_bias_**2)
                   + ni @ (np.einsum("ik,ik->i", self.item_factors_, self.item_factors_) + self.item_bias_**2))
        objective = float(np.sum((r - raw) ** 2) + reg * penalty)
        train_rmse = float(np.sqrt(np.mean((r - self._clipped(raw)) ** 2)))
        valid_rmse = np.nan
        if valid is not None and len(valid[2]):
            vu, vi, vr = valid
            valid_rmse = float(np.sqrt(np.mean((vr - self._clipped(self._raw(vu, vi))) ** 2)))
        return train_rmse, valid_rmse, objective

    # ------------------------------------------------------------------ predictions
    @property
    def history_(self) -> dict[str, np.ndarray]:
        """Learning curves per epoch: ``train_rmse``, ``valid_rmse``, ``objective``."""
        self.check_fitted()
        return {"train_rmse": self.history_train_rmse_, "valid_rmse": self.history_valid_rmse_,
                "objective": self.history_objective_}

    def _raw(self, user_index: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        return (self.mu_ + self.user_bias_[user_index] + self.item_bias_[item_index]
                + np.einsum("bk,bk->b", self.user_factors_[user_index], self.item_factors_[item_index]))

    def _clipped(self, pred: np.ndarray) -> np.ndarray:
        return np.clip(pred, self.rating_min_, self.rating_max_) if self.clip else pred

    def _predict_rating(self, user_index: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        return self._clipped(self._raw(user_index, item_index))

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        return (self.mu_ + self.user_bias_[user_index][:, None] + self.item_bias_[None, :]
                + self.user_factors_[user_index] @ self.item_factors_.T)

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_

    # ------------------------------------------------------------------ fold-in
    def user_factors(self, items: ArrayLike, values: ArrayLike | None = None) -> tuple[np.ndarray, float]:
        r"""A user vector ``(p_u, b_u)`` for the ratings ``values`` of ``items``, item side fixed.

        Solves the user's half of the objective in closed form (the ALS user step):

        .. math:: [p_u; b_u] = (Y^\top Y + \lambda n I)^{-1} Y^\top (r - \mu - b_I),
                  \qquad Y = [Q_I, \mathbf{1}]

        with :math:`n` = ``len(values)``. For a training user of an ALS fit this gives back
        the stored vector (the last ALS step was the user step). No ratings give ``(0, 0.0)``,
        the cold-user fallback. Score every item with :meth:`score_user_vector`, or call
        :meth:`fold_in` for the scores directly.

        Parameters
        ----------
        items : 1-D array of int
            External item ids (repeats allowed, each a separate rating).
        values : 1-D array of float
            One finite rating per item (required: this model learns from ratings).

        Returns
        -------
        p_u : array (factors,)
        b_u : float

        Examples
        --------
        >>> import pandas as pd
        >>> from coursekit.interactions import Interactions
        >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 30, 20],
        ...                     "rating": [5.0, 3.0, 4.0, 2.0, 3.0]})
        >>> m = BiasedMF(factors=2, n_epochs=5, solver="als", reg=0.1).fit(Interactions.from_frame(log))
        >>> p, b = m.user_factors([10, 20], [5.0, 3.0])
        >>> bool(np.allclose(p, m.user_factors_[0])), bool(np.isclose(b, m.user_bias_[0]))
        (True, True)
        """
        self.check_fitted()
        idx = self.items_.index(check_id_array(items, "items"))
        ratings = required_ratings(values, idx.size, type(self).__name__)
        if idx.size == 0:
            return np.zeros(self.item_factors_.shape[1]), 0.0
        return self._solve_user(idx, ratings)

    def _solve_user(self, idx: np.ndarray, ratings: np.ndarray) -> tuple[np.ndarray, float]:
        fixed = np.hstack([self.item_factors_, np.ones((self.n_items, 1))])
        x = als_half_step(np.zeros(idx.size, dtype=np.int64), idx, ratings - self.mu_ - self.item_bias_[idx],
                          fixed, 1, check_nonneg_number(self.reg, "reg"))[0]
        return x[:-1], float(x[-1])

    def _fold_in(self, item_index: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        p, b = self._solve_user(item_index, required_ratings(values, item_index.size, type(self).__name__))
        return self.score_user_vector(p, b)

    def score_user_vector(self, user_factors: np.ndarray, user_bias: float = 0.0) -> np.ndarray:
        r"""Predicted ratings :math:`\mu + b_u + b_i + p_u^\top q_i` of every item for a (folded-in) user vector."""
        self.check_fitted()
        p = np.asarray(user_factors, dtype=np.float64)
        if p.shape != (self.item_factors_.shape[1],):
            raise CourseKitError(f"user_factors must have shape ({self.item_factors_.shape[1]},), got {p.shape}.")
        return self.mu_ + float(user_bias) + self.item_bias_ + self.item_factors_ @ p
