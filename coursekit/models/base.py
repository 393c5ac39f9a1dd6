r"""The one model API that every recommender in the course shares.

A recommender is fitted on :class:`~coursekit.interactions.Interactions` and then
answers two questions about users given by their *external* ids:

``score(users, items=None)``
    A matrix of scores, one row per user, one column per item (all items of the
    universe, or the ``items`` asked for). Higher means more recommended.
``recommend(users, k=10, exclude_seen=True)``
    The top-``k`` items per user as ``(item_ids, scores)``, two arrays of shape
    ``(n_users, min(k, n_items))``, best first. Items the user interacted with in
    training are excluded unless ``exclude_seen=False``.

Rules every model follows (and :mod:`coursekit.models.contract` tests):

* **Unknown ids** (not in the universe of the training data) raise
  :class:`~coursekit.UnknownIdError` naming the id.
* **Cold users** (in the universe but with no training event) have nothing to be
  personalised from. The named fallback ``cold_users="popular"`` scores them by
  training popularity (event counts); ``model.cold_users = "error"`` raises instead.
  :func:`coursekit.evaluate` reports cold users in a separate row.
* **Padding**: when a user has fewer than ``k`` unseen items, the list is filled with
  item id ``-1`` and score ``-inf``.
* **Ties** are broken by item index (lower first), so results are deterministic.
* Scores are finite; a model that produces NaN raises instead of ranking garbage.

Optional abilities are declared in the class attribute ``capabilities`` (the contract suite checks
that each works when declared and raises a clear error when not): ``"ratings"``
(:meth:`~Recommender.predict_rating`), ``"similar_items"`` (:meth:`~Recommender.similar_items`),
``"fold_in"`` (:meth:`~Recommender.fold_in`: the scores for a *new* user's history without
refitting, what real-time updates, onboarding and "what if" explanations are built on) and
``"save"`` (:meth:`~Recommender.save` / :meth:`~Recommender.load`: safetensors and JSON, no pickle).

Subclasses implement ``_fit(train)`` and ``_score(user_index)``; everything else
(validation, exclusion, top-k, padding, batching) lives here once.

Example
-------
>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> from coursekit.models import MostPopular
>>> log = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [10, 20, 10, 30]})
>>> model = MostPopular().fit(Interactions.from_frame(log))
>>> ids, scores = model.recommend([2], k=2)
>>> ids.tolist()
[[20, 30]]
"""
from __future__ import annotations

import inspect
from os import PathLike
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from coursekit._validation import (
    CourseKitError,
    NotFittedError,
    check_choice,
    check_id_array,
    check_memory,
    check_path,
    check_positive_int,
)
from coursekit.interactions import Interactions
from coursekit.models.ranking import PAD_ID, top_k

#: every optional ability a model may declare in ``Recommender.capabilities``
CAPABILITIES = frozenset({"ratings", "similar_items", "fold_in", "save"})


def clone(model: Recommender) -> Recommender:
    """A new, unfitted model of the same class with the same constructor arguments.

    Arguments that are models themselves (the base of a wrapper) are cloned too, so fitting the
    clone never changes ``model``. Other arguments (arrays, item vectors) are shared, not copied:
    models treat them as read-only.

    >>> from coursekit.models import IALS
    >>> a = IALS(factors=4)
    >>> b = clone(a)
    >>> b is a, b.get_params() == a.get_params()
    (False, True)
    """
    if not isinstance(model, Recommender):
        raise CourseKitError(f"clone expects a coursekit Recommender, got {type(model).__name__}.")
    sig = inspect.signature(type(model).__init__)
    kwargs = {}
    for name in sig.parameters:
        if name != "self" and hasattr(model, name):
            value = getattr(model, name)
            kwargs[name] = clone(value) if isinstance(value, Recommender) else value
    new = type(model)(**kwargs)
    if "cold_users" in vars(model):
        new.cold_users = model.cold_users
    return new


class Recommender:
    """Base class of every coursekit recommender (see the module docstring for the rules)."""

    #: what to do for users without training events: "popular" (named fallback) or "error"
    cold_users: str = "popular"
    #: optional abilities this model supports (a subset of :data:`CAPABILITIES`)
    capabilities: ClassVar[frozenset[str]] = frozenset({"save"})

    # ------------------------------------------------------------------ sklearn-style params
    def get_params(self) -> dict[str, Any]:
        """The constructor arguments of this model, read back from attributes of the same name."""
        sig = inspect.signature(type(self).__init__)
        return {p: getattr(self, p) for p in sig.parameters if p != "self" and hasattr(self, p)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Interactions) -> Recommender:
        """Fit on training interactions and return ``self``."""
        if not isinstance(train, Interactions):
            raise CourseKitError(
                f"fit expects coursekit Interactions, got {type(train).__name__}. "
                "Build one with Interactions.from_frame(frame) or dataset.to_interactions()."
            )
        if len(train) == 0:
            raise CourseKitError("fit got an empty interaction log; there is nothing to learn from.")
        self._check_size(train)
        self.users_ = train.users
        self.items_ = train.items
        self.seen_ = train.matrix()
        self.user_counts_ = train.user_counts()
        self.item_popularity_ = train.item_counts().astype(np.float64)
        self._fit(train)
        return self

    def _check_size(self, train: Interactions) -> None:
        """Refuse up front a ``factors``/``dim`` whose user and item vectors cannot fit in memory."""
        for name in ("factors", "dim"):
            value = getattr(self, name, None)
            if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and value > 0:
                check_memory(8.0 * (train.n_users + train.n_items) * float(value),
                             f"{type(self).__name__}({name}={value}) on {train.n_users} users and "
                             f"{train.n_items} items", f"use a much smaller {name} (e.g. {name}=64).")

    def _fit(self, train: Interactions) -> None:
        raise NotImplementedError

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        """Scores of shape ``(len(user_index), n_items)`` for internal user indices."""
        raise NotImplementedError

    def check_params(self) -> None:
        """Raise a :class:`~coursekit.CourseKitError` naming the first invalid hyperparameter.

        ``fit`` runs the same checks; models without checks of their own accept anything here.
        """
        if hasattr(self, "_check_params"):
            self._check_params()

    def check_fitted(self) -> None:
        """Raise :class:`~coursekit.NotFittedError` unless :meth:`fit` has run."""
        if not hasattr(self, "seen_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call .fit(train) first.")

    def _require(self, capability: str, method: str) -> None:
        """Refuse ``method`` with a clear error unless ``capability`` is declared."""
        if capability not in self.capabilities:
            able = sorted(self.capabilities) or ["none"]
            raise CourseKitError(
                f"{type(self).__name__} does not support {method} (its capabilities: {', '.join(able)}). "
                + self._unsupported_hint(capability)
            )

    def _unsupported_hint(self, capability: str) -> str:
        """The advice of the error raised for an undeclared ``capability`` (models may be more specific)."""
        return f"Pick a model whose capabilities include {capability!r}."

    @property
    def n_items(self) -> int:
        self.check_fitted()
        return len(self.items_)

    # ------------------------------------------------------------------ scoring
    def score_indices(self, user_index: np.ndarray) -> np.ndarray:
        """Scores for internal user indices, with the cold-user rule applied."""
        self.check_fitted()
        user_index = np.asarray(user_index, dtype=np.int64)
        cold = self.user_counts_[user_index] == 0
        if cold.any() and check_choice(self.cold_users, "cold_users", ["popular", "error"]) == "error":
            bad = self.users_.ids[user_index[cold]][:10].tolist()
            raise CourseKitError(
                f"user(s) {bad} have no training events, so {type(self).__name__} cannot score them. "
                "Set model.cold_users = 'popular' to fall back to popularity."
            )
        scores = np.asarray(self._score(user_index), dtype=np.float64)
        if scores.shape != (len(user_index), self.n_items):
            raise RuntimeError(f"{type(self).__name__}._score returned shape {scores.shape}, "
                               f"expected {(len(user_index), self.n_items)}")
        if cold.any():
            scores[cold] = self.item_popularity_
        if np.isnan(scores).any():
            raise FloatingPointError(
                f"{type(self).__name__} produced NaN scores (diverged training?). "
                "Lower the learning rate or raise regularization, then fit again."
            )
        return scores

    def score(self, users: ArrayLike, items: ArrayLike | None = None) -> np.ndarray:
        """Score matrix ``(len(users), len(items))``; ``items=None`` means every item."""
        self.check_fitted()
        u = self.users_.index(check_id_array(users, "users"))
        scores = self.score_indices(u)
        if items is not None:
            scores = scores[:, self.items_.index(check_id_array(items, "items"))]
        return scores

    # ------------------------------------------------------------------ ranking
    def recommend_indices(self, user_index: ArrayLike, k: int = 10, exclude_seen: bool = True,
                          batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` internal item indices and scores for internal user indices (``-1`` pads)."""
        k = check_positive_int(k, "k")
        self.check_fitted()
        user_index = np.asarray(user_index, dtype=np.int64)
        k_eff = min(k, self.n_items)
        batch = batch_size or max(1, int(2e7 // max(self.n_items, 1)))
        out_idx = np.empty((len(user_index), k_eff), dtype=np.int64)
        out_val = np.empty((len(user_index), k_eff), dtype=np.float64)
        for start in range(0, len(user_index), batch):
            rows = user_index[start:start + batch]
            s = self.score_indices(rows)
            if exclude_seen:
                r, c = self.seen_[rows].nonzero()
                s[r, c] = -np.inf
            out_idx[start:start + len(rows)], out_val[start:start + len(rows)] = top_k(s, k_eff)
        return out_idx, out_val

    def recommend(self, users: ArrayLike, k: int = 10, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item ids and scores per user, best first (see the module docstring).

        Parameters
        ----------
        users : int or 1-D array of int
            External user ids (a 2-D array is refused: flatten it first).
        k : int
            List length (>= 1). Larger than the catalogue means the whole catalogue.
        exclude_seen : bool
            Leave out items the user interacted with in training.

        Returns
        -------
        item_ids, scores : arrays of shape (n_users, min(k, n_items))
            Padded with id ``-1`` / score ``-inf`` where a user has too few unseen items.
        """
        k = check_positive_int(k, "k")
        self.check_fitted()
        u = self.users_.index(check_id_array(users, "users"))
        idx, val = self.recommend_indices(u, k, exclude_seen)
        ids = np.where(idx >= 0, self.items_.ids[np.maximum(idx, 0)], PAD_ID)
        return ids, val

    # ------------------------------------------------------------------ optional abilities
    def fold_in(self, items: ArrayLike, values: ArrayLike | None = None) -> np.ndarray:
        r"""Scores of every item for a new user with history ``items``, the fitted model unchanged.

        For a latent-factor model this is the user step of its training objective with the
        item side fixed (iALS: :math:`x = (Y^\top C Y + \lambda I)^{-1} Y^\top C p`, then
        :math:`s = Y x`); for a neighbourhood model or EASE it is the score formula applied to
        the history row (:math:`s = h B`). For the history of a training user, the scores agree
        with :meth:`score` for that user (exactly, or up to the solver's last step).

        Parameters
        ----------
        items : 1-D array of int
            External item ids of the history (repeats add up).
        values : 1-D array of float, optional
            One value per item: event counts for implicit-feedback models (default 1 each),
            ratings for explicit ones (required there).

        Returns
        -------
        array of shape (n_items,)
            Scores aligned with ``model.items_.ids``; an empty history gives the cold-user
            fallback (training popularity). Items of the history are *not* excluded.

        Example
        -------
        >>> import pandas as pd
        >>> from coursekit.interactions import Interactions
        >>> from coursekit.models import EASE
        >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 30, 20]})
        >>> model = EASE(reg=1.0).fit(Interactions.from_frame(log))
        >>> bool(np.allclose(model.fold_in([10, 20]), model.score([1])[0]))
        True
        """
        self._require("fold_in", "fold_in")
        self.check_fitted()
        idx = self.items_.index(check_id_array(items, "items"))
        vals = None
        if values is not None:
            vals = np.atleast_1d(np.asarray(values, dtype=np.float64))
            if vals.shape != idx.shape:
                raise CourseKitError(f"fold_in needs one value per item: got {idx.size} items and "
                                     f"{vals.size} values; pass values=None for plain events.")
            if not np.isfinite(vals).all():
                raise CourseKitError("fold_in values must be finite numbers (no NaN or inf); drop those events first.")
        if idx.size == 0:
            return self.item_popularity_.copy()
        scores = np.asarray(self._fold_in(idx, vals), dtype=np.float64)
        if scores.shape != (self.n_items,):
            raise RuntimeError(f"{type(self).__name__}._fold_in returned shape {scores.shape}, "
                               f"expected ({self.n_items},)")
        if np.isnan(scores).any():
            raise FloatingPointError(f"{type(self).__name__}.fold_in produced NaN scores.")
        return scores

    def _fold_in(self, item_index: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def predict_rating(self, users: ArrayLike, items: ArrayLike) -> np.ndarray:
        r"""Predicted ratings :math:`\hat r_{ui}` for aligned pairs ``(users[j], items[j])``."""
        self._require("ratings", "predict_rating")
        self.check_fitted()
        u = self.users_.index(check_id_array(users, "users"))
        i = self.items_.index(check_id_array(items, "items"))
        if u.shape != i.shape:
            raise CourseKitError(f"users and items must have the same length, got {u.shape} and {i.shape}.")
        return np.asarray(self._predict_rating(u, i), dtype=np.float64)

    def _predict_rating(self, user_index: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _item_similarity(self, item_index: np.ndarray) -> np.ndarray:
        """Similarity rows ``(len(item_index), n_items)``; default: cosine of :meth:`_item_vectors`."""
        vectors = self._item_vectors()
        norms = np.linalg.norm(vectors, axis=1)
        norms[norms == 0] = 1.0
        unit = vectors / norms[:, None]
        return unit[item_index] @ unit.T

    def _item_vectors(self) -> np.ndarray:
        raise CourseKitError(f"{type(self).__name__} has no item vectors (latent factors or embeddings).")

    def item_vectors(self) -> np.ndarray:
        """Item vectors ``(n_items, d)`` aligned with ``model.items_.ids`` (latent factors, embeddings).

        What diversity, MMR and online profiles compare items with; models without any raise.
        """
        self.check_fitted()
        return np.asarray(self._item_vectors())

    def item_similarity(self, items: ArrayLike) -> np.ndarray:
        """Similarity rows ``(len(items), n_items)`` of ``items`` (external ids), what :meth:`similar_items` ranks."""
        self._require("similar_items", "item_similarity")
        self.check_fitted()
        i = self.items_.index(check_id_array(items, "items"))
        return np.array(self._item_similarity(i), dtype=np.float64)

    def similar_items(self, items: ArrayLike, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar items to each of ``items`` (never the item itself), as ``(ids, scores)``."""
        self._require("similar_items", "similar_items")
        k = check_positive_int(k, "k")
        self.check_fitted()
        i = self.items_.index(check_id_array(items, "items"))
        sim = np.array(self._item_similarity(i), dtype=np.float64)
        sim[np.arange(len(i)), i] = -np.inf
        idx, val = top_k(sim, min(k, max(self.n_items - 1, 1)))
        ids = np.where(idx >= 0, self.items_.ids[np.maximum(idx, 0)], PAD_ID)
        return ids, val

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict[str, Any]:
        """Fitted attributes (names ending in ``_``): arrays, sparse matrices, IdMaps and scalars."""
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def save(self, folder: str | PathLike) -> Path:
        """Write ``params.json`` and ``arrays.safetensors`` (its SHA-256 recorded in ``params.json``) to ``folder``.

        The fitted attributes (:meth:`_state`) must be arrays, sparse matrices, id maps or scalars (no pickle).
        """
        from coursekit.models._persistence import write_model

        self._require("save", "save")
        self.check_fitted()
        return write_model(self, self._state(), check_path(folder, "folder"))

    @classmethod
    def load(cls, folder: str | PathLike) -> Recommender:
        """Load a model written by :meth:`save` (only coursekit model classes are loaded).

        The array file must match the SHA-256 recorded in ``params.json`` (a folder saved before
        checksums loads with a warning), and the saved hyperparameters pass the same checks as a
        fresh model's. Every problem raises a :class:`~coursekit.CourseKitError` naming the folder
        and the file (see :mod:`coursekit.models._persistence`).
        """
        from coursekit.models._persistence import load_model

        return load_model(check_path(folder, "folder"), cls)
