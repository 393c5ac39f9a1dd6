r"""Sanity checks before results: can the model fit anything, and what does "learned nothing" look like?

**Overfit one batch.** A model and training loop that work can memorise a handful of labelled
pairs: repeated gradient steps on one fixed batch :math:`B` drive the binary cross-entropy

.. math::

    \mathcal{L}_B = -\frac{1}{|B|} \sum_{(h, c, y) \in B}
        \Big[ y \log \sigma(z_{hc}) + (1 - y) \log\big(1 - \sigma(z_{hc})\big) \Big]

towards 0. If it does not fall, the bug is in the pipeline (labels, head, learning rate, frozen
weights), not in the data, and no result of a longer training run means anything.

**The label prior.** A model that ignores its input and predicts the share of positives
:math:`p` for every pair reaches the loss

.. math::

    H(p) = -p \ln p - (1 - p) \ln (1 - p),

so a training loss that levels off at :math:`H(p)` means the model learned the base rate only.
With 1 positive and ``n_neg`` sampled negatives, :math:`p = 1 / (1 + n_\text{neg})`.

>>> round(label_prior_entropy(0.25), 4)
0.5623
>>> from coursekit.text.cross_encoder import CrossEncoder
>>> losses = overfit_one_batch(CrossEncoder.tiny(), ["red shoe", "red hat"], ["red mug", "blue mug"], [1, 0],
...                            steps=30, lr=1e-2)
>>> len(losses), losses[-1] < 0.05 < losses[0]
(30, True)
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.text.cross_encoder import CrossEncoder

__all__ = ["overfit_one_batch", "label_prior_entropy"]


def label_prior_entropy(p: float) -> float:
    r"""Binary cross-entropy of always predicting the positive share: :math:`H(p) = -p\ln p - (1-p)\ln(1-p)`.

    Parameters
    ----------
    p : float
        Share of positive labels, in [0, 1] (``1 / (1 + n_neg)`` for 1:``n_neg`` sampling).

    Returns
    -------
    float
        The loss (nats) of a model that learned the base rate and nothing else.

    >>> label_prior_entropy(0.5) == math.log(2)
    True
    """
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise CourseKitError(f"p must be a share of positives in [0, 1], got p={p}.")
    return float(-sum(q * math.log(q) for q in (p, 1.0 - p) if q > 0.0))


def overfit_one_batch(model: CrossEncoder, histories: Sequence[str], candidates: Sequence[str],
                      labels: Sequence[float] | np.ndarray, *, steps: int = 50, lr: float = 1e-3,
                      seed: int = 0) -> list[float]:
    r"""Train ``model`` on one fixed batch for ``steps`` Adam steps; return the BCE after each step.

    A pipeline check: a working model and loss memorise a few pairs, so the loss falls towards 0.
    Dropout is switched off (eval mode) so the curve shows fitting only; the weights that require
    gradients (respecting frozen layers or LoRA adapters) change **in place**, so use a copy of
    the model you want to keep.

    Parameters
    ----------
    model : CrossEncoder
        A binary cross-encoder (``task="binary"``).
    histories, candidates : sequence of str
        The batch's pairs, one history per candidate.
    labels : sequence of float
        0/1 labels, one per pair.
    steps : int
        Optimisation steps on the same batch.
    lr : float
        Adam's learning rate (constant; no schedule, no weight decay).
    seed : int
        Seeds torch (only matters for models with randomness left in them).

    Returns
    -------
    list of float
        The training loss :math:`\mathcal{L}_B` measured at each step (before its update).
    """
    import torch

    steps = check_positive_int(steps, "steps")
    if model.task != "binary":
        raise CourseKitError(f"overfit_one_batch checks the binary task, the model has task={model.task!r}.")
    y = np.asarray(labels, dtype=np.float32)
    if y.ndim != 1 or len(y) != len(histories) or len(y) != len(candidates):
        raise CourseKitError(f"labels must hold one 0/1 value per pair: {len(histories)} histories, "
                             f"{len(candidates)} candidates, labels of shape {y.shape}.")
    if not np.isin(y, (0.0, 1.0)).all():
        raise CourseKitError("labels must be 0 or 1 (binary cross-entropy).")
    params = [p for p in model.model.parameters() if p.requires_grad]
    if not params:
        raise CourseKitError("the model has no trainable parameters (everything frozen?).")
    torch.manual_seed(seed)
    batch = model.encode(list(histories), list(candidates))
    target = torch.tensor(y, device=model.device)
    optimizer = torch.optim.Adam(params, lr=float(lr))
    bce = torch.nn.BCEWithLogitsLoss()
    losses: list[float] = []
    model.model.eval()
    for _ in range(steps):
        loss = bce(model.forward_logits(batch), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses
