r"""Score a user with a *modified* history, without refitting: the value function of every explainer.

Masking-based explainers (LIME, KernelSHAP, counterfactuals, deletion curves) ask "what would
the model say if the user had *not* interacted with these items?". For a user :math:`u` with
training history :math:`H_u = (h_1, \dots, h_M)` and a binary mask :math:`z \in \{0,1\}^M`
(:math:`z_j = 1`: item :math:`h_j` kept), the **value function** is

.. math:: v(z) = s\big(u;\ \{h_j : z_j = 1\}\big)_i ,

the model's score of a target item :math:`i` computed from the kept items only. Each model
family answers this its own way (all vectorised over a batch of masks :math:`Z \in \{0,1\}^{n \times M}`):

* **ItemKNN** (implicit): :math:`s_{\cdot i} = Z\,(x_{h_j} S_{i h_j})_{j}` -- a sum over the kept items.
* **EASE**: :math:`s = Z\,\mathrm{diag}(x_H)\,B_{H\cdot}` -- again a sum over the kept items.

  For both, row :math:`j` equals the model's :meth:`~coursekit.models.Recommender.fold_in` of the one
  item :math:`h_j` (the score is linear in the history); the :math:`M` rows are read at once from the
  fitted model (``neighbors_``, :meth:`~coursekit.models.EASE.item_similarity`) rather than by
  :math:`M` single-item fold-ins, and every mask then costs one product.
* **iALS**: fold-in of the kept items (:meth:`coursekit.models.IALS.user_factors`), as one batched
  ridge solve over all masks,
  :math:`x(z) = (Y^\top Y + \lambda I + \sum_j z_j (c_j-1) y_j y_j^\top)^{-1}\sum_j z_j c_j y_j`, then
  :math:`s = Y x(z)`, with :math:`Y^\top Y + \lambda I` from :meth:`~coursekit.models.IALS.gram` and
  :math:`c_j` from :meth:`~coursekit.models.IALS.confidence_of`; the item factors stay fixed. Every history
  item counts once (:math:`r = 1`): the full mask reproduces ``model.score`` when the model was trained on
  one event per (user, item).
* **TwoStageRecommender** (BERT re-ranker): the cross-encoder reads the history text built from the
  kept items only (newest first, the model's own word budget).

The model's own ``score`` stays the black box: explainers see only :meth:`HistoryScorer.scores`.
For ItemKNN, EASE and iALS (cholesky solver) the full mask reproduces ``model.score`` exactly.

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> from coursekit.models import ItemKNN
>>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 20, 10]})
>>> model = ItemKNN(k=5).fit(Interactions.from_frame(log))
>>> hs = history_scorer(model, user=1)
>>> hs.history_ids.tolist(), hs.scores(np.array([[1, 1], [1, 0]]), targets=[10]).round(4).tolist()
([10, 20], [[0.8165], [0.0]])
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError

if TYPE_CHECKING:
    from coursekit.models.base import Recommender

__all__ = ["HistoryScorer", "history_scorer", "score_with_history", "SUPPORTED"]

SUPPORTED = ("ItemKNN (implicit)", "EASE", "IALS", "TwoStageRecommender")


@dataclass
class HistoryScorer:
    """Scores of one user under masked histories (see the module docstring).

    Attributes
    ----------
    model : Recommender
    user_index : int
        Internal index of the user.
    history : array of int
        Internal item indices of the history (the explainers' features), in a fixed order.
    seen : array of int
        Items excluded from recommendation (the user's full training history, whatever is masked).
    """

    model: Recommender
    user_index: int
    history: np.ndarray
    seen: np.ndarray
    _fn: Callable[[np.ndarray, np.ndarray], np.ndarray] = field(repr=False)
    n_calls: int = 0

    @property
    def n_features(self) -> int:
        return len(self.history)

    @property
    def history_ids(self) -> np.ndarray:
        """External ids of the history items."""
        return self.model.items_.ids[self.history]

    def scores(self, masks: ArrayLike, targets: ArrayLike | None = None) -> np.ndarray:
        """Scores ``(n_masks, n_targets)`` of the target items (external ids; None = every item).

        ``masks`` is ``(n_masks, n_features)`` (or one mask of length ``n_features``), truthy = kept.
        """
        Z = np.atleast_2d(np.asarray(masks)).astype(np.float64)
        if Z.shape[1] != self.n_features:
            raise CourseKitError(f"masks need {self.n_features} columns (one per history item), got {Z.shape[1]}.")
        cols = np.arange(self.model.n_items) if targets is None else self.model.items_.index(targets)
        self.n_calls += len(Z)
        return np.asarray(self._fn(Z, np.asarray(cols, dtype=np.int64)), dtype=np.float64)

    def value_function(self, target: int) -> Callable[[np.ndarray], np.ndarray]:
        """``v(Z) -> (n_masks,)``: the score of one target item (external id) under each mask."""
        return lambda Z: self.scores(Z, targets=[target])[:, 0]

    def top1(self, masks: ArrayLike) -> np.ndarray:
        """The top-1 item id (seen items excluded) under each mask, shape ``(n_masks,)``."""
        s = self.scores(masks)
        s[:, self.seen] = -np.inf
        return self.model.items_.ids[np.argmax(s, axis=1)]


def _history(model, u: int) -> tuple[np.ndarray, np.ndarray]:
    """Internal indices and values of user ``u``'s training history (the row of ``model.seen_``)."""
    row = model.seen_[u]
    return row.indices.astype(np.int64), row.data.astype(np.float64)


def _itemknn(model, u: int):
    """ItemKNN (implicit): row :math:`j` is :math:`x_{h_j}` times column :math:`h_j` of the pruned similarities."""
    if model.feedback != "implicit":
        raise CourseKitError("masking needs ItemKNN(feedback='implicit'): the explicit mode's neighbourhoods "
                             "change with the history, so it is not a sum over history items.")
    hist, x = _history(model, u)
    W = np.asarray(model.neighbors_[:, hist].toarray(), dtype=np.float64).T * x[:, None]   # (M, n_items)
    return hist, lambda Z, cols: Z @ W[:, cols]


def _ease(model, u: int):
    r"""EASE: row :math:`j` is :math:`x_{h_j} B_{h_j \cdot}` (:meth:`~coursekit.models.EASE.item_similarity`)."""
    hist, x = _history(model, u)
    W = model.item_similarity(model.items_.ids[hist]) * x[:, None]   # (M, n_items)
    return hist, lambda Z, cols: Z @ W[:, cols]


def _ials(model, u: int):
    hist, _ = _history(model, u)
    Y = model.item_factors_.astype(np.float64)
    Yh = Y[hist]
    c = model.confidence_of(np.ones(len(hist)))                              # every history item counts once
    outer = np.einsum("jf,jg->jfg", Yh, Yh) * (c - 1.0)[:, None, None]      # (M, f, f)
    G = model.gram()

    def fn(Z, cols):
        A = G[None] + np.einsum("nj,jfg->nfg", Z, outer)
        b = (Z * c[None, :]) @ Yh
        X = np.linalg.solve(A, b[:, :, None])[:, :, 0]
        return X @ Y[cols].T
    return hist, fn


def _two_stage(model, u: int):
    from coursekit.text.items import history_text

    hist = model.history_items_[model.history_indptr_[u]:model.history_indptr_[u + 1]].astype(np.int64)
    texts = model.history_item_text(hist)
    cand = set(model.candidate_indices([u])[0].tolist())

    def fn(Z, cols):
        if not set(cols.tolist()) <= cand:
            raise CourseKitError("the BERT re-ranker scores only its retrieval candidates; pass targets= "
                                 "from model.candidate_indices (use external ids).")
        kept = [texts[z > 0].tolist() for z in Z]
        hists = [history_text(k, max_words=model.max_history_words) if k else "" for k in kept]
        pairs_h = [h for h in hists for _ in cols]
        pairs_c = [t for _ in hists for t in model.item_text(cols).tolist()]
        return model.reranker.score_pairs(pairs_h, pairs_c, batch_size=model.batch_size).reshape(len(Z), len(cols))
    return hist, fn


def history_scorer(model: Recommender, user: int) -> HistoryScorer:
    """A :class:`HistoryScorer` for ``user`` (external id) of a fitted ``model``.

    Supported: ItemKNN (implicit), EASE, IALS, TwoStageRecommender; others raise a
    :class:`~coursekit.CourseKitError` naming these.
    """
    from coursekit.models import EASE, IALS, ItemKNN, TwoStageRecommender

    model.check_fitted()
    u = int(model.users_.index([user])[0])
    if model.user_counts_[u] == 0:
        raise CourseKitError(f"user {user} has no training history, so there is nothing to explain over.")
    builders = [(ItemKNN, _itemknn), (EASE, _ease), (IALS, _ials), (TwoStageRecommender, _two_stage)]
    for klass, build in builders:
        if isinstance(model, klass):
            hist, fn = build(model, u)
            return HistoryScorer(model, u, hist, model.seen_[u].indices.astype(np.int64), fn)
    raise CourseKitError(f"{type(model).__name__} cannot score a modified history without refitting; "
                         f"history explanations support {', '.join(SUPPORTED)}.")


def score_with_history(model: Recommender, history_items: ArrayLike, target_items: ArrayLike | None = None,
                       user: int | None = None) -> np.ndarray:
    """Scores of ``target_items`` (external ids; None = all) for a user whose history is ``history_items``.

    ``history_items`` must be a subset of ``user``'s training history (external ids): the
    user's other history items are treated as removed. Returns shape ``(n_targets,)``.
    """
    if user is None:
        raise CourseKitError("score_with_history needs user= (the external id whose history is masked).")
    hs = history_scorer(model, user)
    keep = np.isin(hs.history_ids, np.asarray(history_items))
    missing = np.setdiff1d(np.asarray(history_items), hs.history_ids)
    if missing.size:
        raise CourseKitError(f"items {missing[:5].tolist()} are not in user {user}'s history; "
                             "only removals from the real history are supported.")
    return hs.scores(keep[None, :], targets=target_items)[0]
