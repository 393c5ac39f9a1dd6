r"""Language models as recommenders (lesson 09): generative retrieval, LLM ranking, generated explanations.

* :mod:`coursekit.generative.semantic_ids` -- item codes by residual quantisation of text embeddings
  (residual k-means), a collision token, and what shared prefixes mean against the shop's truth.
* :mod:`coursekit.generative.trie` -- a prefix trie of the catalogue's codes and (constrained) beam search.
* :mod:`coursekit.generative.retrieval` -- :class:`GenerativeRetriever`: a GPT-2 over semantic-ID tokens
  that decodes the next item (TIGER-style generative retrieval).
* :mod:`coursekit.generative.lm` -- a word-level tokenizer and a small causal LM trained on the shop's
  product copy, reviews and purchase histories; any hub model by id when online; sequence log-likelihoods.
* :mod:`coursekit.generative.lm_ranker` -- a causal LM as a zero-shot ranker of candidate lists, and its
  position and popularity biases.
* :mod:`coursekit.generative.explanations` -- "why you might like this" written by the LM, the attributes
  each sentence asserts, and the hallucination rate against the item's true attributes.
"""
from coursekit.generative.explanations import (
    check_explanations,
    explanation_prompt,
    extract_attributes,
    generate_explanations,
    hallucination_summary,
    item_attribute_sets,
    liked_attribute_sets,
    template_explanations,
)
from coursekit.generative.lm import (
    build_causal_lm,
    load_causal_lm,
    sequence_log_likelihood,
    shop_corpus,
    train_causal_lm,
    train_tokenizer,
)
from coursekit.generative.lm_ranker import LMRanker, popularity_correlation, position_bias
from coursekit.generative.retrieval import GenerativeRetriever, top_lists_to_scores
from coursekit.generative.semantic_ids import prefix_agreement, residual_kmeans, semantic_ids
from coursekit.generative.trie import PrefixTrie, beam_search, constrained_beam_search

__all__ = ["semantic_ids", "residual_kmeans", "prefix_agreement", "PrefixTrie", "constrained_beam_search",
           "beam_search", "GenerativeRetriever", "top_lists_to_scores", "train_tokenizer", "shop_corpus",
           "build_causal_lm", "train_causal_lm", "load_causal_lm", "sequence_log_likelihood", "LMRanker",
           "position_bias", "popularity_correlation", "explanation_prompt", "generate_explanations",
           "extract_attributes", "check_explanations", "hallucination_summary", "item_attribute_sets",
           "liked_attribute_sets", "template_explanations"]
