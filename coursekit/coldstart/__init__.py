"""Cold start (lesson 06): strict protocols, content that exists at creation time, content-to-CF maps,
a DropoutNet-style hybrid, count-gated fusion, new-user onboarding and exploration (bandit policies
and their regret).

* :mod:`.protocols` -- strict cold-item, new-user (onboarding) and warm-up splits and their scoring.
* :mod:`.item_features` -- item vectors from text (TF-IDF, encoders) and the popularity-leak probe.
* :mod:`.alignment` -- does a content similarity agree with the collaborative one?
* :mod:`.attribute_map`, :mod:`.dropoutnet`, :mod:`.fusion` -- three models for items without events.
* :mod:`.text_models` -- text inputs and text models chosen on a validation part, per-bucket tables.
* :mod:`.onboarding` -- new users: fold-in of their first answers, which questions to ask.
* :mod:`.simulator`, :mod:`.bandit_policies`, :mod:`.bandits` -- exploration and its regret.

Importing this package is cheap: torch is imported only when a DropoutNet is fitted.
"""
from coursekit.coldstart.alignment import similarity_alignment, similarity_alignment_se
from coursekit.coldstart.attribute_map import AttributeToFactor, ridge_map
from coursekit.coldstart.bandit_policies import (
                                                UCB1,
                                                BanditPolicy,
                                                BetaThompson,
                                                EpsilonGreedy,
                                                LinearThompson,
                                                LinUCB,
                                                OraclePolicy,
                                                RandomPolicy,
                                                default_policies,
)
from coursekit.coldstart.bandits import plot_regret, regret_summary, run_bandits
from coursekit.coldstart.dropoutnet import DropoutNet
from coursekit.coldstart.fusion import CountGatedHybrid, count_gate, row_standardize
from coursekit.coldstart.item_features import (
                                                ItemVectors,
                                                encoder_item_vectors,
                                                popularity_probe,
                                                popularity_probe_errors,
                                                standardize,
                                                tfidf_item_vectors,
)
from coursekit.coldstart.onboarding import (
                                                STRATEGIES,
                                                answer_questions,
                                                choose_prior_weight,
                                                fold_in_scores,
                                                prior_scores,
                                                profile_scores,
                                                question_items,
                                                text_profile_scores,
)
from coursekit.coldstart.protocols import (
                                                OnboardingSplit,
                                                cold_item_mask,
                                                cold_item_table,
                                                evaluate_cold_items,
                                                item_time_order,
                                                item_warmup_split,
                                                onboarding_split,
                                                order_agreement,
                                                paired_gap,
                                                per_user_ndcg,
                                                restrict_scores,
                                                score_matrix,
                                                strict_cold_items,
)
from coursekit.coldstart.simulator import (
                                                BanditProblem,
                                                bernoulli_problem,
                                                movielens_item_features,
                                                movielens_problem,
                                                shop_problem,
)
from coursekit.coldstart.text_models import (
                                                bucket_table,
                                                history_buckets,
                                                text_inputs,
                                                validate_cold_models,
                                                validation_cold_split,
)

__all__ = [
    # protocols
    "OnboardingSplit", "cold_item_mask", "cold_item_table", "evaluate_cold_items", "item_time_order",
    "item_warmup_split", "onboarding_split", "order_agreement", "paired_gap", "per_user_ndcg", "restrict_scores",
    "score_matrix", "strict_cold_items",
    # item content
    "ItemVectors", "encoder_item_vectors", "popularity_probe", "popularity_probe_errors", "standardize",
    "tfidf_item_vectors", "similarity_alignment", "similarity_alignment_se",
    # text models chosen on validation, per-bucket tables
    "bucket_table", "history_buckets", "text_inputs", "validate_cold_models", "validation_cold_split",
    # models for cold items
    "AttributeToFactor", "ridge_map", "DropoutNet", "CountGatedHybrid", "count_gate", "row_standardize",
    # new users
    "STRATEGIES", "answer_questions", "choose_prior_weight", "fold_in_scores", "prior_scores", "profile_scores",
    "question_items", "text_profile_scores",
    # exploration
    "BanditPolicy", "BetaThompson", "EpsilonGreedy", "LinearThompson", "LinUCB", "OraclePolicy", "RandomPolicy",
    "UCB1", "default_policies", "plot_regret", "regret_summary", "run_bandits", "BanditProblem",
    "bernoulli_problem", "movielens_item_features", "movielens_problem", "shop_problem",
]
