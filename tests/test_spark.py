"""coursekit.scale.spark: Interactions to and from Spark, Spark ALS output through coursekit's evaluation.

Skipped, with the reason, when pyspark or Java is absent (the default install has neither the ``spark`` extra
nor needs it); the missing-pyspark error and ``import coursekit`` without pyspark are tested everywhere.
The appendix notebook's smoke run (papermill) is at the end.
"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coursekit._validation import CourseKitError
from coursekit.evaluation import evaluate
from coursekit.interactions import Interactions
from coursekit.metrics import ndcg_at_k, recall_at_k
from coursekit.scale import import_pyspark, matched_reg_param, top_lists_to_scores
from tests.conftest import execute_notebook

ROOT = Path(__file__).resolve().parent.parent
APPENDIX = ROOT / "notebooks" / "A1_scale_out_spark.ipynb"
HAVE_PYSPARK = importlib.util.find_spec("pyspark") is not None
HAVE_JAVA = shutil.which("java") is not None
needs_spark = pytest.mark.skipif(not (HAVE_PYSPARK and HAVE_JAVA),
                                 reason="needs pyspark and Java: pip install -e '.[spark]' and Java 17")


def _log(seed: int = 0, n_users: int = 40, n_items: int = 30, n: int = 600) -> Interactions:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"user_id": rng.integers(0, n_users, n) * 7 + 3,        # ids are not indices
                          "item_id": rng.integers(0, n_items, n) * 11 + 1000,
                          "timestamp": rng.integers(0, 10_000, n)})
    return Interactions.from_frame(frame, users=np.arange(n_users + 2) * 7 + 3,   # two users without events
                                   items=np.arange(n_items + 3) * 11 + 1000)      # three items without events


# ------------------------------------------------------------------ without Spark
def test_import_coursekit_does_not_load_pyspark():
    code = "import sys, coursekit, coursekit.scale, coursekit.models; print('pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_missing_pyspark_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)   # `import pyspark` now raises ImportError
    with pytest.raises(CourseKitError, match=r'pip install "coursekit\[spark\]"'):
        import_pyspark()


def test_missing_java_names_the_fix(monkeypatch, tmp_path):
    if not HAVE_PYSPARK:
        pytest.skip("pyspark is not installed; the pyspark error is checked above")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))   # no bin/java there
    with pytest.raises(CourseKitError, match="Java 17"):
        import_pyspark()
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(CourseKitError, match="JAVA_HOME"):
        import_pyspark()


def test_the_course_run_leaves_the_appendix_out_unless_named():
    """`coursekit run` (default install, no Spark) runs the lessons only; `--notebooks A1` runs the appendix."""
    from coursekit.runner import appendix_notebooks, select_notebooks

    assert APPENDIX in appendix_notebooks()
    assert all(p.stem[:2].isdigit() for p in select_notebooks(None))
    assert select_notebooks(["A1"]) == [APPENDIX]
    assert select_notebooks(["08", "A1_scale_out_spark.ipynb"])[-1] == APPENDIX


def test_matched_reg_param_and_bad_input():
    inter = _log()
    m = inter.matrix()
    active = (m.getnnz(axis=1) > 0).sum() + (m.getnnz(axis=0) > 0).sum()
    assert matched_reg_param(30.0, inter) == pytest.approx(30.0 * active / (2 * m.nnz))
    with pytest.raises(CourseKitError, match="reg"):
        matched_reg_param(-1.0, inter)
    with pytest.raises(CourseKitError, match="one row per user"):
        top_lists_to_scores(np.zeros((2, 3), int), np.array([0]), 2, 5)
    with pytest.raises(CourseKitError, match="indices"):
        top_lists_to_scores(np.array([[7]]), np.array([0]), 1, 5)


def test_lists_through_scores_evaluate_as_the_lists_themselves():
    """evaluate() of top_lists_to_scores(lists) gives the metrics of exactly those lists (no Spark needed)."""
    inter = _log(1)
    train = inter.subset(inter.timestamps < 7_000)
    test = inter.subset(inter.timestamps >= 7_000)
    rng = np.random.default_rng(0)
    users = np.arange(train.n_users)
    seen = train.matrix()
    top = np.full((len(users), 5), -1)
    for u in users:   # random lists of unseen items, some shorter than k
        unseen = np.setdiff1d(np.arange(train.n_items), seen.indices[seen.indptr[u]:seen.indptr[u + 1]])
        top[u, :min(5, u % 7)] = rng.permutation(unseen)[:min(5, u % 7)]
    df = evaluate(top_lists_to_scores(top, users, train.n_users, train.n_items), train, test, ks=(5,),
                  metrics=("ndcg", "recall"), beyond=False)
    rel = test.matrix().astype(bool).astype(float).tocsr()
    rel = rel - rel.multiply(seen.astype(bool))   # the harness's relevance: test items not seen in train
    rel.eliminate_zeros()
    evaluated = np.nonzero((rel.getnnz(axis=1) > 0) & (train.user_counts() > 0))[0]
    warm = df[df.group == "warm users"].set_index("metric")["value"]
    assert warm["ndcg"] == pytest.approx(ndcg_at_k(top[evaluated], rel[evaluated], 5).mean())
    assert warm["recall"] == pytest.approx(recall_at_k(top[evaluated], rel[evaluated], 5).mean())


# ------------------------------------------------------------------ with Spark
@pytest.fixture(scope="module")
def spark():
    if not (HAVE_PYSPARK and HAVE_JAVA):
        pytest.skip("needs pyspark and Java: pip install -e '.[spark]' and Java 17")
    from coursekit.scale import spark_session

    session = spark_session("local[2]", app_name="coursekit-tests", driver_memory="1g")
    yield session
    session.stop()


@needs_spark
@pytest.mark.slow
def test_round_trip_keeps_ids_and_universe(spark):
    from coursekit.scale import from_spark, to_spark

    inter = _log(2)
    sdf = to_spark(inter, spark, aggregate=False)
    back = from_spark(sdf, inter)
    assert np.array_equal(back.users.ids, inter.users.ids) and np.array_equal(back.items.ids, inter.items.ids)
    key = ["user_id", "item_id", "timestamp"]
    a = inter.frame[key].sort_values(key).reset_index(drop=True)
    b = back.frame[key].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    # a split that went through Spark and came back still shares indices with its parent
    late = from_spark(sdf.filter("timestamp >= 5000"), inter)
    assert late.n_users == inter.n_users and np.array_equal(late.matrix().toarray(),
                                                            inter.subset(inter.timestamps >= 5000).matrix().toarray())
    # aggregated: one row per pair, rating = event count, indices = coursekit's
    pairs = to_spark(inter, spark).toPandas()
    counts = inter.matrix("count")
    assert len(pairs) == counts.nnz
    assert np.array_equal(counts[pairs["user"], pairs["item"]].A1, pairs["rating"].to_numpy())
    assert np.array_equal(inter.users.ids[pairs["user"]], pairs["user_id"].to_numpy())
    with pytest.raises(CourseKitError, match="user_id"):
        from_spark(sdf.drop("user_id"), inter)


@needs_spark
@pytest.mark.slow
def test_spark_als_lists_evaluate_like_its_factors(spark):
    """Spark's own top-k (recommendForUserSubset, training items dropped) = the top-k of its factors X Y^T."""
    from pyspark.ml.recommendation import ALS

    from coursekit.scale import spark_factors, spark_top_k, to_spark

    inter = _log(3, n_users=60, n_items=40, n=1500)
    train, test = inter.subset(inter.timestamps < 8_000), inter.subset(inter.timestamps >= 8_000)
    model = ALS(rank=4, maxIter=5, regParam=matched_reg_param(1.0, train), alpha=2.0, implicitPrefs=True,
                userCol="user", itemCol="item", ratingCol="rating", seed=0).fit(to_spark(train, spark))
    users, top = spark_top_k(model, train, 5, spark=spark)
    seen = train.matrix()
    assert np.array_equal(users, np.nonzero(train.user_counts() > 0)[0])
    for u, row in zip(users, top):
        assert not np.isin(row, seen.indices[seen.indptr[u]:seen.indptr[u + 1]]).any()
    X, Y = spark_factors(model, train)
    assert X.shape == (train.n_users, 4) and Y.shape == (train.n_items, 4)
    assert not X[train.user_counts() == 0].any()   # users Spark never saw: zero vectors
    from_lists = evaluate(top_lists_to_scores(top, users, train.n_users, train.n_items), train, test, ks=(5,),
                          beyond=False)
    from_factors = evaluate(X @ Y.T, train, test, ks=(5,), beyond=False)
    # float32 (Spark) vs float64 (numpy) products may swap near ties; the metrics agree to rounding
    np.testing.assert_allclose(from_lists["value"], from_factors["value"], atol=0.02)


@needs_spark
@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_appendix_a1_records(tmp_path):
    rec, _ = execute_notebook(APPENDIX, tmp_path, {"SMOKE": True, "DATASET": "shop"})
    assert rec["smoke"] is True and rec["dataset"] == "shop"
    assert 0 < rec["ndcg_coursekit"] <= 1 and 0 < rec["ndcg_spark"] <= 1
    assert rec["ndcg_lists_vs_factors_max_diff"] < 0.5
    assert rec["fit_seconds"]["coursekit"] > 0 and rec["fit_seconds"]["spark"] > 0
    assert rec["reg_param_spark"] > 0
    assert len(rec["scaling"]) >= 2 and all(r["Spark ALS s"] > 0 and r["coursekit iALS s"] > 0
                                            for r in rec["scaling"])
    assert all(np.isfinite(v) for v in rec["scaling_slopes"].values())
    assert {c["key"] for c in rec["claims"]} >= {"spark_ndcg_within_5pct", "spark_vs_coursekit_ndcg"}
