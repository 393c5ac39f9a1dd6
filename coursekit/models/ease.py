r"""EASE: an embarrassingly shallow autoencoder (Steck 2019), the strong linear baseline.

EASE learns an item-item weight matrix :math:`B` that reconstructs each user's binary history
row :math:`X_u` from the *other* items of the same row:

.. math::

    \min_B \; \lVert X - X B \rVert_F^2 + \lambda \lVert B \rVert_F^2
    \quad \text{subject to} \quad \operatorname{diag}(B) = 0 .

The constraint stops the trivial solution :math:`B = I`. With a Lagrange multiplier per
diagonal entry the problem has the closed form

.. math::

    P = (X^\top X + \lambda I)^{-1}, \qquad
    B = I - P \cdot \operatorname{diagMat}\!\big(1 / \operatorname{diag}(P)\big),
    \quad\text{i.e.}\quad B_{ij} = -\frac{P_{ij}}{P_{jj}} \;(i \ne j), \quad B_{jj} = 0,

and the score of item :math:`i` for user :math:`u` is :math:`s_{ui} = X_u B_{\cdot i} =
\sum_{j \in H_u} B_{ji}`: a sum of one share per history item, which makes EASE explainable
item by item (:meth:`EASE.history_contributions`). The same formula scores a new history
without refitting (:meth:`EASE.fold_in`, :math:`s = h B`).

The cost is one :math:`|I| \times |I|` inversion (:math:`O(|I|^3)`, here by a Cholesky
factorization, as :math:`X^\top X + \lambda I` is symmetric positive definite). Items without
training events contribute nothing and receive nothing, so the inversion runs over the
items that have events only; the others score 0.

Reference: H. Steck. Embarrassingly Shallow Autoencoders for Sparse Data. WWW 2019.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from coursekit._validation import CourseKitError, check_id_array, check_memory
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender


def _spd_inverse(A: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix via LAPACK potrf + potri (about n^3 flops)."""
    from scipy.linalg import lapack

    c, info = lapack.dpotrf(A, lower=False, clean=True, overwrite_a=True)
    if info != 0:
        raise CourseKitError(f"X'X + reg I is not positive definite (LAPACK info={info}); use a larger reg.")
    inv, info = lapack.dpotri(c, lower=False, overwrite_c=True)
    if info != 0:
        raise CourseKitError(f"inverting X'X + reg I failed (LAPACK info={info}); use a larger reg.")
    upper = np.triu(inv)
    return upper + np.triu(upper, 1).T


def ease_weights(gram: np.ndarray, reg: float) -> np.ndarray:
    r"""The closed-form EASE weights (see the module docstring).

    :math:`B = I - P\,\operatorname{diagMat}(1/\operatorname{diag} P)` with :math:`P = (G + \lambda I)^{-1}`.

    Parameters
    ----------
    gram : array (n, n)
        :math:`G = X^\top X` (item co-occurrence counts).
    reg : float
        :math:`\lambda > 0`.

    >>> B = ease_weights(np.array([[1.0, 1.0], [1.0, 1.0]]), reg=1.0)   # X = [[1, 1]]
    >>> B.round(4)          # P = [[2, 1], [1, 2]]^-1 = [[2, -1], [-1, 2]] / 3
    array([[0. , 0.5],
           [0.5, 0. ]])
    """
    n = gram.shape[0]
    A = np.array(gram, dtype=np.float64, copy=True)
    A[np.diag_indices(n)] += reg
    P = _spd_inverse(A)
    B = -P / np.diag(P)[None, :]
    B[np.diag_indices(n)] = 0.0
    return B


class EASE(Recommender):
    r"""EASE (Steck 2019): :math:`s_{ui} = \sum_{j \in H_u} B_{ji}` with the closed-form :math:`B` above.

    Parameters
    ----------
    reg : float
        L2 regularization :math:`\lambda > 0` (Steck uses a few hundred on MovieLens-sized data; the
        default 300 was the best of a grid on the validation parts of both course data sets).

    Attributes
    ----------
    weights_ : array (n_active, n_active)
        :math:`B` over the items with training events.
    active_items_ : array of int
        Their internal indices (rows/columns of ``weights_``).

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 20, 10]})
    >>> model = EASE(reg=1.0).fit(Interactions.from_frame(log))
    >>> model.recommend([3], k=1)[0].tolist()
    [[20]]
    >>> model.history_contributions(3, 20)[0].tolist()   # user 3's history: item 10
    [10]
    """

    capabilities = frozenset({"similar_items", "fold_in", "save"})

    def __init__(self, reg: float = 300.0):
        self.reg = reg

    def _fit(self, train: Interactions) -> None:
        if not (isinstance(self.reg, (int, float)) and np.isfinite(self.reg) and self.reg > 0):
            raise CourseKitError(f"reg must be a finite number > 0, got {self.reg!r}.")
        active = np.nonzero(self.item_popularity_ > 0)[0]
        # the Gram matrix, its inverse and the weights: three dense (n, n) float64 arrays
        check_memory(3 * 8.0 * active.size ** 2, f"EASE on {active.size:,} items",
                     "keep fewer items (e.g. those with at least a few events) before fitting.")
        X = self.seen_[:, active].astype(np.float64)
        gram = (X.T @ X).toarray()
        self.active_items_ = active
        self.weights_ = ease_weights(gram, float(self.reg))

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        X = self.seen_[user_index][:, self.active_items_]
        out = np.zeros((len(user_index), self.n_items))
        out[:, self.active_items_] = np.asarray(X @ self.weights_)
        return out

    def _item_similarity(self, item_index: np.ndarray) -> np.ndarray:
        r"""Row :math:`i` is :math:`B_{i\cdot}`: how much having item :math:`i` adds to each other item."""
        out = np.zeros((len(item_index), self.n_items))
        pos = np.searchsorted(self.active_items_, item_index)
        pos_c = np.minimum(pos, max(len(self.active_items_) - 1, 0))
        ok = (pos < len(self.active_items_)) & (self.active_items_[pos_c] == item_index)
        out[np.ix_(np.nonzero(ok)[0], self.active_items_)] = self.weights_[pos_c[ok]]
        return out

    def _fold_in(self, item_index: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        r""":math:`s = h B` for the binary history row :math:`h` (EASE scores presence, so counts do not matter)."""
        if values is not None and not (values > 0).all():
            raise CourseKitError("EASE fold-in values must be positive event counts, one per item.")
        uniq = np.unique(item_index)
        h = sp.csr_matrix((np.ones(uniq.size, dtype=self.seen_.dtype), uniq, [0, uniq.size]), shape=(1, self.n_items))
        out = np.zeros(self.n_items)
        out[self.active_items_] = np.asarray(h[:, self.active_items_] @ self.weights_)[0]
        return out

    def history_contributions(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        r"""Each history item's share of the score: :math:`s_{ui} = \sum_{j \in H_u} B_{ji}`.

        Parameters
        ----------
        user, item : int
            External ids.

        Returns
        -------
        history, shares : arrays (n_history,)
            The user's training items (external ids, in internal-index order) and :math:`B_{ji}`
            for each; ``shares.sum()`` equals ``model.score([user], items=[item])[0, 0]`` for a
            warm user.
        """
        self.check_fitted()
        u = int(self.users_.index(check_id_array(user, "user"))[0])
        i = int(self.items_.index(check_id_array(item, "item"))[0])
        history = self.seen_[u].indices.astype(np.int64)
        shares = np.zeros(len(history))
        col = np.searchsorted(self.active_items_, i)
        if col < len(self.active_items_) and self.active_items_[col] == i:
            rows = np.searchsorted(self.active_items_, history)  # history items are active
            shares = self.weights_[rows, col].astype(np.float64)
        return self.items_.ids[history], shares
