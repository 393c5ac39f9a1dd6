"""coursekit: tested reference implementations for the recommender systems course.

``import coursekit`` is fast: heavy modules (torch, transformers) are imported only by
the modules that need them. The names below are loaded on first use.
"""
from __future__ import annotations

import importlib

from coursekit._validation import CourseKitError, NotFittedError, UnknownIdError
from coursekit.interactions import IdMap, Interactions

__version__ = "0.1.0"

_LAZY = {
    "evaluate": "coursekit.evaluation",
    "Dataset": "coursekit.datasets",
    "load_dataset": "coursekit.datasets",
    "load_movielens": "coursekit.datasets",
    "load_shop": "coursekit.datasets",
    "make_shop": "coursekit.datasets",
    "record": "coursekit.record",
}
_SUBMODULES = {"datasets", "splits", "metrics", "models", "evaluation", "exercises", "plotting", "plotting_cf",
               "record", "env", "text", "stream", "runner", "coldstart", "explain", "trust"}

__all__ = ["CourseKitError", "NotFittedError", "UnknownIdError", "IdMap", "Interactions", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"coursekit.{name}")
    raise AttributeError(f"module 'coursekit' has no attribute {name!r}")
