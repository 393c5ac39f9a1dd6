r"""Generative retrieval (in the spirit of TIGER): a decoder that writes the next item's semantic ID.

Every item :math:`i` has a code :math:`(c_{i1}, \dots, c_{iD})` of :math:`D` tokens (its semantic
ID, :mod:`coursekit.generative.semantic_ids`). A user's history :math:`i_1, \dots, i_n` becomes the
token sequence :math:`c_{i_1 1} \dots c_{i_1 D}\, c_{i_2 1} \dots c_{i_n D}`, and a small causal
transformer (a GPT-2 built from a ``transformers`` config, trained here, nothing downloaded)
models it token by token:

.. math:: \log P(i \mid i_1, \dots, i_n) = \sum_{d=1}^{D} \log P(c_{id} \mid c_{i_1 1}, \dots, c_{i_n D},
          c_{i1}, \dots, c_{i,d-1}).

Training is next-token cross-entropy over every code token of every window of the last ``max_len + 1``
items (like SASRec's all-position training); early stopping watches the validation items' negative
log-likelihood :math:`-\log P(i_{\text{valid}} \mid \text{history})` per user. Recommending is beam search
over the :math:`D` decoding steps, **constrained by a prefix trie** of the catalogue's codes
(:func:`coursekit.generative.trie.constrained_beam_search`), so every beam ends on a real item;
prefixes under which every item is already in the user's history get probability 0 at every
step, so the list holds new items only.

Unlike :class:`~coursekit.models.SASRec`, whose output layer has one row per item, the output layer
here has one row per *code token* (:math:`\sum_d K_d` rows, a few dozen): items that share a prefix
share parameters, which is the hope for items with few training events.

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": np.repeat([1, 2, 3, 4], 4), "item_id": [1, 2, 3, 4] * 4,
...                     "timestamp": np.tile([1, 2, 3, 4], 4)})
>>> codes = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
>>> m = GenerativeRetriever(dim=16, n_layers=1, n_heads=1, max_len=3, epochs=40, lr=0.02, dropout=0.0,
...                         beam_size=4, device="cpu", num_threads=1).fit(Interactions.from_frame(log), codes)
>>> int(m.generate_sequences([[0, 1, 2]], k=1)[0][0, 0])   # after items 1, 2, 3 comes item 4 (index 3)
3
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from coursekit._validation import CourseKitError, check_positive_int, check_seed
from coursekit.interactions import Interactions
from coursekit.models.sequences import left_padded_windows, user_sequences
from coursekit.models.transformer import torch_threads

__all__ = ["GenerativeRetriever", "build_code_decoder", "top_lists_to_scores"]

PAD = 0          # padding token; code token c of the flat code vocabulary is model token c + 1
SHIFT = 1


def build_code_decoder(vocab_size: int, dim: int, n_layers: int, n_heads: int, n_positions: int,
                       dropout: float, seed: int = 0):
    """A randomly initialised GPT-2 (``GPT2LMHeadModel``) over ``vocab_size`` tokens, from a config.

    >>> net = build_code_decoder(10, dim=8, n_layers=1, n_heads=2, n_positions=16, dropout=0.0)
    >>> sum(p.numel() for p in net.parameters()) > 0
    True
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=int(vocab_size), n_positions=int(n_positions), n_embd=int(dim),
                        n_layer=int(n_layers), n_head=int(n_heads), resid_pdrop=float(dropout),
                        embd_pdrop=float(dropout), attn_pdrop=float(dropout), bos_token_id=PAD,
                        eos_token_id=PAD, pad_token_id=PAD)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return GPT2LMHeadModel(config)


def _code_tokens(item_tokens: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Item tokens (B, N) (index + 1, 0 = padding) -> model tokens (B, N * D), padding kept as PAD."""
    B, N = item_tokens.shape
    D = tokens.shape[1]
    out = tokens[np.maximum(item_tokens - 1, 0)] + SHIFT        # (B, N, D)
    out[item_tokens == 0] = PAD
    return out.reshape(B, N * D)


def _positions(mask):
    """Position ids of left-padded rows: 0 at the first real token."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


def _device(net):
    """The device a torch module's parameters are on."""
    return next(net.parameters()).device


def top_lists_to_scores(top: np.ndarray, users: np.ndarray, n_users: int, n_items: int) -> np.ndarray:
    """A score matrix whose top-k reproduces ranked lists (``-1`` entries ignored), for the evaluators.

    Listed items score ``k - rank`` (> 0); all others 0 minus a tiny index tie-break, so the lists are
    the top of each row.

    >>> top_lists_to_scores(np.array([[2, 0]]), np.array([0]), 1, 3)[0].round(6).tolist()
    [1.0, -0.0, 2.0]
    """
    scores = np.tile(-1e-6 * np.arange(n_items) / n_items, (n_users, 1))
    k = top.shape[1]
    rows = np.repeat(np.asarray(users), k)
    vals = np.tile(np.arange(k, 0, -1, dtype=np.float64), len(users))
    ok = top.ravel() >= 0
    scores[rows[ok], top.ravel()[ok]] = vals[ok]
    return scores


class GenerativeRetriever:
    r"""A causal transformer over semantic-ID tokens that decodes the next item with a constrained beam.

    Parameters
    ----------
    dim, n_layers, n_heads : int
        GPT-2 width, blocks and heads (``dim % n_heads == 0``).
    max_len : int
        Items of history the model reads (``max_len * D`` tokens).
    dropout : float
    epochs, batch_size, lr, weight_decay : training (AdamW over windows of ``max_len + 1`` items,
        one random window per user and epoch).
    patience : int, optional
        With ``fit(..., valid=...)``: stop after ``patience`` epochs without a lower validation NLL.
    beam_size : int
        Beams kept per decoding step; lists are at most this long (minus the items a user already has).
    time_budget_s : float, optional
        Stop training after this many seconds (checked after each epoch).
    device, num_threads, seed : as :class:`~coursekit.models.SASRec`.

    Attributes
    ----------
    loss_history_, valid_history_ : arrays
        Training cross-entropy per code token and validation NLL per item, per epoch.
    best_epoch_ : int
    """

    def __init__(self, dim: int = 64, n_layers: int = 2, n_heads: int = 2, max_len: int = 20,
                 dropout: float = 0.1, epochs: int = 30, batch_size: int = 128, lr: float = 2e-3,
                 weight_decay: float = 0.0, patience: int | None = None, beam_size: int = 20,
                 time_budget_s: float | None = None, device: str = "auto", num_threads: int | None = None,
                 seed: int = 0) -> None:
        self.dim, self.n_layers, self.n_heads, self.max_len = dim, n_layers, n_heads, max_len
        self.dropout, self.epochs, self.batch_size, self.lr = dropout, epochs, batch_size, lr
        self.weight_decay, self.patience, self.beam_size = weight_decay, patience, beam_size
        self.time_budget_s, self.device, self.num_threads, self.seed = time_budget_s, device, num_threads, seed

    # ------------------------------------------------------------------ checks
    def _check_params(self, codes: np.ndarray, n_items: int) -> np.ndarray:
        check_seed(self.seed)
        for name in ("dim", "n_layers", "n_heads", "max_len", "epochs", "batch_size", "beam_size"):
            check_positive_int(getattr(self, name), name)
        if self.dim % self.n_heads:
            raise CourseKitError(f"dim ({self.dim}) must be divisible by n_heads ({self.n_heads}).")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise CourseKitError(f"dropout must lie in [0, 1), got {self.dropout!r}.")
        if self.patience is not None:
            check_positive_int(self.patience, "patience")
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[0] != n_items or not np.issubdtype(codes.dtype, np.integer):
            raise CourseKitError(f"codes must be an integer array (n_items={n_items}, D) with one row per item "
                                 f"index of train, got shape {codes.shape} and dtype {codes.dtype}; pass "
                                 "semantic_ids(...).codes aligned with train.items.")
        if (codes < 0).any():
            raise CourseKitError("codes must be >= 0 (level-wise code numbers); got negative entries.")
        if len(np.unique(codes, axis=0)) != n_items:
            raise CourseKitError("codes must be unique per item (add the collision column: semantic_ids does).")
        return codes

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Interactions, codes: np.ndarray,
            valid: Interactions | None = None) -> GenerativeRetriever:
        """Fit on ``train``'s sequences; ``codes`` (n_items, D) are the items' semantic IDs (item index order).

        With ``valid`` (one held-out event per user cut from the end of train, e.g.
        ``leave_last_out(train)``), the validation NLL is recorded per epoch and the best epoch kept.
        """
        import torch

        from coursekit.env import pick_device

        if not isinstance(train, Interactions):
            raise CourseKitError(f"train must be coursekit Interactions, got {type(train).__name__}.")
        codes = self._check_params(codes, train.n_items)
        if self.patience is not None and valid is None:
            raise CourseKitError(f"patience={self.patience!r} needs fit(train, codes, valid=...) with valid cut "
                                 "from the end of each user's training events, or patience=None.")
        D = codes.shape[1]
        sizes = codes.max(axis=0) + 1
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.codes_, self.level_offsets_ = codes, offsets
        self.tokens_ = (codes + offsets).astype(np.int64)                 # flat code vocabulary
        self.vocab_size_ = int(sizes.sum()) + SHIFT
        self.n_items_, self.depth_ = train.n_items, D
        items, indptr = user_sequences(train)
        self.seq_items_, self.seq_indptr_ = items, indptr
        active = np.flatnonzero(np.diff(indptr) >= 2)
        device = pick_device(self.device)
        rng = np.random.default_rng(self.seed)
        losses, valid_hist, best = [], [], None
        self.best_epoch_ = 0
        t0 = time.perf_counter()
        with torch.random.fork_rng(devices=[]), torch_threads(self.num_threads):
            torch.manual_seed(self.seed)
            net = build_code_decoder(self.vocab_size_, self.dim, self.n_layers, self.n_heads,
                                     (self.max_len + 1) * D, float(self.dropout), self.seed).to(device)
            opt = torch.optim.AdamW(net.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
            for epoch in range(self.epochs):
                net.train()
                losses.append(self._epoch(net, opt, items, indptr, active, rng, device))
                if not math.isfinite(losses[-1]):
                    raise FloatingPointError(f"GenerativeRetriever diverged in epoch {epoch + 1}; lower lr.")
                if valid is not None:
                    self.net_ = net
                    valid_hist.append(float(self._valid_nll(train, valid).mean()))
                    if best is None or valid_hist[-1] < min(valid_hist[:-1]):
                        self.best_epoch_ = epoch + 1
                        best = {k: v.detach().clone() for k, v in net.state_dict().items()}
                    elif self.patience is not None and epoch + 1 - self.best_epoch_ >= self.patience:
                        break
                else:
                    self.best_epoch_ = epoch + 1
                if self.time_budget_s is not None and time.perf_counter() - t0 > float(self.time_budget_s):
                    break
        if best is not None:
            net.load_state_dict(best)
        self.net_ = net.eval()
        self.loss_history_ = np.asarray(losses)
        self.valid_history_ = np.asarray(valid_hist)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _epoch(self, net, opt, items, indptr, active, rng, device) -> float:
        import torch
        from torch.nn import functional as F

        users = rng.permutation(active)
        lens = indptr[users + 1] - indptr[users]
        ends = indptr[users] + 2 + (rng.random(len(users)) * (lens - 1)).astype(np.int64)   # >= 2 items
        ends = np.minimum(ends, indptr[users + 1])
        total, count = 0.0, 0
        for s in range(0, len(users), self.batch_size):
            win = left_padded_windows(items, indptr, users[s:s + self.batch_size], ends[s:s + self.batch_size],
                                      self.max_len + 1)
            seq = torch.as_tensor(_code_tokens(win, self.tokens_), device=device)
            mask = seq != PAD
            inp, tgt = seq[:, :-1], seq[:, 1:]
            logits = net(input_ids=inp, attention_mask=mask[:, :-1], position_ids=_positions(mask[:, :-1])).logits
            sel = (tgt != PAD) & mask[:, :-1]
            loss = F.cross_entropy(logits[sel], tgt[sel])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            total += float(loss.detach()) * int(sel.sum())
            count += int(sel.sum())
        return total / max(count, 1)

    # ------------------------------------------------------------------ scoring
    def _history_tokens(self, histories: Sequence[Sequence[int]]) -> np.ndarray:
        """Left-padded model tokens (B, max_len * D) of the last ``max_len`` items of each history."""
        n = self.max_len
        win = np.zeros((len(histories), n), dtype=np.int64)
        for r, h in enumerate(histories):
            h = np.asarray(h, dtype=np.int64)[-n:]
            if len(h):
                win[r, n - len(h):] = h + 1
        return _code_tokens(win, self.tokens_)

    def _train_histories(self, users: np.ndarray) -> list[np.ndarray]:
        ptr = self.seq_indptr_
        return [self.seq_items_[ptr[u]:ptr[u + 1]] for u in users]

    def _key(self, query: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """One int64 per (query, token prefix) row (mixed radix)."""
        key = np.asarray(query, dtype=np.int64).copy()
        for d in range(tokens.shape[1]):
            key = key * np.int64(self.vocab_size_) + tokens[:, d]
        return key

    def _exhausted(self, histories: list, query: np.ndarray, prefixes: np.ndarray) -> tuple:
        """``(rows, tokens)``: next tokens after which every item below is in row ``b``'s own history.

        Per query, a child prefix is exhausted when the history holds as many of its items as the
        catalogue has; blocking it at every depth keeps the beam on prefixes that still lead somewhere."""
        t = prefixes.shape[1]
        pairs = np.unique(np.column_stack([np.repeat(np.arange(len(histories)), [len(h) for h in histories]),
                                           np.concatenate([np.asarray(h, dtype=np.int64) for h in histories])]),
                          axis=0) if histories else np.zeros((0, 2), dtype=np.int64)
        q_seen, seq = pairs[:, 0], self.tokens_[pairs[:, 1]] + SHIFT
        _, first, n_seen = np.unique(self._key(q_seen, seq[:, :t + 1]), return_index=True, return_counts=True)
        catalogue, n_all = np.unique(self._key(np.zeros(self.n_items_), self.tokens_[:, :t + 1] + SHIFT),
                                     return_counts=True)
        n_total = n_all[np.searchsorted(catalogue, self._key(np.zeros(len(first)), seq[first, :t + 1]))]
        full = first[n_seen == n_total]
        parent, token = self._key(q_seen[full], seq[full, :t]), seq[full, t]
        rows_key = self._key(query, prefixes)                     # distinct: beams of a query differ
        order = np.argsort(rows_key)
        pos = np.minimum(np.searchsorted(rows_key[order], parent), len(order) - 1)
        ok = rows_key[order[pos]] == parent
        return order[pos[ok]], token[ok]

    def _history_step(self, hist_tokens: np.ndarray, exclude: list | None = None):
        """A ``step`` for the beam searches: the history runs once (its keys and values are cached),
        every later call runs only the prefix tokens of each beam on top of its query's cached history.
        With ``exclude`` (item indices per query), prefixes that lead only to those items get log-prob -inf.
        Where ``transformers`` has no ``cache`` argument (before 5.x) every step runs the whole sequence."""
        import inspect

        import torch

        dev = _device(self.net_)
        hist = torch.as_tensor(hist_tokens, device=dev)
        mask = hist != PAD
        cached = "cache" in inspect.signature(self.net_.forward).parameters
        with torch.no_grad(), torch_threads(self.num_threads):
            out = self.net_(input_ids=hist, attention_mask=mask, position_ids=_positions(mask), use_cache=cached)
        first = torch.log_softmax(out.logits[:, -1].float(), -1).cpu().numpy()
        layers = [(layer.keys, layer.values) for layer in out.cache.layers] if cached else None
        last = _positions(mask)[:, -1]

        def block(logp: np.ndarray, query: np.ndarray, prefixes: np.ndarray) -> np.ndarray:
            if exclude is not None:
                rows, tokens = self._exhausted(exclude, query, prefixes)
                logp[rows, tokens] = -np.inf
            return logp

        def forward(q, prefixes):
            t = prefixes.shape[1]
            if cached:
                from transformers import DynamicCache

                cache = DynamicCache(ddp_cache_data=[(k[q], v[q]) for k, v in layers])
                full_mask = torch.cat([mask[q], torch.ones(len(q), t, dtype=torch.bool, device=dev)], 1)
                return self.net_(input_ids=torch.as_tensor(prefixes, device=dev), cache=cache,
                                 attention_mask=full_mask,
                                 position_ids=last[q, None] + 1 + torch.arange(t, device=dev)).logits[:, -1]
            seq = torch.cat([hist[q], torch.as_tensor(prefixes, device=dev)], 1)
            full_mask = seq != PAD
            return self.net_(input_ids=seq, attention_mask=full_mask, position_ids=_positions(full_mask)).logits[:, -1]

        def step(query: np.ndarray, prefixes: np.ndarray) -> np.ndarray:
            if prefixes.shape[1] == 0:
                return block(first[query].copy(), query, prefixes)
            with torch.no_grad(), torch_threads(self.num_threads):
                logits = forward(torch.as_tensor(query, device=dev), prefixes)
            return block(torch.log_softmax(logits.float(), -1).cpu().numpy(), query, prefixes)

        return step

    def item_log_likelihood(self, histories: Sequence[Sequence[int]], items: Sequence[int]) -> np.ndarray:
        r""":math:`\log P(i \mid \text{history})` of one item per history (teacher forcing over its D tokens)."""
        import torch

        hist = self._history_tokens(histories)
        target = self.tokens_[np.asarray(items, dtype=np.int64)] + SHIFT          # (B, D)
        seq = torch.as_tensor(np.concatenate([hist, target], axis=1), device=_device(self.net_))
        mask = seq != PAD
        D = self.depth_
        with torch.no_grad(), torch_threads(self.num_threads):
            logits = self.net_(input_ids=seq[:, :-1], attention_mask=mask[:, :-1],
                               position_ids=_positions(mask[:, :-1])).logits[:, -D:]
            lp = torch.log_softmax(logits.float(), -1).gather(-1, seq[:, -D:, None])[..., 0]
        return lp.sum(-1).cpu().numpy().astype(np.float64)

    def _valid_nll(self, train: Interactions, valid: Interactions) -> np.ndarray:
        self.net_.eval()
        users, items = valid.user_index, valid.item_index
        return -self.item_log_likelihood(self._train_histories(users), items)

    def generate_sequences(self, histories: Sequence[Sequence[int]], k: int = 10, constrained: bool = True,
                           exclude_history: bool = True, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item indices and log-probabilities per history, by (constrained) beam search.

        ``histories`` are item-index sequences, oldest first (the last ``max_len`` are read). Returns
        ``(items (n, k), log_probs (n, k))``, best first; ``-1`` where fewer than ``k`` items can be reached.
        With ``constrained=False`` the beams are free code sequences and ``items`` is ``-1`` wherever a
        sequence is no item's code (count them to see what the trie prevents). ``exclude_history``: items of
        the history cannot be generated. ``chunk``: histories decoded together (memory of the cached keys).
        """
        from coursekit.generative.trie import PrefixTrie, beam_search, constrained_beam_search

        k = check_positive_int(k, "k")
        histories = list(histories)
        if k > self.beam_size:
            raise CourseKitError(f"k={k} exceeds beam_size={self.beam_size}: lists are at most as long as the "
                                 "beam; raise beam_size.")
        trie = PrefixTrie(self.tokens_ + SHIFT, np.arange(self.n_items_))
        values, scores = [], []
        for s in range(0, len(histories), chunk):     # the cached keys of a chunk's beams fit in memory
            part = histories[s:s + chunk]
            step = self._history_step(self._history_tokens(part), part if exclude_history else None)
            n = min(chunk, len(histories) - s)
            if constrained:
                v, sc = constrained_beam_search(step, trie, n, self.beam_size, self.vocab_size_)
            else:
                v, sc = beam_search(step, self.depth_, n, self.beam_size, self.vocab_size_, trie=trie)
            values.append(v)
            scores.append(sc)
        values, scores = np.concatenate(values), np.concatenate(scores)
        return values[:, :k], scores[:, :k]

    def recommend(self, users: Sequence[int], k: int = 10, constrained: bool = True) -> np.ndarray:
        """Top-``k`` item indices for training user indices (their training history is the prompt)."""
        users = np.asarray(users, dtype=np.int64)
        return self.generate_sequences(self._train_histories(users), k, constrained)[0]
