r"""The transformer of SASRec and BERT4Rec: item and position embeddings, pre-norm blocks, tied output.

.. math::

    H^{(0)} = E_{s} + P, \qquad
    H^{(\ell)} = H' + \mathrm{FFN}(\mathrm{LN}(H')),\;
    H' = H^{(\ell-1)} + \mathrm{Attn}\big(\mathrm{LN}(H^{(\ell-1)}); M\big), \qquad
    z_{t, i} = e_i^\top \mathrm{LN}(H^{(L)})_t + b_i .

The attention mask :math:`M` lets a position see the non-padding positions (``causal``: only
those up to itself) and always itself. ``torch`` is imported inside the function only.

>>> net = build_sequence_net(6, 4, dim=8, n_layers=1, n_heads=2, max_len=3, dropout=0.0, causal=True)
>>> import torch
>>> tuple(net(torch.tensor([[0, 1, 2]])).shape)
(1, 3, 8)
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["build_sequence_net", "torch_threads"]


def build_sequence_net(n_tokens: int, n_items: int, dim: int, n_layers: int, n_heads: int, max_len: int,
                       dropout: float, causal: bool) -> Any:
    """A ``torch.nn.Module``: ``net(tokens) -> (B, L, dim)`` hidden states, ``net.logits(h) -> (.., n_items)``."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)
            self.ff1, self.ff2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
            self.drop = nn.Dropout(dropout)

        def forward(self, x, allowed):
            B, L, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(B, L, 3, n_heads, dim // n_heads).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed,
                                               dropout_p=dropout if self.training else 0.0)
            x = x + self.drop(self.proj(a.transpose(1, 2).reshape(B, L, dim)))
            return x + self.drop(self.ff2(self.drop(F.gelu(self.ff1(self.ln2(x))))))

    class SeqNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.item_emb = nn.Embedding(n_tokens, dim, padding_idx=0)
            self.pos_emb = nn.Embedding(max_len, dim)
            self.blocks = nn.ModuleList([Block() for _ in range(n_layers)])
            self.norm = nn.LayerNorm(dim)
            self.drop = nn.Dropout(dropout)
            self.out_bias = nn.Parameter(torch.zeros(n_items))
            nn.init.normal_(self.item_emb.weight, std=dim ** -0.5)
            nn.init.normal_(self.pos_emb.weight, std=dim ** -0.5)
            with torch.no_grad():
                self.item_emb.weight[0].zero_()

        def attention_mask(self, tokens):
            L = tokens.shape[1]
            allowed = (tokens > 0)[:, None, None, :]                           # keys that are items
            if causal:
                allowed = allowed & torch.ones(L, L, dtype=torch.bool, device=tokens.device).tril()
            # a position always sees itself (so padding rows are never empty: no NaN)
            return allowed | torch.eye(L, dtype=torch.bool, device=tokens.device)

        def forward(self, tokens):
            L = tokens.shape[1]
            x = self.item_emb(tokens) + self.pos_emb.weight[max_len - L:][None]
            x = self.drop(x)
            allowed = self.attention_mask(tokens)
            for blk in self.blocks:
                x = blk(x, allowed)
            return self.norm(x)                                                  # (B, L, d)

        def logits(self, h):
            return h @ self.item_emb.weight[1:n_items + 1].T + self.out_bias

    return SeqNet()


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (``None``: leave torch's setting alone).

    >>> with torch_threads(None):
    ...     pass
    """
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
