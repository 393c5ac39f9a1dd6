"""Text side of coursekit: item texts, a BERT-style text encoder with an embedding cache.

Importing :mod:`coursekit.text` is cheap: torch and transformers are imported only when a
model is actually loaded. The public names are loaded on first use:

* :mod:`coursekit.text.items`: ``movielens_item_text``, ``shop_item_text``, ``item_texts``,
  ``history_text``, ``user_histories``;
* :mod:`coursekit.text.encoder`: ``resolve_model``, ``TextEncoder``, ``load_tokenizer``,
  ``load_encoder_model``, ``mean_pool``, ``DEFAULT_MODEL``, ``quiet_loading``.

>>> import sys, coursekit.text
>>> "transformers" in sys.modules and "torch" in sys.modules  # doctest: +SKIP
False
"""
from __future__ import annotations

import importlib
import warnings

# transformers and huggingface_hub import ``tqdm.auto``; in a Jupyter kernel without ipywidgets that
# import warns "IProgress not found" (a TqdmWarning) although plain-text bars work. The course's
# progress bars are off or plain, so the warning is only noise in the lessons.
warnings.filterwarnings("ignore", message="IProgress not found")

_LAZY = {
    "movielens_item_text": "coursekit.text.items",
    "shop_item_text": "coursekit.text.items",
    "item_texts": "coursekit.text.items",
    "history_text": "coursekit.text.items",
    "user_histories": "coursekit.text.items",
    "resolve_model": "coursekit.text.encoder",
    "TextEncoder": "coursekit.text.encoder",
    "load_tokenizer": "coursekit.text.encoder",
    "load_encoder_model": "coursekit.text.encoder",
    "mean_pool": "coursekit.text.encoder",
    "DEFAULT_MODEL": "coursekit.text.encoder",
    "make_tiny_bert": "coursekit.text.encoder",
    "quiet_loading": "coursekit.text.encoder",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'coursekit.text' has no attribute {name!r}")
