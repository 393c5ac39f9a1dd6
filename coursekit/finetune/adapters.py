r"""Parameter-efficient fine-tuning: LoRA adapters, or frozen lower layers.

``apply_lora`` wraps the model with ``peft`` LoRA adapters on the attention query/value
projections: a frozen weight :math:`W` becomes

.. math:: W + \frac{\alpha}{r} B A, \qquad A \in \mathbb{R}^{r \times d},\; B \in \mathbb{R}^{d \times r},

with trainable :math:`A, B` (:math:`B = 0` at the start, so the model starts unchanged) plus the
trainable classification head. ``freeze_lower_layers`` freezes the embeddings and the lowest
``n`` transformer layers instead. Both take a :class:`~coursekit.text.cross_encoder.CrossEncoder`
and return it, changed in place.

>>> from coursekit.text.cross_encoder import CrossEncoder
>>> ce = freeze_lower_layers(CrossEncoder.tiny(), 1)
>>> trainable, total = ce.parameter_counts()
>>> 0 < trainable < total
True
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.text.cross_encoder import CrossEncoder

__all__ = ["apply_lora", "freeze_lower_layers"]


def apply_lora(cross_encoder: CrossEncoder, r: int = 8, alpha: int = 16, dropout: float = 0.05,
               target_modules: Sequence[str] = ("query", "value")) -> CrossEncoder:
    r"""Wrap ``cross_encoder.model`` with ``peft`` LoRA adapters (task ``SEQ_CLS``); returns the encoder.

    Only the adapters :math:`A, B` on ``target_modules`` and the classification head train;
    every other weight is frozen.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    if cross_encoder.is_lora:
        raise CourseKitError("this cross-encoder already has LoRA adapters; merge_lora() first or reuse it.")
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=check_positive_int(r, "r"), lora_alpha=alpha,
                        lora_dropout=dropout, target_modules=list(target_modules))
    with warnings.catch_warnings():   # peft calls a transformers method deprecated in v5: not the user's concern
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        cross_encoder.model = get_peft_model(cross_encoder.model, config)
    return cross_encoder


def _backbone(model: Any) -> Any:
    base = getattr(model, "base_model", model)
    if hasattr(base, "model") and not hasattr(base, "embeddings"):  # peft LoraModel -> transformers model
        base = getattr(base.model, "base_model", base.model)
    if not (hasattr(base, "embeddings") and hasattr(getattr(base, "encoder", None), "layer")):
        raise CourseKitError(f"cannot find embeddings/encoder.layer in {type(model).__name__}; freeze_layers "
                             "supports BERT-style models (BERT, MiniLM, RoBERTa).")
    return base


def freeze_lower_layers(cross_encoder: CrossEncoder, n_layers: int) -> CrossEncoder:
    """Freeze the embeddings and the lowest ``n_layers`` transformer layers; returns the encoder."""
    base = _backbone(cross_encoder.model)
    layers = base.encoder.layer
    if not 0 <= n_layers <= len(layers):
        raise CourseKitError(f"freeze_layers must be between 0 and the {len(layers)} layers of the model, "
                             f"got {n_layers}.")
    for module in [base.embeddings, *layers[:n_layers]]:
        for p in module.parameters():
            p.requires_grad_(False)
    return cross_encoder
