r"""The training parts of :class:`~coursekit.models.two_tower.TwoTower`: towers, histories, encoder, validation.

* :func:`build_towers`: the item tower :math:`e_i = A(v_i) [+ w_i]` (a linear or MLP adaptor on
  frozen text vectors, plus an optional id embedding) and the user tower, the masked mean of
  the history's item vectors :math:`q_u = \frac{1}{|H_u|}\sum_{j \in H_u} e_j [+ z_u]`;
* :func:`padded_histories`: :math:`H_u` as a fixed-width index matrix with a validity mask;
* :class:`LiveTextEncoder`: a text encoder being fine-tuned (mean-pooled transformer output);
* :func:`amp_dtype`, :func:`autocast`: mixed precision on CUDA;
* :func:`validation_ndcg`: NDCG@10 of a score matrix on a validation log (early stopping).

``torch`` is imported inside the functions only.

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [5, 6, 5], "timestamp": [1, 2, 3]})
>>> H, mask = padded_histories(Interactions.from_frame(log), 3)
>>> H.tolist(), mask.tolist()
([[1, 0, 0], [0, 0, 0]], [[True, True, False], [True, False, False]])
"""
from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from coursekit.interactions import Interactions
from coursekit.metrics import ndcg_at_k
from coursekit.models.ranking import top_k

__all__ = ["build_towers", "padded_histories", "LiveTextEncoder", "amp_dtype", "autocast", "validation_ndcg"]


def padded_histories(train: Interactions, length: int) -> tuple[np.ndarray, np.ndarray]:
    """``(n_users, length)`` item indices of each user's latest distinct items, most recent first, and the mask."""
    from coursekit.text.items import user_histories

    hist = user_histories(train, max_items=length)
    lens = np.array([len(h) for h in hist])
    H = np.zeros((train.n_users, length), dtype=np.int64)
    mask = np.arange(length)[None, :] < lens[:, None]
    if lens.sum():
        H[mask] = np.concatenate(hist)
    return H, mask


def build_towers(d_in: int, n_users: int, n_items: int, *, dim: int, adaptor: str, hidden: int,
                 id_embedding: bool, user_embedding: bool, seed: int) -> Any:
    """The two towers as one ``torch.nn.Module`` with methods ``items(base, idx)`` and ``users(hist, mask, idx)``.

    Initialised from ``torch.manual_seed(seed)`` (adaptor: torch defaults; id embeddings: N(0, 0.01^2)).
    """
    import torch
    from torch import nn

    class Towers(nn.Module):
        def __init__(self):
            super().__init__()
            if adaptor == "linear":
                self.adaptor = nn.Linear(d_in, dim)
            else:
                self.adaptor = nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, dim))
            self.item_emb = nn.Embedding(n_items, dim) if id_embedding else None
            self.user_emb = nn.Embedding(n_users, dim) if user_embedding else None
            for emb in (self.item_emb, self.user_emb):
                if emb is not None:
                    nn.init.normal_(emb.weight, std=0.01)

        def items(self, base, idx):
            out = self.adaptor(base)
            if self.item_emb is not None:
                out = out + self.item_emb(idx)
            return out

        def users(self, hist_vecs, hist_mask, user_idx):
            m = hist_mask.unsqueeze(-1).to(hist_vecs.dtype)
            out = (hist_vecs * m).sum(1) / m.sum(1).clamp(min=1.0)
            if self.user_emb is not None:
                out = out + self.user_emb(user_idx)
            return out

    torch.manual_seed(seed)
    return Towers()


def amp_dtype(device: str) -> Any:
    """bfloat16 where the GPU supports it (no loss scaling needed), else float16."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def autocast(device: str) -> contextlib.AbstractContextManager:
    """Mixed precision (:func:`amp_dtype`) on CUDA; disabled elsewhere."""
    import torch

    return torch.autocast("cuda", dtype=amp_dtype(device), enabled=device.startswith("cuda"))


class LiveTextEncoder:
    """A transformer text encoder being fine-tuned: ``e(x)`` = masked mean of its token outputs.

    Parameters
    ----------
    model : str or None
        Model folder or hub id (default: the offline MiniLM, :func:`coursekit.text.encoder.resolve_model`).
    device : str
        A torch device name.
    max_length : int
        Token budget of a text.
    """

    def __init__(self, model: str | None, device: str, max_length: int) -> None:
        from coursekit.text.encoder import load_encoder_model, load_tokenizer

        self.net = load_encoder_model(model, device)
        self.tokenizer = load_tokenizer(model)
        self.device = device
        self.max_length = max_length

    def encode(self, texts: list[str]) -> Any:
        """Vectors ``(len(texts), d)`` as a torch tensor, with gradients when they are enabled."""
        from coursekit.text.encoder import mean_pool

        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in batch.items()
                 if k in ("input_ids", "attention_mask", "token_type_ids")}
        hidden = self.net(**batch).last_hidden_state
        return mean_pool(hidden.float(), batch["attention_mask"])

    def encode_all(self, texts: list[str], batch: int = 64) -> np.ndarray:
        """float32 vectors of every text, in eval mode and without gradients (the mode is restored)."""
        import torch

        was_training = self.net.training
        self.net.eval()
        out = []
        with torch.inference_mode(), autocast(self.device):
            for s in range(0, len(texts), batch):
                out.append(self.encode(texts[s:s + batch]).float().cpu().numpy())
        self.net.train(was_training)
        return np.concatenate(out).astype(np.float32)

    def save(self, folder: str) -> None:
        """Write the encoder and its tokenizer (``save_pretrained``, safetensors)."""
        self.net.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)


def validation_ndcg(scores: np.ndarray, train: Interactions, valid: Interactions, k: int = 10) -> float:
    r"""Mean NDCG@``k`` of a score matrix on ``valid``: full ranking, training items excluded.

    Over the users with a training event and a ``valid`` item not in training, as
    :func:`coursekit.evaluation.evaluate_per_user` (``"ndcg"``) averages it; TwoTower's early stopping.

    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 3]})
    >>> inter = Interactions.from_frame(log)
    >>> train, valid = inter.subset([True, False, True, False]), inter.subset([False, True, False, True])
    >>> validation_ndcg(np.array([[0.0, 1.0, 0.5], [0.0, 1.0, 0.5]]), train, valid)   # user 2: rank 2
    0.8154648767857288
    """
    seen = train.matrix("binary", dtype=np.float64)
    rel = valid.matrix("binary", dtype=np.float64)
    rel = (rel - rel.multiply(seen)).tocsr()
    rel.eliminate_zeros()
    rel.sort_indices()
    users = np.nonzero((np.diff(rel.indptr) > 0) & (train.user_counts() > 0))[0]
    kmax = min(k, max(train.n_items, 1))
    top = np.full((len(users), kmax), -1, dtype=np.int64)
    if len(users):
        s = np.array(scores[users], dtype=np.float64)
        r, c = seen[users].nonzero()
        s[r, c] = -np.inf
        idx, _ = top_k(s, kmax)
        top[:, :idx.shape[1]] = idx
    return float(np.mean(ndcg_at_k(top, rel[users], min(k, max(top.shape[1], 1)))))
