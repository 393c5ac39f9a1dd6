r"""A BERT cross-encoder that reads a user's history and one candidate item *together*.

The input of one (user, candidate) pair is the tokenizer's **pair encoding**

.. code-block:: text

    [CLS] user history text [SEP] candidate item text [SEP]
    token_type_ids:  0 0 ... 0    0   1 1 ... 1          1

and a sequence-classification head with **one output** reads the final hidden state of
``[CLS]`` (through BERT's pooler) and gives a logit :math:`z_{ui}`. The probability that
user :math:`u` interacts with item :math:`i` is

.. math::

    \hat p_{ui} = \sigma(z_{ui}) = \frac{1}{1 + e^{-z_{ui}}},

trained with binary cross-entropy (:mod:`coursekit.finetune`). This is *sequence*
classification: one label per pair. Token classification (one label per token) would be the
wrong head: there is no per-token target in "did the user take this item?".

**Pooling.** ``pooling="cls"`` is the standard head of ``AutoModelForSequenceClassification``
(``[CLS]`` through the pooler). ``pooling="candidate"`` feeds the same linear classifier the
mean of the final hidden states of the *candidate's* tokens (the tokens after the first
``[SEP]``), each of which has attended to the whole history:

.. math::

    z_{ui} = w^\top \frac{1}{|T_i|} \sum_{t \in T_i} h_t + b .

A sentence encoder such as MiniLM was trained to make mean-pooled token vectors meaningful,
not ``[CLS]``, so the candidate mean starts from a representation that already reflects how the
candidate relates to the history, and fine-tuning from it needs far fewer steps (lesson 04
measures both).

Every word of the history can attend to every word of the candidate, which is what makes a
cross-encoder accurate and also expensive: it needs one full transformer pass *per pair*, so it
is used to **re-rank** a short candidate list (:class:`coursekit.models.rerank.TwoStageRecommender`).

**Truncation budget.** A pair has ``max_length`` tokens at most, three of them special
(``[CLS]``, ``[SEP]``, ``[SEP]``). The candidate text is cut to ``max_candidate_tokens``
(default ``max_length // 2``) first; then the *history* is truncated (``truncation="only_first"``),
so the candidate is never lost. Histories list the most recent item first, so what is cut is
the oldest part.

The wrapped model is a plain Hugging Face ``AutoModelForSequenceClassification`` (or a
``peft`` model wrapping one, until :meth:`CrossEncoder.merge_lora`), so its
``forward(input_ids, attention_mask, token_type_ids)`` returns ``.logits`` of shape
``(batch, 1)``; integrated-gradients explainers can hook its embedding layer.

Example
-------
>>> from transformers import BertConfig
>>> ce = CrossEncoder.from_config(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
...     intermediate_size=64, vocab_size=30522), tokenizer=load_pair_tokenizer())
>>> ce.score_pairs(["red shoe ; blue hat"], ["red scarf"]).shape
(1,)
"""
from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from coursekit._validation import CourseKitError, check_choice, check_positive_int
from coursekit.text.encoder import quiet_loading, resolve_model
from coursekit.text.pair_inputs import candidate_mean, encode_pairs

__all__ = ["CrossEncoder", "resolve_model_path", "load_pair_tokenizer", "autocast_context", "DEFAULT_MODEL"]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_CONFIG_FILE = "cross_encoder.json"
TASKS = ("binary", "regression")
POOLINGS = ("cls", "candidate")


# ---------------------------------------------------------------------------- model resolution
def resolve_model_path(model: str | None = None) -> str:
    """Local path or hub id of ``model``; ``None`` (or the MiniLM id) means the offline MiniLM copy.

    The same resolution as every text model of the course (:func:`coursekit.text.encoder.resolve_model`).

    >>> Path(resolve_model_path()).name
    'model'
    """
    return str(resolve_model(model))


def load_pair_tokenizer(model: str | None = None, cached: bool = False) -> Any:
    """The (fast) tokenizer of ``model`` (default: the offline MiniLM), loaded without remote code.

    ``cached=True`` returns one shared instance per model (tests and tiny models load it often).
    """
    path = resolve_model_path(model)
    return _cached_tokenizer(path) if cached else _load_tokenizer(path)


def _load_tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    with quiet_loading():
        return AutoTokenizer.from_pretrained(path, trust_remote_code=False)


_cached_tokenizer = functools.lru_cache(maxsize=4)(_load_tokenizer)   # one shared instance per model path


def autocast_context(device: str) -> contextlib.AbstractContextManager:
    """Mixed precision on CUDA (bfloat16 where supported, else float16); a no-op elsewhere."""
    import torch

    if device.startswith("cuda"):
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def _own_memory(model: Any) -> None:
    """Copy every parameter and buffer into freshly allocated (aligned) memory.

    Weights read from safetensors may sit at unaligned offsets of a memory-mapped file, and
    CPU matrix kernels then take other code paths whose results differ in the last bit; after
    this copy a loaded model scores bit-for-bit like the one that was saved.
    """
    import torch

    with torch.no_grad():
        for module in model.modules():
            for p in module.parameters(recurse=False):
                p.data = p.data.clone()
            for name, b in module.named_buffers(recurse=False):
                setattr(module, name, b.clone())   # nn.Module keeps it a buffer (persistent or not)


# ---------------------------------------------------------------------------- the wrapper
class CrossEncoder:
    r"""A sequence-classification transformer with one output, scoring (history, candidate) pairs.

    Parameters
    ----------
    model : transformers ``PreTrainedModel``
        A sequence-classification model with ``config.num_labels == 1`` (or a ``peft`` model
        wrapping one).
    tokenizer : transformers tokenizer
        Its tokenizer (pair encoding with ``[SEP]`` and token types).
    max_length, max_candidate_tokens : int
        Truncation budget of a pair (see :func:`encode_pairs`).
    task : {"binary", "regression"}
        ``"binary"``: outputs are logits of :math:`P(\text{interaction})`, :meth:`score_pairs` gives
        :math:`\sigma(z)`. ``"regression"``: outputs are standardised ratings,
        :meth:`predict` gives :math:`\mu + s\,z` (``target_mean`` :math:`\mu`, ``target_scale`` :math:`s`).
    device : str
        ``"auto"`` picks CUDA, then Apple MPS, then CPU (:func:`coursekit.env.pick_device`).
    pooling : {"cls", "candidate"}
        Which hidden states the one-output classifier reads (see the module docstring).
    info : dict, optional
        JSON-serialisable facts a later user of a saved model needs, such as how its histories
        were built (``{"history_size": 20, "max_history_words": 140, "item_text": "summaries"}``);
        saved and loaded with the weights.

    Use :meth:`from_pretrained` to build one from a model id or folder, :meth:`load` for a
    folder written by :meth:`save`.
    """

    def __init__(self, model: Any, tokenizer: Any, *, max_length: int = 128, max_candidate_tokens: int | None = None,
                 task: str = "binary", target_mean: float = 0.0, target_scale: float = 1.0,
                 device: str = "auto", pooling: str = "cls", info: dict | None = None) -> None:
        from coursekit.env import pick_device

        num_labels = getattr(getattr(model, "config", None), "num_labels", None)
        if num_labels != 1:
            raise CourseKitError(f"a cross-encoder needs a sequence-classification model with one output "
                                 f"(num_labels=1), got num_labels={num_labels}. Load it with "
                                 "AutoModelForSequenceClassification.from_pretrained(name, num_labels=1).")
        self.max_length = check_positive_int(max_length, "max_length")
        self.max_candidate_tokens = max_candidate_tokens
        self.pooling = check_choice(pooling, "pooling", POOLINGS)
        self.task = check_choice(task, "task", TASKS)
        self.target_mean, self.target_scale = float(target_mean), float(target_scale)
        self.info = dict(info or {})
        self.tokenizer = tokenizer
        self.device = pick_device(device)
        self.model = model.to(self.device)
        self.model.eval()
        encode_pairs(tokenizer, ["a"], ["b"], self.max_length, max_candidate_tokens)  # validates the budget

    # ------------------------------------------------------------------ building
    @classmethod
    def from_pretrained(cls, model: str | None = None, *, task: str = "binary", max_length: int = 128,
                        max_candidate_tokens: int | None = None, device: str = "auto",
                        dropout: float | None = None, num_layers: int | None = None,
                        pooling: str = "cls") -> CrossEncoder:
        """Load ``model`` (hub id or folder; default the offline MiniLM) with a new 1-output head.

        The head (``classifier``) is freshly initialised unless the checkpoint has one: the
        "newly initialized" report of transformers is expected for an encoder checkpoint.
        ``dropout`` overrides the hidden/attention dropout of the config. ``num_layers`` keeps only
        the lowest ``num_layers`` transformer layers (a shallower, faster model for a CPU; the
        upper layers' weights are not loaded).
        """
        from transformers import AutoModelForSequenceClassification

        path = resolve_model_path(model)
        kwargs: dict[str, Any] = {}
        if dropout is not None:
            kwargs.update(hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
        if num_layers is not None:
            kwargs["num_hidden_layers"] = check_positive_int(num_layers, "num_layers")
        with quiet_loading():   # the report would list the new head as MISSING: expected, so not shown
            net = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=1, use_safetensors=True, trust_remote_code=False, **kwargs)
        return cls(net, load_pair_tokenizer(model), task=task, max_length=max_length, pooling=pooling,
                   max_candidate_tokens=max_candidate_tokens, device=device)

    @classmethod
    def from_config(cls, config: Any, tokenizer: Any, *, seed: int = 0, **kwargs: Any) -> CrossEncoder:
        """A randomly initialised model from a transformers config (tests, exercises).

        The config's ``num_labels`` is set to 1; ``seed`` fixes the initial weights.
        """
        import torch
        from transformers import AutoModelForSequenceClassification

        config.num_labels = 1
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = AutoModelForSequenceClassification.from_config(config)
        return cls(net, tokenizer, **kwargs)

    @classmethod
    def tiny(cls, *, seed: int = 0, hidden_size: int = 32, num_layers: int = 2, num_heads: int = 2,
             intermediate_size: int = 64, max_length: int = 64, device: str = "cpu",
             **kwargs: Any) -> CrossEncoder:
        """A small randomly initialised BERT with MiniLM's tokenizer (tests, contract cases, exercises).

        Dropout is off, so training and scoring are deterministic given ``seed``.

        >>> CrossEncoder.tiny().parameter_counts()[1] < 2_000_000
        True
        """
        from transformers import BertConfig

        tok = load_pair_tokenizer(cached=True)
        config = BertConfig(vocab_size=len(tok), hidden_size=hidden_size, num_hidden_layers=num_layers,
                            num_attention_heads=num_heads, intermediate_size=intermediate_size,
                            max_position_embeddings=max(max_length, 64), hidden_dropout_prob=0.0,
                            attention_probs_dropout_prob=0.0)
        return cls.from_config(config, tok, seed=seed, max_length=max_length, device=device, **kwargs)

    # ------------------------------------------------------------------ inputs
    def encode(self, histories: Sequence[str], candidates: Sequence[str]) -> dict:
        """Pair encoding (:func:`encode_pairs`) as tensors on the model's device."""
        enc = encode_pairs(self.tokenizer, histories, candidates, self.max_length, self.max_candidate_tokens)
        return {k: v.to(self.device) for k, v in enc.items()}

    def forward_logits(self, batch: dict) -> Any:
        """Logits ``(batch,)`` of an encoded batch (with gradients if enabled; mixed precision on CUDA)."""
        with autocast_context(self.device):
            if self.pooling == "cls":
                return self.model(**batch).logits.squeeze(-1).float()
            net = self.model.get_base_model() if self.is_lora else self.model
            hidden = net.base_model(**batch).last_hidden_state
            pooled = candidate_mean(hidden, batch["input_ids"], batch["attention_mask"], self.tokenizer.sep_token_id)
            head = getattr(net, "classifier", None)
            if head is None or not hasattr(head, "in_features"):
                raise CourseKitError(f"pooling='candidate' needs a model whose classifier is one linear layer "
                                     f"(BERT, MiniLM, DistilBERT); {type(net).__name__} has another head. "
                                     "Use pooling='cls'.")
            dropout = getattr(net, "dropout", None)
            return head(dropout(pooled) if dropout is not None else pooled).squeeze(-1).float()

    # ------------------------------------------------------------------ scoring
    def logits(self, histories: Sequence[str], candidates: Sequence[str], batch_size: int = 64,
               progress: bool = False) -> np.ndarray:
        r"""Raw outputs :math:`z` for each pair (float64, shape ``(n_pairs,)``), in eval mode.

        Pairs are scored in order of text length (less padding), then put back in input order;
        padding is masked, so a pair's score does not depend on its batch.
        """
        import torch

        batch_size = check_positive_int(batch_size, "batch_size")
        histories, candidates = list(histories), list(candidates)
        if len(histories) != len(candidates):
            raise CourseKitError(f"histories and candidates must pair up one to one, got {len(histories)} "
                                 f"and {len(candidates)}.")
        n = len(histories)
        out = np.empty(n, dtype=np.float64)
        if n == 0:
            return out
        order = np.argsort([len(h) + len(c) for h, c in zip(histories, candidates)], kind="stable")
        was_training = self.model.training
        self.model.eval()
        starts = range(0, n, batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="cross-encoder scoring", unit="batch")
        try:
            with torch.inference_mode():
                for s in starts:
                    idx = order[s:s + batch_size]
                    batch = self.encode([histories[i] for i in idx], [candidates[i] for i in idx])
                    out[idx] = self.forward_logits(batch).cpu().numpy()
        finally:
            self.model.train(was_training)
        return out

    def score_pairs(self, histories: Sequence[str], candidates: Sequence[str], batch_size: int = 64,
                    progress: bool = False) -> np.ndarray:
        r"""Scores of the pairs: :math:`\sigma(z)` for ``task="binary"``, predicted ratings for regression."""
        z = self.logits(histories, candidates, batch_size, progress)
        if self.task == "binary":
            return 1.0 / (1.0 + np.exp(-z))
        return self.target_mean + self.target_scale * z

    predict = score_pairs

    # ------------------------------------------------------------------ parameters
    def parameter_counts(self) -> tuple[int, int]:
        """``(trainable, total)`` parameter counts of the model."""
        params = list(self.model.parameters())
        return (int(sum(p.numel() for p in params if p.requires_grad)), int(sum(p.numel() for p in params)))

    @property
    def is_lora(self) -> bool:
        """Whether the model is a ``peft`` model with unmerged adapters."""
        return hasattr(self.model, "merge_and_unload")

    def merge_lora(self) -> CrossEncoder:
        r"""Fold the LoRA adapters into the base weights (:math:`W \leftarrow W + \tfrac{\alpha}{r} BA`).

        Afterwards the model is a plain transformers model again (saving, captum, speed).
        """
        if self.is_lora:
            self.model = self.model.merge_and_unload()
            for p in self.model.parameters():
                p.requires_grad_(True)
        return self

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Write model (safetensors), config, tokenizer and ``cross_encoder.json`` to ``folder``.

        LoRA adapters are merged into a copy first, so the folder is a plain transformers model.
        """
        import copy

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        model = copy.deepcopy(self.model).merge_and_unload() if self.is_lora else self.model
        with quiet_loading():   # no "Writing model shards" progress bar
            model.save_pretrained(folder)
            self.tokenizer.save_pretrained(folder)
        meta = {"max_length": self.max_length, "max_candidate_tokens": self.max_candidate_tokens,
                "pooling": self.pooling,
                "task": self.task, "target_mean": self.target_mean, "target_scale": self.target_scale,
                "info": self.info}
        (folder / _CONFIG_FILE).write_text(json.dumps(meta, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto") -> CrossEncoder:
        """Load a cross-encoder written by :meth:`save` (safetensors, no remote code)."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder = Path(folder)
        if not (folder / _CONFIG_FILE).exists():
            raise CourseKitError(f"{folder} holds no saved cross-encoder ({_CONFIG_FILE} missing); "
                                 "write one with CrossEncoder.save(folder).")
        meta = json.loads((folder / _CONFIG_FILE).read_text())
        with quiet_loading():
            net = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True,
                                                                     trust_remote_code=False)
            tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        _own_memory(net)
        return cls(net, tok, device=device, **meta)

    def __repr__(self) -> str:
        trainable, total = self.parameter_counts()
        return (f"CrossEncoder({type(self.model).__name__}, task={self.task!r}, max_length={self.max_length}, "
                f"device={self.device!r}, params={total:,} ({trainable:,} trainable))")
