r"""Diversity: Maximal Marginal Relevance (MMR) re-ranking and the accuracy / diversity trade-off.

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

The rule itself lives in :mod:`coursekit.models.mmr`: :func:`~coursekit.models.mmr.mmr_rerank`
over ``(items, scores)`` candidate lists, and :class:`~coursekit.models.mmr.MMRReranker`, the same
as a ``Recommender``. The lambda sweep (:func:`diversity_sweep`) calls ``mmr_rerank``, because it
re-ranks one set of candidates for many :math:`\lambda` without scoring the catalogue again
(the worked example of the rule is in :mod:`coursekit.models.mmr`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.interactions import Interactions, check_same_universe
from coursekit.models.base import Recommender
from coursekit.models.mmr import mmr_rerank

__all__ = ["indicator_vectors", "diversity_sweep", "knee_point", "coverage_change"]


def indicator_vectors(items: pd.DataFrame, item_ids: ArrayLike, columns: str | Sequence[str]) -> np.ndarray:
    """0/1 item vectors from categorical columns of an item table, rows aligned with ``item_ids``.

    A column of scalars (the shop's ``category``, ``brand``, ``price_band``) gives one-hot blocks; a
    column of lists (MovieLens ``genres``) gives multi-hot ones. Items missing from the table get zeros.

    >>> items = pd.DataFrame({"item_id": [1, 2], "genres": [["a", "b"], ["b"]], "kind": ["x", "y"]})
    >>> indicator_vectors(items, [2, 1], ["genres", "kind"]).tolist()
    [[0.0, 1.0, 0.0, 1.0], [1.0, 1.0, 1.0, 0.0]]
    """
    if isinstance(columns, str):
        columns = [columns]
    frame = items.set_index("item_id")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CourseKitError(f"item table has no column(s) {missing}; available: {list(frame.columns)}.")
    frame = frame.reindex(np.asarray(item_ids))
    blocks = []
    for c in columns:
        col = frame[c].map(lambda v: list(v) if isinstance(v, (list, tuple, np.ndarray)) else
                           ([] if v is None or (isinstance(v, float) and np.isnan(v)) else [v]))
        blocks.append(col.explode().pipe(pd.get_dummies).groupby(level=0, sort=False).max()
                      .reindex(frame.index).fillna(0).to_numpy(dtype=np.float64))
    return np.hstack(blocks)


# ---------------------------------------------------------------------------- the trade-off
def knee_point(x: ArrayLike, y: ArrayLike) -> int:
    r"""Index of the knee of a trade-off curve: the point farthest from the chord between its ends.

    Both axes are first scaled to :math:`[0, 1]` (min-max over the curve, so units do not matter);
    with the ends :math:`a = (x_0, y_0)`, :math:`b = (x_{n-1}, y_{n-1})`, the knee maximises the
    perpendicular distance

    .. math:: d_j = \frac{\lvert (b - a) \times (p_j - a) \rvert}{\lVert b - a \rVert}

    (the "max distance to the chord" rule, the core of Kneedle, Satopää et al. 2011, without its
    smoothing). Points must be in curve order (e.g. by :math:`\lambda`). Ties: the first. With
    fewer than 3 points, or a degenerate chord, returns 0.

    >>> knee_point([0, 1, 2, 3, 4], [0, 3, 3.5, 3.8, 4])      # the bend at x = 1
    1
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise CourseKitError(f"x and y must be 1-D of the same length, got {x.shape} and {y.shape}.")
    if len(x) < 3:
        return 0

    def scale(v):
        span = v.max() - v.min()
        return (v - v.min()) / span if span > 0 else np.zeros_like(v)

    px, py = scale(x), scale(y)
    dx, dy = px[-1] - px[0], py[-1] - py[0]
    norm = np.hypot(dx, dy)
    if norm == 0:
        return 0
    d = np.abs(dx * (py - py[0]) - dy * (px - px[0])) / norm
    return int(np.argmax(d))


def diversity_sweep(model: Recommender, train: Interactions, test: Interactions, item_vectors: ArrayLike,
                    lambdas: Sequence[float] = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0), k: int = 10,
                    n_candidates: int = 50, ild_vectors: ArrayLike | None = None, users: ArrayLike | None = None,
                    knee_axis: str = "ild", per_user: bool = False) -> pd.DataFrame:
    r"""Re-rank a fitted model's candidates by MMR for each :math:`\lambda`; accuracy vs. diversity.

    The candidates (top ``n_candidates``, training items excluded) are scored once; for each
    :math:`\lambda` the top-``k`` MMR list is measured on the users :func:`coursekit.evaluate`
    ranks (those with a held-out item not in their training items, unless ``users`` is given):
    mean NDCG@k (:func:`coursekit.metrics.ndcg_at_k`), mean intra-list diversity
    (:func:`coursekit.metrics.intra_list_diversity` with ``ild_vectors``, default ``item_vectors``)
    and catalogue coverage (:func:`coursekit.metrics.catalog_coverage`). At :math:`\lambda = 1`
    the numbers are those of the base model.

    With ``per_user=True`` the table also carries what paired comparisons
    (:func:`coursekit.claims.compare`) and :func:`coverage_change` need:
    ``table.attrs["per_user"]`` (DataFrame ``user, lam, ndcg, ild``: one row per evaluated user
    and :math:`\lambda`, ``user`` the user index) and ``table.attrs["lists"]`` (``{lam: top-k
    item indices (n_users, k)}``).

    Returns
    -------
    DataFrame with ``lam, ndcg, ild, coverage, knee`` (``knee`` True on the row chosen by
    :func:`knee_point` on (``knee_axis``, ``ndcg``)), rows in the order of ``lambdas``.
    """
    from coursekit.evaluation import relevance_matrix
    from coursekit.metrics import catalog_coverage, intra_list_diversity, ndcg_at_k

    check_same_universe(train, test)
    if knee_axis not in ("ild", "coverage"):
        raise CourseKitError(f"knee_axis must be 'ild' or 'coverage', got {knee_axis!r}.")
    rel, _ = relevance_matrix(train, test)
    if users is None:
        users = np.nonzero((np.diff(rel.indptr) > 0) & (train.user_counts() > 0))[0]
    users = np.asarray(users, dtype=np.int64)
    cand, cand_s = model.recommend_indices(users, n_candidates, exclude_seen=True)
    ild_v = item_vectors if ild_vectors is None else ild_vectors
    rows, per_rows, lists = [], [], {}
    for lam in lambdas:
        top, _ = mmr_rerank(cand, cand_s, item_vectors, k=k, lam=lam)
        ndcg_u = ndcg_at_k(top, rel[users], k)
        ild_u = intra_list_diversity(top, ild_v)
        rows.append({"lam": float(lam), "ndcg": float(np.nanmean(ndcg_u)), "ild": float(np.nanmean(ild_u)),
                     "coverage": catalog_coverage(top, train.n_items)})
        if per_user:
            per_rows.append(pd.DataFrame({"user": users, "lam": float(lam), "ndcg": ndcg_u, "ild": ild_u}))
            lists[float(lam)] = top
    table = pd.DataFrame(rows)
    table["knee"] = False
    table.loc[knee_point(table[knee_axis], table["ndcg"]), "knee"] = True
    table.attrs["users"] = int(len(users))
    if per_user:
        table.attrs["per_user"] = pd.concat(per_rows, ignore_index=True)
        table.attrs["lists"] = lists
    return table


def coverage_change(top_a: ArrayLike, top_b: ArrayLike, n_items: int, n_boot: int = 200,
                    seed: int = 0) -> tuple[float, float]:
    r"""Catalogue coverage of lists B minus that of lists A, with a paired bootstrap SE over users.

    Coverage (:func:`coursekit.metrics.catalog_coverage`) is one number per set of lists, not a
    per-user value, so its uncertainty comes from resampling the *users* (the same resample for A
    and B: row ``u`` of both is user ``u``). The SE is the standard deviation of the ``n_boot``
    resampled differences. A claim can then be
    ``coursekit.claims.threshold(diff, se, 0.0, "coverage change", what="no change")``.

    Parameters
    ----------
    top_a, top_b : int arrays (n_users, k)
        Top-k item indices of the same users (``-1`` = padding), e.g. :math:`\lambda = 1` and the knee.
    n_items : int
        Catalogue size.

    Returns
    -------
    (difference, se) : floats, ``coverage(B) - coverage(A)``.

    >>> a = np.array([[0, 1], [0, 1], [0, 1]]); b = np.array([[0, 1], [2, 3], [4, 5]])
    >>> diff, se = coverage_change(a, b, n_items=10)
    >>> round(diff, 2), se > 0
    (0.4, True)
    """
    from coursekit.metrics import catalog_coverage

    a, b = np.asarray(top_a, dtype=np.int64), np.asarray(top_b, dtype=np.int64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise CourseKitError(f"top_a and top_b must be 2-D lists of the same users, got shapes {a.shape} and "
                             f"{b.shape}; pass the rows of the same users in the same order.")
    n_items = check_positive_int(n_items, "n_items")
    n_boot = check_positive_int(n_boot, "n_boot")
    diff = catalog_coverage(b, n_items) - catalog_coverage(a, n_items)
    if a.shape[0] < 2:
        return float(diff), float("nan")
    rng = np.random.default_rng(seed)
    boot = np.empty(n_boot)
    for r in range(n_boot):
        idx = rng.integers(0, a.shape[0], a.shape[0])
        boot[r] = catalog_coverage(b[idx], n_items) - catalog_coverage(a[idx], n_items)
    return float(diff), float(boot.std(ddof=1))
