r"""Fine-tuning loops: the cross-encoder as a binary scorer, or as a rating predictor.

**Binary loss.** With logit :math:`z` and label :math:`y \in \{0, 1\}`, the loss of a batch
:math:`B` is the binary cross-entropy on :math:`\sigma(z)`, computed stably from the logits
(``torch.nn.BCEWithLogitsLoss``):

.. math::

    \mathcal{L} = -\frac{1}{|B|} \sum_{(u,i) \in B}
        \Big[ y_{ui} \log \sigma(z_{ui}) + (1 - y_{ui}) \log\big(1 - \sigma(z_{ui})\big) \Big].

Each positive pair is followed by ``n_neg`` negatives (:mod:`coursekit.finetune.negatives`),
fresh each epoch, seeded.

**Optimisation.** AdamW (decoupled weight decay, none on biases and LayerNorm weights), the
learning rate rising linearly over the first ``warmup_frac`` of the steps and then falling
linearly to 0 (``transformers.get_linear_schedule_with_warmup``), gradients clipped to norm
``max_grad_norm``. Every ``eval_every`` steps the validation pairs (negatives drawn once, so the
numbers are comparable) give a loss and an AUC; training stops after ``patience`` evaluations
without improvement and the best weights are restored.

**Ratings.** :func:`train_rating_regressor` fits the same architecture with mean squared error
on standardised ratings :math:`(r - \mu)/s`, to be compared with matrix factorisation's RMSE
on the same test pairs.

>>> import pandas as pd
>>> from coursekit.finetune.pairs import make_pairs
>>> from coursekit.interactions import Interactions
>>> from coursekit.text.cross_encoder import CrossEncoder
>>> log = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": [1, 2, 3, 1, 4], "timestamp": [1, 2, 3, 1, 2]})
>>> pairs = make_pairs(Interactions.from_frame(log), None, {k: f"item {k}" for k in range(1, 5)})
>>> result = train_cross_encoder(CrossEncoder.tiny(), pairs, n_neg=1, batch_size=2, max_steps=2, progress=False)
>>> result.n_steps, result.stopped_by
(2, 'max_steps')
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_choice, check_positive_int
from coursekit.finetune.adapters import apply_lora, freeze_lower_layers
from coursekit.finetune.auc import binary_auc
from coursekit.finetune.negatives import with_negatives
from coursekit.finetune.pairs import Pairs
from coursekit.text.cross_encoder import CrossEncoder

__all__ = ["TrainResult", "train_cross_encoder", "train_rating_regressor"]


@dataclass
class TrainResult:
    """What a training run did.

    ``history`` has one row per step (``step, train_loss, lr, step_s``) and, on evaluation
    steps, ``valid_loss`` and ``valid_auc`` (binary) or ``valid_rmse`` (ratings).
    ``stopped_by`` is ``"epochs"``, ``"max_steps"``, ``"time_budget"`` or ``"early_stopping"``.
    """

    history: pd.DataFrame
    best_step: int | None
    best_value: float | None
    monitor: str
    stopped_by: str
    n_steps: int
    trainable_params: int
    total_params: int
    seconds_per_step: float
    train_seconds: float

    def __repr__(self) -> str:
        return (f"TrainResult(steps={self.n_steps}, stopped_by={self.stopped_by!r}, best {self.monitor}="
                f"{self.best_value} at step {self.best_step}, trainable={self.trainable_params:,}/"
                f"{self.total_params:,}, {self.seconds_per_step:.3f} s/step, {self.train_seconds:.1f} s)")


def cycling_batches(n: int, size: int) -> Callable[[np.random.Generator], np.ndarray]:
    """A function ``rng -> indices`` giving batches of ``size`` that walk a new permutation of ``range(n)`` each epoch.

    The last batch of an epoch may be shorter; the next call starts a new epoch.

    >>> take = cycling_batches(5, 2)
    >>> rng = np.random.default_rng(0)
    >>> sorted(np.concatenate([take(rng) for _ in range(3)]).tolist())   # one epoch: every index once
    [0, 1, 2, 3, 4]
    """
    state = {"order": np.zeros(0, np.int64), "pos": 0}

    def take(rng: np.random.Generator) -> np.ndarray:
        if state["pos"] >= len(state["order"]):
            state["order"], state["pos"] = rng.permutation(n), 0
        idx = state["order"][state["pos"]:state["pos"] + size]
        state["pos"] += size
        return idx

    return take


def _param_groups(model: Any, weight_decay: float, lr: float, head_lr: float | None) -> list[dict]:
    """AdamW groups: no decay on biases and LayerNorm weights; the new head at ``head_lr`` if given."""
    groups: dict[tuple[bool, bool], list] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            no_decay = p.ndim < 2 or "LayerNorm" in name or "bias" in name
            is_head = head_lr is not None and "classifier" in name
            groups.setdefault((no_decay, is_head), []).append(p)
    return [{"params": ps, "weight_decay": 0.0 if nd else weight_decay, "lr": head_lr if head else lr}
            for (nd, head), ps in groups.items()]


def _run(model: CrossEncoder, next_batch: Callable[[np.random.Generator], tuple], loss_fn: Callable,
         evaluate: Callable[[], dict] | None, *, monitor: str, higher_is_better: bool, steps_per_epoch: int,
         epochs: int, max_steps: int | None, time_budget_s: float | None, lr: float, head_lr: float | None,
         weight_decay: float,
         warmup_frac: float, max_grad_norm: float, eval_every: int | None, patience: int, restore_best: bool,
         seed: int, progress: bool, desc: str) -> TrainResult:
    """The shared optimisation loop (AdamW, linear warmup/decay, clipping, early stopping)."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    total = steps_per_epoch * check_positive_int(epochs, "epochs")
    if max_steps is not None:
        total = min(total, check_positive_int(max_steps, "max_steps"))
    eval_every = check_positive_int(eval_every, "eval_every") if eval_every else max(1, min(steps_per_epoch,
                                                                                            math.ceil(total / 5)))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = model.model
    params = [p for p in net.parameters() if p.requires_grad]
    if not params:
        raise CourseKitError("the model has no trainable parameters (everything frozen?).")
    optimizer = torch.optim.AdamW(_param_groups(net, weight_decay, lr, head_lr), lr=lr)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(round(warmup_frac * total)), total)
    fp16 = model.device.startswith("cuda") and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler("cuda") if fp16 else None
    trainable, n_total = model.parameter_counts()
    rows: list[dict] = []
    best_value, best_step, best_state, bad = None, None, None, 0
    stopped_by = "max_steps" if max_steps is not None and total == max_steps else "epochs"
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit="step")
    start = time.perf_counter()
    step = 0
    try:
        while step < total:
            net.train()
            t0 = time.perf_counter()
            batch, target = next_batch(rng)
            loss = loss_fn(model.forward_logits(batch), target)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
            else:
                loss.backward()
            torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            scheduler.step()
            step += 1
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"training loss became {loss_value} at step {step}; lower lr.")
            row = {"step": step, "train_loss": loss_value, "lr": scheduler.get_last_lr()[0],
                   "step_s": time.perf_counter() - t0}
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.4f}")
            out_of_time = time_budget_s is not None and time.perf_counter() - start > time_budget_s
            if evaluate is not None and (step % eval_every == 0 or step == total or out_of_time):
                metrics = evaluate()
                row.update(metrics)
                value = metrics[monitor]
                improved = best_value is None or (value > best_value if higher_is_better else value < best_value)
                if improved:
                    best_value, best_step, bad = value, step, 0
                    if restore_best:
                        best_state = {n: p.detach().clone() for n, p in net.named_parameters() if p.requires_grad}
                else:
                    bad += 1
                if bar is not None:
                    bar.set_postfix(loss=f"{loss_value:.4f}", **{monitor: f"{value:.4f}"})
            rows.append(row)
            if evaluate is not None and bad >= patience:
                stopped_by = "early_stopping"
                break
            if out_of_time:   # (the last step was evaluated above, so the best weights are known)
                stopped_by = "time_budget"
                break
    finally:
        if bar is not None:
            bar.close()
        net.eval()
    train_seconds = time.perf_counter() - start
    if best_state is not None:
        with torch.no_grad():
            for n, p in net.named_parameters():
                if n in best_state:
                    p.copy_(best_state[n])
    step_s = [r["step_s"] for r in rows]
    per_step = float(np.median(step_s[1:] if len(step_s) > 1 else step_s))
    return TrainResult(pd.DataFrame(rows), best_step, None if best_value is None else float(best_value), monitor,
                       stopped_by, step, trainable, n_total, per_step, train_seconds)


def _prepare(model: CrossEncoder, lora: bool, freeze_layers: int, lora_r: int, lora_alpha: int,
             lora_dropout: float, lora_target_modules: Sequence[str], seed: int) -> None:
    import torch

    if lora and freeze_layers:
        raise CourseKitError("choose either lora=True or freeze_layers=n, not both.")
    if lora:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            apply_lora(model, lora_r, lora_alpha, lora_dropout, lora_target_modules)
    elif freeze_layers:
        freeze_lower_layers(model, freeze_layers)


def train_cross_encoder(model: CrossEncoder, train_pairs: Pairs, valid_pairs: Pairs | None = None, *,
                        n_neg: int = 3, batch_size: int = 32, epochs: int = 1, max_steps: int | None = None,
                        time_budget_s: float | None = None, lr: float | None = None, weight_decay: float = 0.01,
                        warmup_frac: float = 0.1, max_grad_norm: float = 1.0, eval_every: int | None = None,
                        patience: int = 3, monitor: str = "valid_auc", max_valid_pairs: int = 200,
                        lora: bool = False, lora_r: int = 8, lora_alpha: int = 16, lora_dropout: float = 0.05,
                        lora_target_modules: Sequence[str] = ("query", "value"), freeze_layers: int = 0,
                        merge_lora: bool = True, restore_best: bool = True, seed: int = 0,
                        progress: bool = True, hard_negatives: np.ndarray | None = None,
                        n_hard: int = 0, loss: str = "bce", head_lr: float | None = None) -> TrainResult:
    r"""Fine-tune a :class:`~coursekit.text.cross_encoder.CrossEncoder` on positives and sampled negatives.

    Parameters
    ----------
    model : CrossEncoder
        Trained in place (``task`` must be ``"binary"``).
    train_pairs, valid_pairs : Pairs
        Positive pairs (:func:`coursekit.finetune.make_pairs`); the validation set gets ``n_neg``
        fixed negatives per positive (at most ``max_valid_pairs`` positives, seeded).
    n_neg : int
        Negatives per positive; a batch holds ``batch_size // (1 + n_neg)`` positives and their negatives.
    epochs, max_steps, time_budget_s :
        Stop after ``epochs`` passes over the positives, ``max_steps`` steps or ``time_budget_s``
        seconds, whichever comes first (the learning-rate schedule is laid out for the step limit).
    lr : float, optional
        Peak learning rate; default 5e-5 (full or frozen layers) or 5e-4 (LoRA).
    head_lr : float, optional
        Peak learning rate of the newly initialised classifier (default ``lr``). A pretrained
        encoder needs small steps, a random head large ones; one rate for both leaves the head
        near its initial zero output for hundreds of steps.
    eval_every, patience, monitor :
        Evaluate every ``eval_every`` steps (default: about 5 times per run); stop after
        ``patience`` evaluations without improvement of ``monitor`` (``"valid_auc"`` or ``"valid_loss"``).
    lora, lora_r, lora_alpha, lora_dropout, lora_target_modules, merge_lora :
        Train LoRA adapters only (:func:`coursekit.finetune.apply_lora`); with ``merge_lora`` they
        are merged into the weights at the end, leaving a plain transformers model.
    freeze_layers : int
        Freeze the embeddings and the lowest ``freeze_layers`` layers
        (:func:`coursekit.finetune.freeze_lower_layers`).
    seed : int
        Seeds shuffling, negatives, dropout and the adapters' initialisation.
    hard_negatives, n_hard :
        ``(n_users, m)`` item indices per user (``-1`` = none), e.g. the retrieval stage's top
        unseen items (``retriever.recommend_indices(all_users, k=m)[0]``): ``n_hard`` of the
        ``n_neg`` negatives of each positive (training and validation) are drawn from its user's
        row, the rest uniformly. Hard negatives match what the re-ranker sees at serving time:
        candidates the retriever already likes.
    loss : {"bce", "listwise"}
        ``"bce"``: pointwise binary cross-entropy on every pair. ``"listwise"``: each positive and
        its ``n_neg`` negatives form a group :math:`G`, and the loss is the softmax cross-entropy
        of the positive within it, :math:`-z_{+} + \log \sum_{j \in G} e^{z_j}` (a sampled
        softmax: it only asks the positive to score above its negatives, as a re-ranker must).
        Validation reports the BCE and the AUC either way.

    Returns
    -------
    TrainResult
    """
    import torch

    if hard_negatives is not None:
        hard_negatives = np.asarray(hard_negatives, dtype=np.int64)
        if hard_negatives.ndim != 2 or hard_negatives.shape[0] < train_pairs.exclude.shape[0]:
            raise CourseKitError(f"hard_negatives must be (n_users, m) item indices with one row per user "
                                 f"({train_pairs.exclude.shape[0]}), got shape {hard_negatives.shape}.")
        if hard_negatives.max(initial=-1) >= len(train_pairs.item_text):
            raise CourseKitError("hard_negatives holds item indices outside the item universe of the pairs.")
    n_hard = 0 if hard_negatives is None else int(n_hard)
    if model.task != "binary":
        raise CourseKitError("train_cross_encoder trains the binary task; use train_rating_regressor for ratings.")
    n_neg = check_positive_int(n_neg, "n_neg")
    batch_size = check_positive_int(batch_size, "batch_size")
    monitor = check_choice(monitor, "monitor", ["valid_auc", "valid_loss"])
    loss = check_choice(loss, "loss", ["bce", "listwise"])
    if len(train_pairs) == 0:
        raise CourseKitError("train_pairs is empty.")
    n_pos = max(1, batch_size // (1 + n_neg))
    _prepare(model, lora, freeze_layers, lora_r, lora_alpha, lora_dropout, lora_target_modules, seed)
    lr = (5e-4 if lora else 5e-5) if lr is None else float(lr)
    bce = torch.nn.BCEWithLogitsLoss()
    batch_index = cycling_batches(len(train_pairs), n_pos)

    def next_batch(rng):
        idx = batch_index(rng)
        h, c, y = with_negatives(train_pairs, idx, n_neg, rng, hard_negatives, n_hard)
        return model.encode(h, c), torch.tensor(y, dtype=torch.float32, device=model.device)

    def listwise(z, y):   # with_negatives lays out each positive followed by its n_neg negatives
        groups = z.view(-1, 1 + n_neg)
        return torch.nn.functional.cross_entropy(groups, torch.zeros(len(groups), dtype=torch.long,
                                                                     device=groups.device))

    evaluate = None
    if valid_pairs is not None and len(valid_pairs):
        vrng = np.random.default_rng(seed + 1)
        vidx = np.arange(len(valid_pairs))
        if len(vidx) > max_valid_pairs:
            vidx = np.sort(vrng.choice(vidx, max_valid_pairs, replace=False))
        vh, vc, vy = with_negatives(valid_pairs, vidx, n_neg, vrng, hard_negatives, n_hard)

        def evaluate():
            z = model.logits(vh, vc, batch_size=max(64, batch_size))
            loss = float(bce(torch.tensor(z), torch.tensor(vy)))
            return {"valid_loss": loss, "valid_auc": binary_auc(vy, z)}

    result = _run(model, next_batch, bce if loss == "bce" else listwise, evaluate, monitor=monitor,
                  higher_is_better=monitor == "valid_auc",
                  steps_per_epoch=math.ceil(len(train_pairs) / n_pos), epochs=epochs, max_steps=max_steps,
                  time_budget_s=time_budget_s, lr=lr, head_lr=head_lr, weight_decay=weight_decay,
                  warmup_frac=warmup_frac,
                  max_grad_norm=max_grad_norm, eval_every=eval_every, patience=patience,
                  restore_best=restore_best, seed=seed, progress=progress, desc="cross-encoder")
    if lora and merge_lora:
        model.merge_lora()
    return result


def train_rating_regressor(model: CrossEncoder, train_pairs: Pairs, valid_pairs: Pairs | None = None, *,
                           batch_size: int = 32, epochs: int = 1, max_steps: int | None = None,
                           time_budget_s: float | None = None, lr: float | None = None,
                           weight_decay: float = 0.01, warmup_frac: float = 0.1, max_grad_norm: float = 1.0,
                           eval_every: int | None = None, patience: int = 3, lora: bool = False,
                           lora_r: int = 8, lora_alpha: int = 16, lora_dropout: float = 0.05,
                           lora_target_modules: Sequence[str] = ("query", "value"), freeze_layers: int = 0,
                           merge_lora: bool = True, restore_best: bool = True, seed: int = 0,
                           progress: bool = True, head_lr: float | None = None) -> TrainResult:
    r"""Fit the one-output head to ratings with MSE: the cross-encoder as a rating predictor.

    Targets are standardised, :math:`y = (r - \mu) / s` with the training ratings' mean and
    standard deviation, and the loss is :math:`\frac{1}{|B|}\sum (z - y)^2`. Afterwards
    ``model.task == "regression"`` and ``model.predict(histories, candidates)`` returns
    :math:`\mu + s z` on the rating scale; compare its RMSE with matrix factorisation on the same
    test pairs (:func:`coursekit.metrics.rmse`). Build the pairs with ``make_pairs(...,
    label="rating")``. Validation monitors ``valid_rmse``; other arguments as in
    :func:`train_cross_encoder`.
    """
    import torch

    labels = np.asarray(train_pairs.labels, dtype=np.float64)
    if len(labels) < 2 or np.isnan(labels).any():
        raise CourseKitError("train_rating_regressor needs at least two rated pairs (make_pairs(..., label='rating')).")
    batch_size = check_positive_int(batch_size, "batch_size")
    model.task = "regression"
    model.target_mean = float(labels.mean())
    model.target_scale = float(labels.std()) or 1.0
    _prepare(model, lora, freeze_layers, lora_r, lora_alpha, lora_dropout, lora_target_modules, seed)
    lr = (5e-4 if lora else 5e-5) if lr is None else float(lr)
    mse = torch.nn.MSELoss()
    batch_index = cycling_batches(len(train_pairs), batch_size)

    def next_batch(rng):
        idx = batch_index(rng)
        y = (train_pairs.labels[idx] - model.target_mean) / model.target_scale
        batch = model.encode([train_pairs.histories[i] for i in idx], train_pairs.item_text[train_pairs.items[idx]])
        return batch, torch.tensor(y, dtype=torch.float32, device=model.device)

    evaluate = None
    if valid_pairs is not None and len(valid_pairs):
        def evaluate():
            pred = model.predict(valid_pairs.histories, valid_pairs.candidates, batch_size=max(64, batch_size))
            return {"valid_rmse": float(np.sqrt(np.mean((pred - valid_pairs.labels) ** 2)))}

    result = _run(model, next_batch, mse, evaluate, monitor="valid_rmse", higher_is_better=False,
                  steps_per_epoch=math.ceil(len(train_pairs) / batch_size), epochs=epochs, max_steps=max_steps,
                  time_budget_s=time_budget_s, lr=lr, head_lr=head_lr, weight_decay=weight_decay,
                  warmup_frac=warmup_frac,
                  max_grad_norm=max_grad_norm, eval_every=eval_every, patience=patience,
                  restore_best=restore_best, seed=seed, progress=progress, desc="rating regressor")
    if lora and merge_lora:
        model.merge_lora()
    return result
