"""The whole recommender system of lesson 08: every stage of the course in one served request.

* :mod:`.pipeline` -- :class:`RecommenderSystem`: ANN retrieval over factor vectors, cross-encoder
  re-ranking, MMR diversification, cold start, "because you bought" explanations, real-time fold-in
  (``observe``) and one-request serving with per-stage timings (``serve``).
* :mod:`.stages` -- pure array helpers of the stages (content vectors of cold items, explanations).
* :mod:`.latency` -- :func:`replay_latency` / :func:`latency_summary`: p50 / p99 per stage over a
  replayed event stream.

This package sits above the topic packages (it may use any of them) and below the runner and
exercises. torch and faiss are imported only when a cross-encoder runs or an HNSW index is built.
"""
from coursekit.system.latency import latency_summary, replay_latency
from coursekit.system.pipeline import STAGES, RecommenderSystem, Served
from coursekit.system.stages import content_item_vectors, most_similar_history

__all__ = ["RecommenderSystem", "Served", "STAGES", "content_item_vectors", "most_similar_history", "replay_latency",
           "latency_summary"]
