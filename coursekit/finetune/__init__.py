r"""Fine-tuning a cross-encoder on interaction logs: pairs, negatives, the training loop, its cost.

The topic of lesson 04: turn a log into (history text, candidate text) pairs, train a
:class:`~coursekit.text.cross_encoder.CrossEncoder` to tell the item a user took next from
sampled negatives, and check it on held-out pairs. One module per concept:

* :mod:`~coursekit.finetune.pairs`: :class:`Pairs`, :func:`make_pairs`;
* :mod:`~coursekit.finetune.negatives`: uniform and hard negatives (:func:`sample_pair_negatives`,
  :func:`hard_negative_sample`, :func:`with_negatives`);
* :mod:`~coursekit.finetune.adapters`: LoRA (:func:`apply_lora`) or frozen lower layers
  (:func:`freeze_lower_layers`);
* :mod:`~coursekit.finetune.loop`: :func:`train_cross_encoder` (binary cross-entropy),
  :func:`train_rating_regressor` (MSE on ratings), :class:`TrainResult`;
* :mod:`~coursekit.finetune.auc`: :func:`binary_auc`, :func:`auc_standard_error`, :func:`group_auc`;
* :mod:`~coursekit.finetune.cost`: :func:`training_step_cost` (parameters and seconds per step);
* :mod:`~coursekit.finetune.sanity`: :func:`overfit_one_batch` (can it memorise one batch?),
  :func:`label_prior_entropy` (the loss of predicting the base rate);
* :mod:`~coursekit.finetune.shared_model`: :func:`lesson04_cross_encoder` (lesson 04's saved model for the
  later lessons, or one trained with its recipe).

Importing it is cheap: torch, transformers and peft are imported when a model trains.

Example
-------
.. code-block:: python

    from coursekit.datasets import load_shop
    from coursekit.splits import global_temporal_split
    from coursekit.text.items import item_texts
    from coursekit.text.cross_encoder import CrossEncoder
    from coursekit.finetune import make_pairs, train_cross_encoder
    shop = load_shop(); split = global_temporal_split(shop.to_interactions(), 0.2, valid_frac=0.1)
    texts = item_texts(shop)
    train_pairs = make_pairs(split.train, None, texts, max_pairs=2000)
    valid_pairs = make_pairs(split.train, split.valid, texts, max_pairs=200)
    ce = CrossEncoder.from_pretrained()
    result = train_cross_encoder(ce, train_pairs, valid_pairs, max_steps=30)

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": [1, 1], "item_id": [1, 2], "timestamp": [1, 2]})
>>> pairs = make_pairs(Interactions.from_frame(log), None, {1: "red shoe", 2: "blue hat"})
>>> pairs.histories, pairs.candidates
(['red shoe'], ['blue hat'])
"""
from coursekit.finetune.adapters import apply_lora, freeze_lower_layers
from coursekit.finetune.auc import auc_standard_error, binary_auc, group_auc
from coursekit.finetune.cost import StepCost, training_step_cost
from coursekit.finetune.loop import TrainResult, train_cross_encoder, train_rating_regressor
from coursekit.finetune.negatives import hard_negative_sample, sample_pair_negatives, with_negatives
from coursekit.finetune.pairs import Pairs, make_pairs
from coursekit.finetune.sanity import label_prior_entropy, overfit_one_batch
from coursekit.finetune.shared_model import lesson04_checkpoint_name, lesson04_cross_encoder

__all__ = ["Pairs", "TrainResult", "StepCost", "make_pairs", "sample_pair_negatives",
           "hard_negative_sample", "with_negatives", "apply_lora", "freeze_lower_layers", "train_cross_encoder",
           "train_rating_regressor", "training_step_cost", "binary_auc", "auc_standard_error", "group_auc",
           "overfit_one_batch", "label_prior_entropy", "lesson04_checkpoint_name", "lesson04_cross_encoder"]
