r"""Explicit-feedback models: a bias baseline and biased matrix factorization (Funk / Koren).

Both models predict a rating :math:`\hat r_{ui}` and are fitted to the *rated* training
events (events whose ``rating`` is NaN are ignored); :math:`\mu` is the mean training
rating, :math:`\mathcal{K}` the set of rated training events, :math:`n_u` (:math:`n_i`)
the number of rated events of user ``u`` (item ``i``).

:class:`BaselineOnly`
    .. math:: \hat r_{ui} = \mu + b_u + b_i,\qquad
              \min_{b} \sum_{(u,i)\in\mathcal{K}} (r_{ui} - \mu - b_u - b_i)^2
              + \lambda \Big(\sum_u b_u^2 + \sum_i b_i^2\Big)

    fitted by alternating closed-form solves (each a one-dimensional ridge regression):
    :math:`b_i \leftarrow \sum_{u} (r_{ui}-\mu-b_u) / (\lambda + n_i)`, then
    :math:`b_u \leftarrow \sum_{i} (r_{ui}-\mu-b_i) / (\lambda + n_u)`.
    A single :math:`\lambda` per parameter shrinks the biases of users and items with few
    ratings towards zero more than those with many.

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
      :meth:`BiasedMF.fold_in` of their ratings against the final item factors.

Cold users and items (no rated training events) keep :math:`p = 0`, :math:`b = 0`, so
their predicted rating is :math:`\mu + b_i` (cold user) or :math:`\mu + b_u + p_u^\top 0 = \mu + b_u`
(cold item). In ``recommend``, users with no training events at all get the named
``cold_users="popular"`` fallback of :class:`~coursekit.models.base.Recommender`.

These models rank by predicted rating, which is a poor way to choose the top items
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
from threadpoolctl import threadpool_limits

from coursekit._validation import CourseKitError, check_choice, check_positive_int, check_seed
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender

__all__ = ["BaselineOnly", "BiasedMF", "als_half_step", "rated_events"]


# ---------------------------------------------------------------------------- helpers
def rated_events(train: Interactions, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(user_index, item_index, rating)`` of the events that carry a rating; raise if none do."""
    if not train.has_ratings:
        raise CourseKitError(
            f"{model} learns from explicit ratings, but these interactions have no ratings. "
            "Use an implicit-feedback model (iALS, BPR, EASE, ItemKNN) for clicks or views."
        )
    r = train.ratings
    keep = ~np.isnan(r)
    if not np.isfinite(r[keep]).all():
        raise CourseKitError(f"{model}: ratings must be finite numbers; found infinity in the training ratings.")
    return train.user_index[keep], train.item_index[keep], r[keep]


def _check_nonneg(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise CourseKitError(f"{name} must be a non-negative number, got {value!r}.") from None
    if not (np.isfinite(v) and v >= 0):
        raise CourseKitError(f"{name} must be a non-negative finite number, got {value!r}.")
    return v


def _check_positive(value, name: str) -> float:
    v = _check_nonneg(value, name)
    if v == 0:
        raise CourseKitError(f"{name} must be > 0, got {value!r}.")
    return v


def _check_same_universe(valid: Interactions, train: Interactions) -> None:
    if not isinstance(valid, Interactions):
        raise CourseKitError(f"valid must be coursekit Interactions (or None), got {type(valid).__name__}.")
    if not (np.array_equal(valid.users.ids, train.users.ids) and np.array_equal(valid.items.ids, train.items.ids)):
        raise CourseKitError(
            "valid must share the id universe of train (same users and items); cut both from one "
            "Interactions with coursekit.splits (e.g. random_split(inter, valid_frac=0.1))."
        )


def als_half_step(rows: np.ndarray, cols: np.ndarray, targets: np.ndarray, fixed: np.ndarray,
                  n_rows: int, reg: float, block_elements: int = 1 << 22) -> np.ndarray:
    r"""One ALS half-step: a weighted-:math:`\lambda` ridge regression per row entity, all rows at once.

    For every row entity :math:`r` (a user, or an item) with rated columns
    :math:`J_r = \{j : (r, j) \text{ rated}\}`, :math:`n_r = |J_r|`, solve

    .. math:: x_r = \arg\min_x \sum_{j \in J_r} (t_{rj} - x^\top y_j)^2 + \lambda n_r \lVert x\rVert^2
              = (Y_r^\top Y_r + \lambda n_r I)^{-1} Y_r^\top t_r

    where :math:`y_j` are the rows of ``fixed``. Rows without ratings get :math:`x_r = 0`.
    Rows are grouped by count into padded blocks of about ``block_elements`` numbers, so the
    Gram matrices are batched matrix products and the solves one :func:`numpy.linalg.solve`
    per block (no Python loop over rows).

    Parameters
    ----------
    rows, cols : int arrays (n_ratings,)
        Row entity and column entity of each rating (duplicates count as separate terms).
    targets : float array (n_ratings,)
        :math:`t_{rj}`.
    fixed : array (n_cols, d)
        The fixed vectors :math:`y_j`.
    n_rows : int
        Number of row entities.
    reg : float
        :math:`\lambda \ge 0` (with ``reg=0`` a row needs at least ``d`` independent ratings).

    Returns
    -------
    array (n_rows, d)

    Examples
    --------
    >>> Y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> x = als_half_step(np.array([0, 0, 0]), np.array([0, 1, 2]), np.array([1.0, 2.0, 3.0]), Y, 1, 0.0)
    >>> np.round(x, 6).tolist()   # exact least squares: y = x0 * a + x1 * b
    [[1.0, 2.0]]
    """
    d = fixed.shape[1]
    out = np.zeros((n_rows, d))
    if len(rows) == 0:
        return out
    order = np.argsort(rows, kind="stable")
    rows_s, cols_s, t_s = rows[order], cols[order], targets[order]
    counts = np.bincount(rows_s, minlength=n_rows)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    active = np.flatnonzero(counts)
    active = active[np.argsort(counts[active], kind="stable")]  # group rows with similar counts
    padded = np.vstack([fixed, np.zeros((1, d))])  # row n_cols is the zero vector used for padding
    pad_col = fixed.shape[0]
    eye = np.eye(d)
    pos = 0
    while pos < len(active):
        # largest block whose padded size (rows x max count x d) fits the budget (at least one row)
        max_n = counts[active[pos:]]  # ascending
        fits = np.flatnonzero(np.arange(1, len(max_n) + 1) * max_n * d <= block_elements)
        size = int(fits[-1]) + 1 if fits.size else 1
        block = active[pos:pos + size]
        m = int(counts[block[-1]])
        offs = np.arange(m)[None, :]
        valid = offs < counts[block][:, None]
        idx = np.minimum(start[block][:, None] + offs, len(rows_s) - 1)
        col_idx = np.where(valid, cols_s[idx], pad_col)
        tgt = np.where(valid, t_s[idx], 0.0)
        Yb = padded[col_idx]  # (b, m, d); padding rows are zero and add nothing
        YbT = Yb.transpose(0, 2, 1)
        gram = YbT @ Yb + (reg * counts[block])[:, None, None] * eye
        rhs = YbT @ tgt[..., None]
        try:
            out[block] = np.linalg.solve(gram, rhs)[..., 0]
        except np.linalg.LinAlgError:
            raise CourseKitError(
                f"ALS: a least-squares system is singular (an entity with fewer than {d} ratings and reg={reg}); "
                "use reg > 0."
            ) from None
        pos += size
    return out


def _add_rows(target: np.ndarray, index: np.ndarray, rows: np.ndarray) -> None:
    """``target[index[j]] += rows[j]`` for every ``j``, summing repeated indices (like :func:`numpy.add.at`, faster)."""
    order = np.argsort(index, kind="stable")
    sorted_index = index[order]
    starts = np.flatnonzero(np.r_[True, sorted_index[1:] != sorted_index[:-1]])
    target[sorted_index[starts]] += np.add.reduceat(rows[order], starts, axis=0)


# ---------------------------------------------------------------------------- BaselineOnly
class BaselineOnly(Recommender):
    r"""Global mean plus user and item biases, :math:`\hat r_{ui} = \mu + b_u + b_i`.

    Minimises :math:`\sum_{(u,i)} (r_{ui}-\mu-b_u-b_i)^2 + \lambda(\sum_u b_u^2 + \sum_i b_i^2)`
    by alternating closed-form updates (see the module docstring), items first.

    Parameters
    ----------
    reg : float
        :math:`\lambda \ge 0`, in units of "ratings": a bias estimated from :math:`n`
        ratings is shrunk by the factor :math:`n / (n + \lambda)`.
    n_epochs : int
        Alternating rounds (each round solves all items, then all users, exactly).
    seed : int
        Accepted for a uniform API; the fit is deterministic and uses no randomness.

    Examples
    --------
    >>> import pandas as pd
    >>> from coursekit.interactions import Interactions
    >>> log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10], "rating": [4.0, 2.0, 5.0]})
    >>> m = BaselineOnly(reg=0.0, n_epochs=50).fit(Interactions.from_frame(log))
    >>> np.round(m.predict_rating([1, 1, 2], [10, 20, 10]), 3).tolist()  # 3 parameters fit 3 ratings
    [4.0, 2.0, 5.0]
    """

    def __init__(self, reg: float = 3.0, n_epochs: int = 10, seed: int = 0, clip: bool = True):
        self.reg = reg
        self.n_epochs = n_epochs
        self.seed = seed
        self.clip = clip

    def _fit(self, train: Interactions) -> None:
        check_seed(self.seed)
        reg = _check_nonneg(self.reg, "reg")
        n_epochs = check_positive_int(self.n_epochs, "n_epochs")
        u, i, r = rated_events(train, type(self).__name__)
        n_users, n_items = train.n_users, train.n_items
        self.mu_ = float(r.mean())
        self.rating_min_, self.rating_max_ = float(r.min()), float(r.max())
        nu = np.bincount(u, minlength=n_users).astype(np.float64)
        ni = np.bincount(i, minlength=n_items).astype(np.float64)
        bu, bi = np.zeros(n_users), np.zeros(n_items)
        den_u, den_i = np.maximum(reg + nu, 1e-300), np.maximum(reg + ni, 1e-300)  # 0/0 -> 0 for cold rows
        for _ in range(n_epochs):
            bi = np.bincount(i, r - self.mu_ - bu[u], minlength=n_items) / den_i
            bu = np.bincount(u, r - self.mu_ - bi[i], minlength=n_users) / den_u
        self.user_bias_, self.item_bias_ = bu, bi

    def _raw(self, user_index: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        return self.mu_ + self.user_bias_[user_index] + self.item_bias_[item_index]

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        return self.mu_ + self.user_bias_[user_index][:, None] + self.item_bias_[None, :]

    def _predict_rating(self, user_index: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        pred = self._raw(user_index, item_index)
        return np.clip(pred, self.rating_min_, self.rating_max_) if self.clip else pred


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
            _check_same_universe(valid, train)
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
        reg = _check_nonneg(self.reg, "reg")
        init_std = _check_nonneg(self.init_std, "init_std")
        if solver == "sgd":
            _check_positive(self.lr, "lr")
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
            _add_rows(P, uu, lr * (e[:, None] * qi - reg * pu))
            _add_rows(Q, ii, lr * (e[:, None] * pu - reg * qi))

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
        self._check_fitted()
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
    def fold_in(self, items, ratings) -> tuple[np.ndarray, float]:
        r"""A user vector ``(p_u, b_u)`` for the ratings ``ratings`` of ``items``, item side fixed.

        Solves the user's half of the objective in closed form (the ALS user step):

        .. math:: [p_u; b_u] = (Y^\top Y + \lambda n I)^{-1} Y^\top (r - \mu - b_I),
                  \qquad Y = [Q_I, \mathbf{1}]

        with :math:`n` = ``len(ratings)``. For a training user of an ALS fit this gives back
        the stored vector (the last ALS step was the user step). No ratings give ``(0, 0.0)``,
        the cold-user fallback. Score every item with :meth:`score_user_vector`.

        Parameters
        ----------
        items : array of int
            External item ids (repeats allowed, each a separate rating).
        ratings : array of float
            One finite rating per item.

        Returns
        -------
        p_u : array (factors,)
        b_u : float
        """
        self._check_fitted()
        ratings = np.atleast_1d(np.asarray(ratings, dtype=np.float64))
        idx = self.items_.index(items)
        if idx.shape != ratings.shape:
            raise CourseKitError(f"fold_in needs one rating per item, got {idx.size} items and {ratings.size} ratings.")
        if not np.isfinite(ratings).all():
            raise CourseKitError("fold_in ratings must be finite numbers (no NaN); drop unrated items first.")
        k = self.item_factors_.shape[1]
        if idx.size == 0:
            return np.zeros(k), 0.0
        fixed = np.hstack([self.item_factors_, np.ones((self.n_items, 1))])
        x = als_half_step(np.zeros(idx.size, dtype=np.int64), idx, ratings - self.mu_ - self.item_bias_[idx],
                          fixed, 1, _check_nonneg(self.reg, "reg"))[0]
        return x[:-1], float(x[-1])

    def score_user_vector(self, user_factors: np.ndarray, user_bias: float = 0.0) -> np.ndarray:
        r"""Predicted ratings :math:`\mu + b_u + b_i + p_u^\top q_i` of every item for a (folded-in) user vector."""
        self._check_fitted()
        p = np.asarray(user_factors, dtype=np.float64)
        if p.shape != (self.item_factors_.shape[1],):
            raise CourseKitError(f"user_factors must have shape ({self.item_factors_.shape[1]},), got {p.shape}.")
        return self.mu_ + float(user_bias) + self.item_bias_ + self.item_factors_ @ p
