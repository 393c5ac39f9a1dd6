r"""Spark MLlib's implicit ALS beside coursekit: data in, factors and top-k lists out, one evaluation.

**Data in.** Spark ALS wants integer user and item columns and one ``rating`` per (user, item) pair.
:func:`to_spark` sends coursekit's *internal indices* (``user``, ``item``, ``0..n-1`` in the order of
the :class:`~coursekit.interactions.IdMap`) next to the external ids, so factors and lists come back
aligned with the universe of ``train``: row ``u`` of a Spark factor matrix is row ``u`` of coursekit's.
With ``aggregate=True`` (what ALS needs) the events of a pair are summed into ``rating``
:math:`= r_{ui}`, the event count coursekit's iALS uses; Spark does **not** merge duplicate rows
itself (each row adds its own term and counts as one more rating of the user).

**The objectives.** Both minimise the Hu-Koren-Volinsky loss with preference
:math:`p_{ui} = \mathbb 1[r_{ui} > 0]` and linear confidence :math:`c_{ui} = 1 + \alpha\, r_{ui}`
(Spark: ``c1 = alpha * abs(rating)`` is :math:`c - 1` in ``ALS.computeFactors``), so ``alpha``
means the same in both. The regularisation differs: coursekit's :class:`~coursekit.models.IALS`
adds :math:`\lambda \lVert x_u \rVert^2` for every user, Spark adds
:math:`\lambda_S\, n_u \lVert x_u \rVert^2` with :math:`n_u` the user's number of positive pairs
("weight lambda by the number of explicit ratings based on the ALS-WR paper", Zhou et al. 2008),
and symmetrically :math:`\lambda_S\, n_i` for items:

.. math::

    \text{coursekit: } \sum_{u,i} c_{ui}(p_{ui} - x_u^\top y_i)^2
        + \lambda \Big(\sum_u \lVert x_u\rVert^2 + \sum_i \lVert y_i\rVert^2\Big), \qquad
    \text{Spark: } \sum_{u,i} c_{ui}(p_{ui} - x_u^\top y_i)^2
        + \lambda_S \Big(\sum_u n_u \lVert x_u\rVert^2 + \sum_i n_i \lVert y_i\rVert^2\Big).

No single :math:`\lambda_S` gives the same model; :func:`matched_reg_param` matches the *total*
penalty weight, :math:`\lambda_S = \lambda\, (|U_+| + |I_+|) / (2\,\mathrm{nnz})` over the active
users and items (each pair is counted once per side), so the average row is regularised alike and
heavy users are regularised more by Spark, lighter ones less.

**Lists out.** Spark's ``recommendForUserSubset`` ranks *all* items, training items included;
:func:`spark_top_k` asks for ``k`` plus the longest training history among the users, drops the
training items and keeps ``k``, which is coursekit's protocol (:mod:`coursekit.evaluation`).
:func:`top_lists_to_scores` turns lists into the dense score matrix that
:func:`~coursekit.evaluation.evaluate` accepts, so Spark's output is evaluated by the same code as
every coursekit model.

pyspark is imported on first use; ``import coursekit`` never loads it (:func:`import_pyspark`).
"""
from __future__ import annotations

import os
import shutil
from typing import Any

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_nonneg_number, check_positive_int
from coursekit.interactions import ITEM, RATING, TIMESTAMP, USER, Interactions

__all__ = ["check_java", "import_pyspark", "spark_session", "to_spark", "from_spark", "matched_reg_param",
           "spark_factors", "spark_top_k", "top_lists_to_scores"]

INSTALL_FIX = 'pip install "coursekit[spark]"   (or: pip install pyspark)'
JAVA_FIX = ("install Java 17 (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless; Colab has it) "
            "or set JAVA_HOME to a Java 17 installation")


def check_java() -> str:
    """The ``java`` executable Spark will start (``$JAVA_HOME/bin/java``, else on ``PATH``), or a clear error.

    Raises
    ------
    CourseKitError
        Naming the fix (install Java 17 or set ``JAVA_HOME``) when no Java is found.
    """
    home = os.environ.get("JAVA_HOME")
    if home:
        exe = os.path.join(home, "bin", "java")
        if os.access(exe, os.X_OK):
            return exe
        raise CourseKitError(f"JAVA_HOME={home!r} has no bin/java; Spark needs a Java runtime: {JAVA_FIX}.")
    exe = shutil.which("java")
    if exe is None:
        raise CourseKitError(f"Spark needs a Java runtime and none is on PATH: {JAVA_FIX}.")
    return exe


def import_pyspark() -> Any:
    """The ``pyspark`` module, after checking that it is installed and that Java is present.

    Raises
    ------
    CourseKitError
        Naming ``pip install "coursekit[spark]"`` when pyspark is missing, or how to install Java.
    """
    try:
        import pyspark
    except ImportError as e:
        raise CourseKitError(f"coursekit.scale needs pyspark, which is not installed: {INSTALL_FIX}, "
                             f"and Java 17. ({e})") from None
    check_java()
    return pyspark


def spark_session(master: str = "local[2]", app_name: str = "coursekit", driver_memory: str = "4g",
                  shuffle_partitions: int = 4) -> Any:
    """A quiet local ``SparkSession`` (no web UI, few shuffle partitions), created or reused.

    Parameters
    ----------
    master : str
        ``"local[n]"`` runs Spark in this process's JVM with ``n`` worker threads (the appendix uses
        ``local[2]``); a cluster URL (``spark://...``, ``yarn``) submits to a cluster.
    driver_memory : str
        JVM heap of the driver, which in local mode does all the work.
    shuffle_partitions : int
        ``spark.sql.shuffle.partitions`` (Spark's default 200 is for clusters; tiny tasks cost time locally).
    """
    import_pyspark()
    check_positive_int(shuffle_partitions, "shuffle_partitions")
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master(master).appName(app_name)
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", driver_memory)
             .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
             .config("spark.sql.execution.arrow.pyspark.enabled", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _events_frame(inter: Interactions, aggregate: bool) -> pd.DataFrame:
    """The pandas frame :func:`to_spark` sends: indices, external ids, and the count or the event columns."""
    if aggregate:
        m = inter.matrix("count", dtype=np.float32).tocoo()
        return pd.DataFrame({"user": m.row.astype(np.int32), "item": m.col.astype(np.int32),
                             USER: inter.users.ids[m.row], ITEM: inter.items.ids[m.col],
                             RATING: m.data.astype(np.float32)})
    out = pd.DataFrame({"user": inter.user_index.astype(np.int32), "item": inter.item_index.astype(np.int32),
                        USER: inter.frame[USER].to_numpy(np.int64), ITEM: inter.frame[ITEM].to_numpy(np.int64)})
    for col in (RATING, TIMESTAMP):
        if col in inter.frame.columns:
            out[col] = inter.frame[col].to_numpy()
    return out


def to_spark(inter: Interactions, spark: Any, aggregate: bool = True) -> Any:
    r"""``inter`` as a Spark DataFrame with the universe's indices next to the external ids.

    Parameters
    ----------
    inter : Interactions
    spark : SparkSession
        E.g. :func:`spark_session`.
    aggregate : bool
        True: one row per (user, item) pair with ``rating`` :math:`= r_{ui}` (the event count), what
        ``ALS(implicitPrefs=True, userCol="user", itemCol="item", ratingCol="rating")`` needs. False: one
        row per event, with ``rating`` and ``timestamp`` when ``inter`` has them (:func:`from_spark`
        rebuilds ``inter`` from it).

    Returns
    -------
    pyspark.sql.DataFrame
        Columns ``user, item`` (int32 indices ``0..n-1`` of ``inter.users``/``inter.items``),
        ``user_id, item_id`` (int64) and ``rating`` (and ``timestamp``). Not cached.
    """
    import_pyspark()
    if not isinstance(inter, Interactions):
        raise CourseKitError(f"to_spark needs coursekit Interactions, got {type(inter).__name__}; build them "
                             "with Interactions.from_frame(frame).")
    if max(inter.n_users, inter.n_items) >= 2**31:
        raise CourseKitError(f"Spark ALS ids are 32-bit ints; {inter.n_users:,} users / {inter.n_items:,} items "
                             "do not fit. Split the universe or hash ids into a smaller range first.")
    frame = _events_frame(inter, aggregate)
    return spark.createDataFrame(frame)


def from_spark(df: Any, universe: Interactions) -> Interactions:
    """Interactions from a Spark DataFrame with ``user_id`` and ``item_id`` columns, over ``universe``'s ids.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        E.g. :func:`to_spark` (``aggregate=False``) of a split, or a filtered or joined version of it.
        Further columns (``rating``, ``timestamp``, ...) are kept; the index columns ``user``/``item``
        are dropped (they are recomputed from the ids).
    universe : Interactions
        The data whose user and item :class:`~coursekit.interactions.IdMap` the result keeps, so a
        split that went through Spark still shares indices with its parent.

    Raises
    ------
    UnknownIdError
        When ``df`` holds an id outside ``universe``.
    """
    if not isinstance(universe, Interactions):
        raise CourseKitError(f"universe must be the Interactions whose ids to keep, got {type(universe).__name__}.")
    missing = [c for c in (USER, ITEM) if c not in df.columns]
    if missing:
        raise CourseKitError(f"the Spark DataFrame lacks {missing} (has {list(df.columns)}); to_spark writes them, "
                             "or rename your id columns to user_id and item_id.")
    frame = df.toPandas().drop(columns=[c for c in ("user", "item") if c in df.columns])
    frame[USER] = frame[USER].astype(np.int64)
    frame[ITEM] = frame[ITEM].astype(np.int64)
    return Interactions.from_frame(frame, users=universe.users, items=universe.items)


def matched_reg_param(reg: float, train: Interactions) -> float:
    r"""Spark's ``regParam`` :math:`\lambda_S` whose total penalty weight equals coursekit's :math:`\lambda`.

    Spark weights row :math:`u` by :math:`\lambda_S n_u` (its positive pairs), coursekit by :math:`\lambda`.
    Over the active users and items both sides sum to the same weight when

    .. math::

        \lambda_S \sum_{u} n_u + \lambda_S \sum_i n_i = 2\,\lambda_S\,\mathrm{nnz}
        = \lambda\, (|U_+| + |I_+|)
        \quad\Longrightarrow\quad \lambda_S = \frac{\lambda\,(|U_+| + |I_+|)}{2\,\mathrm{nnz}}.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [10, 20, 10, 10]})
    >>> matched_reg_param(30.0, Interactions.from_frame(log))   # 2 users + 2 items, 3 distinct pairs
    20.0
    """
    reg = check_nonneg_number(reg, "reg")
    m = train.matrix("binary")
    if m.nnz == 0:
        raise CourseKitError("train has no events; nothing to match the regularisation to.")
    active = int((np.diff(m.indptr) > 0).sum()) + int((np.bincount(m.indices, minlength=m.shape[1]) > 0).sum())
    return float(reg * active / (2 * m.nnz))


def _factor_matrix(frame: pd.DataFrame, n: int, rank: int) -> np.ndarray:
    out = np.zeros((n, rank), dtype=np.float64)
    if len(frame):
        out[frame["id"].to_numpy(np.int64)] = np.stack(frame["features"].to_numpy()).astype(np.float64)
    return out


def spark_factors(model: Any, train: Interactions) -> tuple[np.ndarray, np.ndarray]:
    r"""Spark ALS factors as coursekit arrays: user vectors ``X (n_users, f)``, item vectors ``Y (n_items, f)``.

    The model must have been fitted on :func:`to_spark` of ``train`` (``userCol="user", itemCol="item"``),
    so Spark's ids are coursekit's indices. Users or items Spark never saw (no training pair) get zero
    vectors: their scores :math:`x_u^\top y_i` are 0, which Spark's ``coldStartStrategy="drop"`` would drop.
    ``X @ Y.T`` is a score matrix for :func:`~coursekit.evaluation.evaluate`.
    """
    rank = check_positive_int(model.rank, "model.rank")
    X = _factor_matrix(model.userFactors.toPandas(), train.n_users, rank)
    Y = _factor_matrix(model.itemFactors.toPandas(), train.n_items, rank)
    return X, Y


def spark_top_k(model: Any, train: Interactions, k: int, users: np.ndarray | None = None,
                spark: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Spark's own top-``k`` lists (``recommendForUserSubset``) with each user's training items removed.

    Parameters
    ----------
    model : pyspark.ml.recommendation.ALSModel
        Fitted on :func:`to_spark` of ``train``.
    train : Interactions
        The training part; its items are excluded, as coursekit's protocol does.
    k : int
        List length after exclusion (shorter only when a user has fewer unseen items).
    users : array of int, optional
        User *indices* to recommend for (default: every user with a training event).

    Returns
    -------
    users : array (n,)
        The user indices, sorted.
    top : array (n, k) of int
        Item indices, best first, ``-1`` padded; row ``j`` belongs to ``users[j]``.
    """
    k = check_positive_int(k, "k")
    seen = train.matrix("binary")
    counts = np.diff(seen.indptr)
    users = np.nonzero(counts > 0)[0] if users is None else np.unique(np.asarray(users, dtype=np.int64))
    if users.size and (users.min() < 0 or users.max() >= train.n_users):
        raise CourseKitError(f"users must be user indices in [0, {train.n_users}); got {users.min()}..{users.max()}.")
    top = np.full((len(users), k), -1, dtype=np.int64)
    if not len(users):
        return users, top
    spark = spark or spark_session()
    n_ask = int(min(k + counts[users].max(), train.n_items))
    subset = spark.createDataFrame(pd.DataFrame({"user": users.astype(np.int32)}))
    recs = model.recommendForUserSubset(subset, n_ask).toPandas()
    row_of = {int(u): j for j, u in enumerate(users)}
    for u, items in zip(recs["user"].to_numpy(), recs["recommendations"].to_numpy()):
        u = int(u)
        ranked = np.array([int(r["item"]) for r in items], dtype=np.int64)   # Spark sorts by score, best first
        s = seen.indices[seen.indptr[u]:seen.indptr[u + 1]]
        keep = ranked[~np.isin(ranked, s)][:k]
        top[row_of[u], :len(keep)] = keep
    return users, top


def top_lists_to_scores(top: np.ndarray, users: np.ndarray, n_users: int, n_items: int) -> np.ndarray:
    r"""A dense score matrix whose top-``k`` is ``top``: :func:`~coursekit.evaluation.evaluate` accepts it.

    Item ``top[j, r]`` of user ``users[j]`` scores :math:`k - r`; every other cell is :math:`-\infty`, which
    coursekit's top-k never picks, so the harness reads back exactly these lists (``-1`` padded where a list
    is shorter). Rows of users without a list are all :math:`-\infty` (empty lists; every metric 0).

    Examples
    --------
    >>> s = top_lists_to_scores(np.array([[2, 0, -1]]), np.array([1]), n_users=2, n_items=3)
    >>> s[1].tolist(), bool(np.isinf(s[0]).all())
    ([2.0, -inf, 3.0], True)
    """
    top = np.asarray(top, dtype=np.int64)
    users = np.asarray(users, dtype=np.int64)
    if top.ndim != 2 or top.shape[0] != users.shape[0]:
        raise CourseKitError(f"top must be 2-D with one row per user; got shape {top.shape} for {users.shape[0]} "
                             "users. Pass the (users, top) that spark_top_k returns.")
    if top.size and (top.max() >= n_items or top.min() < -1):
        raise CourseKitError(f"top holds item indices outside [0, {n_items}) (and -1 for padding): "
                             f"{top.min()}..{top.max()}. Lists must hold coursekit item indices, not ids.")
    scores = np.full((n_users, n_items), -np.inf)
    k = top.shape[1]
    rows, ranks = np.nonzero(top >= 0)
    scores[users[rows], top[rows, ranks]] = (k - ranks).astype(np.float64)
    return scores
