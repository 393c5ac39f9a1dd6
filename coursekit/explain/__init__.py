"""Explanations of recommendations and their measured faithfulness (lesson 07).

* :func:`explain` -- one interface over a user's history: exact (ItemKNN, EASE), KernelSHAP, LIME,
  counterfactual (:mod:`.api`).
* :mod:`.history` -- scoring a user with a modified history without refitting (the value function).
* :mod:`.integrated_gradients` -- captum integrated gradients for the BERT cross-encoder (tokens,
  words, history items).
* :mod:`.attributes` -- attribute explanations on the shop ("for its brand and price band").
* :mod:`.templates` -- natural-language explanations filled only with what an explainer found.
* :mod:`.faithfulness` -- deletion/insertion curves (the share of the history's gain left, clipped to
  [0, 1]), agreement with exact explanations.
* :mod:`.window` -- which history items a cross-encoder reads whole (the features an explanation may use).

torch, captum and shap are imported only inside the functions that need them.
"""
from coursekit.explain.api import METHODS, explain
from coursekit.explain.contributions import aligned, contributions_frame
from coursekit.explain.counterfactual import Counterfactual, counterfactual
from coursekit.explain.exact import exact_contributions, is_additive
from coursekit.explain.history import HistoryScorer, history_scorer, score_with_history
from coursekit.explain.lime import lime_values
from coursekit.explain.shapley import kernel_shap_values

__all__ = ["METHODS", "explain", "aligned", "contributions_frame", "Counterfactual", "counterfactual",
           "exact_contributions", "is_additive", "HistoryScorer", "history_scorer", "score_with_history",
           "lime_values", "kernel_shap_values"]
