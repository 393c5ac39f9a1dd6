r"""Two-stage recommendation: a cheap retriever proposes candidates, a cross-encoder re-ranks them.

Stage 1 (retrieval): a fitted coursekit model (iALS, two-tower, ...) ranks every item for the
user; its top :math:`n` unseen items form the candidate set :math:`C_u`. Stage 2 (re-ranking):
the cross-encoder reads ``[CLS] history [SEP] candidate [SEP]`` for every :math:`i \in C_u` and
gives :math:`p_{ui} = \sigma(z_{ui})`.

The score matrix is built so that ``recommend`` returns exactly the re-ranked candidates first
and then the rest in retrieval order, with finite scores:

.. math::

    s_{ui} = \begin{cases}
        1 + p_{ui} & i \in C_u \quad (\in [1, 2]) \\
        \dfrac{n_I - \rho_{ui}}{n_I + 1} & i \notin C_u \quad (\in (0, 1))
    \end{cases}

where :math:`\rho_{ui} \in \{0, \dots, n_I - 1\}` is the item's position in the retriever's
ranking (seen items last, ties by lower item index).

**Score fusion.** With ``fusion_weight`` :math:`w`, the candidates are ordered not by the
cross-encoder alone but by

.. math::

    f_{ui} = \zeta_u(r_{ui}) + w\,\zeta_u(z_{ui}), \qquad
    \zeta_u(x_{ui}) = \frac{x_{ui} - \operatorname{mean}_{j \in C_u} x_{uj}}{\operatorname{std}_{j \in C_u} x_{uj}},

the retriever's score :math:`r` and the cross-encoder's logit :math:`z`, each standardised over
the user's candidates (:func:`fuse_scores`). :math:`w = 0` keeps the retriever's order; a large
:math:`w` approaches the cross-encoder's; choose :math:`w` on validation users. The re-ranker can only *reorder* the
candidates: it never brings in an item the retriever did not propose. The cost is
:math:`n` transformer passes per user, which is why :math:`n` is 50-100, not the catalogue.

Example
-------
.. code-block:: python

    from coursekit.models import IALS
    from coursekit.text.cross_encoder import CrossEncoder
    model = TwoStageRecommender(IALS(factors=64), CrossEncoder.load("ce"), n_candidates=50,
                                item_texts=item_texts(shop)).fit(train)
    ids, scores = model.recommend([1, 2], k=10)
"""
from __future__ import annotations

import json
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender, clone

__all__ = ["TwoStageRecommender", "retrieval_rank_scores", "fuse_scores", "fused_top_k"]


def fuse_scores(retriever_scores: np.ndarray, reranker_scores: np.ndarray, weight: float,
                n_valid: ArrayLike | None = None) -> np.ndarray:
    r"""Per-row fusion :math:`\zeta(r) + w\,\zeta(z)` of two ``(n_users, n)`` score arrays over each row's candidates.

    Each row is standardised over its first ``n_valid[row]`` columns (default: all); a row with no
    spread in one score gets 0 for it. Columns beyond ``n_valid`` come out as ``-inf``.

    >>> r = np.array([[3.0, 2.0, 1.0]]); z = np.array([[0.0, 0.0, 5.0]])
    >>> fuse_scores(r, z, 0.0).argsort()[0, ::-1].tolist(), fuse_scores(r, z, 10.0).argsort()[0, ::-1].tolist()
    ([0, 1, 2], [2, 0, 1])
    """
    r = np.asarray(retriever_scores, dtype=np.float64)
    z = np.asarray(reranker_scores, dtype=np.float64)
    if r.shape != z.shape or r.ndim != 2:
        raise CourseKitError(f"retriever_scores and reranker_scores must be 2-D arrays of one shape, got "
                             f"{r.shape} and {z.shape}.")
    weight = float(weight)
    if not np.isfinite(weight) or weight < 0:
        raise CourseKitError(f"weight must be a finite number >= 0, got {weight}.")
    n = np.full(len(r), r.shape[1]) if n_valid is None else np.asarray(n_valid, dtype=np.int64)
    mask = np.arange(r.shape[1])[None, :] < n[:, None]

    def standardise(x: np.ndarray) -> np.ndarray:
        cnt = np.maximum(mask.sum(1, keepdims=True), 1)
        mean = np.where(mask, x, 0.0).sum(1, keepdims=True) / cnt
        sd = np.sqrt(np.where(mask, (x - mean) ** 2, 0.0).sum(1, keepdims=True) / cnt)
        return np.where(sd > 0, (x - mean) / np.where(sd > 0, sd, 1.0), 0.0)

    return np.where(mask, standardise(r) + weight * standardise(z), -np.inf)


def retrieval_rank_scores(scores: np.ndarray, seen_rows: sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    r"""Rank-based scores in :math:`(0, 1)` and the rank order of a retriever's score rows.

    Seen items (nonzeros of ``seen_rows``, CSR) go last; ties are broken by lower item index,
    as :func:`coursekit.models.ranking.top_k` does.

    >>> import scipy.sparse as sp
    >>> val, order = retrieval_rank_scores(np.array([[0.2, 0.9, 0.5]]), sp.csr_matrix([[0, 1, 0]]))
    >>> order.tolist(), val.round(2).tolist()
    ([[2, 0, 1]], [[0.5, 0.25, 0.75]])
    """
    masked = np.array(scores, dtype=np.float64)
    r, c = seen_rows.nonzero()
    masked[r, c] = -np.inf
    order = np.argsort(-masked, axis=1, kind="stable")
    n_items = masked.shape[1]
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n_items)[None, :].repeat(len(order), 0), axis=1)
    return (n_items - rank) / (n_items + 1.0), order


def fused_top_k(candidates: np.ndarray, retriever_scores: np.ndarray, reranker_scores: np.ndarray,
                n_valid: ArrayLike, weight: float | None, k: int = 10) -> np.ndarray:
    """Top-``k`` item indices per user after re-ranking the candidates (``-1`` where fewer exist).

    ``weight=None`` orders by the re-ranker alone, a number by :func:`fuse_scores` (``0`` keeps
    the retrieval order). The inputs are :meth:`TwoStageRecommender.candidate_scores`'s output, so
    several weights can be tried on the same cross-encoder passes.

    >>> c = np.array([[5, 7, 9]]); r = np.array([[3.0, 2.0, 1.0]]); z = np.array([[0.0, 1.0, 2.0]])
    >>> fused_top_k(c, r, z, [3], 0.0, k=2).tolist(), fused_top_k(c, r, z, [3], None, k=2).tolist()
    ([[5, 7]], [[9, 7]])
    """
    k = check_positive_int(k, "k")
    n_valid = np.asarray(n_valid, dtype=np.int64)
    if weight is None:
        mask = np.arange(candidates.shape[1])[None, :] < n_valid[:, None]
        order_score = np.where(mask, np.asarray(reranker_scores, dtype=np.float64), -np.inf)
    else:
        order_score = fuse_scores(retriever_scores, reranker_scores, weight, n_valid)
    order = np.argsort(-order_score, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(np.asarray(candidates), order, axis=1)
    return np.where(np.take_along_axis(order_score, order, axis=1) > -np.inf, top, -1)


class TwoStageRecommender(Recommender):
    r"""Retrieval by a coursekit model, re-ranking of its top ``n_candidates`` by a cross-encoder.

    Parameters
    ----------
    retriever : Recommender
        Stage 1. :meth:`fit` fits a clone of it on the training data (``retriever`` itself is left
        as it was); with ``fit_retriever=False`` it must already be fitted on the same universe and
        is used as it is. The fitted stage 1 is ``retriever_``.
    reranker : CrossEncoder
        Stage 2 (:class:`coursekit.text.cross_encoder.CrossEncoder`), already trained
        (:func:`coursekit.finetune.train_cross_encoder`); it is not trained by ``fit``.
    n_candidates : int
        Candidates re-ranked per user.
    item_texts : dict, Series or DataFrame
        Text of every item (candidate side), e.g. :func:`coursekit.text.items.item_texts`.
    history_item_texts : optional
        Texts of items inside a history (default ``item_texts``), as used in training.
    history_size, max_history_words : int
        History text: the user's ``history_size`` most recent distinct training items, joined up to
        ``max_history_words`` words (as :func:`coursekit.finetune.make_pairs` builds it:
        use the same values as in training).
    batch_size : int
        Pairs per cross-encoder forward pass.
    fit_retriever : bool
        Fit the retriever in :meth:`fit`.
    fusion_weight : float, optional
        ``None``: candidates ordered by the cross-encoder's probability alone. A number
        :math:`w \ge 0`: ordered by :func:`fuse_scores` of the retriever's score and the
        cross-encoder's logit (``0`` keeps the retriever's order).

    Attributes
    ----------
    retriever_ : Recommender
        The fitted stage 1.
    item_text_, history_text_ : arrays of str (n_items,)
        Candidate-side and history-side text of every item (internal order); see
        :meth:`item_text` and :meth:`history_item_text`.
    history_items_, history_indptr_ : int arrays
        Each user's history (most recent distinct items first) in CSR layout: user ``u``'s
        items are ``history_items_[history_indptr_[u]:history_indptr_[u + 1]]``.
    """

    def __init__(self, retriever: Recommender, reranker: Any, n_candidates: int = 100, item_texts: Any = None,
                 history_item_texts: Any = None, history_size: int = 20, max_history_words: int = 64,
                 batch_size: int = 128, fit_retriever: bool = True, fusion_weight: float | None = None):
        self.retriever = retriever
        self.reranker = reranker
        self.n_candidates = n_candidates
        self.item_texts = item_texts
        self.history_item_texts = history_item_texts
        self.history_size = history_size
        self.max_history_words = max_history_words
        self.batch_size = batch_size
        self.fit_retriever = fit_retriever
        self.fusion_weight = fusion_weight

    # ------------------------------------------------------------------ fitting
    def _fit(self, train: Interactions) -> None:
        from coursekit.text.items import align_item_texts, user_histories

        check_positive_int(self.n_candidates, "n_candidates")
        if self.fusion_weight is not None:
            w = self.fusion_weight
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not np.isfinite(w) or w < 0:
                raise CourseKitError(f"fusion_weight must be None or a finite number >= 0, got {w!r}.")
        if not isinstance(self.retriever, Recommender):
            raise CourseKitError(f"retriever must be a coursekit Recommender, got {type(self.retriever).__name__}.")
        if not hasattr(self.reranker, "logits"):
            raise CourseKitError("reranker must be a coursekit.text.cross_encoder.CrossEncoder "
                                 "(with logits(histories, candidates, batch_size)).")
        if self.item_texts is None:
            raise CourseKitError("TwoStageRecommender needs item_texts= "
                                 "(e.g. coursekit.text.items.item_texts(dataset)).")
        self.item_text_ = align_item_texts(train.items, self.item_texts)
        self.history_text_ = (self.item_text_ if self.history_item_texts is None
                              else align_item_texts(train.items, self.history_item_texts))
        if self.fit_retriever:
            self.retriever_ = clone(self.retriever).fit(train)
        else:
            self.retriever.check_fitted()
            self.retriever_ = self.retriever
            if not np.array_equal(self.retriever.items_.ids, train.items.ids) or \
                    not np.array_equal(self.retriever.users_.ids, train.users.ids):
                raise CourseKitError("the pre-fitted retriever has another user/item universe than train; "
                                     "fit it on the same split, or pass fit_retriever=True.")
        hists = user_histories(train, max_items=check_positive_int(self.history_size, "history_size"))
        self.history_indptr_ = np.r_[0, np.cumsum([len(h) for h in hists])].astype(np.int64)
        self.history_items_ = (np.concatenate(hists) if hists else np.zeros(0)).astype(np.int64)

    # ------------------------------------------------------------------ scoring
    def item_text(self, item_index: ArrayLike) -> np.ndarray:
        """Candidate-side texts (what the re-ranker reads after ``[SEP]``) of internal item indices."""
        self.check_fitted()
        return self.item_text_[np.asarray(item_index, dtype=np.int64)]

    def history_item_text(self, item_index: ArrayLike) -> np.ndarray:
        """History-side texts (joined into a user's history text) of internal item indices."""
        self.check_fitted()
        return self.history_text_[np.asarray(item_index, dtype=np.int64)]

    def history_texts(self, user_index: np.ndarray) -> list[str]:
        """The history text the re-ranker reads for each internal user index."""
        from coursekit.text.items import history_text

        out = []
        for u in np.asarray(user_index, dtype=np.int64):
            items = self.history_items_[self.history_indptr_[u]:self.history_indptr_[u + 1]]
            texts = self.history_text_[items].tolist()
            out.append(history_text(texts, max_words=self.max_history_words) if texts else "")
        return out

    def _stage1(self, user_index: np.ndarray, raw: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """Rank-based retrieval scores, the retrieval order and the number of real candidates per row."""
        if raw is None:
            raw = self.retriever_.score_indices(user_index)
        base, order = retrieval_rank_scores(raw, self.seen_[user_index])
        n = min(self.n_candidates, self.n_items)
        n_valid = np.minimum(n, self.n_items - np.diff(self.seen_.indptr)[user_index])
        return base, order[:, :n], n_valid

    def candidate_indices(self, user_index: ArrayLike) -> list[np.ndarray]:
        """Retrieval stage: per internal user index, its candidate item indices in retrieval order.

        The retriever's top ``n_candidates`` items the user has not seen in training.
        """
        _, order, n_valid = self._stage1(np.asarray(user_index, dtype=np.int64))
        return [row[:k] for row, k in zip(order, n_valid)]

    def candidate_scores(self, user_index: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Both stages' scores of each user's candidates, for choosing a fusion weight without re-scoring.

        Returns ``(candidates, retriever_scores, reranker_scores, n_valid)``: ``(n_users, n)`` arrays
        of item indices in retrieval order (``-1`` past ``n_valid``), the retriever's raw scores,
        the cross-encoder's logits (binary task) or standardised predictions (regression), and the
        number of real candidates per user (0 for users without training history).
        """
        user_index = np.asarray(user_index, dtype=np.int64)
        return self._candidate_scores(user_index, np.asarray(self.retriever_.score_indices(user_index), np.float64))

    def _candidate_scores(self, user_index: np.ndarray, raw: np.ndarray) -> tuple:
        _, order, n_valid = self._stage1(user_index, raw)
        n_real = np.where(self.user_counts_[user_index] > 0, n_valid, 0)
        keep = np.arange(order.shape[1])[None, :] < n_real[:, None]
        cands = np.where(keep, order, -1)
        r = np.where(keep, np.take_along_axis(raw, np.maximum(order, 0), axis=1), 0.0)
        z = np.zeros(order.shape)
        rows, cols = np.nonzero(keep)
        if len(rows):
            warm_users = np.unique(rows)
            hist = dict(zip(warm_users.tolist(), self.history_texts(user_index[warm_users])))
            histories = [hist[row] for row in rows.tolist()]
            z[rows, cols] = self.reranker.logits(histories, self.item_text_[cands[rows, cols]].tolist(),
                                                 batch_size=self.batch_size)
        return cands, r, z, n_real

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        user_index = np.asarray(user_index, dtype=np.int64)
        raw = np.asarray(self.retriever_.score_indices(user_index), dtype=np.float64)
        base, _, _ = self._stage1(user_index, raw)
        cands, r, z, n_real = self._candidate_scores(user_index, raw)
        rows, cols = np.nonzero(cands >= 0)
        if len(rows):
            if self.fusion_weight is None:
                # the cross-encoder's order: sigma(z) for the binary task, any increasing map for ratings
                order_score = 1.0 / (1.0 + np.exp(-z))
            else:
                order_score = 1.0 / (1.0 + np.exp(-fuse_scores(r, z, self.fusion_weight, n_real)))
            base[rows, cands[rows, cols]] = 1.0 + order_score[rows, cols]
        return base

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | PathLike) -> Path:
        """Write ``params.json``, the fitted state, ``retriever/`` (its own save) and ``reranker/``."""
        self.check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = _State()
        state.__dict__.update({k: v for k, v in self._state().items()
                                if k not in ("retriever_", "item_text_", "history_text_")})
        state.save(folder / "state")
        self.retriever_.save(folder / "retriever")
        self.reranker.save(folder / "reranker")
        params = {k: v for k, v in self.get_params().items()
                  if k not in ("retriever", "reranker", "item_texts", "history_item_texts")}
        texts = {"item_text": self.item_text_.tolist(),
                 "history_text": None if self.history_item_texts is None else self.history_text_.tolist()}
        (folder / "texts.json").write_text(json.dumps(texts))
        meta = {"class": type(self).__name__, "module": type(self).__module__, "params": params,
                "cold_users": self.cold_users}
        (folder / "params.json").write_text(json.dumps(meta, indent=1))
        return folder

    @classmethod
    def _load_folder(cls, folder, meta: dict) -> TwoStageRecommender:
        """Rebuild from :meth:`save`'s folder (called by :meth:`Recommender.load`)."""
        from coursekit.text.cross_encoder import CrossEncoder

        folder = Path(folder)
        retriever = Recommender.load(folder / "retriever")
        reranker = CrossEncoder.load(folder / "reranker")
        texts = json.loads((folder / "texts.json").read_text())
        state = Recommender.load(folder / "state")
        ids = state.items_.ids
        item_texts = dict(zip(ids.tolist(), texts["item_text"]))
        history_texts = None if texts["history_text"] is None else dict(zip(ids.tolist(), texts["history_text"]))
        model = cls(retriever, reranker, item_texts=item_texts, history_item_texts=history_texts, **meta["params"])
        model.cold_users = meta.get("cold_users", "popular")
        for name, value in vars(state).items():
            if name.endswith("_") and not name.startswith("_"):
                setattr(model, name, value)
        model.retriever_ = retriever
        model.item_text_ = np.asarray(texts["item_text"], dtype=object)
        model.history_text_ = (model.item_text_ if texts["history_text"] is None
                               else np.asarray(texts["history_text"], dtype=object))
        return model

    @classmethod
    def load(cls, folder: str | PathLike) -> TwoStageRecommender:
        """Load a model written by :meth:`save`."""
        return Recommender.load.__func__(cls, folder)


class _State(Recommender):
    """Holder of a :class:`TwoStageRecommender`'s own fitted arrays, saved with the generic format."""

    def __init__(self):
        pass
