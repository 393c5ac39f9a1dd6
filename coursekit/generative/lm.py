r"""A small causal language model of the shop, trained here: tokenizer, corpus, training, likelihoods.

A causal LM factorises the probability of a token sequence :math:`w_1 \dots w_T` left to right,

.. math:: \log P(w_1, \dots, w_T) = \sum_{t=1}^{T} \log P(w_t \mid w_{<t}),

and is trained by next-token cross-entropy. Conditioned on a *prompt* :math:`p`, the log-likelihood
of a *continuation* :math:`c = c_1 \dots c_m` is :math:`\sum_{j=1}^{m} \log P(c_j \mid p, c_{<j})`
(:func:`sequence_log_likelihood`); that one number is how an LM ranks candidate items
(:mod:`coursekit.generative.lm_ranker`).

* :func:`train_tokenizer` -- a word-level tokenizer (lower-cased; words and punctuation marks are
  tokens; ``[PAD] [UNK] [BOS] [EOS]``) trained on the corpus, wrapped as a ``transformers`` fast tokenizer.
* :func:`shop_corpus` -- the shop as text: product copy, reviews prefixed with what the reviewer had
  bought before, and purchase-history documents. Only the events of the log it is given enter.
* :func:`build_causal_lm`, :func:`train_causal_lm` -- a GPT-2 from a config (nothing downloaded),
  trained with AdamW and early stopping on a validation loss.
* :func:`load_causal_lm` -- a pretrained hub model instead (needs internet the first time).

>>> tok = train_tokenizer(["A customer bought Lumen Willow mug.", "Soft to the touch."])
>>> tok.convert_ids_to_tokens(tok("a customer bought")["input_ids"])
['a', 'customer', 'bought']
"""
from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_columns, check_positive_int, check_positive_number, check_seed
from coursekit.models.transformer import torch_threads

__all__ = ["SPECIAL_TOKENS", "train_tokenizer", "detokenize", "history_text", "review_prompt", "shop_corpus",
           "build_causal_lm", "train_causal_lm", "load_causal_lm", "sequence_log_likelihood"]

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[BOS]", "[EOS]")     # ids 0, 1, 2, 3 in every tokenizer trained here


def train_tokenizer(texts: Sequence[str], min_frequency: int = 1) -> Any:
    """A word-level ``PreTrainedTokenizerFast`` trained on ``texts`` (words seen < ``min_frequency`` times -> [UNK]).

    Lower-cases, splits on whitespace and punctuation ("quick-drying" -> ``quick - drying``). Adds no
    special token by itself: :func:`train_causal_lm` and :func:`sequence_log_likelihood` put ``[BOS]``
    in front of every sequence (and ``[EOS]`` after training texts).
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = _texts(texts, "texts")
    check_positive_int(min_frequency, "min_frequency")
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()])
    trainer = trainers.WordLevelTrainer(special_tokens=list(SPECIAL_TOKENS), min_frequency=int(min_frequency))
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                   bos_token="[BOS]", eos_token="[EOS]")


_SPACE_BEFORE = re.compile(r"\s+([.,;:!?)])")
_AROUND_HYPHEN = re.compile(r"\s*-\s*")


def detokenize(text: str) -> str:
    """Undo the spaces a word-level decoder puts around punctuation.

    >>> detokenize("a quick - drying jacket ; great .")
    'a quick-drying jacket; great.'
    """
    return _AROUND_HYPHEN.sub("-", _SPACE_BEFORE.sub(r"\1", str(text))).strip()


def _texts(texts: Any, name: str) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, (Sequence, np.ndarray, pd.Series)):
        raise CourseKitError(f"{name} must be a list of strings, got {type(texts).__name__}; "
                             f"wrap a single text as [{name[:-1]}].")
    out = list(texts)
    bad = [t for t in out if not isinstance(t, str)]
    if bad:
        raise CourseKitError(f"{name} must contain strings only, got {bad[0]!r} ({type(bad[0]).__name__}).")
    return out


# ---------------------------------------------------------------------------- the corpus
def history_text(titles: Sequence[str]) -> str:
    """Titles joined the way every prompt of lesson 09 writes a history.

    >>> history_text(["Lumen Willow mug", "Nimbus Echo kettle"])
    'Lumen Willow mug; Nimbus Echo kettle'
    """
    return "; ".join(str(t) for t in titles)


def review_prompt(history_titles: Sequence[str], item_title: str) -> str:
    """The start of a review document: ``"A customer who bought T1; T2 wrote about Tx:"``.

    >>> review_prompt(["Lumen Willow mug"], "Nimbus Echo kettle")
    'A customer who bought Lumen Willow mug wrote about Nimbus Echo kettle:'
    >>> review_prompt([], "Nimbus Echo kettle")
    'A customer wrote about Nimbus Echo kettle:'
    """
    bought = f" who bought {history_text(history_titles)}" if len(history_titles) else ""
    return f"A customer{bought} wrote about {item_title}:"


def _first_events(log: pd.DataFrame) -> pd.DataFrame:
    """Each (user, item) at its first event, sorted by user then time (ties by log order)."""
    log = log.sort_values(["user_id", "timestamp"], kind="stable")
    return log.drop_duplicates(["user_id", "item_id"], keep="first")


def _review_histories(log: pd.DataFrame, reviews: pd.DataFrame, titles: pd.Series, max_history: int) -> np.ndarray:
    """For each review: ``"; "``-joined titles of the reviewer's last ``max_history`` items before it (vectorised)."""
    hist = _first_events(log)
    users = pd.Index(pd.unique(hist["user_id"]))
    hu = users.get_indexer(hist["user_id"]).astype(np.int64)
    span = int(hist["timestamp"].max() - hist["timestamp"].min()) + 2 if len(hist) else 2
    t0 = int(hist["timestamp"].min()) if len(hist) else 0
    key = hu * span + (hist["timestamp"].to_numpy(np.int64) - t0)           # sorted: user, then time
    ru = users.get_indexer(reviews["user_id"]).astype(np.int64)
    rkey = ru * span + (reviews["timestamp"].to_numpy(np.int64) - t0)
    end = np.searchsorted(key, rkey, side="left")                           # events strictly before the review
    start = np.searchsorted(hu, ru, side="left")                            # the reviewer's first event
    start = np.maximum(start, end - max_history)
    names = titles.reindex(hist["item_id"]).to_numpy(dtype=object)
    out = np.full(len(reviews), "", dtype=object)
    for j in range(max_history):                                            # at most max_history passes
        pos = start + j
        ok = pos < end
        sep = np.where((out != "") & ok, "; ", "")
        out = np.where(ok, out + sep + names[np.minimum(pos, len(names) - 1)], out)
    return out


def shop_corpus(data: Any, interactions: pd.DataFrame, *, max_history: int = 5, history_length: int = 10,
                copy: bool = True, reviews: bool = True, histories: bool = True) -> list[str]:
    """The shop as documents for a causal LM.

    * product copy: ``"<title>. <text>"``, one per item;
    * reviews: ``"A customer who bought T1; T2; T3 wrote about Tx: <review>"`` with the reviewer's last
      ``max_history`` distinct items (first events) *before* the review, oldest first (:func:`review_prompt`);
    * purchase histories: ``"A customer bought T1; T2; ...; Tn."``, each user's distinct items in the order
      of their first event, cut into documents of at most ``history_length`` titles.

    ``data`` is the shop ``Dataset`` (or its ``items`` frame); ``interactions`` the log whose events may be
    used. **Pass the training events only** (e.g. the log before the split time): every review and every
    history document is built from ``interactions`` alone, so a test event given here leaks into the LM.
    Filter ``event`` before the call if "bought" should mean purchases only.

    >>> items = pd.DataFrame({"item_id": [1, 2], "title": ["Lumen Willow mug", "Nimbus Echo kettle"],
    ...                       "text": ["A mug.", "A kettle."]})
    >>> log = pd.DataFrame({"user_id": [7, 7], "item_id": [1, 2], "timestamp": [1, 2], "review": [None, "Nice."]})
    >>> for doc in shop_corpus(items, log)[1:]:
    ...     print(doc)
    Nimbus Echo kettle. A kettle.
    A customer who bought Lumen Willow mug wrote about Nimbus Echo kettle: Nice.
    A customer bought Lumen Willow mug; Nimbus Echo kettle.
    """
    items = data if isinstance(data, pd.DataFrame) else getattr(data, "items", data)
    check_columns(items, ["item_id", "title", "text"], "the items frame")
    check_columns(interactions, ["user_id", "item_id", "timestamp"], "interactions")
    max_history = check_positive_int(max_history, "max_history")
    history_length = check_positive_int(history_length, "history_length")
    titles = pd.Series(items["title"].astype(str).to_numpy(), index=items["item_id"].to_numpy())
    unknown = ~interactions["item_id"].isin(titles.index)
    if unknown.any():
        raise CourseKitError(f"interactions name item ids without a title, e.g. "
                             f"{interactions.loc[unknown, 'item_id'].iloc[0]!r}; pass the items of the same shop.")
    docs: list[str] = []
    if copy:
        docs += (items["title"].astype(str) + ". " + items["text"].astype(str)).tolist()
    if reviews and "review" in interactions.columns:
        rev = interactions[interactions["review"].notna() & (interactions["review"].astype(str) != "")]
        hist = _review_histories(interactions, rev, titles, max_history)
        who = np.where(hist != "", " who bought " + hist, "")
        docs += ("A customer" + who + " wrote about " + titles.reindex(rev["item_id"]).to_numpy(dtype=object)
                 + ": " + rev["review"].astype(str).to_numpy(dtype=object)).tolist()
    if histories:
        first = _first_events(interactions)
        chunk = first.groupby("user_id", sort=False).cumcount().to_numpy() // history_length
        named = first.assign(title=titles.reindex(first["item_id"]).to_numpy(), chunk=chunk)
        joined = named.groupby(["user_id", "chunk"], sort=False)["title"].agg("; ".join)
        docs += ("A customer bought " + joined + ".").tolist()
    return docs


# ---------------------------------------------------------------------------- the model
def build_causal_lm(vocab_size: int, dim: int = 128, n_layers: int = 2, n_heads: int = 4, max_len: int = 256,
                    seed: int = 0, dropout: float = 0.1) -> Any:
    """A randomly initialised ``GPT2LMHeadModel`` from a ``GPT2Config`` (special ids as in :data:`SPECIAL_TOKENS`).

    >>> net = build_causal_lm(50, dim=16, n_layers=1, n_heads=2, max_len=32)
    >>> net.config.n_positions, net.config.pad_token_id
    (32, 0)
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    for value, name in ((vocab_size, "vocab_size"), (dim, "dim"), (n_layers, "n_layers"), (n_heads, "n_heads"),
                        (max_len, "max_len")):
        check_positive_int(value, name)
    if dim % n_heads:
        raise CourseKitError(f"dim must be a multiple of n_heads, got dim={dim}, n_heads={n_heads}.")
    config = GPT2Config(vocab_size=int(vocab_size), n_positions=int(max_len), n_embd=int(dim), n_layer=int(n_layers),
                        n_head=int(n_heads), resid_pdrop=float(dropout), embd_pdrop=float(dropout),
                        attn_pdrop=float(dropout), pad_token_id=0, bos_token_id=2, eos_token_id=3)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(check_seed(seed))
        return GPT2LMHeadModel(config)


def _encode(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    return tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []


def _padded(seqs: list[list[int]], pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded ``(B, L)`` ids and their 0/1 mask."""
    lens = np.array([len(s) for s in seqs])
    ids = np.full((len(seqs), int(lens.max())), pad, dtype=np.int64)
    for r, s in enumerate(seqs):
        ids[r, :len(s)] = s
    return ids, np.arange(ids.shape[1]) < lens[:, None]


def _mean_loss(net: Any, seqs: list[list[int]], order: np.ndarray, batch_size: int, device: str,
               opt: Any = None, deadline: float = math.inf) -> tuple[float, int]:
    """Mean next-token loss over ``seqs`` (a training epoch when ``opt`` is given) and the tokens it saw."""
    import torch
    from torch.nn import functional as F

    total, count = 0.0, 0
    for s in range(0, len(order), batch_size):
        ids, mask = _padded([seqs[j] for j in order[s:s + batch_size]], 0)
        ids_t, mask_t = torch.as_tensor(ids, device=device), torch.as_tensor(mask, device=device)
        with torch.set_grad_enabled(opt is not None):
            logits = net(input_ids=ids_t, attention_mask=mask_t.long()).logits[:, :-1]
            target = mask_t[:, 1:]                                    # predict token t + 1 from tokens <= t
            loss = F.cross_entropy(logits[target].float(), ids_t[:, 1:][target])
        n = int(mask[:, 1:].sum())
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        total += float(loss.detach()) * n
        count += n
        if time.perf_counter() > deadline:
            break
    return total / max(count, 1), count


def train_causal_lm(model: Any, tokenizer: Any, texts: Sequence[str], epochs: int = 5, batch_size: int = 32,
                    lr: float = 3e-3, time_budget_s: float | None = None, valid_texts: Sequence[str] | None = None,
                    seed: int = 0, device: str = "auto", patience: int = 2, num_threads: int | None = None) -> dict:
    """Train ``model`` in place by next-token cross-entropy on ``[BOS] text [EOS]`` (cut to the context length).

    Stops after ``epochs``, when ``time_budget_s`` is spent (checked after every batch), or when the
    validation loss has not improved for ``patience`` epochs; the weights of the best validation epoch
    are restored. ``num_threads`` sets torch's CPU threads for the call (``None``: torch's setting).

    Returns
    -------
    dict
        ``train_loss``, ``valid_loss`` (per epoch, nats per token), ``tokens_per_s`` (training tokens per
        second, per epoch), ``best_epoch``, ``seconds`` and ``n_tokens`` (training tokens per epoch).
    """
    import torch

    from coursekit.env import pick_device

    texts = _texts(texts, "texts")
    valid = _texts(valid_texts, "valid_texts") if valid_texts is not None else []
    epochs, batch_size = check_positive_int(epochs, "epochs"), check_positive_int(batch_size, "batch_size")
    lr = check_positive_number(lr, "lr")
    seed = check_seed(seed)
    if not texts:
        raise CourseKitError("texts is empty: pass the training documents, e.g. shop_corpus(data, train_log).")
    n_pos = int(model.config.n_positions)
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    train = [([bos] + s + [eos])[:n_pos] for s in _encode(tokenizer, texts)]
    held = [([bos] + s + [eos])[:n_pos] for s in _encode(tokenizer, valid)]
    dev = pick_device(device)
    deadline = math.inf if time_budget_s is None else time.perf_counter() + check_positive_number(time_budget_s,
                                                                                                  "time_budget_s")
    rng = np.random.default_rng(seed)
    hist: dict[str, Any] = {"train_loss": [], "valid_loss": [], "tokens_per_s": [], "best_epoch": 0,
                            "n_tokens": int(sum(len(s) - 1 for s in train))}
    best, t0 = None, time.perf_counter()
    with torch.random.fork_rng(devices=[]), torch_threads(num_threads):
        torch.manual_seed(seed)
        model.to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=lr)
        for epoch in range(epochs):
            model.train()
            start = time.perf_counter()
            loss, n = _mean_loss(model, train, rng.permutation(len(train)), batch_size, dev, opt, deadline)
            if not math.isfinite(loss):
                raise FloatingPointError(f"the LM diverged in epoch {epoch + 1}; lower lr (now {lr}).")
            hist["train_loss"].append(loss)
            hist["tokens_per_s"].append(n / max(time.perf_counter() - start, 1e-9))
            if held:
                model.eval()
                hist["valid_loss"].append(_mean_loss(model, held, np.arange(len(held)), batch_size, dev)[0])
                if hist["valid_loss"][-1] <= min(hist["valid_loss"]):
                    hist["best_epoch"] = epoch + 1
                    best = {k: v.detach().clone() for k, v in model.state_dict().items()}
                elif epoch + 1 - hist["best_epoch"] >= patience:
                    break
            else:
                hist["best_epoch"] = epoch + 1
            if time.perf_counter() > deadline:
                break
    if best is not None:
        model.load_state_dict(best)
    model.eval()
    hist["seconds"] = time.perf_counter() - t0
    return hist


def load_causal_lm(hub_id: str, device: str = "auto", local_files_only: bool = False) -> tuple[Any, Any]:
    """``(model, tokenizer)`` of a pretrained causal LM (``AutoModelForCausalLM``) from the hub or a folder.

    Needs internet the first time (then the Hugging Face cache). Offline, or for an id that does not
    exist, raises a :class:`~coursekit._validation.CourseKitError` that says what to do instead. A
    tokenizer without a padding token gets its end-of-sequence token as padding.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from coursekit.env import pick_device
    from coursekit.text.encoder import quiet_loading

    if not isinstance(hub_id, str) or not hub_id:
        raise CourseKitError(f"hub_id must be a model id such as 'gpt2' or a folder, got {hub_id!r}.")
    try:
        with quiet_loading():
            tok = AutoTokenizer.from_pretrained(hub_id, local_files_only=local_files_only, trust_remote_code=False)
            net = AutoModelForCausalLM.from_pretrained(hub_id, local_files_only=local_files_only,
                                                       trust_remote_code=False)
    except (OSError, ValueError) as err:
        raise CourseKitError(
            f"could not load the causal LM {hub_id!r}: {str(err).splitlines()[0] if str(err) else type(err).__name__}. "
            "A hub model needs internet the first time (or a folder with config.json, weights and tokenizer). "
            "Offline, train the shop's own LM instead: build_causal_lm + train_causal_lm on shop_corpus(...).") from err
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return net.to(pick_device(device)).eval(), tok


# ---------------------------------------------------------------------------- scoring
def sequence_log_likelihood(model: Any, tokenizer: Any, prompts: Sequence[str], continuations: Sequence[str],
                            batch_size: int = 32, reduce: str = "sum", device: str | None = None) -> np.ndarray:
    r""":math:`\sum_j \log P(c_j \mid \text{[BOS]}\, p, c_{<j})` for every (prompt, continuation) pair.

    Prompt and continuation are tokenised separately and their ids concatenated (so the continuation's
    tokens are exactly its own, whatever the prompt ends with). ``reduce="mean"`` divides by the number
    of continuation tokens (a length-normalised score). Sequences longer than the model's context keep
    their last tokens. Pairs are batched by length (right padding); ``device`` defaults to the model's.

    >>> tok = train_tokenizer(["a b c"])
    >>> net = build_causal_lm(len(tok), dim=8, n_layers=1, n_heads=2, max_len=16)
    >>> sequence_log_likelihood(net, tok, ["a", "a b"], ["b c", "c"]).shape
    (2,)
    """
    import torch

    prompts, continuations = _texts(prompts, "prompts"), _texts(continuations, "continuations")
    if len(prompts) != len(continuations):
        raise CourseKitError(f"prompts and continuations must have the same length, got {len(prompts)} "
                             f"and {len(continuations)}.")
    if reduce not in ("sum", "mean"):
        raise CourseKitError(f"reduce must be 'sum' or 'mean', got {reduce!r}.")
    batch_size = check_positive_int(batch_size, "batch_size")
    n_pos = int(model.config.n_positions)
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    pre = [[bos] + p for p in _encode(tokenizer, prompts)]
    cont = _encode(tokenizer, continuations)
    empty = [r for r, c in enumerate(cont) if not c]
    if empty:
        raise CourseKitError(f"continuation {empty[0]} ({continuations[empty[0]]!r}) has no token.")
    long = [r for r, c in enumerate(cont) if len(c) >= n_pos]
    if long:
        raise CourseKitError(f"continuation {long[0]} has {len(cont[long[0]])} tokens; the model's context is {n_pos}.")
    seqs = [(p + c)[-n_pos:] for p, c in zip(pre, cont)]
    order = np.argsort([len(s) for s in seqs], kind="stable")
    out = np.zeros(len(seqs))
    dev = device or next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        for s in range(0, len(order), batch_size):
            rows = order[s:s + batch_size]
            ids, mask = _padded([seqs[r] for r in rows], -1)
            ids_t = torch.as_tensor(np.maximum(ids, 0), device=dev)
            logp = torch.log_softmax(model(input_ids=ids_t, attention_mask=torch.as_tensor(mask, device=dev).long())
                                     .logits[:, :-1].float(), dim=-1)
            tok_lp = logp.gather(-1, ids_t[:, 1:, None])[..., 0].cpu().numpy()      # log P(token t | < t)
            lens = mask.sum(1)
            m = np.array([len(cont[r]) for r in rows])
            pos = np.arange(ids.shape[1] - 1)[None, :]
            take = (pos >= (lens - m - 1)[:, None]) & (pos < (lens - 1)[:, None])    # the continuation's tokens
            out[rows] = (tok_lp * take).sum(1)
    if reduce == "mean":
        out /= np.array([len(c) for c in cont])
    return out
