r"""Re-ranking a base model's top candidates, as a recommender (the base class of MMR and revenue re-ranking).

A re-ranker takes a fitted base model's :math:`C` best unseen items for each user and puts them in a
new order (for diversity, revenue, ...). As a :class:`~coursekit.models.base.Recommender` it scores

.. math::

    s_{ui} = \begin{cases}
        -\pi_u(i) & i \text{ among the } C \text{ candidates, re-ranked to position } \pi_u(i) \in \{0, \dots, C-1\} \\
        -(C + \rho_{ui}) & \text{otherwise}
    \end{cases}

with :math:`\rho_{ui}` the item's position in the base model's full ranking (ties by lower item
index). So ``recommend`` returns the re-ranked candidates first and continues with the base order,
and :func:`coursekit.evaluate` and the contract suite apply unchanged.

A subclass sets ``base`` and ``n_candidates`` in its constructor and writes

* ``_check_params()`` -- its own settings (calling ``super()._check_params()``), and
  ``_check_settings(train)`` -- the data they need; both run before the (possibly slow) fit of
  the base model, and the first also when a saved model is loaded;
* ``_fit_reranker(train)`` -- what the re-ranking needs once ``base_`` is fitted (optional);
* ``_rerank(candidates, scores)`` -- the new order of each row of candidate item indices;
* ``_reranker_state`` (the names of its own fitted arrays) and ``_params_from_saved`` (how a
  saved folder's settings and arrays give back the constructor's arguments).

:meth:`CandidateReranker.save` writes the base model to ``folder/base`` and the re-ranker's arrays
to ``folder/state``, each with the checksummed format of :meth:`Recommender.save`.

Example
-------
>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> from coursekit.models import MostPopular
>>> class Reverse(CandidateReranker):   # the base model's top 2 unseen items (8, 9: most popular), reversed
...     def __init__(self, base, n_candidates=2):
...         self.base, self.n_candidates = base, n_candidates
...     def _rerank(self, candidates, scores):
...         return candidates[:, ::-1]
>>> log = pd.DataFrame({"user_id": [1, 2, 2, 3, 3, 3], "item_id": [7, 8, 9, 8, 9, 6]})
>>> Reverse(MostPopular()).fit(Interactions.from_frame(log)).recommend([1], k=3)[0].tolist()
[[9, 8, 6]]
"""
from __future__ import annotations

import json
from os import PathLike
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_path, check_positive_int
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender, clone
from coursekit.models.ranking import top_k

__all__ = ["CandidateReranker", "rerank_scores", "check_candidates"]

#: fitted bookkeeping every Recommender sets in ``fit``; a loaded re-ranker takes it from its base model
_SHARED_STATE = ("users_", "items_", "seen_", "user_counts_", "item_popularity_")


def check_candidates(items: ArrayLike, scores: ArrayLike, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Candidate lists ``(items, scores)`` as int and float arrays of one 2-D shape, and ``k`` capped at their width.

    >>> check_candidates([[3, 1]], [[0.5, 0.2]], k=5)[2]
    2
    """
    items = np.asarray(items, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if items.ndim != 2 or items.shape != scores.shape:
        raise CourseKitError("items and scores must be 2-D arrays of the same shape (one row of candidates per "
                             f"user), got {items.shape} and {scores.shape}.")
    return items, scores, min(check_positive_int(k, "k"), items.shape[1])


def rerank_scores(base_scores: np.ndarray, order: np.ndarray, n_candidates: int) -> np.ndarray:
    r"""Scores whose ranking is ``order`` first, then every other item in the order of ``base_scores``.

    Parameters
    ----------
    base_scores : array (n_users, n_items)
        The base model's scores.
    order : int array (n_users, C)
        The re-ranked candidate item indices of each user, best first (``-1`` pads a short row).
    n_candidates : int
        :math:`C` used to build ``order`` (non-candidates are scored below all of them).

    Returns
    -------
    array (n_users, n_items)
        :math:`-\pi_u(i)` for candidates, :math:`-(C + \rho_{ui})` for the rest (see the module docstring).

    Examples
    --------
    >>> rerank_scores(np.array([[0.9, 0.5, 0.1, 0.7]]), np.array([[1, 0]]), n_candidates=2).tolist()
    [[-1.0, -0.0, -5.0, -3.0]]
    """
    n_users, n_items = base_scores.shape
    rows = np.arange(n_users)[:, None]
    base_rank = np.empty((n_users, n_items), dtype=np.int64)
    base_rank[rows, np.argsort(-base_scores, axis=1, kind="stable")] = np.arange(n_items)
    final = (n_candidates + base_rank).astype(np.float64)
    ok = order >= 0
    rows = np.broadcast_to(rows, order.shape)
    final[rows[ok], order[ok]] = np.broadcast_to(np.arange(order.shape[1]), order.shape)[ok]
    return -final


class CandidateReranker(Recommender):
    """Base class of recommenders that re-order a base model's top ``n_candidates`` unseen items.

    See the module docstring for what a subclass writes. ``fit`` fits a clone of ``base``
    (:func:`~coursekit.models.base.clone`), kept in ``base_``; ``base`` itself is left as it was.
    """

    capabilities = frozenset({"save"})
    #: names of the subclass's own fitted arrays, saved to ``folder/state``
    _reranker_state: ClassVar[tuple[str, ...]] = ()
    base: Recommender
    n_candidates: int

    # ------------------------------------------------------------------ hooks
    def _check_params(self) -> None:
        """Check the settings (see :meth:`Recommender.check_params`); subclasses add theirs."""
        if not isinstance(self.base, Recommender):
            raise CourseKitError(f"{type(self).__name__} wraps a coursekit Recommender as base, got "
                                 f"{type(self.base).__name__}: pass a model such as IALS() or MostPopular().")
        check_positive_int(self.n_candidates, "n_candidates")

    def _check_settings(self, train: Interactions) -> None:
        """Check the settings against the training data (called before the base model is fitted)."""

    def _fit_reranker(self, train: Interactions) -> None:
        """Fit what the re-ranking needs from the fitted ``base_`` (default: nothing)."""

    def _rerank(self, candidates: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """The re-ranked order (item indices, best first, ``-1`` padded) of each row of ``candidates``."""
        raise NotImplementedError

    @classmethod
    def _params_from_saved(cls, params: dict[str, Any], state: dict[str, np.ndarray],
                           base: Recommender) -> dict[str, Any]:
        """Constructor arguments (besides ``base``) from the saved settings and arrays."""
        return params

    def _saved_params(self) -> dict[str, Any]:
        """The JSON-able settings written to ``params.json`` (default: every argument but ``base``)."""
        return {k: v for k, v in self.get_params().items() if k != "base"}

    # ------------------------------------------------------------------ fit and score
    def _fit(self, train: Interactions) -> None:
        self.check_params()
        self._check_settings(train)
        self.base_ = clone(self.base).fit(train)
        self._fit_reranker(train)

    def candidates(self, user_index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The base scores, and each user's top ``n_candidates`` unseen item indices with their scores."""
        s = np.array(self.base_.score_indices(user_index), dtype=np.float64)
        unseen = s.copy()
        r, c = self.seen_[user_index].nonzero()
        unseen[r, c] = -np.inf
        cand, cand_s = top_k(unseen, min(self.n_candidates, self.n_items))
        return s, cand, cand_s

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        s, cand, cand_s = self.candidates(user_index)
        return rerank_scores(s, self._rerank(cand, cand_s), self.n_candidates)

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | PathLike) -> Path:
        """Write ``base/`` (the base model's own save), ``state/`` (this model's arrays) and ``params.json``."""
        from coursekit.models._persistence import write_model

        self._require("save", "save")
        self.check_fitted()
        folder = check_path(folder, "folder")
        folder.mkdir(parents=True, exist_ok=True)
        self.base_.save(folder / "base")
        write_model(_RerankerState(), {name: getattr(self, name) for name in self._reranker_state}, folder / "state")
        meta = {"class": type(self).__name__, "module": type(self).__module__, "params": self._saved_params(),
                "cold_users": self.cold_users}
        (folder / "params.json").write_text(json.dumps(meta, indent=1))
        return folder

    @classmethod
    def _load_folder(cls, folder: str | PathLike, meta: dict) -> CandidateReranker:
        """Rebuild from :meth:`save`'s folder (called by :meth:`Recommender.load`)."""
        folder = Path(folder)
        base = Recommender.load(folder / "base")
        saved = Recommender.load(folder / "state")
        state = {name: getattr(saved, name, None) for name in cls._reranker_state}
        missing = [name for name, value in state.items() if value is None]
        if missing:
            raise CourseKitError(f"{folder / 'state'} lacks the fitted array(s) {missing}: the save is damaged or "
                                 "was edited; save the model again with model.save(folder).")
        try:
            model = cls(base, **cls._params_from_saved(dict(meta["params"]), state, base))
            model.check_params()
        except (TypeError, CourseKitError) as err:
            raise CourseKitError(f"{folder / 'params.json'}: invalid saved parameters ({err}). Save the model "
                                 "again with model.save(folder).") from None
        model.cold_users = meta.get("cold_users", "popular")
        for name in _SHARED_STATE:
            setattr(model, name, getattr(base, name))
        model.base_ = base
        for name, value in state.items():
            setattr(model, name, value)
        return model


class _RerankerState(Recommender):
    """Holder of a re-ranker's own fitted arrays, saved with the generic checksummed format."""

    def __init__(self):
        pass
