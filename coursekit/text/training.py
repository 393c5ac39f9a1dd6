r"""Training pairs and fine-tuning loops for the cross-encoder (:mod:`coursekit.text.cross_encoder`).

**Pairs.** A positive pair is a user's history (as text, most recent first) and an item the
user then interacted with *for the first time*; its history holds only what happened before
(:func:`make_pairs`), so nothing from the future leaks into the input. Negatives are sampled
per positive, uniformly from the items the user never interacted with (``n_neg`` of them,
fresh each epoch, seeded).

**Binary loss.** With logit :math:`z` and label :math:`y \in \{0, 1\}`, the loss of a batch
:math:`B` is the binary cross-entropy on :math:`\sigma(z)`, computed stably from the logits
(``torch.nn.BCEWithLogitsLoss``):

.. math::

    \mathcal{L} = -\frac{1}{|B|} \sum_{(u,i) \in B}
        \Big[ y_{ui} \log \sigma(z_{ui}) + (1 - y_{ui}) \log\big(1 - \sigma(z_{ui})\big) \Big].

**Optimisation.** AdamW (decoupled weight decay, none on biases and LayerNorm weights), the
learning rate rising linearly over the first ``warmup_frac`` of the steps and then falling
linearly to 0 (``transformers.get_linear_schedule_with_warmup``), gradients clipped to norm
``max_grad_norm``. Every ``eval_every`` steps the validation pairs (negatives drawn once, so the
numbers are comparable) give a loss and an AUC; training stops after ``patience`` evaluations
without improvement and the best weights are restored.

**Parameter-efficient variants.** ``lora=True`` wraps the model with ``peft`` LoRA adapters on
the attention query/value projections: a frozen weight :math:`W` becomes
:math:`W + \frac{\alpha}{r} B A` with trainable :math:`A \in \mathbb{R}^{r \times d}`,
:math:`B \in \mathbb{R}^{d \times r}` (:math:`B = 0` at the start), plus the trainable
classification head. ``freeze_layers=n`` freezes the embeddings and the lowest ``n``
transformer layers instead.

**Ratings.** :func:`train_rating_regressor` fits the same architecture with mean squared error
on standardised ratings :math:`(r - \mu)/s`, to be compared with matrix factorisation's RMSE
on the same test pairs.

Example
-------
.. code-block:: python

    from coursekit.datasets import load_shop
    from coursekit.splits import global_temporal_split
    from coursekit.text.items import item_texts
    from coursekit.text.cross_encoder import CrossEncoder
    shop = load_shop(); split = global_temporal_split(shop.to_interactions(), 0.2, valid_frac=0.1)
    texts = item_texts(shop)
    train_pairs = make_pairs(split.train, None, texts, max_pairs=2000)
    valid_pairs = make_pairs(split.train, split.valid, texts, max_pairs=200)
    ce = CrossEncoder.from_pretrained()
    result = train_cross_encoder(ce, train_pairs, valid_pairs, max_steps=30)
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coursekit._validation import CourseKitError, check_choice, check_positive_int
from coursekit.interactions import IdMap, Interactions

__all__ = ["Pairs", "TrainResult", "StepCost", "align_item_texts", "make_pairs", "sample_negatives",
           "hard_negative_sample",
           "apply_lora", "freeze_lower_layers", "train_cross_encoder", "train_rating_regressor",
           "training_step_cost", "binary_auc", "auc_standard_error"]


# ---------------------------------------------------------------------------- item texts
def align_item_texts(items: IdMap, texts) -> np.ndarray:
    """Texts aligned with the item universe: ``out[j]`` is the text of item id ``items.ids[j]``.

    ``texts`` may be a mapping ``{item_id: text}``, a pandas Series indexed by item id (as
    :func:`coursekit.text.items.item_texts` returns) or a DataFrame with ``item_id`` and ``text``.
    Every item of the universe needs a text.

    >>> align_item_texts(IdMap.from_ids([3, 1]), {1: "one", 3: "three", 9: "unused"}).tolist()
    ['one', 'three']
    """
    if isinstance(texts, pd.DataFrame):
        if not {"item_id", "text"} <= set(texts.columns):
            raise CourseKitError(f"an item-text table needs columns item_id and text, got {list(texts.columns)}.")
        texts = pd.Series(texts["text"].to_numpy(), index=texts["item_id"].to_numpy())
    elif not isinstance(texts, pd.Series):
        if not hasattr(texts, "items"):
            raise CourseKitError(f"item texts must be a dict, a Series indexed by item_id or a DataFrame, "
                                 f"got {type(texts).__name__}.")
        texts = pd.Series(dict(texts))
    if texts.index.has_duplicates:
        raise CourseKitError("item texts have duplicate item ids; give one text per item.")
    found = texts.reindex(items.ids)
    missing = items.ids[found.isna().to_numpy()]
    if missing.size:
        raise CourseKitError(f"no text for item id(s) {missing[:10].tolist()}{' ...' if missing.size > 10 else ''} "
                             f"({missing.size} of {len(items)}); pass a text for every item of the universe "
                             "(e.g. coursekit.text.items.item_texts(dataset)).")
    return found.astype(str).to_numpy(dtype=object)


def _default_history(texts: Sequence[str], max_words: int) -> str:
    from coursekit.text.items import history_text

    return history_text(list(texts), max_words=max_words) if len(texts) else ""


# ---------------------------------------------------------------------------- pairs
@dataclass
class Pairs:
    """Positive (history, candidate) pairs plus what negative sampling needs.

    Attributes
    ----------
    users, items : int arrays (n,)
        User index and item index (candidate) of each pair.
    histories : list of str (n,)
        The user's history text of each pair (most recent first, only earlier events).
    labels : float array (n,)
        1.0 for the binary task; the rating for :func:`train_rating_regressor`.
    item_text : object array (n_items,)
        Text of every item of the universe (the candidate side; negatives use it too).
    exclude : CSR (n_users, n_items)
        Items never drawn as negatives for a user (everything the user interacted with).
    """

    users: np.ndarray
    items: np.ndarray
    histories: list[str]
    labels: np.ndarray
    item_text: np.ndarray
    exclude: sp.csr_matrix = field(repr=False)

    def __len__(self) -> int:
        return len(self.users)

    @property
    def candidates(self) -> list[str]:
        """Candidate text of each pair."""
        return self.item_text[self.items].tolist()

    def subset(self, idx) -> Pairs:
        idx = np.asarray(idx)
        return Pairs(self.users[idx], self.items[idx], [self.histories[i] for i in idx], self.labels[idx],
                     self.item_text, self.exclude)


def _time_order(inter: Interactions) -> np.ndarray:
    t = inter.timestamps if inter.has_timestamps else np.arange(len(inter))
    return np.lexsort((np.arange(len(inter)), inter.item_index, t, inter.user_index))


def _first_occurrence(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """Mask of events (already in time order) that are the first of their (user, item)."""
    _, first = np.unique(users * np.int64(n_items) + items, return_index=True)
    mask = np.zeros(len(users), dtype=bool)
    mask[first] = True
    return mask


def make_pairs(history: Interactions, targets: Interactions | None, item_texts, *, label: str = "binary",
               history_size: int = 20, max_history_words: int = 64, history_item_texts=None,
               min_history: int = 1, max_pairs: int | None = None, seed: int = 0,
               history_builder: Callable[[Sequence[str]], str] | None = None) -> Pairs:
    r"""Positive pairs (user history text, item the user then took) from interaction logs.

    Parameters
    ----------
    history : Interactions
        The events the histories are built from (e.g. ``split.train``).
    targets : Interactions or None
        ``None``: **self-supervised** pairs inside ``history``: each event that is the user's
        first with its item, preceded by at least ``min_history`` distinct items, is a target,
        and its history is only the *earlier* events. Otherwise the target events (e.g.
        ``split.valid``; same universe): the history is all of the user's ``history`` events and
        targets already in it are dropped (a re-ranker never sees seen items as candidates).
    item_texts : dict, Series or DataFrame
        Candidate text of every item (:func:`align_item_texts`).
    label : {"binary", "rating"}
        ``"rating"`` keeps only rated target events and uses the rating as label.
    history_size, max_history_words : int
        The history lists at most ``history_size`` distinct items, most recent first, joined by
        :func:`coursekit.text.items.history_text` up to ``max_history_words`` words.
    history_item_texts : optional
        Texts for items *inside* histories (e.g. short titles, so more items fit); default ``item_texts``.
    max_pairs : int, optional
        Keep a random sample of this many pairs (seeded).
    history_builder : callable, optional
        ``f(texts_most_recent_first) -> str`` replacing the default joiner.

    Returns
    -------
    Pairs
        ``exclude`` covers every event of ``history`` and ``targets``.

    Examples
    --------
    >>> log = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [1, 2, 3], "timestamp": [1, 2, 3]})
    >>> p = make_pairs(Interactions.from_frame(log), None, {1: "a", 2: "b", 3: "c"})
    >>> p.histories, p.candidates
    (['a', 'b | a'], ['b', 'c'])
    """
    label = check_choice(label, "label", ["binary", "rating"])
    history_size = check_positive_int(history_size, "history_size")
    cand_text = align_item_texts(history.items, item_texts)
    hist_text = cand_text if history_item_texts is None else align_item_texts(history.items, history_item_texts)
    build = history_builder or (lambda ts: _default_history(ts, max_history_words))
    n_items = history.n_items
    rng = np.random.default_rng(seed)
    if targets is None:
        order = _time_order(history)
        u, i = history.user_index[order], history.item_index[order]
        r = history.ratings[order] if label == "rating" else np.ones(len(u))
        first = _first_occurrence(u, i, n_items)
        # distinct items before each event: number of first occurrences earlier in the user's time line
        n_before = np.cumsum(first) - first
        user_start = np.searchsorted(u, u)  # first position of the event's user
        n_before = n_before - (np.cumsum(first) - first)[user_start]
        keep = first & (n_before >= min_history) & (~np.isnan(r))
        pos = np.nonzero(keep)[0]
        if max_pairs is not None and len(pos) > max_pairs:
            pos = np.sort(rng.choice(pos, check_positive_int(max_pairs, "max_pairs"), replace=False))
        histories = []
        for p in pos:  # one short window per pair
            seen, hist = set(), []
            for q in range(p - 1, user_start[p] - 1, -1):
                item = int(i[q])
                if item not in seen:
                    seen.add(item)
                    hist.append(item)
                    if len(hist) == history_size:
                        break
            histories.append(build(hist_text[hist].tolist()))
        users, items, labels = u[pos], i[pos], r[pos].astype(np.float64)
        exclude = history.matrix()
    else:
        from coursekit.evaluation import check_same_universe
        from coursekit.text.items import user_histories

        check_same_universe(history, targets)
        order = _time_order(targets)
        u, i = targets.user_index[order], targets.item_index[order]
        r = targets.ratings[order] if label == "rating" else np.ones(len(u))
        seen = history.matrix()
        in_history = np.asarray(seen[u, i]).ravel() > 0
        has_history = history.user_counts()[u] >= min_history
        keep = _first_occurrence(u, i, n_items) & ~in_history & has_history & ~np.isnan(r)
        pos = np.nonzero(keep)[0]
        if max_pairs is not None and len(pos) > max_pairs:
            pos = np.sort(rng.choice(pos, check_positive_int(max_pairs, "max_pairs"), replace=False))
        hists = user_histories(history, max_items=history_size)
        cache: dict[int, str] = {}
        histories = []
        for user in u[pos]:
            if user not in cache:
                cache[user] = build(hist_text[hists[user]].tolist())
            histories.append(cache[user])
        users, items, labels = u[pos], i[pos], r[pos].astype(np.float64)
        exclude = (seen + targets.matrix()).tocsr()
    if len(users) == 0:
        raise CourseKitError("no pairs could be built: no target event is a first interaction with at least "
                             f"min_history={min_history} earlier item(s). Use a longer log or lower min_history.")
    exclude.data[:] = 1
    return Pairs(users.astype(np.int64), items.astype(np.int64), histories, labels, cand_text, exclude.tocsr())


def sample_negatives(pairs: Pairs, n_neg: int, rng: np.random.Generator) -> np.ndarray:
    """``(len(pairs), n_neg)`` distinct item indices per pair, none of them in the user's ``exclude`` row.

    >>> log = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [1, 2, 3], "timestamp": [1, 2, 3]})
    >>> inter = Interactions.from_frame(log, items=[1, 2, 3, 4, 5])
    >>> p = make_pairs(inter, None, {k: str(k) for k in range(1, 6)})
    >>> np.sort(sample_negatives(p, 2, np.random.default_rng(0)), axis=1).tolist()
    [[3, 4], [3, 4]]
    """
    from coursekit.evaluation import _sample_negatives

    n_neg = check_positive_int(n_neg, "n_neg")
    free = pairs.exclude.shape[1] - np.diff(pairs.exclude.indptr)[pairs.users]
    if len(pairs) and free.min() < n_neg:
        raise CourseKitError(f"a user has only {int(free.min())} items they never interacted with, fewer than "
                             f"n_neg={n_neg}; lower n_neg.")
    return _sample_negatives(pairs.users, pairs.exclude, n_neg, rng)


def hard_negative_sample(pool: np.ndarray, users: np.ndarray, exclude: sp.csr_matrix, n_hard: int,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r"""Draw ``n_hard`` distinct items per row from each user's row of ``pool`` (e.g. a retriever's top items).

    ``pool`` is ``(n_users, m)`` item indices (``-1`` = empty slot). A slot is usable when it is
    not empty and its item is not in the user's ``exclude`` row; the draw is uniform among the
    usable slots (unusable ones are drawn only when fewer than ``n_hard`` are usable). Returns the
    drawn indices ``(len(users), n_hard)`` and their usable mask (callers fall back to uniform
    negatives where it is False).

    >>> pool = np.array([[4, 3, -1]])
    >>> ex = sp.csr_matrix(np.array([[0, 0, 0, 1, 0]]))
    >>> idx, ok = hard_negative_sample(pool, np.array([0]), ex, 3, np.random.default_rng(0))
    >>> sorted(idx[ok].tolist())
    [4]
    """
    pool = np.asarray(pool, dtype=np.int64)
    n_hard = min(check_positive_int(n_hard, "n_hard"), pool.shape[1])
    rows = pool[users]
    usable = rows >= 0
    if usable.any():
        r = np.repeat(users, rows.shape[1]).reshape(rows.shape)
        usable[usable] = np.asarray(exclude[r[usable], rows[usable]]).ravel() == 0
    # n_hard distinct slots per row, uniformly among the usable ones first (random keys, unusable keys + 2)
    cols = np.argsort(rng.random(rows.shape) + 2.0 * ~usable, axis=1)[:, :n_hard]
    return np.take_along_axis(rows, cols, axis=1), np.take_along_axis(usable, cols, axis=1)


def _with_negatives(pairs: Pairs, idx: np.ndarray, n_neg: int, rng, hard_pool: np.ndarray | None = None,
                    n_hard: int = 0) -> tuple[list[str], list[str], np.ndarray]:
    """Histories, candidates and 0/1 labels of positives ``idx`` each followed by ``n_neg`` negatives.

    With ``hard_pool`` the first ``n_hard`` negatives of a positive come from its user's pool row
    (:func:`hard_negative_sample`), the rest (and unusable pool draws) uniformly.
    """
    sub = pairs.subset(idx)
    neg = sample_negatives(sub, n_neg, rng) if n_neg else np.zeros((len(idx), 0), np.int64)
    if hard_pool is not None and n_hard and n_neg:
        picked, ok = hard_negative_sample(hard_pool, sub.users, sub.exclude, min(n_hard, n_neg), rng)
        ok &= picked != sub.items[:, None]
        k = picked.shape[1]
        neg[:, :k] = np.where(ok, picked, neg[:, :k])
    cand_items = np.concatenate([sub.items[:, None], neg], axis=1).ravel()
    histories = [h for h in sub.histories for _ in range(1 + n_neg)]
    labels = np.tile(np.r_[1.0, np.zeros(n_neg)], len(idx))
    return histories, pairs.item_text[cand_items].tolist(), labels


# ---------------------------------------------------------------------------- model surgery
def apply_lora(cross_encoder, r: int = 8, alpha: int = 16, dropout: float = 0.05,
               target_modules: Sequence[str] = ("query", "value")):
    r"""Wrap ``cross_encoder.model`` with ``peft`` LoRA adapters (task ``SEQ_CLS``); returns the encoder.

    Only the adapters :math:`A, B` on ``target_modules`` and the classification head train;
    every other weight is frozen.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    if cross_encoder.is_lora:
        raise CourseKitError("this cross-encoder already has LoRA adapters; merge_lora() first or reuse it.")
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=check_positive_int(r, "r"), lora_alpha=alpha,
                        lora_dropout=dropout, target_modules=list(target_modules))
    import warnings

    with warnings.catch_warnings():   # peft calls a transformers method deprecated in v5: not the user's concern
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        cross_encoder.model = get_peft_model(cross_encoder.model, config)
    return cross_encoder


def _backbone(model):
    base = getattr(model, "base_model", model)
    if hasattr(base, "model") and not hasattr(base, "embeddings"):  # peft LoraModel -> transformers model
        base = getattr(base.model, "base_model", base.model)
    if not (hasattr(base, "embeddings") and hasattr(getattr(base, "encoder", None), "layer")):
        raise CourseKitError(f"cannot find embeddings/encoder.layer in {type(model).__name__}; freeze_layers "
                             "supports BERT-style models (BERT, MiniLM, RoBERTa).")
    return base


def freeze_lower_layers(cross_encoder, n_layers: int):
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


# ---------------------------------------------------------------------------- metrics
def binary_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    r"""ROC AUC: :math:`P(s^+ > s^-) + \tfrac12 P(s^+ = s^-)` over all positive/negative pairs.

    >>> binary_auc(np.array([1, 0, 1, 0]), np.array([0.9, 0.1, 0.4, 0.4]))
    0.875
    """
    from scipy.stats import rankdata

    labels = np.asarray(labels) > 0.5
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    r"""Standard error of an AUC from ``n_pos`` positives and ``n_neg`` negatives (Hanley & McNeil 1982).

    .. math::

        \mathrm{SE}^2 = \frac{A(1-A) + (n_+ - 1)(Q_1 - A^2) + (n_- - 1)(Q_2 - A^2)}{n_+ n_-},
        \qquad Q_1 = \frac{A}{2 - A}, \quad Q_2 = \frac{2A^2}{1 + A}.

    For a claim such as "the validation AUC is above chance", e.g.
    ``coursekit.claims.threshold(auc, auc_standard_error(auc, n_pos, n_neg), 0.5, "AUC", what="chance")``.
    NaN when ``auc`` is NaN or either count is zero.

    >>> round(auc_standard_error(0.5, 100, 300), 4)
    0.0334
    """
    a = float(auc)
    n_pos, n_neg = int(n_pos), int(n_neg)
    if not math.isfinite(a) or n_pos <= 0 or n_neg <= 0:
        return float("nan")
    if not 0.0 <= a <= 1.0:
        raise CourseKitError(f"auc must be in [0, 1], got {auc!r}.")
    q1, q2 = a / (2.0 - a), 2.0 * a * a / (1.0 + a)
    var = (a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)
    return float(math.sqrt(max(var, 0.0)))


# ---------------------------------------------------------------------------- the loop
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


def _param_groups(model, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "LayerNorm" in name or "bias" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _run(model, next_batch: Callable[[np.random.Generator], tuple], loss_fn, evaluate: Callable | None, *,
         monitor: str, higher_is_better: bool, steps_per_epoch: int, epochs: int, max_steps: int | None,
         time_budget_s: float | None, lr: float, weight_decay: float, warmup_frac: float, max_grad_norm: float,
         eval_every: int | None, patience: int, restore_best: bool, seed: int, progress: bool,
         desc: str) -> TrainResult:
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
    optimizer = torch.optim.AdamW(_param_groups(net, weight_decay), lr=lr)
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


def _prepare(model, lora: bool, freeze_layers: int, lora_r: int, lora_alpha: int, lora_dropout: float,
             lora_target_modules, seed: int) -> None:
    import torch

    if lora and freeze_layers:
        raise CourseKitError("choose either lora=True or freeze_layers=n, not both.")
    if lora:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            apply_lora(model, lora_r, lora_alpha, lora_dropout, lora_target_modules)
    elif freeze_layers:
        freeze_lower_layers(model, freeze_layers)


def train_cross_encoder(model, train_pairs: Pairs, valid_pairs: Pairs | None = None, *, n_neg: int = 3,
                        batch_size: int = 32, epochs: int = 1, max_steps: int | None = None,
                        time_budget_s: float | None = None, lr: float | None = None, weight_decay: float = 0.01,
                        warmup_frac: float = 0.1, max_grad_norm: float = 1.0, eval_every: int | None = None,
                        patience: int = 3, monitor: str = "valid_auc", max_valid_pairs: int = 200,
                        lora: bool = False, lora_r: int = 8, lora_alpha: int = 16, lora_dropout: float = 0.05,
                        lora_target_modules: Sequence[str] = ("query", "value"), freeze_layers: int = 0,
                        merge_lora: bool = True, restore_best: bool = True, seed: int = 0,
                        progress: bool = True, hard_negatives: np.ndarray | None = None,
                        n_hard: int = 0) -> TrainResult:
    r"""Fine-tune a :class:`~coursekit.text.cross_encoder.CrossEncoder` with BCE on sampled negatives.

    Parameters
    ----------
    model : CrossEncoder
        Trained in place (``task`` must be ``"binary"``).
    train_pairs, valid_pairs : Pairs
        Positive pairs (:func:`make_pairs`); the validation set gets ``n_neg`` fixed negatives
        per positive (at most ``max_valid_pairs`` positives, seeded).
    n_neg : int
        Negatives per positive; a batch holds ``batch_size // (1 + n_neg)`` positives and their negatives.
    epochs, max_steps, time_budget_s :
        Stop after ``epochs`` passes over the positives, ``max_steps`` steps or ``time_budget_s``
        seconds, whichever comes first (the learning-rate schedule is laid out for the step limit).
    lr : float, optional
        Peak learning rate; default 5e-5 (full or frozen layers) or 5e-4 (LoRA).
    eval_every, patience, monitor :
        Evaluate every ``eval_every`` steps (default: about 5 times per run); stop after
        ``patience`` evaluations without improvement of ``monitor`` (``"valid_auc"`` or ``"valid_loss"``).
    lora, lora_r, lora_alpha, lora_dropout, lora_target_modules, merge_lora :
        Train LoRA adapters only (:func:`apply_lora`); with ``merge_lora`` they are merged into the
        weights at the end, leaving a plain transformers model.
    freeze_layers : int
        Freeze the embeddings and the lowest ``freeze_layers`` layers (:func:`freeze_lower_layers`).
    seed : int
        Seeds shuffling, negatives, dropout and the adapters' initialisation.
    hard_negatives, n_hard :
        ``(n_users, m)`` item indices per user (``-1`` = none), e.g. the retrieval stage's top
        unseen items (``retriever.recommend_indices(all_users, k=m)[0]``): ``n_hard`` of the
        ``n_neg`` negatives of each positive (training and validation) are drawn from its user's
        row, the rest uniformly. Hard negatives match what the re-ranker sees at serving time:
        candidates the retriever already likes.

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
    if len(train_pairs) == 0:
        raise CourseKitError("train_pairs is empty.")
    n_pos = max(1, batch_size // (1 + n_neg))
    _prepare(model, lora, freeze_layers, lora_r, lora_alpha, lora_dropout, lora_target_modules, seed)
    lr = (5e-4 if lora else 5e-5) if lr is None else float(lr)
    bce = torch.nn.BCEWithLogitsLoss()
    state = {"order": np.zeros(0, np.int64), "pos": 0}

    def next_batch(rng):
        if state["pos"] >= len(state["order"]):
            state["order"], state["pos"] = rng.permutation(len(train_pairs)), 0
        idx = state["order"][state["pos"]:state["pos"] + n_pos]
        state["pos"] += n_pos
        h, c, y = _with_negatives(train_pairs, idx, n_neg, rng, hard_negatives, n_hard)
        return model.encode(h, c), torch.tensor(y, dtype=torch.float32, device=model.device)

    def loss_fn(logits, y):
        return bce(logits, y)

    evaluate = None
    if valid_pairs is not None and len(valid_pairs):
        vrng = np.random.default_rng(seed + 1)
        vidx = np.arange(len(valid_pairs))
        if len(vidx) > max_valid_pairs:
            vidx = np.sort(vrng.choice(vidx, max_valid_pairs, replace=False))
        vh, vc, vy = _with_negatives(valid_pairs, vidx, n_neg, vrng, hard_negatives, n_hard)

        def evaluate():
            z = model.logits(vh, vc, batch_size=max(64, batch_size))
            loss = float(bce(torch.tensor(z), torch.tensor(vy)))
            return {"valid_loss": loss, "valid_auc": binary_auc(vy, z)}

    result = _run(model, next_batch, loss_fn, evaluate, monitor=monitor, higher_is_better=monitor == "valid_auc",
                  steps_per_epoch=math.ceil(len(train_pairs) / n_pos), epochs=epochs, max_steps=max_steps,
                  time_budget_s=time_budget_s, lr=lr, weight_decay=weight_decay, warmup_frac=warmup_frac,
                  max_grad_norm=max_grad_norm, eval_every=eval_every, patience=patience,
                  restore_best=restore_best, seed=seed, progress=progress, desc="cross-encoder")
    if lora and merge_lora:
        model.merge_lora()
    return result


def train_rating_regressor(model, train_pairs: Pairs, valid_pairs: Pairs | None = None, *,
                           batch_size: int = 32, epochs: int = 1, max_steps: int | None = None,
                           time_budget_s: float | None = None, lr: float | None = None,
                           weight_decay: float = 0.01, warmup_frac: float = 0.1, max_grad_norm: float = 1.0,
                           eval_every: int | None = None, patience: int = 3, lora: bool = False,
                           lora_r: int = 8, lora_alpha: int = 16, lora_dropout: float = 0.05,
                           lora_target_modules: Sequence[str] = ("query", "value"), freeze_layers: int = 0,
                           merge_lora: bool = True, restore_best: bool = True, seed: int = 0,
                           progress: bool = True) -> TrainResult:
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
    state = {"order": np.zeros(0, np.int64), "pos": 0}

    def next_batch(rng):
        if state["pos"] >= len(state["order"]):
            state["order"], state["pos"] = rng.permutation(len(train_pairs)), 0
        idx = state["order"][state["pos"]:state["pos"] + batch_size]
        state["pos"] += batch_size
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
                  time_budget_s=time_budget_s, lr=lr, weight_decay=weight_decay, warmup_frac=warmup_frac,
                  max_grad_norm=max_grad_norm, eval_every=eval_every, patience=patience,
                  restore_best=restore_best, seed=seed, progress=progress, desc="rating regressor")
    if lora and merge_lora:
        model.merge_lora()
    return result


@dataclass(frozen=True)
class StepCost:
    """Trainable and total parameters, and measured seconds per training step."""

    trainable_params: int
    total_params: int
    seconds_per_step: float

    @property
    def trainable_share(self) -> float:
        return self.trainable_params / self.total_params


def training_step_cost(model, pairs: Pairs, *, n_steps: int = 3, batch_size: int = 32, n_neg: int = 3,
                       lora: bool = False, freeze_layers: int = 0, seed: int = 0, **lora_kwargs) -> StepCost:
    """Time ``n_steps`` training steps on a *copy* of ``model`` (after one warm-up step).

    Returns ``StepCost(trainable_params, total_params, seconds_per_step)`` for comparing full
    fine-tuning, LoRA and frozen lower layers; ``model`` itself is left untouched.

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
