"""What a fine-tuning variant costs: trainable parameters and seconds per training step.

Full fine-tuning, LoRA and frozen lower layers differ in how many weights train and so in
the time and memory of a step; :func:`training_step_cost` measures both on a copy of the model.

>>> StepCost(trainable_params=10, total_params=40, seconds_per_step=0.5).trainable_share
0.25
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from coursekit._validation import check_positive_int
from coursekit.finetune.loop import train_cross_encoder
from coursekit.finetune.pairs import Pairs
from coursekit.text.cross_encoder import CrossEncoder

__all__ = ["StepCost", "training_step_cost"]


@dataclass(frozen=True)
class StepCost:
    """Trainable and total parameters, and measured seconds per training step."""

    trainable_params: int
    total_params: int
    seconds_per_step: float

    @property
    def trainable_share(self) -> float:
        """Share of the parameters that train, ``trainable_params / total_params``."""
        return self.trainable_params / self.total_params


def training_step_cost(model: CrossEncoder, pairs: Pairs, *, n_steps: int = 3, batch_size: int = 32,
                       n_neg: int = 3, lora: bool = False, freeze_layers: int = 0, seed: int = 0,
                       **lora_kwargs: Any) -> StepCost:
    """Time ``n_steps`` training steps on a *copy* of ``model`` (after one warm-up step).

    Returns ``StepCost(trainable_params, total_params, seconds_per_step)`` (the median step) for
    comparing full fine-tuning, LoRA and frozen lower layers; ``model`` itself is left untouched.

    Not run as a doctest (it needs a cross-encoder and training pairs; lesson 04 runs it):

    >>> cost = training_step_cost(ce, pairs, lora=True)   # doctest: +SKIP
    >>> cost.trainable_params < cost.total_params          # doctest: +SKIP
    True
    """
    n_steps = check_positive_int(n_steps, "n_steps")
    clone = copy.deepcopy(model)
    result = train_cross_encoder(clone, pairs, None, n_neg=n_neg, batch_size=batch_size, max_steps=n_steps + 1,
                                 lora=lora, freeze_layers=freeze_layers, merge_lora=False, seed=seed,
                                 progress=False, warmup_frac=0.0, **lora_kwargs)
    times = result.history["step_s"].to_numpy()[1:]
    return StepCost(result.trainable_params, result.total_params, float(np.median(times)))
