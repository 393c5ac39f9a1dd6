r"""Implicit alternating least squares (iALS; Hu, Koren & Volinsky 2008).

Implicit feedback (views, clicks, plays) says *that* a user touched an item, not how much they
liked it. iALS turns each count :math:`r_{ui} \ge 0` into a binary **preference** and a
**confidence**

.. math::

    p_{ui} = \mathbb{1}[r_{ui} > 0], \qquad
    c_{ui} = 1 + \alpha\, r_{ui} \;\; (\text{"linear"}) \quad\text{or}\quad
    c_{ui} = 1 + \alpha \log(1 + r_{ui}) \;\; (\text{"log"}),

and fits user vectors :math:`x_u` and item vectors :math:`y_i` (:math:`f` factors) to *all*
:math:`|U| \times |I|` cells, the unobserved ones with preference 0 and confidence 1:

.. math::

    \min_{X, Y} \; \sum_{u, i} c_{ui} \, (p_{ui} - x_u^\top y_i)^2
    + \lambda \Big( \sum_u \lVert x_u \rVert^2 + \sum_i \lVert y_i \rVert^2 \Big).

With :math:`Y` fixed the problem splits into one ridge regression per user, solved exactly by

.. math::

    x_u = \big(Y^\top C_u Y + \lambda I\big)^{-1} Y^\top C_u\, p_u,
    \qquad C_u = \operatorname{diag}(c_{u1}, \dots, c_{u|I|}),

and symmetrically for the items. **The Gram-matrix trick**: :math:`C_u - I` is zero except on
the :math:`n_u` items the user touched, so

.. math::

    Y^\top C_u Y = \underbrace{Y^\top Y}_{\text{once per half-sweep}}
    + \sum_{i \in I_u} (c_{ui} - 1)\, y_i y_i^\top, \qquad
    Y^\top C_u p_u = \sum_{i \in I_u} c_{ui}\, y_i ,

which costs :math:`O(n_u f^2)` per user instead of :math:`O(|I| f^2)`.

Two solvers, both vectorized over all users at once (no Python loop over users):

``"cholesky"``
    Exact: the :math:`f \times f` systems of a block of users are assembled as one
    sparse-dense product and solved with one batched :func:`numpy.linalg.solve`.
``"cg"``
    A few steps of conjugate gradient per half-sweep, warm-started at the previous
    vectors (Takács, Pilászy & Tikk 2011; what the ``implicit`` library does). Each step needs
    only :math:`A_u p_u = (Y^\top Y + \lambda I) p_u + \sum_{i \in I_u} (c_{ui}-1)(y_i^\top p_u)\, y_i`,
    a dense product plus one sparse matrix product, never the :math:`f \times f` matrices.

Each iteration solves the items given the users, then the users given the items, so after
``fit`` the user vectors are the solutions for the final item vectors (exact with
``"cholesky"``): :meth:`IALS.user_factors` of a training user's history reproduces its row of
``user_factors_``, and :meth:`IALS.fold_in` its scores.

References
----------
Y. Hu, Y. Koren, C. Volinsky. Collaborative Filtering for Implicit Feedback Datasets. ICDM 2008.
G. Takács, I. Pilászy, D. Tikk. Applications of the conjugate gradient method for implicit
feedback collaborative filtering. RecSys 2011.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_choice, check_id_array, check_positive_int, check_seed
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender
from coursekit.models.ials_solvers import confidence_matrix, ials_loss, least_squares_cg, least_squares_cholesky

__all__ = ["IALS"]


class IALS(Recommender):
    r"""Implicit ALS matrix factorization (Hu, Koren & Volinsky 2008); scores :math:`\hat s_{ui} = x_u^\top y_i`.

    See the module docstring for the objective, the Gram-matrix trick and the two solvers.

    Parameters
    ----------
    factors : int
        Latent dimension :math:`f`.
    reg : float
        L2 regularization :math:`\lambda` (>= 0). The defaults ``reg=30, alpha=1`` did well on the
        validation parts of both course data sets (the shop and ml-latest-small; lesson 03 tunes
        them per data set); a larger :math:`\alpha` with a small :math:`\lambda` over-fits there.
    alpha : float
        Confidence slope :math:`\alpha` (>= 0).
    iterations : int
        Full sweeps (items, then users).
    solver : {"cg", "cholesky"}
        Conjugate gradient (fast, approximate per sweep) or the exact batched solve.
    cg_steps : int
        CG steps per half-sweep (``solver="cg"``).
    confidence : {"linear", "log"}
        :math:`c = 1 + \alpha r` or :math:`c = 1 + \alpha \log(1 + r)`, with :math:`r` the
        number of training events of the pair.
    seed : int
        Seeds the initial factors (uniform on :math:`[0, 0.01)`, as in ``implicit``).

    Attributes
    ----------
    user_factors_, item_factors_ : arrays (n_users, f), (n_items, f)
    loss_history_ : array (iterations,)
        The objective :func:`ials_loss` after each iteration.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 4, 4], "item_id": [10, 20, 10, 20, 10, 30, 40]})
    >>> model = IALS(factors=2, reg=0.01, alpha=5.0, iterations=10).fit(Interactions.from_frame(log))
    >>> model.recommend([3], k=1)[0].tolist()   # users who had 10 also had 20
    [[20]]
    >>> bool(model.loss_history_[-1] <= model.loss_history_[0])
    True
    """

    capabilities = frozenset({"similar_items", "fold_in", "save"})

    def __init__(self, factors: int = 64, reg: float = 30.0, alpha: float = 1.0, iterations: int = 15,
                 solver: str = "cg", cg_steps: int = 3, confidence: str = "linear", seed: int = 0):
        self.factors = factors
        self.reg = reg
        self.alpha = alpha
        self.iterations = iterations
        self.solver = solver
        self.cg_steps = cg_steps
        self.confidence = confidence
        self.seed = seed

    def _check_params(self) -> None:
        check_seed(self.seed)
        check_positive_int(self.factors, "factors")
        check_positive_int(self.iterations, "iterations")
        check_positive_int(self.cg_steps, "cg_steps")
        check_choice(self.solver, "solver", ["cg", "cholesky"])
        check_choice(self.confidence, "confidence", ["linear", "log"])
        for name in ("reg", "alpha"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
                raise CourseKitError(f"{name} must be a finite number >= 0, got {value!r}.")

    def _fit(self, train: Interactions) -> None:
        self._check_params()
        conf_u = confidence_matrix(train.matrix("count", dtype=np.float64), self.alpha, self.confidence)
        conf_i = conf_u.T.tocsr()
        dtype = np.float32 if self.solver == "cg" else np.float64  # CG: speed; exact: accuracy
        conf_u, conf_i = conf_u.astype(dtype), conf_i.astype(dtype)
        rng = np.random.default_rng(self.seed)
        X = (rng.random((train.n_users, self.factors)) * 0.01).astype(dtype)
        Y = (rng.random((train.n_items, self.factors)) * 0.01).astype(dtype)
        losses = np.empty(self.iterations)
        for it in range(self.iterations):
            Y = self._half_sweep(conf_i, X, Y)
            X = self._half_sweep(conf_u, Y, X)
            losses[it] = ials_loss(conf_u, X, Y, self.reg)
        if not (np.isfinite(X).all() and np.isfinite(Y).all()):
            raise FloatingPointError("iALS diverged (non-finite factors); raise reg or lower alpha.")
        self.user_factors_ = X.astype(np.float64)
        self.item_factors_ = Y.astype(np.float64)
        self.loss_history_ = losses
        self._gram_cache = None

    def _half_sweep(self, conf: sp.csr_matrix, other: np.ndarray, current: np.ndarray) -> np.ndarray:
        if self.solver == "cholesky":
            return least_squares_cholesky(conf, other, self.reg)
        return least_squares_cg(conf, other, current, self.reg, self.cg_steps)

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        return self.user_factors_[user_index] @ self.item_factors_.T

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_

    # ------------------------------------------------------------------ fold-in
    def gram(self) -> np.ndarray:
        r""":math:`Y^\top Y + \lambda I`, the part of every user's system that is shared (cached).

        Returns
        -------
        array (f, f)
            Read-only; add :math:`\sum_{i \in H} (c_i - 1)\, y_i y_i^\top` for a history :math:`H`.
        """
        self.check_fitted()
        if getattr(self, "_gram_cache", None) is None:
            Y = self.item_factors_
            gram = Y.T @ Y + self.reg * np.eye(Y.shape[1])
            gram.setflags(write=False)
            self._gram_cache = gram
        return self._gram_cache

    def confidence_of(self, counts: np.ndarray) -> np.ndarray:
        r"""Confidences :math:`c = 1 + \alpha r` (or :math:`1 + \alpha \log(1 + r)`) of event counts :math:`r`."""
        r = np.asarray(counts, dtype=np.float64)
        return 1.0 + self.alpha * (r if self.confidence == "linear" else np.log1p(r))

    def _solve_user(self, item_index: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        if values is not None and not (values > 0).all():
            raise CourseKitError("IALS fold-in values must be positive event counts, one per item.")
        vals = np.ones(item_index.size) if values is None else values
        uniq, inv = np.unique(item_index, return_inverse=True)
        c = self.confidence_of(np.bincount(inv, weights=vals, minlength=len(uniq)))
        Yh = self.item_factors_[uniq]
        A = self.gram() + (Yh.T * (c - 1.0)) @ Yh
        return np.linalg.solve(A, Yh.T @ c)

    def user_factors(self, items: ArrayLike, values: ArrayLike | None = None) -> np.ndarray:
        r"""The user vector of a history, with the item factors fixed (one exact ridge solve).

        .. math::

            x = \Big(Y^\top Y + \lambda I + \sum_{i \in H} (c_i - 1)\, y_i y_i^\top\Big)^{-1}
                \sum_{i \in H} c_i\, y_i ,

        with :math:`c_i` from the event counts :math:`r_i` (``values``, default 1 each) by the
        model's confidence rule. :math:`Y^\top Y + \lambda I` is cached (:meth:`gram`), so this
        costs :math:`O(|H| f^2 + f^3)`: the real-time update of a user after a new event.
        :meth:`fold_in` returns the scores :math:`Y x` of the same vector.

        Parameters
        ----------
        items : 1-D array of int
            External item ids of the history; repeated ids add up their values.
        values : 1-D array of float, optional
            Event counts :math:`r_i > 0`, one per item.

        Returns
        -------
        array (f,)
            The zero vector for an empty history.

        Examples
        --------
        >>> import pandas as pd
        >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 30, 20]})
        >>> model = IALS(factors=2, iterations=3, solver="cholesky").fit(Interactions.from_frame(log))
        >>> bool(np.allclose(model.user_factors([10, 20]), model.user_factors_[0]))
        True
        """
        self.check_fitted()
        idx = self.items_.index(check_id_array(items, "items"))
        vals = _check_values(values, idx.size)
        if idx.size == 0:
            return np.zeros(self.item_factors_.shape[1])
        return self._solve_user(idx, vals)

    def user_factors_batch(self, counts: sp.spmatrix) -> np.ndarray:
        r"""User vectors of many new users at once: one exact solve per row of ``counts``.

        Parameters
        ----------
        counts : sparse (n_new_users, n_items)
            Event counts, columns aligned with ``model.items_`` (internal item order).

        Returns
        -------
        array (n_new_users, f)
            Row ``u`` equals ``user_factors`` of that row's history (zero rows give zero vectors).
        """
        self.check_fitted()
        counts = sp.csr_matrix(counts, dtype=np.float64)
        if counts.shape[1] != self.n_items:
            raise CourseKitError(f"counts must have one column per item ({self.n_items}), got {counts.shape[1]}.")
        if counts.nnz and not (np.isfinite(counts.data).all() and (counts.data >= 0).all()):
            raise CourseKitError("counts must be finite event counts >= 0.")
        return least_squares_cholesky(confidence_matrix(counts, self.alpha, self.confidence), self.item_factors_,
                                      self.reg)

    def _fold_in(self, item_index: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        return self.item_factors_ @ self._solve_user(item_index, values)


def _check_values(values, n: int) -> np.ndarray | None:
    """``values`` as a float array of length ``n`` (or None), refusing a shape mismatch or non-finite numbers."""
    if values is None:
        return None
    vals = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if vals.shape != (n,):
        raise CourseKitError(f"values must hold one number per item: got {n} items and {vals.size} values.")
    if not np.isfinite(vals).all():
        raise CourseKitError("values must be finite numbers (no NaN or inf).")
    return vals
