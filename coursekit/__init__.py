"""coursekit: tested reference implementations for the recommender systems course.

``import coursekit`` is fast: heavy modules (torch, transformers) are imported only by
the modules that need them. The names below and the subpackages are loaded on first use
(:func:`coursekit._lazy.attach`).
"""
from __future__ import annotations

from coursekit._lazy import attach
from coursekit._validation import CourseKitError, NotFittedError, UnknownIdError
from coursekit.interactions import IdMap, Interactions

__version__ = "0.1.0"

_SUBMODULES = ("datasets", "interactions", "splits", "metrics", "models", "evaluation", "exercises", "plotting",
               "record", "env", "text", "finetune", "stream", "runner", "coldstart", "explain", "trust", "claims",
               "tuning")

__getattr__, __dir__, _LAZY_NAMES = attach(__name__, {
    "evaluate": "coursekit.evaluation",
    "Dataset": "coursekit.datasets",
    "load_dataset": "coursekit.datasets",
    "load_movielens": "coursekit.datasets",
    "load_shop": "coursekit.datasets",
    "make_shop": "coursekit.datasets",
    "record": "coursekit.record",
}, submodules=_SUBMODULES)

__all__ = ["CourseKitError", "NotFittedError", "UnknownIdError", "IdMap", "Interactions", *_LAZY_NAMES]
