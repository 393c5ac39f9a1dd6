r"""Semantic IDs: items as short sequences of discrete codes, by residual quantisation (RQ).

A generative recommender (TIGER, Rajput et al. 2023) names every item by a few tokens that a
sequence model can *generate*. The tokens come from residual k-means on item vectors
:math:`x_i \in \mathbb{R}^d`: with :math:`r_i^{(0)} = x_i`, level :math:`l = 0, \dots, L-1` clusters
the residuals with a codebook :math:`C_l` of :math:`K_l` centroids and passes on what is left,

.. math::

    c_i^{(l)} = \arg\min_k \bigl\lVert r_i^{(l)} - C_l[k] \bigr\rVert, \qquad
    r_i^{(l+1)} = r_i^{(l)} - C_l\bigl[c_i^{(l)}\bigr], \qquad
    \hat x_i^{(l)} = \sum_{m \le l} C_m\bigl[c_i^{(m)}\bigr].

Coarse levels say *what kind* of item it is, later levels refine; the relative reconstruction error
:math:`\lVert X - \hat X^{(l)} \rVert^2 / \lVert X \rVert^2` falls with every level. Items that get
the same :math:`L` codes are told apart by one more token, their number :math:`0, 1, \dots` within
the collision group (TIGER's extra token), so every item has a unique ID of :math:`L + 1` tokens.
Token :math:`c` of level :math:`l` is the *global* token ``offsets[l] + c`` of one shared vocabulary.

* :func:`residual_kmeans` -- the codebooks and codes (:class:`ResidualQuantizer`).
* :func:`semantic_ids` -- unique IDs with the collision token (:class:`SemanticIds`).
* :func:`prefix_agreement` -- do items that share a code prefix share attributes?

Example
-------
>>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.0, 5.1]])
>>> ids = semantic_ids(X, n_levels=1, codebook_size=2)
>>> bool(ids.codes[0, 0] == ids.codes[1, 0] != ids.codes[2, 0])   # near-twins share their level-0 code
True
>>> ids.codes[:, 1].tolist(), ids.tokens[:, 1].tolist(), ids.vocab_size, ids.unique   # ... and get 0, 1 last
([0, 1, 0, 1], [2, 3, 2, 3], 4, True)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_positive_int, check_seed

__all__ = ["ResidualQuantizer", "SemanticIds", "residual_kmeans", "semantic_ids", "prefix_agreement"]


# ---------------------------------------------------------------------------- residual quantisation
@dataclass(frozen=True)
class ResidualQuantizer:
    """Codebooks and codes of :func:`residual_kmeans`.

    Attributes
    ----------
    codes : int array (n, L)
        Code of every item at every level.
    centroids : tuple of L arrays (K_l, d)
        The codebook of each level.
    relative_error : array (L,)
        :math:`\\lVert X - \\hat X^{(l)} \\rVert^2 / \\lVert X \\rVert^2` after levels ``0..l``.
    """

    codes: np.ndarray
    centroids: tuple[np.ndarray, ...]
    relative_error: np.ndarray

    @property
    def n_levels(self) -> int:
        return len(self.centroids)

    def reconstruct(self, codes: ArrayLike | None = None, levels: int | None = None) -> np.ndarray:
        """The sum of the centroids of the first ``levels`` codes (default: all), shape (n, d).

        >>> rq = residual_kmeans(np.array([[1.0], [3.0], [10.0], [12.0]]), n_levels=2, codebook_size=2)
        >>> rq.reconstruct().round(6).ravel().tolist()
        [1.0, 3.0, 10.0, 12.0]
        """
        codes = self.codes if codes is None else np.asarray(codes)
        levels = self.n_levels if levels is None else int(levels)
        if codes.ndim != 2 or codes.shape[1] < levels or not 0 <= levels <= self.n_levels:
            raise CourseKitError(f"codes must have shape (n, >= levels) with levels in [0, {self.n_levels}], "
                                 f"got codes of shape {codes.shape} and levels={levels}.")
        out = np.zeros((codes.shape[0], self.centroids[0].shape[1]))
        for level in range(levels):
            C = self.centroids[level]
            if codes.size and (codes[:, level].min() < 0 or codes[:, level].max() >= len(C)):
                raise CourseKitError(f"codes of level {level} must lie in [0, {len(C)}), got "
                                     f"[{codes[:, level].min()}, {codes[:, level].max()}].")
            out += C[codes[:, level]]
        return out

    def encode(self, X: ArrayLike) -> np.ndarray:
        """Codes of new vectors (e.g. a cold-start item) with the fitted codebooks, shape (n, L)."""
        R = _as_matrix(X).copy()
        if R.shape[1] != self.centroids[0].shape[1]:
            raise CourseKitError(f"X must have {self.centroids[0].shape[1]} columns like the fitted vectors, "
                                 f"got {R.shape[1]}.")
        codes = np.empty((R.shape[0], self.n_levels), dtype=np.int64)
        for level, C in enumerate(self.centroids):
            codes[:, level] = _nearest(R, C)
            R -= C[codes[:, level]]
        return codes


def _as_matrix(X: ArrayLike) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise CourseKitError(f"X must be a 2-D array (n_items, dim) with at least one row, got shape {X.shape}.")
    if not np.isfinite(X).all():
        raise CourseKitError("X holds NaN or infinite values; fill or drop them before quantising.")
    return X


def _nearest(R: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid of every row (ties: lower index)."""
    d2 = (R * R).sum(1)[:, None] - 2.0 * R @ C.T + (C * C).sum(1)[None, :]
    return np.argmin(d2, axis=1)


def _sizes(codebook_size: int | Sequence[int], n_levels: int, n: int) -> list[int]:
    if isinstance(codebook_size, (int, np.integer)) and not isinstance(codebook_size, bool):
        sizes = [codebook_size] * n_levels
    else:
        sizes = list(codebook_size)
        if len(sizes) != n_levels:
            raise CourseKitError(f"codebook_size must be an int or a list of n_levels={n_levels} ints, "
                                 f"got {codebook_size!r}.")
    sizes = [check_positive_int(k, "codebook_size") for k in sizes]
    if max(sizes) > n:
        raise CourseKitError(f"codebook_size {max(sizes)} exceeds the number of vectors ({n}); "
                             "use at most n centroids per level.")
    return sizes


def residual_kmeans(X: ArrayLike, n_levels: int = 3, codebook_size: int | Sequence[int] = 16,
                    seed: int = 0, n_init: int = 4) -> ResidualQuantizer:
    r"""Residual k-means: ``n_levels`` codebooks, each fitted on what the previous levels left over.

    Parameters
    ----------
    X : array (n, d)
        Item vectors (e.g. text embeddings or model factors).
    n_levels : int
        :math:`L`, codes per item.
    codebook_size : int or list of L ints
        :math:`K_l`, centroids per level.
    seed : int
        Seed of scikit-learn's k-means (level ``l`` uses ``seed + l``): the same input gives the same codes.
    n_init : int
        k-means restarts per level (the best inertia is kept).

    Returns
    -------
    ResidualQuantizer

    >>> rq = residual_kmeans(np.random.default_rng(0).normal(size=(200, 8)), n_levels=3, codebook_size=8)
    >>> rq.codes.shape, bool(np.all(np.diff(rq.relative_error) < 0))
    ((200, 3), True)
    """
    from sklearn.cluster import KMeans

    X = _as_matrix(X)
    L = check_positive_int(n_levels, "n_levels")
    seed = check_seed(seed)
    sizes = _sizes(codebook_size, L, X.shape[0])
    R = X.copy()
    total = float((X * X).sum()) or 1.0
    codes = np.empty((X.shape[0], L), dtype=np.int64)
    centroids, errors = [], []
    for level, k in enumerate(sizes):                  # the residual loop: fit, assign, subtract
        km = KMeans(n_clusters=k, n_init=check_positive_int(n_init, "n_init"), random_state=seed + level)
        with np.errstate(all="ignore"):                 # duplicate residuals make k-means warn, not fail
            km.fit(R)
        C = km.cluster_centers_.astype(np.float64)
        codes[:, level] = _nearest(R, C)
        R = R - C[codes[:, level]]
        centroids.append(C)
        errors.append(float((R * R).sum()) / total)
    return ResidualQuantizer(codes, tuple(centroids), np.array(errors))


# ---------------------------------------------------------------------------- unique IDs
@dataclass(frozen=True)
class SemanticIds:
    """Unique semantic IDs of :func:`semantic_ids`.

    Attributes
    ----------
    codes : int array (n, L + 1)
        The :math:`L` quantisation codes and, last, the item's number among the items that share them.
    level_sizes : tuple of L + 1 ints
        Vocabulary size of each position (the last: the largest collision group, 1 when none).
    offsets : int array (L + 1,)
        First global token of each position; ``tokens = offsets + codes``.
    vocab_size : int
        Number of global tokens, ``sum(level_sizes)``.
    n_collided : int
        Items whose :math:`L` codes are shared with another item.
    quantizer : ResidualQuantizer
    """

    codes: np.ndarray
    level_sizes: tuple[int, ...]
    offsets: np.ndarray
    vocab_size: int
    n_collided: int
    quantizer: ResidualQuantizer

    @property
    def tokens(self) -> np.ndarray:
        """Global tokens (n, L + 1): ``offsets[l] + codes[:, l]``."""
        return self.codes + self.offsets[None, :]

    @property
    def unique(self) -> bool:
        """Whether every item has its own ID (always true by construction)."""
        return len(np.unique(self.codes, axis=0)) == len(self.codes)

    @property
    def depth(self) -> int:
        return self.codes.shape[1]


def collision_index(codes: ArrayLike) -> np.ndarray:
    """Number of every row among the earlier rows with the same codes: 0, 1, 2, ... in row order.

    >>> collision_index([[1, 2], [0, 0], [1, 2], [1, 2]]).tolist()
    [0, 0, 1, 2]
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise CourseKitError(f"codes must be 2-D (n, levels), got shape {codes.shape}.")
    _, group = np.unique(codes, axis=0, return_inverse=True)
    group = group.ravel()
    order = np.argsort(group, kind="stable")           # rows grouped, in row order within a group
    starts = np.searchsorted(group[order], group[order], side="left")
    out = np.empty(len(group), dtype=np.int64)
    out[order] = np.arange(len(group)) - starts
    return out


def semantic_ids(X: ArrayLike, n_levels: int = 3, codebook_size: int | Sequence[int] = 16,
                 seed: int = 0, n_init: int = 4) -> SemanticIds:
    """Residual k-means codes plus a collision token, so that every item's ID is unique.

    Parameters are those of :func:`residual_kmeans`. Items with the same :math:`L` codes are numbered
    0, 1, ... in the order of their rows (the last column of ``codes``).

    >>> ids = semantic_ids(np.zeros((3, 2)) + [[0.0], [0.0], [1.0]], n_levels=1, codebook_size=2)
    >>> ids.codes[:, 1].tolist(), ids.level_sizes[1], ids.n_collided, ids.unique
    ([0, 1, 0], 2, 2, True)
    """
    rq = residual_kmeans(X, n_levels=n_levels, codebook_size=codebook_size, seed=seed, n_init=n_init)
    extra = collision_index(rq.codes)
    codes = np.column_stack([rq.codes, extra])
    sizes = tuple(len(C) for C in rq.centroids) + (int(extra.max()) + 1,)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    _, group, counts = np.unique(rq.codes, axis=0, return_inverse=True, return_counts=True)
    n_collided = int((counts[group.ravel()] > 1).sum())
    return SemanticIds(codes, sizes, offsets, int(sum(sizes)), n_collided, rq)


# ---------------------------------------------------------------------------- do prefixes mean something?
def _attribute_groups(attributes: pd.DataFrame) -> dict[str, np.ndarray]:
    if not isinstance(attributes, pd.DataFrame):
        raise CourseKitError("attributes must be a 0/1 DataFrame (n_items, n_attributes) with columns named "
                             f"'group=value' (e.g. dataset.truth['item_attributes']), got {type(attributes).__name__}.")
    groups: dict[str, list[str]] = {}
    for col in attributes.columns:
        groups.setdefault(str(col).split("=", 1)[0] if "=" in str(col) else "attribute", []).append(col)
    out = {g: attributes[cols].to_numpy(dtype=np.float64) > 0 for g, cols in groups.items()}
    out["all"] = attributes.to_numpy(dtype=np.float64) > 0
    return out


def _jaccard_means(A: np.ndarray, group: np.ndarray, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per item: mean Jaccard with its same-prefix partners (NaN without any) and with every other item."""
    A = A.astype(np.float64)
    size = A.sum(1)
    n = len(A)
    same, other = np.full(n, np.nan), np.empty(n)
    for s in range(0, n, block):                         # (block, n) at a time: O(n^2) work, O(n) memory
        rows = np.arange(s, min(s + block, n))
        inter = A[rows] @ A.T
        union = size[rows, None] + size[None, :] - inter
        J = np.divide(inter, union, out=np.ones_like(inter), where=union > 0)   # two empty sets agree
        J[np.arange(len(rows)), rows] = 0.0
        other[rows] = J.sum(1) / max(n - 1, 1)
        partner = group[rows, None] == group[None, :]
        partner[np.arange(len(rows)), rows] = False
        k = partner.sum(1)
        with np.errstate(invalid="ignore"):
            same[rows] = np.where(k > 0, (J * partner).sum(1) / np.maximum(k, 1), np.nan)
    return same, other


def _cluster_se(values: np.ndarray, cluster: np.ndarray) -> float:
    """Standard error of the mean of ``values``, clustered (items of one prefix are not independent)."""
    n = len(values)
    if n < 2:
        return float("nan")
    _, c = np.unique(cluster, return_inverse=True)
    sums = np.bincount(c.ravel(), weights=values - values.mean())
    G = len(sums)
    return float(np.sqrt((sums ** 2).sum() * G / max(G - 1, 1)) / n) if G > 1 else float("nan")


def prefix_agreement(codes: ArrayLike, attributes: pd.DataFrame, depth: int) -> pd.DataFrame:
    r"""How much more alike are items that share their first ``depth`` codes than two items at random?

    Agreement of two items on an attribute group (category, brand, price, word, ...; the part of a
    column name before ``=``) is the Jaccard index of their sets in that group: 1 or 0 for a
    one-valued group such as the category, the share of words in common for the words; ``all`` pools
    every column. Per item :math:`i` with at least one *partner* (another item with the same prefix)

    .. math:: a_i = \operatorname{mean}_{j \in P(i)} J(i, j), \qquad
              b_i = \operatorname{mean}_{j \ne i} J(i, j), \qquad \Delta_i = a_i - b_i ,

    averaged over those items. Standard errors are clustered by prefix (items of one prefix share
    their partners), so they are honest about the dependence; ``random_pair`` is every other item.

    Parameters
    ----------
    codes : int array (n, >= depth)
        Semantic IDs (or any codes), rows aligned with ``attributes``.
    attributes : DataFrame (n, n_attributes)
        0/1 attributes, columns ``"group=value"`` (e.g. ``dataset.truth["item_attributes"]``).
    depth : int
        Prefix length, 1 .. ``codes.shape[1]``.

    Returns
    -------
    DataFrame indexed by attribute group
        ``same_prefix``, ``same_prefix_se``, ``random_pair``, ``random_pair_se``, ``lift`` (mean
        :math:`\Delta_i`), ``lift_se``, ``n_items`` (items with a partner), ``n_prefixes`` (distinct
        prefixes), ``n_pairs_same`` and ``n_pairs_all`` (unordered pairs in each set).

    >>> attrs = pd.DataFrame({"category=a": [1, 1, 0, 0], "category=b": [0, 0, 1, 1]})
    >>> out = prefix_agreement([[0, 0], [0, 1], [1, 0], [1, 1]], attrs, depth=1)
    >>> out.loc["category", ["same_prefix", "random_pair"]].tolist()       # partners agree; others 1 time in 3
    [1.0, 0.3333333333333333]
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.dtype.kind not in "iu":
        raise CourseKitError(f"codes must be a 2-D integer array (n_items, levels), got shape {codes.shape} "
                             f"and dtype {codes.dtype}.")
    depth = check_positive_int(depth, "depth")
    if depth > codes.shape[1]:
        raise CourseKitError(f"depth must be at most the number of code columns ({codes.shape[1]}), got {depth}.")
    groups = _attribute_groups(attributes)
    if len(attributes) != len(codes):
        raise CourseKitError(f"attributes has {len(attributes)} rows but codes has {len(codes)}; align them "
                             "(one row per item, in the same order).")
    _, prefix, counts = np.unique(codes[:, :depth], axis=0, return_inverse=True, return_counts=True)
    prefix = prefix.ravel()
    n = len(codes)
    has = counts[prefix] > 1
    rows = {}
    for name, A in groups.items():
        same, other = _jaccard_means(A, prefix)
        s, o, p = same[has], other[has], prefix[has]
        rows[name] = {
            "same_prefix": float(s.mean()) if len(s) else float("nan"), "same_prefix_se": _cluster_se(s, p),
            "random_pair": float(other.mean()), "random_pair_se": float(other.std(ddof=1) / np.sqrt(n)),
            "lift": float((s - o).mean()) if len(s) else float("nan"), "lift_se": _cluster_se(s - o, p),
            "n_items": int(has.sum()), "n_prefixes": len(counts),
            "n_pairs_same": int((counts * (counts - 1) // 2).sum()), "n_pairs_all": n * (n - 1) // 2,
        }
    return pd.DataFrame.from_dict(rows, orient="index")
