"""Real-time recommendation: replay a log as a stream, update users online, evaluate prequentially.

* :mod:`coursekit.stream.replay` -- :class:`Replay`, time-ordered events with a warm-up part.
* :mod:`coursekit.stream.online` -- :class:`OnlineRecommender` and its implementations.
* :mod:`coursekit.stream.prequential` -- test-then-train evaluation and sliding-window curves.
* :mod:`coursekit.stream.drift` -- how fast an updater follows the shop's known taste drifts.
"""
from coursekit.stream.online import (DecayedProfile, FoldInUpdater, FrozenModel, OnlineRecommender, OnlineSGD,
                                     PeriodicRetrain, RecencyPopularity, SequenceUpdater, top_k_1d)
from coursekit.stream.prequential import compare_prequential, prequential, sliding_mean, summary
from coursekit.stream.replay import Event, EventBatch, Replay, time_order

__all__ = [
    "Replay", "Event", "EventBatch", "time_order",
    "OnlineRecommender", "DecayedProfile", "FoldInUpdater", "OnlineSGD", "SequenceUpdater",
    "RecencyPopularity", "FrozenModel", "PeriodicRetrain", "top_k_1d",
    "prequential", "sliding_mean", "compare_prequential", "summary",
]
