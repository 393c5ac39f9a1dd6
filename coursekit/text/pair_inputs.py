r"""Pair inputs of a cross-encoder: truncation budgets, the pair encoding, and pooling over the candidate.

The input of one (user, candidate) pair is ``[CLS] history [SEP] candidate [SEP]`` with token
types 0 for the history and 1 for the candidate (:func:`encode_pairs`); the candidate is cut
first, then the history, so the candidate is never lost.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coursekit._validation import CourseKitError, check_positive_int

__all__ = ["truncate_texts", "encode_pairs", "candidate_mean"]


def truncate_texts(tokenizer: Any, texts: Sequence[str], max_tokens: int) -> list[str]:
    """Cut each text after its first ``max_tokens`` tokens (at a token boundary of the original string).

    >>> from coursekit.text.cross_encoder import load_pair_tokenizer
    >>> tok = load_pair_tokenizer()
    >>> truncate_texts(tok, ["red wool scarf, warm", "hat"], 2)
    ['red wool', 'hat']
    """
    max_tokens = check_positive_int(max_tokens, "max_tokens")
    texts = [str(t) for t in texts]
    if not texts:
        return []
    if getattr(tokenizer, "is_fast", False):
        enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        return [t if len(off) <= max_tokens else t[:off[max_tokens - 1][1]]
                for t, off in zip(texts, enc["offset_mapping"])]
    out = []
    for t in texts:  # slow tokenizers have no offsets: rebuild the string from the kept tokens
        toks = tokenizer.tokenize(t)
        out.append(t if len(toks) <= max_tokens else tokenizer.convert_tokens_to_string(toks[:max_tokens]))
    return out


def encode_pairs(tokenizer: Any, histories: Sequence[str], candidates: Sequence[str], max_length: int = 128,
                 max_candidate_tokens: int | None = None, return_tensors: str | None = "pt") -> Any:
    r"""Tokenize (history, candidate) pairs as ``[CLS] history [SEP] candidate [SEP]``, padded to the longest.

    The candidate is first cut to ``max_candidate_tokens`` (default ``max_length // 2``), then
    the history is truncated so that the pair fits ``max_length`` (``truncation="only_first"``).

    >>> from coursekit.text.cross_encoder import load_pair_tokenizer
    >>> tok = load_pair_tokenizer()
    >>> enc = encode_pairs(tok, ["blue hat ; green scarf ; red shoe"], ["red boot"], max_length=8,
    ...                    return_tensors=None)
    >>> tok.convert_ids_to_tokens(enc["input_ids"][0])
    ['[CLS]', 'blue', 'hat', ';', '[SEP]', 'red', 'boot', '[SEP]']
    """
    max_length = check_positive_int(max_length, "max_length")
    cap = max_length // 2 if max_candidate_tokens is None else check_positive_int(max_candidate_tokens,
                                                                                     "max_candidate_tokens")
    if cap > max_length - 3:
        raise CourseKitError(f"max_candidate_tokens={cap} leaves no room for [CLS]/[SEP]/[SEP] within "
                             f"max_length={max_length}; use at most max_length - 3 = {max_length - 3}.")
    histories, candidates = [str(h) for h in histories], [str(c) for c in candidates]
    if len(histories) != len(candidates):
        raise CourseKitError(f"histories and candidates must pair up one to one, got {len(histories)} "
                             f"histories and {len(candidates)} candidates.")
    candidates = truncate_texts(tokenizer, candidates, cap)
    return tokenizer(histories, candidates, truncation="only_first", max_length=max_length,
                     padding=True, return_tensors=return_tensors)


def candidate_mean(hidden: Any, input_ids: Any, attention_mask: Any, sep_id: int) -> Any:
    r"""Mean of the hidden states of the candidate's tokens: those after the first separator, separators excluded.

    Works for ``[CLS] a [SEP] b [SEP]`` (BERT) and ``<s> a </s></s> b </s>`` (RoBERTa) alike;
    padding is excluded by ``attention_mask``.

    >>> import torch
    >>> h = torch.arange(6.0).reshape(1, 6, 1)
    >>> candidate_mean(h, torch.tensor([[101, 7, 102, 8, 9, 102]]), torch.ones(1, 6), 102).tolist()
    [[3.5]]
    """
    is_sep = input_ids == sep_id
    after = (is_sep.cumsum(dim=1) >= 1) & ~is_sep & attention_mask.bool()
    weights = after.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
