r"""The whole recommender system: ANN retrieval, cross-encoder re-ranking, MMR, cold start, explanations.

One request for user :math:`u` runs five stages:

1. **Retrieval.** The factor model's user vector :math:`x_u` (iALS) queries an ANN index of the
   item vectors :math:`y_i` (:class:`~coursekit.models.ann.ANNIndex`) for the ``n_candidates``
   items :math:`C_u` of largest :math:`r_{ui} = x_u^\top y_i`, the user's history left out.
   :math:`r_{ui}` is then recomputed exactly (float64) for the candidates.
2. **Re-ranking** (optional ``reranker``, a :class:`~coursekit.text.cross_encoder.CrossEncoder`):
   the logit :math:`z_{ui}` of the pair (history text, item text) for every :math:`i \in C_u`, fused
   with the retrieval score (:func:`coursekit.models.rerank.fuse_scores`):
   :math:`f_{ui} = \zeta_u(r_{ui}) + w\,\zeta_u(z_{ui})` (``fusion_weight`` :math:`w`, :math:`\zeta_u`
   standardises over :math:`C_u`). Without a re-ranker :math:`f_{ui} = r_{ui}`.
3. **Diversification**: MMR over :math:`C_u` with relevance :math:`f` and the cosine of the item vectors
   (:func:`coursekit.models.mmr.mmr_rerank`, ``lam``; :math:`\lambda = 1` keeps the order of :math:`f`).
4. **Cold start.** A user with no event at all gets the training popularity (the course's named
   fallback); a user whose only events arrived by :meth:`RecommenderSystem.observe` is folded in
   and served like any other. Items without a training event (cold items) have no learned vector
   (iALS leaves it near zero, so retrieval never proposes them); with ``item_features`` they get
   a content vector :math:`\hat y_i = W^\top a_i`, :math:`W` the ridge map from attributes to the
   factors of the warm items: :math:`W = (A^\top A + \mu I)^{-1} A^\top Y` (``content_reg`` :math:`\mu`).
5. **Explanation**: for each recommended item :math:`i`, the history item
   :math:`h^\star = \arg\max_{h \in H_u} \cos(y_i, y_h)` ("because you bought :math:`h^\star`").

**Real time.** :meth:`RecommenderSystem.observe` appends events to the user's live history and
re-computes :math:`x_u` by fold-in (one :math:`f \times f` solve, the item side fixed: no refit);
the next :meth:`~RecommenderSystem.serve` or ``recommend`` uses it, and observed items are not
recommended again. :meth:`~RecommenderSystem.serve` answers one request with the time of each stage.

**As a recommender.** ``score`` gives the final order of the candidates (:math:`s \in (1, 2]`, by
position) and then every other item in the retriever's exact order (:math:`s \in (0, 1)`, history
items last; :func:`coursekit.models.rerank.retrieval_rank_scores`), so ``recommend(users, k)`` is the
system's list for all users at once (every stage batched over users) and the shared contract holds.
"""
from __future__ import annotations

import time
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_id_array, check_positive_int
from coursekit.interactions import Interactions
from coursekit.models.ann import ANNIndex
from coursekit.models.base import Recommender, clone
from coursekit.models.mmr import mmr_rerank, unit_vectors
from coursekit.models.ranking import PAD_ID, top_k
from coursekit.models.rerank import fuse_scores, retrieval_rank_scores
from coursekit.system.stages import content_item_vectors, most_similar_history, padded

__all__ = ["RecommenderSystem", "Served", "STAGES"]

#: the timed stages of one request, in order (``serve`` also reports ``"total"``)
STAGES = ("retrieval", "rerank", "mmr", "explain")


class Served(NamedTuple):
    """One answered request (:meth:`RecommenderSystem.serve`)."""

    #: external item ids, best first (``-1`` pads)
    items: np.ndarray
    #: each item's relevance :math:`f_{ui}` (fused score, or retrieval score without re-ranker; popularity when cold)
    scores: np.ndarray
    #: per item, the external id of the history item that explains it (``-1``: none, e.g. a cold user)
    explanations: np.ndarray
    #: milliseconds per stage (:data:`STAGES`) and ``"total"``
    timings: dict


def _ms(t0: float, t1: float) -> float:
    return (t1 - t0) * 1e3


class RecommenderSystem(Recommender):
    r"""Retrieval, re-ranking, diversification, cold start and explanations in one recommender.

    Parameters
    ----------
    retriever : Recommender
        A factor model with ``user_factors_``, ``user_factors(items, values)`` (fold-in) and item
        vectors, e.g. :class:`~coursekit.models.IALS`. :meth:`fit` fits a clone (``retriever_``).
    reranker : CrossEncoder, optional
        Already trained; scores (history text, item text) pairs with ``logits``. ``None``: no stage 2.
    item_texts : dict, Series or DataFrame, optional
        Text of every item (both sides of a pair), required with a re-ranker; e.g.
        :func:`coursekit.text.item_summaries`.
    n_candidates : int
        :math:`|C_u|`, retrieved per request.
    fusion_weight : float
        :math:`w \ge 0` of the re-ranker's standardised logit.
    lam : float
        MMR's :math:`\lambda \in [0, 1]` (1: no diversification).
    ann : {"hnsw", "exact"}
        Retrieval index (:class:`~coursekit.models.ann.ANNIndex`); ``M``, ``ef_search`` its HNSW settings.
    item_features : tuple (ids, array (n, d)), optional
        Content attributes per item id, used for the vectors of cold items (stage 4); every item of
        the universe needs a row.
    content_reg : float
        :math:`\mu` of the attribute-to-factor ridge map.
    history_size, max_history_words : int
        The history the re-ranker reads (most recent distinct items first, up to this many words)
        and the explanation chooses from: use the values the cross-encoder was trained with.
    batch_size : int
        Pairs per cross-encoder forward pass.
    seed : int
        Seeds the ANN build.

    Attributes
    ----------
    retriever_ : Recommender
    item_vectors_ : array (n_items, f)
        Retrieval vectors (the retriever's, cold rows from content when ``item_features`` is given).
    user_vectors_ : array (n_users, f)
        Current user vectors (trained, then updated by :meth:`observe`).
    index_ : ANNIndex
    history_ : int array (n_users, history_size)
        Training history, most recent first, ``-1`` pads.

    Examples
    --------
    >>> import pandas as pd
    >>> from coursekit.models import IALS
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": [10, 20, 10, 30, 20, 40]})
    >>> system = RecommenderSystem(IALS(factors=2, iterations=3), n_candidates=3, ann="exact")
    >>> system = system.fit(Interactions.from_frame(log))
    >>> served = system.serve(3, k=2)
    >>> served.items.shape, sorted(served.timings)
    ((2,), ['explain', 'mmr', 'rerank', 'retrieval', 'total'])
    >>> system.observe(3, [10])                  # a live event: user 3 is folded in again, 10 is not re-served
    >>> system.serve(3, k=1).items.tolist()
    [30]
    """

    capabilities = frozenset({"similar_items", "fold_in"})

    def __init__(self, retriever: Recommender, reranker: Any = None, item_texts: Any = None, n_candidates: int = 100,
                 fusion_weight: float = 1.0, lam: float = 1.0, ann: str = "hnsw", M: int = 32, ef_search: int = 64,
                 item_features: Any = None, content_reg: float = 1.0, history_size: int = 20,
                 max_history_words: int = 25, batch_size: int = 128, seed: int = 0):
        self.retriever = retriever
        self.reranker = reranker
        self.item_texts = item_texts
        self.n_candidates = n_candidates
        self.fusion_weight = fusion_weight
        self.lam = lam
        self.ann = ann
        self.M = M
        self.ef_search = ef_search
        self.item_features = item_features
        self.content_reg = content_reg
        self.history_size = history_size
        self.max_history_words = max_history_words
        self.batch_size = batch_size
        self.seed = seed

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        if not isinstance(self.retriever, Recommender):
            raise CourseKitError(f"retriever must be a coursekit Recommender (e.g. IALS), got "
                                 f"{type(self.retriever).__name__}.")
        if not hasattr(self.retriever, "user_factors"):
            raise CourseKitError(f"retriever must be a factor model with user_factors(items) fold-in (IALS), got "
                                 f"{type(self.retriever).__name__}.")
        if self.reranker is not None:
            if not hasattr(self.reranker, "logits"):
                raise CourseKitError("reranker must be None or a coursekit.text.cross_encoder.CrossEncoder "
                                     f"(with logits(histories, candidates)), got {type(self.reranker).__name__}.")
            if self.item_texts is None:
                raise CourseKitError("a reranker needs item_texts= (e.g. coursekit.text.item_summaries(dataset)).")
        if self.ann not in ("hnsw", "exact"):
            raise CourseKitError(f"ann must be 'hnsw' (approximate, faiss) or 'exact', got {self.ann!r}.")
        for name in ("n_candidates", "history_size", "max_history_words", "batch_size", "M", "ef_search"):
            check_positive_int(getattr(self, name), name)
        for name in ("fusion_weight", "content_reg"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
                raise CourseKitError(f"{name} must be a finite number >= 0, got {v!r}.")
        lam = self.lam
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0.0 <= lam <= 1.0:
            raise CourseKitError(f"lam must be a number in [0, 1] (1 = no diversification), got {lam!r}.")

    def _fit(self, train: Interactions) -> None:
        from coursekit.text.items import user_histories

        self._check_params()
        self.retriever_ = clone(self.retriever).fit(train)
        vectors = np.asarray(self.retriever_.item_vectors(), dtype=np.float64)
        if self.item_features is not None:
            vectors = content_item_vectors(vectors, self._features(train), self.item_popularity_ > 0,
                                           self.content_reg)
        self.item_vectors_ = vectors
        self.unit_ = unit_vectors(vectors)
        self.user_vectors_ = np.array(self.retriever_.user_factors_, dtype=np.float64)
        self.user_counts_ = np.array(self.user_counts_, copy=True)     # observe() raises it; train stays as it was
        self.train_user_counts_ = self.user_counts_.copy()
        self.counts_ = train.matrix("count", dtype=np.float64)
        self.index_ = ANNIndex(vectors, method=self.ann, M=self.M, ef_search=self.ef_search, seed=self.seed)
        self.history_ = padded(user_histories(train, max_items=self.history_size), self.history_size)
        if self.reranker is not None:
            from coursekit.text.items import align_item_texts

            self.item_text_ = align_item_texts(train.items, self.item_texts)
        self._live: dict[int, list[int]] = {}

    def _features(self, train: Interactions) -> np.ndarray:
        feats = self.item_features
        if not (isinstance(feats, tuple) and len(feats) == 2):
            raise CourseKitError("item_features must be a tuple (item_ids, array of shape (n, d)), got "
                                 f"{type(feats).__name__}.")
        ids, X = np.asarray(feats[0]), np.asarray(feats[1], dtype=np.float64)
        if X.ndim != 2 or len(ids) != len(X):
            raise CourseKitError(f"item_features needs one row per id: got {len(ids)} ids and shape {X.shape}.")
        pos = {int(i): j for j, i in enumerate(ids.tolist())}
        missing = [int(i) for i in train.items.ids if int(i) not in pos]
        if missing:
            raise CourseKitError(f"item_features has no row for item id(s) {missing[:10]}; give every item of the "
                                 "universe a row.")
        return X[[pos[int(i)] for i in train.items.ids]]

    def _item_vectors(self) -> np.ndarray:
        return self.item_vectors_

    # ------------------------------------------------------------------ live state
    def observe(self, user_id: int, item_ids: ArrayLike) -> None:
        """Append events to ``user_id``'s live history and re-compute the user vector by fold-in (no refit).

        The vector is the retriever's fold-in of the training counts plus the live events
        (:meth:`coursekit.models.IALS.user_factors`); observed items are not recommended again.
        """
        self.check_fitted()
        u = int(self.users_.index(check_id_array(user_id, "user_id"))[0])
        idx = self.items_.index(check_id_array(item_ids, "item_ids"))
        if idx.size == 0:
            return
        live = self._live.setdefault(u, [])
        live.extend(idx.tolist())
        row = self.counts_[u]
        items = np.r_[row.indices, np.asarray(live, dtype=np.int64)]
        values = np.r_[row.data, np.ones(len(live))]
        self.user_vectors_[u] = self.retriever_.user_factors(self.items_.ids[items], values)
        self.user_counts_[u] = self.train_user_counts_[u] + len(live)

    def reset_live(self) -> None:
        """Forget every observed event: user vectors and histories as after :meth:`fit`."""
        self.check_fitted()
        self._live = {}
        self.user_vectors_ = np.array(self.retriever_.user_factors_, dtype=np.float64)
        self.user_counts_ = self.train_user_counts_.copy()

    def _live_rows(self, user_index: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """``(row, live item indices oldest first)`` for the rows whose user has live events."""
        if not self._live:
            return []
        rows = np.nonzero(np.isin(user_index, np.fromiter(self._live, dtype=np.int64)))[0]
        return [(int(r), np.asarray(self._live[int(user_index[r])], dtype=np.int64)) for r in rows]

    def _exclusion(self, user_index: np.ndarray) -> sp.csr_matrix:
        """Training items plus live items of each user, as a boolean CSR ``(n, n_items)``."""
        excl = self.seen_[user_index].astype(bool)
        live = self._live_rows(user_index)
        if live:
            r = np.concatenate([np.full(len(items), row) for row, items in live])
            c = np.concatenate([items for _, items in live])
            extra = sp.csr_matrix((np.ones(len(r), dtype=bool), (r, c)), shape=excl.shape)
            excl = (excl + extra).astype(bool).tocsr()
        return excl

    def _histories(self, user_index: np.ndarray) -> np.ndarray:
        """``(n, history_size)`` history item indices, most recent first (live events before training ones)."""
        hist = self.history_[user_index].copy()
        for row, items in self._live_rows(user_index):
            merged = np.r_[items[::-1], hist[row][hist[row] >= 0]]
            _, first = np.unique(merged, return_index=True)
            merged = merged[np.sort(first)][:self.history_size]
            hist[row] = PAD_ID
            hist[row, :len(merged)] = merged
        return hist

    # ------------------------------------------------------------------ the stages
    def _retrieve(self, X: np.ndarray, exclude: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Stage 1: candidates ``(n, N)`` (``-1`` pads) and their exact scores, best first."""
        cands, _ = self.index_.search(X, min(self.n_candidates, self.n_items), exclude=exclude)
        valid = cands >= 0
        r = np.einsum("nd,nkd->nk", X, self.item_vectors_[np.maximum(cands, 0)])
        r = np.where(valid, r, -np.inf)
        order = np.argsort(-r, axis=1, kind="stable")
        return np.take_along_axis(cands, order, axis=1), np.take_along_axis(r, order, axis=1)

    def _history_texts(self, hist: np.ndarray) -> list[str]:
        from coursekit.text.items import history_text

        texts = self.item_text_
        return [history_text(texts[h[h >= 0]].tolist(), max_words=self.max_history_words) if (h >= 0).any() else ""
                for h in hist]

    def _rerank(self, cands: np.ndarray, r: np.ndarray, hist: np.ndarray) -> np.ndarray:
        """Stage 2: the relevance :math:`f` of each candidate (``-inf`` for padding)."""
        valid = cands >= 0
        if self.reranker is None or not valid.any():
            return r
        rows, cols = np.nonzero(valid)
        histories = self._history_texts(hist)
        z = np.zeros(cands.shape)
        z[rows, cols] = self.reranker.logits([histories[i] for i in rows.tolist()],
                                             self.item_text_[cands[rows, cols]].tolist(), batch_size=self.batch_size)
        return fuse_scores(np.where(valid, r, 0.0), z, self.fusion_weight, valid.sum(axis=1))

    def _diversify(self, cands: np.ndarray, f: np.ndarray, k: int | None = None) -> np.ndarray:
        """Stage 3: the first ``k`` (default all) candidates in their final order (MMR over ``f``), ``-1`` pads."""
        order = np.argsort(-f, axis=1, kind="stable")
        cands, f = np.take_along_axis(cands, order, axis=1), np.take_along_axis(f, order, axis=1)
        k = cands.shape[1] if k is None else min(k, cands.shape[1])
        if float(self.lam) >= 1.0 or cands.shape[1] == 0:
            return cands[:, :k]
        return mmr_rerank(cands, np.where(cands >= 0, f, 0.0), self.unit_, k=k, lam=self.lam)[0]

    def _explain(self, items: np.ndarray, hist: np.ndarray) -> np.ndarray:
        """Stage 5 (:func:`~coursekit.system.stages.most_similar_history`) with the system's item vectors."""
        return most_similar_history(items, hist, self.unit_)

    def _final_scores(self, X: np.ndarray, exclude: sp.csr_matrix, hist: np.ndarray) -> np.ndarray:
        """The score rows of the module docstring: final candidate order in (1, 2], the rest in (0, 1)."""
        base, _ = retrieval_rank_scores(X @ self.item_vectors_.T, exclude)
        cands, r = self._retrieve(X, exclude)
        final = self._diversify(cands, self._rerank(cands, r, hist))
        n = final.shape[1]
        rows, pos = np.nonzero(final >= 0)
        base[rows, final[rows, pos]] = 2.0 - pos / max(n, 1)
        return base

    # ------------------------------------------------------------------ the Recommender API
    def _score(self, user_index: np.ndarray) -> np.ndarray:
        user_index = np.asarray(user_index, dtype=np.int64)
        out = np.zeros((len(user_index), self.n_items))
        warm = self.user_counts_[user_index] > 0     # cold rows: the base class fills in popularity
        if warm.any():
            u = user_index[warm]
            out[warm] = self._final_scores(self.user_vectors_[u], self._exclusion(u), self._histories(u))
        return out

    def _fold_in(self, item_index: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        x = self.retriever_.user_factors(self.items_.ids[item_index], values)
        _, first = np.unique(item_index[::-1], return_index=True)           # most recent first, distinct
        recent = item_index[::-1][np.sort(first)][:self.history_size]
        hist = np.full((1, self.history_size), PAD_ID, dtype=np.int64)
        hist[0, :len(recent)] = recent
        excl = sp.csr_matrix((np.ones(item_index.size, dtype=bool), (np.zeros(item_index.size, dtype=np.int64),
                                                                     item_index)), shape=(1, self.n_items))
        return self._final_scores(x[None, :], excl, hist)[0]

    def explain(self, users: ArrayLike, item_ids: ArrayLike) -> np.ndarray:
        """For each ``item_ids[row, j]``, the external id of ``users[row]``'s history item of largest cosine.

        ``-1`` where the user has no history or the item is ``-1`` padding. ``item_ids`` is
        ``(len(users), k)``, e.g. the ids ``recommend`` returned.
        """
        self.check_fitted()
        u = self.users_.index(check_id_array(users, "users"))
        ids = np.asarray(item_ids)
        if ids.ndim != 2 or len(ids) != len(u):
            raise CourseKitError(f"item_ids must be 2-D with one row per user ({len(u)}), got shape {ids.shape}; "
                                 "pass the ids recommend() returned.")
        idx = np.full(ids.shape, PAD_ID, dtype=np.int64)
        real = ids != PAD_ID
        idx[real] = self.items_.index(check_id_array(ids[real], "item_ids"))
        best = self._explain(idx, self._histories(u))
        return np.where(best >= 0, self.items_.ids[np.maximum(best, 0)], PAD_ID)

    def serve(self, user_id: int, k: int = 10) -> Served:
        """Answer one request for ``user_id`` in real time: items, relevance, explanations, time per stage.

        Uses the live state (:meth:`observe`). A user without any event gets the popularity fallback
        (all stage times 0 but ``"retrieval"``, which then times the fallback).
        """
        clock = time.perf_counter
        t0 = clock()
        k = check_positive_int(k, "k")
        self.check_fitted()
        u = self.users_.index(check_id_array(user_id, "user_id"))[:1]
        k = min(k, self.n_items)
        excl = self._exclusion(u)
        if self.user_counts_[u[0]] == 0:
            pop = np.where(excl.toarray()[0], -np.inf, self.item_popularity_)
            idx, f = top_k(pop[None, :], k)
            t1 = clock()
            timings = dict.fromkeys(STAGES, 0.0) | {"retrieval": _ms(t0, t1), "total": _ms(t0, t1)}
            return Served(self._ids(idx[0]), f[0], np.full(k, PAD_ID), timings)
        hist = self._histories(u)
        X = self.user_vectors_[u]
        cands, r = self._retrieve(X, excl)
        t1 = clock()
        f = self._rerank(cands, r, hist)
        t2 = clock()
        final = self._diversify(cands, f, k)
        t3 = clock()
        why = self._explain(final, hist)
        t4 = clock()
        rel = np.full(final.shape, -np.inf)
        hit = (final[:, :, None] == cands[:, None, :]) & (final >= 0)[:, :, None]
        rel[hit.any(axis=2)] = f[np.nonzero(hit)[0], np.nonzero(hit)[2]]
        timings = {"retrieval": _ms(t0, t1), "rerank": _ms(t1, t2), "mmr": _ms(t2, t3), "explain": _ms(t3, t4),
                   "total": _ms(t0, t4)}
        return Served(self._ids(final[0]), rel[0], self._ids(why[0]), timings)

    def _ids(self, idx: np.ndarray) -> np.ndarray:
        return np.where(idx >= 0, self.items_.ids[np.maximum(idx, 0)], PAD_ID)

    def _unsupported_hint(self, capability: str) -> str:
        if capability == "save":
            return ("Save its parts instead: system.retriever_.save(folder) and the cross-encoder's own save(); "
                    "the ANN index is rebuilt by fit.")
        return super()._unsupported_hint(capability)
