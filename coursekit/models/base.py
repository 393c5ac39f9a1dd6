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

Optional abilities, where meaningful: ``predict_rating(users, items)`` (models of explicit
ratings), ``similar_items(items, k)`` (never returns the item itself) and
``save(folder)`` / ``Recommender.load(folder)`` (fitted arrays in safetensors plus a small
JSON of hyperparameters; no pickle).

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
import json
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from coursekit.interactions import IdMap

from coursekit._validation import (CourseKitError, NotFittedError, check_choice, check_id_array, check_memory,
                                   check_path, check_positive_int)
from coursekit.interactions import Interactions

PAD_ID = -1


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Row-wise top-``k`` of a score matrix, best first, ties broken by lower column index.

    Runs in :math:`O(nm)` with :func:`numpy.argpartition` (no full sort). Columns with
    score ``-inf`` are never chosen over a finite score; when fewer than ``k`` finite
    scores exist in a row, the rest of that row is padded with index ``-1``.

    >>> idx, val = top_k(np.array([[0.1, 0.5, 0.5, -np.inf]]), 3)
    >>> idx.tolist(), val.tolist()
    ([[1, 2, 0]], [[0.5, 0.5, 0.1]])
    """
    k = check_positive_int(k, "k")
    scores = np.asarray(scores)
    n, m = scores.shape
    k = min(k, m)
    if n == 0 or m == 0:
        return np.zeros((n, k), np.int64), np.zeros((n, k), scores.dtype)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    thr = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)  # k-th largest value
    above = scores > thr
    tie = scores == thr
    need = k - above.sum(axis=1, keepdims=True)
    chosen = above | (tie & (np.cumsum(tie, axis=1) <= need))
    idx = np.nonzero(chosen)[1].reshape(n, k)  # ascending column index within each row
    val = np.take_along_axis(scores, idx, axis=1)
    order = np.argsort(-val, axis=1, kind="stable")  # stable: ties keep lower index first
    idx = np.take_along_axis(idx, order, axis=1)
    val = np.take_along_axis(val, order, axis=1)
    idx[np.isneginf(val)] = PAD_ID
    return idx, val


class Recommender:
    """Base class of every coursekit recommender (see the module docstring for the rules)."""

    #: what to do for users without training events: "popular" (named fallback) or "error"
    cold_users: str = "popular"

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

    def _check_fitted(self) -> None:
        if not hasattr(self, "seen_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call .fit(train) first.")

    @property
    def n_items(self) -> int:
        self._check_fitted()
        return len(self.items_)

    # ------------------------------------------------------------------ scoring
    def score_indices(self, user_index: np.ndarray) -> np.ndarray:
        """Scores for internal user indices, with the cold-user rule applied."""
        self._check_fitted()
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

    def score(self, users, items=None) -> np.ndarray:
        """Score matrix ``(len(users), len(items))``; ``items=None`` means every item."""
        self._check_fitted()
        u = self.users_.index(check_id_array(users, "users"))
        scores = self.score_indices(u)
        if items is not None:
            scores = scores[:, self.items_.index(check_id_array(items, "items"))]
        return scores

    # ------------------------------------------------------------------ ranking
    def recommend_indices(self, user_index, k: int = 10, exclude_seen: bool = True,
                          batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` internal item indices and scores for internal user indices (``-1`` pads)."""
        k = check_positive_int(k, "k")
        self._check_fitted()
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

    def recommend(self, users, k: int = 10, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
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
        self._check_fitted()
        u = self.users_.index(check_id_array(users, "users"))
        idx, val = self.recommend_indices(u, k, exclude_seen)
        ids = np.where(idx >= 0, self.items_.ids[np.maximum(idx, 0)], PAD_ID)
        return ids, val


    # ------------------------------------------------------------------ optional abilities
    def predict_rating(self, users, items) -> np.ndarray:
        r"""Predicted ratings :math:`\hat r_{ui}` for aligned pairs ``(users[j], items[j])``."""
        self._check_fitted()
        u = self.users_.index(check_id_array(users, "users"))
        i = self.items_.index(check_id_array(items, "items"))
        if u.shape != i.shape:
            raise CourseKitError(f"users and items must have the same length, got {u.shape} and {i.shape}.")
        return np.asarray(self._predict_rating(u, i), dtype=np.float64)

    def _predict_rating(self, user_index: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        raise CourseKitError(
            f"{type(self).__name__} ranks items but does not predict ratings; "
            "use a rating model such as BiasedMF for predict_rating."
        )

    def _item_similarity(self, item_index: np.ndarray) -> np.ndarray:
        """Similarity rows ``(len(item_index), n_items)``; default: cosine of :meth:`_item_vectors`."""
        vectors = self._item_vectors()
        norms = np.linalg.norm(vectors, axis=1)
        norms[norms == 0] = 1.0
        unit = vectors / norms[:, None]
        return unit[item_index] @ unit.T

    def _item_vectors(self) -> np.ndarray:
        raise CourseKitError(f"{type(self).__name__} has no notion of item similarity.")

    def similar_items(self, items, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar items to each of ``items`` (never the item itself), as ``(ids, scores)``."""
        k = check_positive_int(k, "k")
        self._check_fitted()
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

    def save(self, folder) -> Path:
        """Write ``params.json`` and ``arrays.safetensors`` (its SHA-256 recorded in ``params.json``) to ``folder``."""
        from safetensors.numpy import save_file

        from coursekit.models._persistence import ARRAYS, sha256_file

        self._check_fitted()
        folder = check_path(folder, "folder")
        folder.mkdir(parents=True, exist_ok=True)
        arrays, scalars, kinds = {}, {}, {}
        for name, value in self._state().items():
            if isinstance(value, IdMap):
                arrays[name] = np.ascontiguousarray(value.ids)
                kinds[name] = f"idmap:{value.kind}"
            elif sp.issparse(value):
                csr = sp.csr_matrix(value)
                for part in ("data", "indices", "indptr"):
                    arrays[f"{name}.{part}"] = np.ascontiguousarray(getattr(csr, part))
                kinds[name] = f"csr:{csr.shape[0]}x{csr.shape[1]}"
            elif isinstance(value, np.ndarray):
                arrays[name] = np.ascontiguousarray(value)
                kinds[name] = "array"
            elif isinstance(value, (bool, int, float, str, np.integer, np.floating)) or value is None:
                scalars[name] = value.item() if isinstance(value, np.generic) else value
                kinds[name] = "scalar"
            else:
                raise CourseKitError(
                    f"cannot save attribute {name} of type {type(value).__name__}; "
                    f"override {type(self).__name__}._state() to convert it to arrays."
                )
        save_file(arrays, str(folder / ARRAYS))
        meta = {"class": type(self).__name__, "module": type(self).__module__,
                "params": self.get_params(), "cold_users": self.cold_users,
                "scalars": scalars, "kinds": kinds, "sha256": {ARRAYS: sha256_file(folder / ARRAYS)}}
        (folder / "params.json").write_text(json.dumps(meta, indent=1))
        return folder

    @classmethod
    def load(cls, folder) -> Recommender:
        """Load a model written by :meth:`save` (only coursekit model classes are loaded).

        The array file must match the SHA-256 recorded in ``params.json`` (a folder saved before
        checksums loads with a warning), and the saved hyperparameters pass the same checks as a
        fresh model's. Every problem raises a :class:`~coursekit.CourseKitError` naming the folder
        and the file (see :mod:`coursekit.models._persistence`).
        """
        from coursekit.models import _persistence as io

        folder = check_path(folder, "folder")
        meta = io.read_meta(folder)
        klass = io.model_class(meta, folder, cls)
        hook = getattr(klass, "_load_folder", None)  # models that save more than arrays (e.g. sub-models)
        if hook is not None:
            return hook(folder, meta)
        model = io.build_model(klass, meta, folder)
        io.restore_state(model, meta, io.read_arrays(folder, meta), folder)
        return model
