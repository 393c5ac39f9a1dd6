r"""Two-tower (bi-encoder) retrieval trained with in-batch negatives.

An **item tower** maps an item to a vector, a **user tower** maps a user's history to a vector,
and the score is their cosine, :math:`s(u, i) = \hat q_u^\top \hat e_i` (hats: unit length). Here

.. math::

    e_i = A(v_i) \;[+\; w_i], \qquad
    q_u = \frac{1}{|H_u|} \sum_{j \in H_u} e_j \;[+\; z_u],

with :math:`v_i` the frozen text vector of item :math:`i` (MiniLM), :math:`A` a small trainable
adaptor (linear or a one-hidden-layer MLP), and the optional trainable id embeddings
:math:`w_i` (item) and :math:`z_u` (user). :math:`H_u` are the user's latest ``history_len`` items;
while training on the pair :math:`(u, i^+)`, :math:`i^+` is removed from :math:`H_u` (otherwise the
user tower would just copy the answer).

**In-batch negatives.** For a batch of :math:`B` positive pairs :math:`(u_b, i_b)`, every other item
of the batch is a negative for user :math:`u_b`; the loss is the softmax cross-entropy with
temperature :math:`\tau`,

.. math::

    \mathcal L = -\frac{1}{B} \sum_{b=1}^{B}
    \log \frac{\exp(s(u_b, i_b)/\tau)}{\sum_{c=1}^{B} \exp(s(u_b, i_c)/\tau)} .

Logits of the same item appearing twice in a batch (:math:`i_c = i_b,\ c \ne b`) are masked: it is
not a negative. Popular items appear in many batches and so are pushed down too often; with
``logq_correction=True`` each logit is corrected by the log of the item's sampling probability,
:math:`s/\tau - \log p_c` (Yi et al. 2019).

``finetune_encoder=True`` trains the text encoder end to end (``item_texts`` and ``encoder``
needed; meant for a GPU): the positive items of a batch go through the live encoder, the history
items use the encoder's vectors from the start of the epoch (refreshed every epoch, the
"asynchronous index" of ANCE-style training), since encoding every history item at every step
costs :math:`B \times` ``history_len`` forward passes.

After ``fit`` everything needed for scoring is numpy (``item_factors_``, ``user_factors_``, the
tower weights ``tower_*_``), so the generic ``save`` / ``Recommender.load`` work; a fine-tuned
encoder is written separately with :meth:`TwoTower.save_encoder`.

References
----------
P.-S. Huang et al. Learning Deep Structured Semantic Models for Web Search (DSSM), CIKM 2013.
X. Yi et al. Sampling-Bias-Corrected Neural Modeling for Large Corpus Item Recommendations, RecSys 2019.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_choice, check_positive_int, check_seed
from coursekit.interactions import Interactions, check_same_universe
from coursekit.models.base import Recommender
from coursekit.models.content import align_item_vectors, unit_rows
from coursekit.models.towers import (
    LiveTextEncoder,
    amp_dtype,
    autocast,
    build_towers,
    padded_histories,
    validation_ndcg,
)

__all__ = ["TwoTower", "in_batch_softmax_loss"]


def in_batch_softmax_loss(user: Any, item: Any, temperature: float, item_ids: Any = None,
                          log_q: Any = None) -> Any:
    r"""Mean in-batch softmax loss of :math:`B` positive pairs (torch tensors, rows already unit length).

    .. math:: \mathcal L = -\tfrac1B \sum_b \log \operatorname{softmax}_c\!\big(u_b^\top e_c / \tau - \log q_c\big)_b

    ``item_ids`` (B,) masks duplicates of the positive among the negatives; ``log_q`` (B,) is the
    log sampling probability of each batch item (``None``: no correction).

    >>> import torch
    >>> u = torch.eye(2); e = torch.eye(2)
    >>> round(float(in_batch_softmax_loss(u, e, 1.0)), 4)   # -log(e / (e + 1))
    0.3133
    """
    import torch

    logits = user @ item.T / float(temperature)
    if log_q is not None:
        logits = logits - log_q[None, :]
    if item_ids is not None:
        dup = item_ids[None, :] == item_ids[:, None]
        dup.fill_diagonal_(False)
        logits = logits.masked_fill(dup, float("-inf"))
    target = torch.arange(len(user), device=user.device)
    return torch.nn.functional.cross_entropy(logits, target)


class TwoTower(Recommender):
    """Bi-encoder on frozen text vectors + trainable adaptor, in-batch softmax loss (module docstring).

    Capabilities: ``similar_items`` (cosine of the item tower's vectors) and ``save``. A new
    user's history goes through the user tower with :meth:`user_vector`.

    Parameters
    ----------
    item_vectors : DataFrame indexed by item_id, or (ids, array), optional
        Frozen item vectors (e.g. :class:`coursekit.text.TextEncoder` output). If ``None``,
        ``item_texts`` are encoded with ``encoder``. Kept out of ``get_params``.
    item_texts : Series indexed by item_id, optional
        Item texts; required with ``finetune_encoder=True``. Kept out of ``get_params``.
    dim : int
        Output dimension of both towers.
    adaptor : "linear" or "mlp"
    hidden : int
        Hidden width of the MLP adaptor.
    id_embedding, user_embedding : bool
        Add a trainable per-item / per-user embedding (CF signal; no use for cold items/users).
    history_len : int
        Most recent items pooled by the user tower.
    temperature : float
        Softmax temperature :math:`\\tau`.
    logq_correction : bool
        Subtract :math:`\\log p_i` (item frequency among training pairs) from the logits.
    epochs, batch_size, lr, weight_decay
        AdamW training loop; pairs are the distinct training (user, item) pairs, reshuffled each epoch.
    early_stopping : int, optional
        Patience in epochs: with ``fit(train, valid=...)``, the validation NDCG@10 (full ranking,
        training items excluded) is measured after every epoch; training stops when it has not
        improved for this many epochs and the towers of the best epoch are kept (:attr:`best_epoch_`,
        :attr:`valid_history_`). ``epochs`` is then the maximum. ``None`` (default): run all epochs.
    finetune_encoder : bool
        Train the text encoder end to end (GPU advised).
    encoder : str or None
        Model folder or hub id of the text encoder (default: offline MiniLM).
    encoder_lr : float
        Learning rate of the encoder parameters when fine-tuning.
    max_length : int
        Token budget of an item text when (fine-tuning) encoding.
    device : str
        ``"auto"``: CUDA > MPS > CPU (bfloat16, else float16 with loss scaling, autocast on CUDA).
    seed : int
    """

    capabilities: ClassVar[frozenset[str]] = frozenset({"similar_items", "save"})

    def __init__(self, item_vectors: Any = None, item_texts: pd.Series | None = None, dim: int = 64,
                 adaptor: str = "linear",
                 hidden: int = 256, id_embedding: bool = False, user_embedding: bool = False,
                 history_len: int = 50, temperature: float = 0.05, logq_correction: bool = False,
                 epochs: int = 10, batch_size: int = 256, lr: float = 1e-3, weight_decay: float = 0.0,
                 finetune_encoder: bool = False, encoder: str | None = None, encoder_lr: float = 2e-5,
                 max_length: int = 64, device: str = "auto", seed: int = 0, progress: bool = False,
                 early_stopping: int | None = None) -> None:
        self.item_vectors = item_vectors
        self.item_texts = item_texts
        self.dim = dim
        self.adaptor = adaptor
        self.hidden = hidden
        self.id_embedding = id_embedding
        self.user_embedding = user_embedding
        self.history_len = history_len
        self.temperature = temperature
        self.logq_correction = logq_correction
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.finetune_encoder = finetune_encoder
        self.encoder = encoder
        self.encoder_lr = encoder_lr
        self.max_length = max_length
        self.device = device
        self.seed = seed
        self.progress = progress
        self.early_stopping = early_stopping

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params.pop("item_vectors", None)
        params.pop("item_texts", None)
        return params

    # ------------------------------------------------------------------ building
    def _check_params(self) -> None:
        check_seed(self.seed)
        check_positive_int(self.dim, "dim")
        check_positive_int(self.hidden, "hidden")
        check_positive_int(self.history_len, "history_len")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_choice(self.adaptor, "adaptor", ["linear", "mlp"])
        if not self.temperature > 0:
            raise CourseKitError(f"temperature must be > 0, got {self.temperature}.")
        if not self.lr > 0:
            raise CourseKitError(f"lr must be > 0, got {self.lr}.")
        if self.finetune_encoder and self.item_texts is None:
            raise CourseKitError("finetune_encoder=True needs item_texts= (a Series of texts indexed by item_id).")
        if self.item_vectors is None and self.item_texts is None:
            raise CourseKitError("TwoTower needs item_vectors= (DataFrame indexed by item_id) or item_texts=.")

    def _aligned_texts(self, items) -> list[str]:
        texts = self.item_texts
        if not isinstance(texts, pd.Series):
            raise CourseKitError(f"item_texts must be a pandas Series indexed by item_id, got {type(texts).__name__}.")
        return texts.reindex(items.ids).fillna("").astype(str).tolist()

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Interactions, valid: Interactions | None = None) -> TwoTower:
        """Fit on ``train``; with ``valid`` (same id universe, cut from the training data) the validation
        NDCG@10 is recorded per epoch (:attr:`valid_history_`) and ``early_stopping`` can use it."""
        if valid is not None:
            if not isinstance(valid, Interactions):
                raise CourseKitError(f"valid must be coursekit Interactions (or None), got {type(valid).__name__}.")
            check_same_universe(train, valid, names=("train", "valid"))
            if self.finetune_encoder:
                raise CourseKitError("validation during training (valid=...) is not supported with "
                                     "finetune_encoder=True; fit without valid, or with finetune_encoder=False.")
        if self.early_stopping is not None:
            check_positive_int(self.early_stopping, "early_stopping")
            if valid is None:
                raise CourseKitError(f"early_stopping={self.early_stopping!r} needs a validation part: call "
                                     "fit(train, valid=valid) with valid cut from the training data (e.g. "
                                     "user_temporal_split(train, test_frac=0.1)), or set early_stopping=None.")
        self._valid = valid
        try:
            return super().fit(train)
        finally:
            del self._valid

    def _fit(self, train: Interactions) -> None:
        import torch

        from coursekit.env import pick_device

        self._check_params()
        # a batch of the adaptor-only model is a few small matrix products (the item tower runs on the
        # batch's distinct items only): starting threads costs more than the work, much more on a busy machine
        small = self.batch_size * self.history_len * self.dim < 4_000_000 and not self.finetune_encoder
        if pick_device(self.device) == "cpu" and small:
            before = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return self._fit_impl(train)
            finally:
                torch.set_num_threads(before)
        return self._fit_impl(train)

    def _fit_impl(self, train: Interactions) -> None:
        import torch
        from tqdm.auto import tqdm

        from coursekit.env import pick_device

        self._dev = dev = pick_device(self.device)
        n_users, n_items = train.n_users, train.n_items
        live, texts = None, None
        if self.finetune_encoder:
            texts = self._aligned_texts(train.items)
            torch.manual_seed(self.seed)
            live = LiveTextEncoder(self.encoder, dev, self.max_length)
            base_np = live.encode_all(texts)
        elif self.item_vectors is not None:
            base_np, _ = align_item_vectors(self.item_vectors, train.items)
        else:
            from coursekit.text.encoder import TextEncoder

            base_np = TextEncoder(self.encoder, device=self.device, max_length=self.max_length,
                                  progress=self.progress).encode(self._aligned_texts(train.items))
        H_np, M_np = padded_histories(train, self.history_len)
        pu, pi = train.matrix().nonzero()
        if len(pu) == 0:
            raise CourseKitError("no training pairs.")
        net = build_towers(base_np.shape[1], n_users, n_items, dim=self.dim, adaptor=self.adaptor,
                           hidden=self.hidden, id_embedding=self.id_embedding, user_embedding=self.user_embedding,
                           seed=self.seed).to(dev)
        params = [{"params": net.parameters(), "lr": self.lr}]
        if live is not None:
            live.net.train()
            params.append({"params": live.net.parameters(), "lr": self.encoder_lr})
        opt = torch.optim.AdamW(params, weight_decay=self.weight_decay)
        base = torch.as_tensor(base_np, device=dev)
        H, M = torch.as_tensor(H_np, device=dev), torch.as_tensor(M_np, device=dev)
        pu_t, pi_t = torch.as_tensor(pu, device=dev), torch.as_tensor(pi, device=dev)
        log_q_all = None
        if self.logq_correction:
            freq = np.bincount(pi, minlength=n_items) / len(pi)
            log_q_all = torch.as_tensor(np.log(np.maximum(freq, 1e-12)), dtype=torch.float32, device=dev)
        gen = torch.Generator().manual_seed(self.seed)
        # float16 autocast needs loss scaling; bfloat16 and the CPU do not (then the scaler passes through)
        scaler = torch.amp.GradScaler("cuda", enabled=dev.startswith("cuda") and amp_dtype(dev) == torch.float16)
        history, valid = [], getattr(self, "_valid", None)
        valid_history, best_state, self.best_epoch_ = [], None, self.epochs
        for epoch in tqdm(range(self.epochs), desc="two-tower", unit="epoch", disable=not self.progress):
            if live is not None and epoch > 0:  # refresh the history vectors with the current encoder
                base = torch.as_tensor(live.encode_all(texts), device=dev)
            net.train()
            perm = torch.randperm(len(pu), generator=gen).to(dev)
            total, n_batches = 0.0, 0
            for s in range(0, len(perm), self.batch_size):
                b = perm[s:s + self.batch_size]
                if len(b) < 2:
                    continue
                u, i = pu_t[b], pi_t[b]
                with autocast(dev):
                    loss = self._batch_loss(net, base, H, M, u, i, log_q_all, live, texts)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if live is not None:
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(list(net.parameters()) + list(live.net.parameters()), 1.0)
                scaler.step(opt)
                scaler.update()
                total += float(loss.detach())
                n_batches += 1
            history.append(total / max(n_batches, 1))
            if not math.isfinite(history[-1]):
                raise FloatingPointError("two-tower loss is not finite; lower lr or raise temperature.")
            if valid is not None:
                valid_history.append(validation_ndcg(self._tower_scores(net, base_np, H_np, M_np), train, valid))
                net.train()
                if valid_history[-1] >= max(valid_history):
                    self.best_epoch_ = epoch + 1
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                elif self.early_stopping is not None and epoch + 1 - self.best_epoch_ >= self.early_stopping:
                    break
        self.loss_history_ = np.asarray(history, dtype=np.float64)
        self.valid_history_ = np.asarray(valid_history, dtype=np.float64)
        if self.early_stopping is not None and best_state is not None:
            net.load_state_dict(best_state)
        if live is not None:
            base_np = live.encode_all(texts)
            live.net.eval()
        self._live_encoder = live
        self.item_vectors_ = base_np.astype(np.float32)
        self._finish(net, H_np, M_np)

    def _batch_loss(self, net: Any, base: Any, H: Any, M: Any, u: Any, i: Any, log_q_all: Any,
                    live: LiveTextEncoder | None, texts: list[str] | None) -> Any:
        import torch

        h, m = H[u], M[u] & (H[u] != i[:, None])
        # the item tower runs once per distinct item of the batch (histories overlap a lot)
        n_hist = h.numel()
        uniq, inv = torch.unique(torch.cat([h.reshape(-1), i]), return_inverse=True)
        emb = net.items(base[uniq], uniq)
        hv = emb[inv[:n_hist]].view(*h.shape, -1)
        if live is not None:
            pos = net.items(live.encode([texts[j] for j in i.tolist()]), i)
        else:
            pos = emb[inv[n_hist:]]
        e = torch.nn.functional.normalize(pos.float(), dim=-1)
        q = torch.nn.functional.normalize(net.users(hv, m, u).float(), dim=-1)
        log_q = log_q_all[i] if log_q_all is not None else None
        return in_batch_softmax_loss(q, e, self.temperature, item_ids=i, log_q=log_q)

    def _tower_scores(self, net: Any, base_np: np.ndarray, H_np: np.ndarray, M_np: np.ndarray) -> np.ndarray:
        """Cosine scores (n_users, n_items) of the towers as they are now (eval mode)."""
        import torch

        net.eval()
        with torch.inference_mode():
            idx = torch.arange(len(base_np), device=self._dev)
            emb = net.items(torch.as_tensor(base_np, device=self._dev), idx).float()
            q = net.users(emb[torch.as_tensor(H_np, device=self._dev)], torch.as_tensor(M_np, device=self._dev),
                          torch.arange(H_np.shape[0], device=self._dev)).float()
            return (unit_rows(q.cpu().numpy()) @ unit_rows(emb.cpu().numpy()).T).astype(np.float64)

    def _finish(self, net: Any, H_np: np.ndarray, M_np: np.ndarray) -> None:
        """Towers evaluated for every item and user, weights copied to numpy attributes."""
        import torch

        net.eval()
        with torch.inference_mode():
            idx = torch.arange(len(self.item_vectors_), device=self._dev)
            emb = net.items(torch.as_tensor(self.item_vectors_, device=self._dev), idx).float()
            self.item_embeddings_ = emb.cpu().numpy().astype(np.float32)
            hv = emb[torch.as_tensor(H_np, device=self._dev)]
            users = torch.arange(H_np.shape[0], device=self._dev)
            q = net.users(hv, torch.as_tensor(M_np, device=self._dev), users).float()
            self.user_factors_ = unit_rows(q.cpu().numpy().astype(np.float32))
        self.item_factors_ = unit_rows(self.item_embeddings_)
        for name, tensor in net.state_dict().items():
            setattr(self, "tower_" + name.replace(".", "__") + "_", tensor.detach().float().cpu().numpy())

    # ------------------------------------------------------------------ scoring
    def _score(self, user_index: np.ndarray) -> np.ndarray:
        return self.user_factors_[user_index] @ self.item_factors_.T

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_

    def user_vector(self, item_ids: Any) -> np.ndarray:
        """The user tower for a new history (item ids, no user embedding): unit vector, no refit."""
        self.check_fitted()
        idx = self.items_.index(item_ids)
        if idx.size == 0:
            return np.zeros(self.item_factors_.shape[1], dtype=np.float32)
        return unit_rows(self.item_embeddings_[idx].mean(axis=0, keepdims=True))[0]

    def save_encoder(self, folder: str | Path) -> None:
        """Write the fine-tuned text encoder and its tokenizer (``save_pretrained``, safetensors)."""
        if getattr(self, "_live_encoder", None) is None:
            raise CourseKitError("no fine-tuned encoder in memory: fit with finetune_encoder=True first.")
        self._live_encoder.save(str(folder))
