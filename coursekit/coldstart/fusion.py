r"""Count-gated fusion: the weight moves from content to CF as an item collects interactions.

Two parts fitted on the same training data: a content profile model
(:class:`coursekit.models.ProfileRecommender`) and iALS. Their scores live on different scales, so
each user's row is standardised over the items first, :math:`z(s)_{ui} = (s_{ui} - \mu_u) / \sigma_u`,
then mixed with a gate that depends on the item's number of training interactions :math:`n_i`:

.. math:: s^{hyb}_{ui} = \big(1 - g(n_i)\big)\, z(s^{content})_{ui} + g(n_i)\, z(s^{CF})_{ui},
   \qquad g(n) = \frac{n}{n + \kappa}.

A new item (:math:`n_i = 0`) is ranked by content only; after :math:`\kappa` interactions both count
equally; a popular item is ranked by CF. ``gate="count"`` uses the given :math:`\kappa`;
``gate="learned"`` picks :math:`\kappa` from ``kappas`` by NDCG@10 on a validation split of the
training data (each item's latest ``valid_frac`` of events held out; the parts are refitted on the rest),
then refits on everything.

>>> count_gate(np.array([0, 5, 95]), kappa=5.0).tolist()
[0.0, 0.5, 0.95]
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_choice
from coursekit.coldstart.item_features import ItemVectors
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender
from coursekit.models.content import ProfileRecommender, unit_rows
from coursekit.models.ials import IALS

__all__ = ["count_gate", "row_standardize", "CountGatedHybrid"]


def count_gate(counts: np.ndarray, kappa: float) -> np.ndarray:
    r"""The CF weight :math:`g(n) = n / (n + \kappa)` (:math:`\kappa > 0`)."""
    if not (np.isfinite(kappa) and kappa > 0):
        raise CourseKitError(f"kappa must be a finite number > 0, got {kappa!r}.")
    n = np.asarray(counts, dtype=np.float64)
    return n / (n + kappa)


def row_standardize(scores: np.ndarray) -> np.ndarray:
    r"""Each row to mean 0 and standard deviation 1 (constant rows become 0).

    >>> row_standardize(np.array([[1.0, 3.0], [2.0, 2.0]])).tolist()
    [[-1.0, 1.0], [0.0, 0.0]]
    """
    s = np.asarray(scores, dtype=np.float64)
    mu = s.mean(axis=1, keepdims=True)
    sd = s.std(axis=1, keepdims=True)
    return np.divide(s - mu, sd, out=np.zeros_like(s), where=sd > 1e-12)


class CountGatedHybrid(Recommender):
    r"""Content and iALS mixed per item by a count gate (module docstring).

    Parameters
    ----------
    item_vectors : DataFrame indexed by item_id, or (ids, array)
        Content vectors of every item (for the content part). Kept out of ``get_params``.
    gate : {"count", "learned"}
    kappa : float
        :math:`\kappa` of the count rule (``gate="count"``).
    kappas : tuple of float
        Grid searched by ``gate="learned"``.
    valid_frac : float
        Share of each item's latest events used to choose :math:`\kappa` (``gate="learned"``).
    factors, reg, alpha, iterations, seed : iALS hyperparameters.
    """

    capabilities = frozenset({"save"})

    def __init__(self, item_vectors: ItemVectors | None = None, gate: str = "count", kappa: float = 10.0,
                 kappas: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0, 100.0), valid_frac: float = 0.2,
                 factors: int = 64, reg: float = 1.0, alpha: float = 10.0, iterations: int = 15,
                 seed: int = 0) -> None:
        self.item_vectors = item_vectors
        self.gate = gate
        self.kappa = kappa
        self.kappas = kappas
        self.valid_frac = valid_frac
        self.factors = factors
        self.reg = reg
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params.pop("item_vectors", None)
        params["kappas"] = [float(k) for k in self.kappas]
        return params

    def _parts(self, train: Interactions) -> tuple[ProfileRecommender, IALS]:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            content = ProfileRecommender(self.item_vectors).fit(train)
        cf = IALS(factors=self.factors, reg=self.reg, alpha=self.alpha, iterations=self.iterations,
                  seed=self.seed).fit(train)
        return content, cf

    def _fit(self, train: Interactions) -> None:
        check_choice(self.gate, "gate", ["count", "learned"])
        if self.item_vectors is None:
            raise CourseKitError("CountGatedHybrid needs item_vectors=(a DataFrame indexed by item_id).")
        kappa = float(self.kappa)
        if self.gate == "learned":
            kappa, self.validation_ndcg_ = self._choose_kappa(train)
        content, cf = self._parts(train)
        self.content_user_ = content.user_vectors_
        self.content_item_ = content.item_vectors_
        self.cf_user_ = cf.user_factors_
        self.cf_item_ = cf.item_factors_
        self.kappa_ = kappa
        self.gate_ = count_gate(train.item_counts(), kappa)

    def _choose_kappa(self, train: Interactions) -> tuple[float, np.ndarray]:
        from coursekit.coldstart.protocols import item_time_order
        from coursekit.evaluation import evaluate

        counts = np.bincount(train.item_index, minlength=train.n_items)
        pos = item_time_order(train)
        n_valid = np.floor(self.valid_frac * counts[train.item_index]).astype(np.int64)
        is_valid = pos >= counts[train.item_index] - n_valid
        fit_part, valid = train.subset(~is_valid), train.subset(is_valid)
        content, cf = self._parts(fit_part)
        users = np.arange(train.n_users)
        zc = row_standardize(content.score_indices(users))
        zf = row_standardize(cf.score_indices(users))
        n_fit = fit_part.item_counts()
        results = []
        for kappa in self.kappas:
            g = count_gate(n_fit, float(kappa))
            df = evaluate((1 - g) * zc + g * zf, fit_part, valid, ks=(10,), metrics=["ndcg"], beyond=False)
            results.append(float(df[(df.metric == "ndcg") & (df.group == "warm users")]["value"].iloc[0]))
        results = np.asarray(results)
        return float(self.kappas[int(np.argmax(results))]), results

    def part_scores(self, user_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row-standardised content and CF scores ``(z_content, z_cf)`` for internal user indices."""
        zc = row_standardize(self.content_user_[user_index] @ unit_rows(self.content_item_).T)
        zf = row_standardize(self.cf_user_[user_index] @ self.cf_item_.T)
        return zc, zf

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        zc, zf = self.part_scores(user_index)
        return (1.0 - self.gate_) * zc + self.gate_ * zf

    def gate_table(self, counts: ArrayLike = (0, 1, 3, 10, 30, 100)) -> pd.DataFrame:
        """The CF weight :math:`g(n)` at a few counts, for display."""
        return pd.DataFrame({"interactions": list(counts), "cf_weight": count_gate(np.asarray(counts), self.kappa_)})
