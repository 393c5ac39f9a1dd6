r"""Maximal Marginal Relevance (MMR) re-ranking, as a function and as a recommender.

A top-``k`` list ranked by relevance alone is often ``k`` near-copies of one thing. MMR
(Carbonell & Goldstein 1998) builds the list greedily from ``N`` candidates: at each step it takes

.. math::

    i^\star = \arg\max_{i \in C \setminus S} \Bigl[\, \lambda\, \tilde r_{ui}
              - (1 - \lambda) \max_{j \in S} \operatorname{sim}(i, j) \Bigr]

where :math:`S` is what is already chosen (the max over an empty :math:`S` is 0),
:math:`\tilde r_{ui} \in [0, 1]` the base model's score min-max scaled over the user's
candidates (so that :math:`\lambda` means the same for every model and user) and
:math:`\operatorname{sim}(i, j) = \cos(v_i, v_j)` the cosine of item vectors (factors of the
model, genre or attribute indicators, text embeddings, or the item's column of the user-item
matrix: *co-occurrence* cosine, the similarity of ItemKNN). :math:`\lambda = 1` is the base
ranking; smaller :math:`\lambda` trades relevance for variety.

* :func:`mmr_rerank` -- the greedy rule over ``(items, scores)`` candidate lists, vectorised over
  users (one greedy step is one batched product for every user at once).
* :class:`MMRReranker` -- the same as a coursekit ``Recommender`` wrapping a base model, so
  :func:`coursekit.evaluate`, ``recommend`` and the contract suite apply unchanged.

The accuracy / diversity trade-off over :math:`\lambda` is measured in
:mod:`coursekit.trust.diversity` (``diversity_sweep``).

Example
-------
>>> V = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0]])      # items 0 and 1 are near-twins
>>> items, _ = mmr_rerank(np.array([[0, 1, 2]]), np.array([[3.0, 2.9, 1.0]]), V, k=2, lam=0.5)
>>> items.tolist()                                           # 2 replaces the twin 1
[[0, 2]]
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender
from coursekit.models.candidate_rerank import CandidateReranker, check_candidates
from coursekit.models.ranking import PAD_ID

__all__ = ["MMRReranker", "mmr_rerank", "unit_vectors", "cooccurrence_vectors"]


def _check_lam(lam) -> float:
    try:
        lam = float(lam)
    except (TypeError, ValueError):
        raise CourseKitError(f"lam must be a number in [0, 1], got {lam!r}.") from None
    if not 0.0 <= lam <= 1.0:
        raise CourseKitError(f"lam must be in [0, 1] (1 = relevance only, 0 = diversity only), got {lam}.")
    return lam


def unit_vectors(vectors: ArrayLike) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float64.

    >>> unit_vectors(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    V = np.asarray(vectors, dtype=np.float64)
    if V.ndim != 2:
        raise CourseKitError(f"item vectors must be 2-D (n_items, dim), got shape {V.shape}.")
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    return V / np.where(norms > 0, norms, 1.0)


def cooccurrence_vectors(train: Interactions) -> np.ndarray:
    r"""Item vectors whose cosine is the co-occurrence cosine :math:`|U_i \cap U_j| / \sqrt{|U_i||U_j|}`.

    Row :math:`i` is item :math:`i`'s column of the binary user-item matrix (dense, ``(n_items, n_users)``;
    fine for the course's data sets, whose matrices have a few million cells).
    """
    return np.asarray(train.matrix("binary", dtype=np.float64).T.toarray())


def _scaled_relevance(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Scores min-max scaled to [0, 1] per row over the valid entries (all 1 when a row is constant)."""
    lo = np.where(valid, scores, np.inf).min(axis=1, keepdims=True)
    hi = np.where(valid, scores, -np.inf).max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        span = hi - lo
        out = np.where(span > 0, (scores - lo) / np.where(span > 0, span, 1.0), 1.0)
    return np.where(valid, out, 0.0)


def mmr_rerank(items: ArrayLike, scores: ArrayLike, item_vectors: ArrayLike, k: int = 10, lam: float = 0.5,
               batch_entries: int = 4_000_000) -> tuple[np.ndarray, np.ndarray]:
    r"""Greedy MMR over each user's candidate list (see the module docstring for the rule).

    Parameters
    ----------
    items : int array (n_users, N)
        Candidate item indices per user, best first by the base model; ``-1`` = padding.
    scores : array (n_users, N)
        The base model's scores of the candidates (ignored where ``items`` is ``-1``).
    item_vectors : array (n_items, d)
        Item representation; similarity is their cosine.
    k : int
        Length of the re-ranked list (at most ``N``).
    lam : float
        :math:`\lambda \in [0, 1]`.
    batch_entries : int
        Users are processed in blocks so that the gathered ``(users, N, d)`` vectors stay below this size.

    Returns
    -------
    items, objective : arrays (n_users, min(k, N))
        The re-ranked item indices (``-1`` where a user has fewer candidates) and the MMR objective
        at the step each was chosen (``-inf`` for padding). Ties go to the better base rank.
        Costs :math:`O(n\,k\,N\,d)`.

    >>> V = np.eye(3)
    >>> mmr_rerank(np.array([[2, 0, -1]]), np.array([[5.0, 1.0, -np.inf]]), V, k=3, lam=1.0)[0].tolist()
    [[2, 0, -1]]
    """
    items, scores, k = check_candidates(items, scores, k)
    lam = _check_lam(lam)
    U = unit_vectors(item_vectors)
    if items.size and items.max() >= U.shape[0]:
        raise CourseKitError(f"item index {items.max()} has no vector: item_vectors has {U.shape[0]} rows.")
    n, N = items.shape
    out_i = np.full((n, k), PAD_ID, dtype=np.int64)
    out_v = np.full((n, k), -np.inf)
    step = max(1, int(batch_entries // max(N * U.shape[1], 1)))
    for start in range(0, n, step):       # blocks of users (memory), each fully vectorised
        sl = slice(start, start + step)
        out_i[sl], out_v[sl] = _mmr_block(items[sl], scores[sl], U, k, lam)
    return out_i, out_v


def _mmr_block(items: np.ndarray, scores: np.ndarray, U: np.ndarray, k: int, lam: float):
    n, N = items.shape
    valid = items >= 0
    rel = _scaled_relevance(scores, valid)
    C = U[np.maximum(items, 0)] * valid[:, :, None]              # (n, N, d), padding rows zero
    maxsim = np.zeros((n, N))
    free = valid.copy()
    rows = np.arange(n)
    out_i = np.full((n, k), PAD_ID, dtype=np.int64)
    out_v = np.full((n, k), -np.inf)
    for t in range(k):
        obj = lam * rel - (1.0 - lam) * maxsim if t else lam * rel
        obj = np.where(free, obj, -np.inf)
        pick = np.argmax(obj, axis=1)                            # first maximum = better base rank
        ok = free[rows, pick]
        out_i[ok, t] = items[rows[ok], pick[ok]]
        out_v[ok, t] = obj[rows[ok], pick[ok]]
        free[rows, pick] = False
        sim = np.einsum("nkd,nd->nk", C, C[rows, pick])          # similarity to the item just chosen
        maxsim = np.maximum(maxsim, sim) if t else sim
    return out_i, out_v


# ---------------------------------------------------------------------------- as a recommender
class MMRReranker(CandidateReranker):
    r"""A base recommender whose top ``n_candidates`` are re-ranked by MMR (:func:`mmr_rerank`).

    Parameters
    ----------
    base : Recommender
        The model whose candidates are re-ranked. :meth:`fit` fits a clone of it
        (:func:`~coursekit.models.base.clone`) on the training data, kept in ``base_``; ``base``
        itself is left as it was.
    lam : float
        :math:`\lambda`.
    n_candidates : int
        :math:`N`, how many of the base model's items (training items excluded) are re-ranked.
    item_vectors : "model", "cooccurrence" or array (n_items, d)
        ``"model"``: the base model's own item vectors (factor models); ``"cooccurrence"``:
        :func:`cooccurrence_vectors` of the training data; an array: rows aligned with item indices.

    Notes
    -----
    ``score`` returns minus the final rank: the MMR order for the candidates, then every other item
    in the base model's order. So ``recommend`` gives the MMR list, and any ``k`` beyond ``N``
    continues with the base ranking.

    Examples
    --------
    >>> import pandas as pd
    >>> from coursekit.models import IALS
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": [10, 20, 10, 30, 20, 40]})
    >>> model = MMRReranker(IALS(factors=2, iterations=3), lam=0.5, n_candidates=3).fit(Interactions.from_frame(log))
    >>> model.recommend([1], k=2)[0].shape
    (1, 2)
    """

    capabilities = frozenset({"similar_items", "save"})

    def __init__(self, base: Recommender, lam: float = 0.5, n_candidates: int = 50,
                 item_vectors: str | ArrayLike = "model"):
        self.base = base
        self.lam = lam
        self.n_candidates = n_candidates
        self.item_vectors = item_vectors

    _reranker_state = ("unit_",)

    def _vectors(self, train: Interactions) -> np.ndarray:
        v = self.item_vectors
        if isinstance(v, str):
            if v == "model":
                return np.asarray(self.base_.item_vectors(), dtype=np.float64)
            if v == "cooccurrence":
                return cooccurrence_vectors(train)
            raise CourseKitError(f"item_vectors must be 'model', 'cooccurrence' or an array, got {v!r}.")
        v = np.asarray(v, dtype=np.float64)
        if v.ndim != 2 or v.shape[0] != train.n_items:
            raise CourseKitError(f"item_vectors must have one row per item of the universe ({train.n_items}), "
                                 f"got shape {v.shape}. Order the rows by item index.")
        return v

    def _check_params(self) -> None:
        super()._check_params()
        _check_lam(self.lam)

    def _fit_reranker(self, train: Interactions) -> None:
        self.unit_ = unit_vectors(self._vectors(train))

    def _rerank(self, candidates: np.ndarray, scores: np.ndarray) -> np.ndarray:
        order, _ = mmr_rerank(candidates, scores, self.unit_, k=candidates.shape[1], lam=self.lam)
        return order

    def _item_vectors(self) -> np.ndarray:
        return self.unit_

    def _saved_params(self) -> dict:
        return {"lam": self.lam, "n_candidates": self.n_candidates,
                "item_vectors": self.item_vectors if isinstance(self.item_vectors, str) else "array"}

    @classmethod
    def _params_from_saved(cls, params: dict, state: dict, base: Recommender) -> dict:
        if params.get("item_vectors") == "array":
            params["item_vectors"] = state["unit_"]
        return params
