r"""The evaluation harness: a model (or a score matrix) against a test set, as a tidy table.

Protocol of :func:`evaluate` (full ranking, the honest one):

1. **Candidates**: every item of the universe except the user's training items, which are
   excluded from the ranking (as ``recommend(..., exclude_seen=True)`` does).
2. **Relevant items** :math:`R_u`: the user's test items (optionally only ratings
   :math:`\ge` ``min_rating``), *minus* items the user already has in training: those can never
   be recommended under exclusion, so counting them would cap recall below 1. Their number is
   reported in ``df.attrs["n_test_pairs_seen_in_train"]``.
3. **Users**: only users with at least one relevant item are evaluated (the ranking metrics are
   undefined otherwise). Test users without a relevant item are *not* silently dropped: their
   number is ``df.attrs["n_test_users_without_relevant"]``. Users without training events
   (*cold users*) are evaluated and reported in their own rows, ``group == "cold users"``; all
   others are ``group == "warm users"``. Every value is the mean of the per-user values over the
   group's users, and ``users`` says how many that was.
4. **Beyond accuracy** (coverage, Gini, novelty, personalization, and intra-list diversity when
   ``item_vectors`` are given) is computed on the warm users' top-``k`` lists.

:func:`evaluate_sampled` implements the common shortcut (rank each test item among 100 sampled
items); it exists to show why it misleads.

Modules: :mod:`~coursekit.evaluation.full` (:func:`evaluate`, :func:`evaluate_per_user`),
:mod:`~coursekit.evaluation.sampled` (:func:`evaluate_sampled`, :func:`evaluate_sampled_per_user`),
:mod:`~coursekit.evaluation.relevance` (:func:`relevance_matrix`), :mod:`~coursekit.evaluation.ranking`
(top-``k`` lists, :data:`RANKING_METRICS`, the tidy table), :mod:`~coursekit.evaluation.beyond`
(beyond-accuracy rows) and :mod:`~coursekit.evaluation.checks` (argument checks).
"""
from coursekit.evaluation.full import evaluate, evaluate_per_user
from coursekit.evaluation.ranking import COLD, DEFAULT_METRICS, RANKING_METRICS, WARM
from coursekit.evaluation.relevance import relevance_matrix
from coursekit.evaluation.sampled import SAMPLED_METRICS, evaluate_sampled, evaluate_sampled_per_user

__all__ = ["evaluate", "evaluate_per_user", "evaluate_sampled", "evaluate_sampled_per_user", "relevance_matrix",
           "DEFAULT_METRICS", "RANKING_METRICS", "SAMPLED_METRICS", "WARM", "COLD"]
