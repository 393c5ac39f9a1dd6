"""Cold start (lesson 06): strict protocols, content that exists at creation time, content-to-CF maps,
a DropoutNet-style hybrid, count-gated fusion, new-user onboarding and (bandits.py) exploration.

Importing this package is cheap: torch is imported only when a DropoutNet is fitted.
"""
from coursekit.coldstart.alignment import similarity_alignment, similarity_alignment_se
from coursekit.coldstart.attribute_map import AttributeToFactor, ridge_map
from coursekit.coldstart.content import (encoder_item_vectors, popularity_probe, popularity_probe_errors, standardize,
                                        tfidf_item_vectors)
from coursekit.coldstart.dropoutnet import DropoutNet
from coursekit.coldstart.fusion import CountGatedHybrid, count_gate, row_standardize
from coursekit.coldstart.onboarding import (STRATEGIES, answer_questions, choose_prior_weight, fold_in_scores,
                                            fold_in_users, prior_scores, profile_scores, question_items,
                                            text_profile_scores)
from coursekit.coldstart.protocols import (OnboardingSplit, cold_item_mask, evaluate_cold_items,
                                           item_time_order, item_warmup_split, onboarding_split,
                                           restrict_scores, score_matrix, strict_cold_items, cold_item_table,
                                           per_user_ndcg, paired_gap, order_agreement)

__all__ = [
    "similarity_alignment", "similarity_alignment_se", "AttributeToFactor", "ridge_map", "encoder_item_vectors",
    "popularity_probe", "popularity_probe_errors",
    "standardize", "tfidf_item_vectors", "DropoutNet", "CountGatedHybrid", "count_gate", "row_standardize",
    "STRATEGIES", "answer_questions", "choose_prior_weight", "prior_scores", "fold_in_scores", "fold_in_users",
    "profile_scores", "question_items",
    "text_profile_scores", "OnboardingSplit", "cold_item_mask", "evaluate_cold_items", "item_time_order",
    "item_warmup_split", "onboarding_split", "restrict_scores", "score_matrix", "strict_cold_items",
    "cold_item_table", "per_user_ndcg", "paired_gap", "order_agreement",
]

# issue 7, item 6 (bandits; H-bandits): exploration for new items and users, simulator with true rewards
from coursekit.coldstart.bandits import (BanditPolicy, BetaThompson, EpsilonGreedy, LinearThompson, LinUCB,
                                         OraclePolicy, RandomPolicy, UCB1, default_policies, plot_regret,
                                         regret_summary, run_bandits)
from coursekit.coldstart.simulator import (BanditProblem, bernoulli_problem, movielens_item_features,
                                           movielens_problem, shop_problem)

__all__ += ["BanditPolicy", "BetaThompson", "EpsilonGreedy", "LinearThompson", "LinUCB", "OraclePolicy",
            "RandomPolicy", "UCB1", "default_policies", "plot_regret", "regret_summary", "run_bandits",
            "BanditProblem", "bernoulli_problem", "movielens_item_features", "movielens_problem", "shop_problem"]
