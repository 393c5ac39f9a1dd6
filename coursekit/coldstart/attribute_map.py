r"""Attribute-to-factor mapping: give a new item a CF vector from its content (Gantner et al. 2010).

Train iALS on the interactions (item factors :math:`y_i`, user factors :math:`x_u`). Items with
training events have both a content vector :math:`c_i` and a factor :math:`y_i`; learn a map
:math:`g: c \mapsto y` on them, and give every item **without** training events the vector
:math:`\hat y_i = g(c_i)`. Scores stay :math:`s_{ui} = x_u^\top \hat y_i`, so a new item enters
the same dot-product index as the warm ones the moment its content exists (CB2CF).

``mapper="ridge"``: :math:`g(c) = W^\top (c - \bar c) + \bar y` with the closed form (hand-written,
:func:`ridge_map`)

.. math:: W = (C_c^\top C_c + \lambda I)^{-1} C_c^\top Y_c ,

:math:`C_c, Y_c` the centred content and factors of the warm items. ``mapper="mlp"``: a one-hidden
-layer network (scikit-learn ``MLPRegressor``, squared loss, L2 penalty).

>>> rng = np.random.default_rng(0)
>>> C = rng.normal(size=(100, 5)); W = rng.normal(size=(5, 2))
>>> W_hat, c_mean, y_mean = ridge_map(C, C @ W + 1.0, reg=1e-8)
>>> bool(np.allclose(W_hat, W, atol=1e-6)), bool(np.allclose((C - c_mean) @ W_hat + y_mean, C @ W + 1.0))
(True, True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from coursekit._validation import CourseKitError, check_choice, check_positive_int
from coursekit.coldstart.item_features import ItemVectors, standardize
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender
from coursekit.models.content import align_item_vectors
from coursekit.models.ials import IALS

__all__ = ["ridge_map", "AttributeToFactor"]


def ridge_map(C: np.ndarray, Y: np.ndarray, reg: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Multi-output ridge regression with an unpenalised intercept, closed form.

    Returns ``(W, c_mean, y_mean)`` with predictions :math:`\hat Y = (C - \bar c) W + \bar y`,
    :math:`W = (C_c^\top C_c + \lambda I)^{-1} C_c^\top Y_c`. When there are more features than
    rows the equivalent dual form :math:`W = C_c^\top (C_c C_c^\top + \lambda I)^{-1} Y_c` is solved.
    """
    C = np.asarray(C, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if C.ndim != 2 or Y.ndim != 2 or C.shape[0] != Y.shape[0]:
        raise CourseKitError(f"C and Y must be 2-d with the same number of rows, got {C.shape} and {Y.shape}.")
    if not (np.isfinite(reg) and reg >= 0):
        raise CourseKitError(f"reg must be a finite number >= 0, got {reg!r}.")
    c_mean, y_mean = C.mean(axis=0), Y.mean(axis=0)
    Cc, Yc = C - c_mean, Y - y_mean
    n, d = Cc.shape
    if d <= n:
        W = np.linalg.solve(Cc.T @ Cc + reg * np.eye(d), Cc.T @ Yc)
    else:
        W = Cc.T @ np.linalg.solve(Cc @ Cc.T + reg * np.eye(n), Yc)
    return W, c_mean, y_mean


class AttributeToFactor(Recommender):
    r"""iALS whose items without training events get factors mapped from their content.

    Parameters
    ----------
    item_vectors : DataFrame indexed by item_id, or (ids, array)
        Content vectors (TF-IDF, MiniLM, attributes) of every item, cold ones included. Standardised
        per dimension before mapping. Kept out of ``get_params``.
    mapper : {"ridge", "mlp"}
    map_reg : float
        Ridge :math:`\lambda`, or the MLP's L2 penalty.
    hidden, max_iter : int
        MLP hidden units and training iterations (``mapper="mlp"``).
    factors, reg, alpha, iterations : iALS hyperparameters (:class:`coursekit.models.IALS`).
    map_all : bool
        Also replace the factors of warm items by the mapped ones (a pure content model in CF space;
        for diagnostics). Default: only items without training events are mapped.
    seed : int
    """

    capabilities = frozenset({"similar_items", "save"})

    def __init__(self, item_vectors: ItemVectors | None = None, mapper: str = "ridge", map_reg: float = 10.0,
                 hidden: int = 256, max_iter: int = 200, factors: int = 64, reg: float = 1.0, alpha: float = 10.0,
                 iterations: int = 15, map_all: bool = False, seed: int = 0) -> None:
        self.item_vectors = item_vectors
        self.mapper = mapper
        self.map_reg = map_reg
        self.hidden = hidden
        self.max_iter = max_iter
        self.factors = factors
        self.reg = reg
        self.alpha = alpha
        self.iterations = iterations
        self.map_all = map_all
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params.pop("item_vectors", None)
        return params

    def _fit(self, train: Interactions) -> None:
        check_choice(self.mapper, "mapper", ["ridge", "mlp"])
        if self.item_vectors is None:
            raise CourseKitError("AttributeToFactor needs item_vectors=(a DataFrame indexed by item_id) for "
                                 "every item, cold ones included.")
        content, has = align_item_vectors(self.item_vectors, train.items)
        if not has.all():
            raise CourseKitError(f"{int((~has).sum())} items have no content vector; a cold item without "
                                 "content cannot be mapped. Give every item of the universe a vector.")
        ials = IALS(factors=self.factors, reg=self.reg, alpha=self.alpha, iterations=self.iterations,
                    seed=self.seed).fit(train)
        warm = train.item_counts() > 0
        C = standardize(content)
        Y = ials.item_factors_.copy()
        mapped = self.map_content(C, C[warm], Y[warm])
        target = np.ones_like(warm) if self.map_all else ~warm
        Y[target] = mapped[target]
        self.user_factors_ = ials.user_factors_
        self.item_factors_ = Y
        self.cf_item_factors_ = ials.item_factors_
        self.mapped_item_factors_ = mapped

    def map_content(self, C_all: np.ndarray, C_train: np.ndarray, Y_train: np.ndarray) -> np.ndarray:
        """Fit the content-to-factor map on ``(C_train, Y_train)`` and apply it to ``C_all``."""
        if self.mapper == "ridge":
            W, c_mean, y_mean = ridge_map(C_train, Y_train, self.map_reg)
            return (C_all - c_mean) @ W + y_mean
        from sklearn.neural_network import MLPRegressor

        net = MLPRegressor(hidden_layer_sizes=(check_positive_int(self.hidden, "hidden"),), alpha=self.map_reg,
                           max_iter=check_positive_int(self.max_iter, "max_iter"), random_state=self.seed,
                           early_stopping=False, learning_rate_init=1e-3)
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            net.fit(C_train, Y_train)
        return net.predict(C_all).reshape(len(C_all), -1)

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        return self.user_factors_[user_index] @ self.item_factors_.T

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_
