r"""Sequential recommenders: SASRec and BERT4Rec, transformers over a user's item sequence.

A user is the sequence of items they touched, in time order (ties by item id, the rule
of :func:`coursekit.interactions.user_time_order`). Items are tokens: index 0 is padding, item
index :math:`j` is token :math:`j + 1`, and BERT4Rec has a ``[MASK]`` token :math:`|I| + 1`.
Both models embed the last :math:`N` tokens (``max_len``), add learned positional
embeddings, run :math:`L` pre-norm transformer blocks and score every item of the
catalogue by the dot product with its (tied) input embedding plus a bias:

.. math::

    H^{(0)} = E_{s} + P, \qquad
    H^{(\ell)} = H' + \mathrm{FFN}(\mathrm{LN}(H')),\;
    H' = H^{(\ell-1)} + \mathrm{Attn}\big(\mathrm{LN}(H^{(\ell-1)}); M\big), \qquad
    z_{t, i} = e_i^\top \mathrm{LN}(H^{(L)})_t + b_i .

:class:`SASRec` (Kang & McAuley 2018) is *causal*: the mask :math:`M_{ts} = [s \le t]`
lets position :math:`t` attend to positions up to :math:`t` only, and position :math:`t`
is trained to predict item :math:`t+1` with the **full softmax** cross-entropy over the
whole catalogue (not sampled negatives, which rank worse; Klenitskiy & Vasilev 2023):

.. math:: \mathcal{L} = -\sum_{t} \log \frac{\exp z_{t, i_{t+1}}}{\sum_{j \in I} \exp z_{t, j}} .

:class:`BERT4Rec` (Sun et al. 2019) is *bidirectional*: every position sees every
non-padding position, so it cannot be trained on the next item. Instead a share
``mask_prob`` of the positions is replaced by ``[MASK]`` and the model predicts the
hidden items at those positions (same full-softmax loss, over masked positions only).
At inference ``[MASK]`` is appended after the last item and its output gives the scores.

Training cuts every user's history into windows of :math:`N + 1` consecutive items (or
draws one random window per user and epoch), Adam, dropout on embeddings, attention and FFN.
``fit(train, valid=...)`` (``valid`` cut from the training data, never the test) records the
validation NDCG@10 after every epoch, keeps the best epoch's weights and, with ``patience``, stops
once ``patience`` epochs passed without a new best (the validation curve has flattened).
Deterministic given ``seed`` on a given device; the weights are converted to numpy at the end of ``fit`` (so
``save``/``load`` are the generic safetensors ones) and a torch module is rebuilt from
them for inference (always on the CPU). ``torch`` is imported inside functions only.

References
----------
W.-C. Kang, J. McAuley. Self-Attentive Sequential Recommendation. ICDM 2018.
F. Sun et al. BERT4Rec: Sequential Recommendation with Bidirectional Encoder
Representations from Transformer. CIKM 2019.
A. Klenitskiy, A. Vasilev. Turning Dross Into Gold Loss: is BERT4Rec really better than
SASRec? RecSys 2023.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from coursekit._validation import CourseKitError, check_choice, check_positive_int, check_seed
from coursekit.interactions import Interactions, check_same_universe
from coursekit.models.base import Recommender
from coursekit.models.sequences import bert4rec_mask, left_padded_windows, user_sequences
from coursekit.models.towers import validation_ndcg
from coursekit.models.transformer import build_sequence_net, torch_threads

__all__ = ["SASRec", "BERT4Rec"]

_W = "w__"  # prefix of the numpy copies of the weights (saved by the generic Recommender.save)


# ---------------------------------------------------------------------------- shared model code
class _SequentialBase(Recommender):
    """What SASRec and BERT4Rec share; capabilities ``similar_items`` (output embeddings) and ``save``."""

    capabilities: ClassVar[frozenset[str]] = frozenset({"similar_items", "save"})
    causal = True

    def __init__(self, dim: int = 64, n_layers: int = 2, n_heads: int = 2, max_len: int = 50,
                 dropout: float = 0.2, epochs: int = 50, batch_size: int = 128, lr: float = 1e-3,
                 weight_decay: float = 0.0, sampling: str = "all", device: str = "auto",
                 num_threads: int | None = None, seed: int = 0, patience: int | None = None) -> None:
        self.dim = dim
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.max_len = max_len
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.sampling = sampling
        self.device = device
        self.num_threads = num_threads
        self.seed = seed
        self.patience = patience

    # -- hooks of the two objectives
    def _n_tokens(self, n_items: int) -> int:
        return n_items + 1

    def _batch(self, items, indptr, users, ends, rng):
        raise NotImplementedError

    def _context(self, tokens: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- checks
    def _check_params(self) -> None:
        check_seed(self.seed)
        for name in ("dim", "n_layers", "n_heads", "max_len", "epochs", "batch_size"):
            check_positive_int(getattr(self, name), name)
        if self.dim % self.n_heads:
            raise CourseKitError(f"dim ({self.dim}) must be divisible by n_heads ({self.n_heads}).")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise CourseKitError(f"dropout must lie in [0, 1), got {self.dropout!r}.")
        if self.max_len < 2 and not self.causal:
            raise CourseKitError(f"BERT4Rec needs max_len >= 2 (items plus the [MASK] slot), got {self.max_len}.")
        check_choice(self.sampling, "sampling", ["all", "random"])
        if self.patience is not None:
            check_positive_int(self.patience, "patience")
        if not float(self.lr) > 0:
            raise CourseKitError(f"lr must be > 0, got {self.lr!r}.")

    def _make_net(self, n_items: int):
        return build_sequence_net(self._n_tokens(n_items), n_items, self.dim, self.n_layers, self.n_heads,
                          self.max_len, float(self.dropout), self.causal)

    # -- fitting
    def fit(self, train: Interactions, valid: Interactions | None = None) -> _SequentialBase:
        """Fit on ``train``; with ``valid`` (same universe, cut from the training data) the validation
        NDCG@10 is recorded per epoch (``valid_history_``), the best epoch's weights are kept
        (``best_epoch_``) and ``patience`` can stop training early."""
        if valid is not None:
            if not isinstance(valid, Interactions):
                raise CourseKitError(f"valid must be coursekit Interactions (or None), got {type(valid).__name__}.")
            check_same_universe(train, valid, names=("train", "valid"))
            if not (valid.matrix("binary") > train.matrix("binary")).nnz:
                raise CourseKitError("valid has no event on an item unseen in train: nothing to validate; cut "
                                     "valid from the end of each user's history (user_temporal_split).")
        if self.patience is not None and valid is None:
            raise CourseKitError(f"patience={self.patience!r} needs a validation part: call fit(train, valid=valid) "
                                 "with valid cut from the training data (e.g. leave_last_out(train, n_test=1)), "
                                 "or set patience=None.")
        self._valid = valid
        try:
            return super().fit(train)
        finally:
            del self._valid

    def _validate(self, net, train: Interactions, valid: Interactions) -> float:
        """Validation NDCG@10 of the current weights (scores only for the users with a valid event)."""
        self._export(net)
        users = np.unique(valid.user_index)
        scores = np.zeros((train.n_users, train.n_items))
        scores[users] = self._score(users)
        net.train()
        return validation_ndcg(scores, train, valid)

    def _fit(self, train: Interactions) -> None:
        import torch

        from coursekit.env import pick_device

        self._check_params()
        items, indptr = user_sequences(train)
        self.seq_items_, self.seq_indptr_ = items, indptr
        active = np.flatnonzero(np.diff(indptr) >= 2)  # a sequence needs an input and a target
        device = pick_device(self.device)
        rng = np.random.default_rng(self.seed)
        losses = np.full(self.epochs, np.nan)
        valid, best, valid_hist = getattr(self, "_valid", None), None, []
        self.best_epoch_ = self.epochs
        with torch.random.fork_rng(devices=[]), torch_threads(self.num_threads):
            torch.manual_seed(self.seed)
            net = self._make_net(train.n_items).to(device)
            opt = torch.optim.Adam(net.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
            net.train()
            for epoch in range(self.epochs):
                users, ends = self._epoch_windows(indptr, active, rng)
                total, count = 0.0, 0
                for s in range(0, len(users), self.batch_size):
                    sl = slice(s, s + self.batch_size)
                    inp, tgt = self._batch(items, indptr, users[sl], ends[sl], rng)
                    inp_t = torch.as_tensor(inp, device=device)
                    tgt_t = torch.as_tensor(tgt, device=device)
                    h = net(inp_t)
                    sel = tgt_t > 0
                    logits = net.logits(h[sel])                      # only positions with a target
                    loss = torch.nn.functional.cross_entropy(logits, tgt_t[sel] - 1)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * int(sel.sum())
                    count += int(sel.sum())
                losses[epoch] = total / max(count, 1)
                if not math.isfinite(losses[epoch]):
                    raise FloatingPointError(f"{type(self).__name__} diverged in epoch {epoch + 1}; lower lr.")
                callback = getattr(self, "epoch_callback", None)
                if callback is not None:   # e.g. validation curves for tuning the number of epochs
                    self.loss_history_ = losses[:epoch + 1]
                    self._export(net)
                    callback(self, epoch + 1)
                    net.train()
                if valid is not None:
                    valid_hist.append(self._validate(net, train, valid))
                    if best is None or valid_hist[-1] > max(valid_hist[:-1]):
                        self.best_epoch_ = epoch + 1
                        best = {k: v.detach().clone() for k, v in net.state_dict().items()}
                    elif self.patience is not None and epoch + 1 - self.best_epoch_ >= self.patience:
                        break
        self.loss_history_ = losses[:epoch + 1]
        self.valid_history_ = np.asarray(valid_hist, dtype=np.float64)
        if best is not None:
            net.load_state_dict(best)
        self._export(net)

    def _export(self, net) -> None:
        """Copy the weights to numpy attributes ``w__<name>_`` (saved by the generic ``save``)."""
        for name, value in net.state_dict().items():
            setattr(self, _W + name.replace(".", "__") + "_", value.detach().cpu().numpy().astype(np.float32))
        self._net_cache = None

    def _window_length(self) -> int:
        return self.max_len + 1

    def _epoch_windows(self, indptr, active, rng) -> tuple[np.ndarray, np.ndarray]:
        r"""The (user, end) of every training window of one epoch, shuffled.

        ``sampling="all"``: each user's history is cut from the end into windows of
        :math:`W` = ``_window_length()`` items overlapping by one (so every transition is used once
        per epoch); ``"random"``: one window per user ending at a random point.
        """
        W = self._window_length()
        n = indptr[active + 1] - indptr[active]
        if self.sampling == "random":
            low = np.minimum(n, W)
            ends = indptr[active] + low + (rng.random(len(active)) * (n - low + 1)).astype(np.int64)
            users = active
        else:
            step = max(W - 1, 1)
            n_win = np.maximum(1, -(-(n - 1) // step))
            users = np.repeat(active, n_win)
            j = np.arange(n_win.sum()) - np.repeat(np.cumsum(n_win) - n_win, n_win)
            ends = indptr[users + 1] - j * step
        perm = rng.permutation(len(users))
        return users[perm], ends[perm]

    # -- inference
    def _net(self):
        """The torch module rebuilt from the numpy weights (cached; CPU, eval mode)."""
        if getattr(self, "_net_cache", None) is None:
            import torch

            self.check_fitted()
            net = self._make_net(self.n_items)
            state = {k[len(_W):-1].replace("__", "."): torch.from_numpy(np.asarray(v))
                     for k, v in vars(self).items() if k.startswith(_W)}
            net.load_state_dict(state)
            net.eval()
            self._net_cache = net
        return self._net_cache

    def _hidden(self, tokens: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad(), torch_threads(self.num_threads):
            return self._net()(torch.as_tensor(tokens))[:, -1].numpy().astype(np.float64)

    def output_embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """``(E, b)``: item output vectors (n_items, dim) and biases, so that scores are ``E @ h + b``."""
        self.check_fitted()
        E = getattr(self, _W + "item_emb__weight_")[1:self.n_items + 1].astype(np.float64)
        return E, getattr(self, _W + "out_bias_").astype(np.float64)

    def encode_sequence(self, item_index_seq: Sequence[int] | np.ndarray) -> np.ndarray:
        """The user state :math:`h` (dim,) after a sequence of internal item indices (oldest first)."""
        self.check_fitted()
        seq = np.asarray(item_index_seq, dtype=np.int64).ravel()
        if seq.size and (seq.min() < 0 or seq.max() >= self.n_items):
            raise CourseKitError(f"item indices must lie in [0, {self.n_items}); map ids with model.items_.index().")
        seq = seq[-self._context_len():]
        tokens = np.zeros((1, self._context_len()), dtype=np.int64)
        if seq.size:
            tokens[0, -seq.size:] = seq + 1
        return self._hidden(self._context(tokens))[0]

    def score_sequence(self, item_index_seq: Sequence[int] | np.ndarray) -> np.ndarray:
        """Next-item scores (n_items,) after a sequence of internal item indices (oldest first)."""
        E, b = self.output_embeddings()
        return E @ self.encode_sequence(item_index_seq) + b

    def _context_len(self) -> int:
        return self.max_len

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        users = np.asarray(user_index, dtype=np.int64)
        tokens = left_padded_windows(self.seq_items_, self.seq_indptr_, users, self.seq_indptr_[users + 1],
                                     self._context_len())
        E, b = self.output_embeddings()
        out = np.empty((len(users), self.n_items))
        for s in range(0, len(users), 256):
            out[s:s + 256] = self._hidden(self._context(tokens[s:s + 256])) @ E.T + b
        return out

    def _item_vectors(self) -> np.ndarray:
        return self.output_embeddings()[0]


class SASRec(_SequentialBase):
    r"""SASRec: causal self-attention over the last ``max_len`` items, full-softmax cross-entropy.

    See the module docstring for the architecture and the loss.

    Parameters
    ----------
    dim, n_layers, n_heads : int
        Embedding size, transformer blocks, attention heads (``dim % n_heads == 0``).
    max_len : int
        :math:`N`, the number of most recent items the model reads.
    dropout : float
    epochs, batch_size : int
        Passes over the training windows, windows per Adam step.
    sampling : {"all", "random"}
        Windows per epoch: every user's whole history cut into windows of ``max_len + 1``
        (``"all"``), or one random window per user (``"random"``, cheaper epochs).
    lr, weight_decay : float
        Adam.
    device : str
        ``"auto"`` (CUDA if present) or a torch device name; inference runs on the CPU.
    num_threads : int, optional
        Torch CPU threads during ``fit`` and scoring (restored afterwards); ``None`` keeps torch's
        setting. Small models and one-sequence forward passes are often faster on one thread.
    seed : int

    Notes
    -----
    Setting the attribute ``model.epoch_callback = fn`` (not a hyperparameter) makes ``fit``
    call ``fn(model, epoch)`` after every epoch with the current weights in place (the model
    can score then): the way to draw validation curves when tuning the number of epochs.

    patience : int, optional
        With ``fit(train, valid=...)``: stop after ``patience`` epochs without a better validation
        NDCG@10 (``None``: run all ``epochs``; the best epoch's weights are kept either way).

    Attributes
    ----------
    loss_history_ : array (epochs run,)
        Mean training cross-entropy per epoch.
    valid_history_, best_epoch_ : array (epochs run,), int
        Validation NDCG@10 per epoch and the epoch whose weights were kept (with ``valid``).
    seq_items_, seq_indptr_ : arrays
        The training sequences (see :func:`user_sequences`).

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": np.repeat([1, 2, 3], 4), "item_id": [1, 2, 3, 4] * 3,
    ...                     "timestamp": np.tile([1, 2, 3, 4], 3)})
    >>> m = SASRec(dim=8, n_heads=1, n_layers=1, max_len=4, epochs=60, dropout=0.0, lr=0.02,
    ...            device="cpu", num_threads=1).fit(Interactions.from_frame(log))
    >>> int(np.argmax(m.score_sequence([0, 1, 2])))   # after items 1, 2, 3 comes item 4 (index 3)
    3
    """

    causal = True

    def _batch(self, items, indptr, users, ends, rng):
        win = left_padded_windows(items, indptr, users, ends, self.max_len + 1)
        inp, tgt = win[:, :-1], win[:, 1:]
        return inp, np.where(inp > 0, tgt, 0)   # no target for padding inputs

    def _context(self, tokens: np.ndarray) -> np.ndarray:
        return tokens


class BERT4Rec(_SequentialBase):
    r"""BERT4Rec: bidirectional self-attention trained to recover masked items (full softmax).

    Same parameters as :class:`SASRec`, plus ``mask_prob`` (share of positions masked in
    training) and ``mask_last_prob`` (share of windows in which only the last item is masked).
    At inference the model reads the last ``max_len - 1`` items followed by ``[MASK]``.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": np.repeat([1, 2, 3], 4), "item_id": [1, 2, 3, 4] * 3,
    ...                     "timestamp": np.tile([1, 2, 3, 4], 3)})
    >>> m = BERT4Rec(dim=8, n_heads=1, n_layers=1, max_len=4, epochs=5, device="cpu", num_threads=1)
    >>> m.fit(Interactions.from_frame(log)).score([1]).shape
    (1, 4)
    """

    causal = False

    def __init__(self, dim: int = 64, n_layers: int = 2, n_heads: int = 2, max_len: int = 50,
                 dropout: float = 0.2, epochs: int = 50, batch_size: int = 128, lr: float = 1e-3,
                 weight_decay: float = 0.0, sampling: str = "all", mask_prob: float = 0.2,
                 mask_last_prob: float = 0.1, device: str = "auto", num_threads: int | None = None,
                 seed: int = 0, patience: int | None = None) -> None:
        super().__init__(dim, n_layers, n_heads, max_len, dropout, epochs, batch_size, lr, weight_decay,
                         sampling, device, num_threads, seed, patience)
        self.mask_prob = mask_prob
        self.mask_last_prob = mask_last_prob

    def _n_tokens(self, n_items: int) -> int:
        return n_items + 2   # padding, items, [MASK]

    @property
    def mask_token(self) -> int:
        return self.n_items + 1

    def _window_length(self) -> int:
        return self.max_len

    def _batch(self, items, indptr, users, ends, rng):
        win = left_padded_windows(items, indptr, users, ends, self.max_len)
        return bert4rec_mask(win, len(self.items_) + 1, float(self.mask_prob), rng, float(self.mask_last_prob))

    def _context_len(self) -> int:
        return self.max_len - 1

    def _context(self, tokens: np.ndarray) -> np.ndarray:
        mask = np.full((tokens.shape[0], 1), self.n_items + 1, dtype=np.int64)
        return np.hstack([tokens[:, -(self.max_len - 1):] if self.max_len > 1 else tokens[:, :0], mask])
