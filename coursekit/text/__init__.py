"""Text side of coursekit: item texts, a BERT-style text encoder with an embedding cache, the cross-encoder.

Importing :mod:`coursekit.text` is cheap: torch and transformers are imported only when a
model is actually loaded. The public names are loaded on first use (:func:`coursekit._lazy.attach`):

* :mod:`coursekit.text.items`: ``movielens_item_text``, ``shop_item_text``, ``item_texts``, ``item_summaries``,
  ``align_item_texts``, ``history_text``, ``user_histories``;
* :mod:`coursekit.text.encoder`: ``resolve_model``, ``TextEncoder``, ``load_tokenizer``,
  ``load_encoder_model``, ``mean_pool``, ``DEFAULT_MODEL``, ``make_tiny_bert``, ``quiet_loading``;
* :mod:`coursekit.text.cross_encoder`: ``CrossEncoder`` (trained by :mod:`coursekit.finetune`).

(``tests/test_text.py`` checks in a fresh interpreter that ``import coursekit.text`` loads
neither torch nor transformers.)

>>> from coursekit.text import history_text
>>> history_text(["red scarf", "blue hat"], max_words=10)
'red scarf | blue hat'
"""
from __future__ import annotations

import warnings

from coursekit._lazy import attach

# transformers and huggingface_hub import ``tqdm.auto``; in a Jupyter kernel without ipywidgets that
# import warns "IProgress not found" (a TqdmWarning) although plain-text bars work. The course's
# progress bars are off or plain, so the warning is only noise in the lessons.
warnings.filterwarnings("ignore", message="IProgress not found")

_ITEMS = "coursekit.text.items"
_ENCODER = "coursekit.text.encoder"
__getattr__, __dir__, __all__ = attach(__name__, {
    "movielens_item_text": _ITEMS, "shop_item_text": _ITEMS, "item_texts": _ITEMS, "item_summaries": _ITEMS,
    "align_item_texts": _ITEMS,
    "history_text": _ITEMS, "user_histories": _ITEMS,
    "resolve_model": _ENCODER, "TextEncoder": _ENCODER, "load_tokenizer": _ENCODER, "load_encoder_model": _ENCODER,
    "mean_pool": _ENCODER, "DEFAULT_MODEL": _ENCODER, "make_tiny_bert": _ENCODER, "quiet_loading": _ENCODER,
    "CrossEncoder": "coursekit.text.cross_encoder",
}, submodules=("items", "encoder", "cross_encoder", "pair_inputs"))
