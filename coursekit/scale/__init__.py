r"""Scale-out (the appendix A1): the course's recommender on Apache Spark, evaluated by coursekit.

* :mod:`coursekit.scale.spark` -- :class:`~coursekit.interactions.Interactions` to and from a Spark
  DataFrame (keeping the id universe), the regularisation that matches coursekit's iALS, Spark ALS
  factors and top-k lists back into :func:`coursekit.evaluation.evaluate`.

pyspark is an optional extra (``pip install "coursekit[spark]"``, plus Java 17); this package
imports it only when a function that needs Spark is called, so ``import coursekit.scale`` works
without it, and ``import coursekit`` never loads it.
"""
from coursekit.scale.spark import (
    check_java,
    from_spark,
    import_pyspark,
    matched_reg_param,
    spark_factors,
    spark_session,
    spark_top_k,
    to_spark,
    top_lists_to_scores,
)

__all__ = ["check_java", "import_pyspark", "spark_session", "to_spark", "from_spark", "matched_reg_param",
           "spark_factors", "spark_top_k", "top_lists_to_scores"]
