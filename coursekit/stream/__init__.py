"""Real-time recommendation: replay a log as a stream, update users online, evaluate prequentially.

* :mod:`coursekit.stream.replay` -- :class:`Replay`, time-ordered events with a warm-up part.
* :mod:`coursekit.stream.online` -- :class:`OnlineRecommender`, the interface every updater follows.
* Updaters: :mod:`~coursekit.stream.profile` (:class:`DecayedProfile`), :mod:`~coursekit.stream.foldin`
  (:class:`FoldInUpdater`), :mod:`~coursekit.stream.sgd` (:class:`OnlineSGD`),
  :mod:`~coursekit.stream.sequence` (:class:`SequenceUpdater`), and the baselines of
  :mod:`~coursekit.stream.baselines` (:class:`RecencyPopularity`, :class:`FrozenModel`,
  :class:`PeriodicRetrain`).
* :mod:`coursekit.stream.prequential` -- test-then-train evaluation and sliding-window curves.
* :mod:`coursekit.stream.drift` -- how fast an updater follows the shop's known taste drifts.
* :mod:`coursekit.stream.latency` -- time per update and per request.
"""
from coursekit.stream.baselines import FrozenModel, PeriodicRetrain, RecencyPopularity
from coursekit.stream.foldin import FoldInUpdater
from coursekit.stream.online import OnlineRecommender, top_k_1d
from coursekit.stream.prequential import compare_prequential, prequential, sliding_mean, summary
from coursekit.stream.profile import DecayedProfile
from coursekit.stream.replay import Event, EventBatch, Replay
from coursekit.stream.sequence import SequenceUpdater
from coursekit.stream.sgd import OnlineSGD

__all__ = [
    "Replay", "Event", "EventBatch",
    "OnlineRecommender", "DecayedProfile", "FoldInUpdater", "OnlineSGD", "SequenceUpdater",
    "RecencyPopularity", "FrozenModel", "PeriodicRetrain", "top_k_1d",
    "prequential", "sliding_mean", "compare_prequential", "summary",
]
