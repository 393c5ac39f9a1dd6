r"""A prefix trie of item codes and beam search constrained by it.

A generative recommender writes an item's semantic ID token by token. Left alone, a decoder may
write a sequence that is *no item's* ID (the generative retrieval version of a hallucination). A
prefix trie of the catalogue's IDs says, for every prefix, which next tokens lead to a real item;
**constrained beam search** keeps the ``beam_size`` best prefixes per query at every depth, each
scored by the sum of the model's log-probabilities of its tokens,

.. math:: s(c_1, \dots, c_t) = \sum_{u=1}^{t} \log p(c_u \mid q, c_1, \dots, c_{u-1}),

and gives the tokens the trie forbids the score :math:`-\infty` (no renormalisation over the allowed
tokens: the score stays the model's own log-probability of the sequence). Every finished beam is an item.

* :class:`PrefixTrie` -- ``allowed(prefix)``, ``allowed_mask(prefixes, vocab_size)`` (vectorised),
  ``lookup(sequence)``, ``values_of(sequences)``, ``prefix in trie``.
* :func:`constrained_beam_search` and :func:`beam_search` (free decoding, for comparison).

The trie is stored level by level in CSR form: the children of the nodes of depth ``t`` are
``tokens[t][indptr[t][v]:indptr[t][v + 1]]`` (sorted), and child ``j`` of that list is node
``indptr[t][v] + j`` of depth ``t + 1``. Walking ``B`` prefixes down is one :func:`numpy.searchsorted`
per level in the sorted keys ``parent * n_tokens + token`` of the children.

Example
-------
>>> trie = PrefixTrie([[0, 2], [0, 3], [1, 2]], values=[10, 11, 12])
>>> trie.allowed([0]).tolist(), trie.allowed([]).tolist(), trie.lookup([1, 2]), (1, 3) in trie
([2, 3], [0, 1], 12, False)
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.models.ranking import top_k

__all__ = ["PrefixTrie", "constrained_beam_search", "beam_search"]

StepFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class PrefixTrie:
    """The prefix tree of ``n`` token sequences of one length, each carrying an int value (its item).

    Parameters
    ----------
    sequences : int array (n, depth)
        Tokens >= 0, one row per item, all rows distinct (semantic IDs with their collision token are).
    values : int array (n,), optional
        What :meth:`lookup` returns for each row, >= 0 (default: the row number); ``-1`` stands for
        "no item" in :meth:`values_of` and the beam searches.
    """

    def __init__(self, sequences: ArrayLike, values: ArrayLike | None = None):
        seq = np.asarray(sequences)
        if seq.ndim != 2 or seq.shape[0] == 0 or seq.shape[1] == 0 or seq.dtype.kind not in "iu":
            raise CourseKitError("sequences must be a non-empty 2-D integer array (n_items, depth), "
                                 f"got shape {seq.shape} and dtype {seq.dtype}.")
        seq = seq.astype(np.int64)
        if seq.min() < 0:
            raise CourseKitError(f"sequences must hold tokens >= 0, got {seq.min()}.")
        vals = np.arange(len(seq)) if values is None else np.asarray(values)
        if vals.shape != (len(seq),) or vals.dtype.kind not in "iu" or (vals.size and vals.min() < 0):
            raise CourseKitError(f"values must be one integer >= 0 per sequence ({len(seq)}; -1 means 'no item'), "
                                 f"got shape {vals.shape}, dtype {vals.dtype}.")
        order = np.lexsort(seq.T[::-1])
        seq, vals = seq[order], vals[order].astype(np.int64)
        if len(seq) > 1 and not (np.diff(seq, axis=0) != 0).any(axis=1).all():
            raise CourseKitError("sequences must be distinct: two items share a code, so the trie cannot tell them "
                                 "apart. Add a collision token (coursekit.generative.semantic_ids does).")
        self.n_tokens = int(seq.max()) + 1                         # tokens >= n_tokens are never allowed
        self.indptr: list[np.ndarray] = []
        self.tokens: list[np.ndarray] = []
        self.keys: list[np.ndarray] = []
        node = np.zeros(len(seq), dtype=np.int64)                  # node of each row at the current depth
        n_nodes = 1
        for t in range(seq.shape[1]):
            key = node * self.n_tokens + seq[:, t]                 # sorted, since rows are sorted
            first = np.r_[True, key[1:] != key[:-1]]
            child_parent, child_token = node[first], seq[first, t]
            self.indptr.append(np.searchsorted(child_parent, np.arange(n_nodes + 1)).astype(np.int64))
            self.tokens.append(child_token)
            self.keys.append(key[first])                           # parent * n_tokens + token, sorted
            node = np.cumsum(first) - 1
            n_nodes = int(first.sum())
        self.leaf_values = vals                                    # leaves are numbered in sorted row order
        self.depth = seq.shape[1]
        self.n_items = len(seq)

    def __repr__(self) -> str:
        return f"PrefixTrie(n_items={self.n_items}, depth={self.depth}, n_tokens={self.n_tokens})"

    def __len__(self) -> int:
        return self.n_items

    # ------------------------------------------------------------------ walking down
    def nodes(self, prefixes: ArrayLike) -> np.ndarray:
        """Node (at depth ``t``) of each prefix row of ``prefixes (B, t)``; ``-1`` where it is no prefix."""
        P = np.asarray(prefixes)
        if P.ndim != 2 or P.shape[1] > self.depth or (P.size and P.dtype.kind not in "iu"):
            raise CourseKitError(f"prefixes must be a 2-D integer array (B, t) with t <= depth={self.depth}, "
                                 f"got shape {P.shape} and dtype {P.dtype}.")
        node = np.zeros(len(P), dtype=np.int64)
        for t in range(P.shape[1]):
            tok = P[:, t].astype(np.int64)
            key = node * self.n_tokens + tok
            keys = self.keys[t]
            pos = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
            found = (node >= 0) & (tok >= 0) & (tok < self.n_tokens) & (keys[pos] == key)
            node = np.where(found, pos, -1)
        return node

    def allowed(self, prefix: Sequence[int]) -> np.ndarray:
        """Sorted next tokens after ``prefix`` (empty when it is no prefix or already a full sequence).

        >>> PrefixTrie([[5, 1], [5, 0], [7, 0]]).allowed([5]).tolist()
        [0, 1]
        """
        P = np.asarray(prefix, dtype=np.int64).reshape(1, -1)
        if P.shape[1] >= self.depth:
            return np.empty(0, dtype=np.int64)
        v = int(self.nodes(P)[0])
        if v < 0:
            return np.empty(0, dtype=np.int64)
        t = P.shape[1]
        return self.tokens[t][self.indptr[t][v]:self.indptr[t][v + 1]].copy()

    def allowed_mask(self, prefixes: ArrayLike, vocab_size: int) -> np.ndarray:
        """Boolean (B, vocab_size): which next tokens keep each prefix row of ``prefixes (B, t)`` in the trie.

        >>> PrefixTrie([[0, 2], [0, 3], [1, 2]]).allowed_mask([[0], [1], [4]], 4).astype(int).tolist()
        [[0, 0, 1, 1], [0, 0, 1, 0], [0, 0, 0, 0]]
        """
        vocab_size = check_positive_int(vocab_size, "vocab_size")
        if vocab_size < self.n_tokens:
            raise CourseKitError(f"vocab_size ({vocab_size}) must cover every token of the trie (max token "
                                 f"{self.n_tokens - 1}).")
        P = np.asarray(prefixes)
        if P.ndim == 2 and P.shape[1] >= self.depth:
            raise CourseKitError(f"prefixes of length {P.shape[1]} have no next token: the trie's depth is "
                                 f"{self.depth}.")
        node = self.nodes(P)
        t = P.shape[1]
        mask = np.zeros((len(P), vocab_size), dtype=bool)
        ok = node >= 0
        lo, hi = self.indptr[t][np.where(ok, node, 0)], self.indptr[t][np.where(ok, node, 0) + 1]
        counts = np.where(ok, hi - lo, 0)
        rows = np.repeat(np.arange(len(P)), counts)
        idx = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        mask[rows, self.tokens[t][idx]] = True
        return mask

    # ------------------------------------------------------------------ full sequences
    def values_of(self, sequences: ArrayLike) -> np.ndarray:
        """The value of each full sequence row of ``sequences (B, depth)``; ``-1`` where it is no item."""
        S = np.asarray(sequences)
        if S.ndim != 2 or S.shape[1] != self.depth:
            raise CourseKitError(f"sequences must have shape (B, {self.depth}), got {S.shape}.")
        leaf = self.nodes(S)
        return np.where(leaf >= 0, self.leaf_values[np.maximum(leaf, 0)], -1)

    def lookup(self, sequence: Sequence[int]) -> int:
        """The value of one full sequence; raises when it is no item's sequence.

        >>> PrefixTrie([[0, 2], [1, 2]], values=[10, 11]).lookup([1, 2])
        11
        """
        S = np.asarray(sequence).reshape(1, -1)
        if S.shape[1] != self.depth:
            raise CourseKitError(f"sequence must have depth={self.depth} tokens, got {S.shape[1]}: {list(sequence)}.")
        leaf = int(self.nodes(S)[0])
        if leaf < 0:
            raise CourseKitError(f"{list(sequence)} is no item's sequence in this trie.")
        return int(self.leaf_values[leaf])

    def __contains__(self, prefix: object) -> bool:
        """Whether ``prefix`` (length 0 .. depth) starts at least one stored sequence."""
        try:
            P = np.asarray(prefix, dtype=np.int64).reshape(1, -1)
        except (TypeError, ValueError):
            return False
        return P.shape[1] <= self.depth and bool(self.nodes(P)[0] >= 0)


# ---------------------------------------------------------------------------- beam search
def _check_step_output(logp: np.ndarray, B: int, vocab_size: int) -> np.ndarray:
    logp = np.asarray(logp, dtype=np.float64)
    if logp.shape != (B, vocab_size):
        raise CourseKitError(f"step must return log-probabilities of shape (B, vocab_size) = ({B}, {vocab_size}), "
                             f"got {logp.shape}.")
    if np.isnan(logp).any() or (logp == np.inf).any():
        raise CourseKitError("step returned NaN or +inf log-probabilities; return log_softmax of the logits.")
    return logp


def _beam(step: StepFn, depth: int, n_queries: int, beam_size: int, vocab_size: int,
          trie: PrefixTrie | None) -> tuple[np.ndarray, np.ndarray]:
    """Beam search shared by both decoders: sequences (Q, beam, depth) and scores (Q, beam)."""
    Q, b = n_queries, beam_size
    seqs = np.zeros((Q, 1, 0), dtype=np.int64)                  # one empty prefix per query
    scores = np.zeros((Q, 1))
    for _ in range(depth):
        live = np.isfinite(scores)                               # (Q, width): padding rows are -inf
        q_idx, w_idx = np.nonzero(live)
        prefixes = seqs[q_idx, w_idx]                            # (B, t), all live beams of all queries at once
        logp = _check_step_output(step(q_idx, prefixes), len(q_idx), vocab_size)
        cand = scores[q_idx, w_idx][:, None] + logp
        if trie is not None:
            cand = np.where(trie.allowed_mask(prefixes, vocab_size), cand, -np.inf)
        width = scores.shape[1]
        full = np.full((Q, width * vocab_size), -np.inf)         # per query: (beam row, token) flattened
        full.reshape(Q, width, vocab_size)[q_idx, w_idx] = cand
        best, new_scores = top_k(full, b)                        # ties: lower beam row, then lower token
        best = np.maximum(best, 0)                               # -1 (fewer candidates) has score -inf
        parent, token = best // vocab_size, best % vocab_size
        seqs = np.concatenate([np.take_along_axis(seqs, parent[:, :, None], axis=1), token[:, :, None]], axis=2)
        scores = new_scores
    if scores.shape[1] < b:                                      # fewer candidates than the beam: pad
        pad = b - scores.shape[1]
        seqs = np.concatenate([seqs, np.zeros((Q, pad, depth), dtype=np.int64)], axis=1)
        scores = np.concatenate([scores, np.full((Q, pad), -np.inf)], axis=1)
    return seqs, scores


def _check_common(n_queries, beam_size, vocab_size) -> tuple[int, int, int]:
    return (check_positive_int(n_queries, "n_queries"), check_positive_int(beam_size, "beam_size"),
            check_positive_int(vocab_size, "vocab_size"))


def constrained_beam_search(step: StepFn, trie: PrefixTrie, n_queries: int, beam_size: int, vocab_size: int,
                            return_sequences: bool = False):
    r"""Beam search over ``trie.depth`` tokens that only writes prefixes of the trie: every result is an item.

    Parameters
    ----------
    step : callable ``(query_index (B,), prefixes (B, t)) -> (B, vocab_size)`` log-probabilities
        The model: next-token log-probabilities for each row (query ``query_index[b]``, tokens so far
        ``prefixes[b]``). Called once per depth, for the live beams of every query at once; ``t = 0`` at
        the first call (``prefixes`` of shape ``(n_queries, 0)``).
    trie : PrefixTrie
        The catalogue's sequences; disallowed tokens get :math:`-\infty` (no renormalisation).
    n_queries, beam_size, vocab_size : int
    return_sequences : bool
        Also return the token sequences (n_queries, beam_size, depth).

    Returns
    -------
    values : int array (n_queries, beam_size)
        The trie values (items) of the finished beams, best first; ``-1`` where fewer than ``beam_size``
        items can be reached (or the model gives every remaining item probability 0).
    scores : array (n_queries, beam_size)
        Their log-probabilities :math:`\sum_t \log p(c_t \mid q, c_{<t})`; ``-inf`` for padding.

    >>> trie = PrefixTrie([[0, 1], [1, 0]], values=[7, 8])
    >>> def step(q, prefixes):                     # prefers token 0 at the first step, then token 0 again
    ...     return np.log(np.tile([0.6, 0.3, 0.1], (len(q), 1)))
    >>> values, scores = constrained_beam_search(step, trie, n_queries=1, beam_size=3, vocab_size=3)
    >>> values.tolist(), np.exp(scores).round(2).tolist()       # [0, 0] is no item: [0, 1] and [1, 0] remain
    ([[7, 8, -1]], [[0.18, 0.18, 0.0]])
    """
    if not isinstance(trie, PrefixTrie):
        raise CourseKitError(f"trie must be a PrefixTrie, got {type(trie).__name__}.")
    Q, b, V = _check_common(n_queries, beam_size, vocab_size)
    seqs, scores = _beam(step, trie.depth, Q, b, V, trie)
    values = np.where(np.isfinite(scores), trie.values_of(seqs.reshape(-1, trie.depth)).reshape(Q, b), -1)
    return (values, scores, seqs) if return_sequences else (values, scores)


def beam_search(step: StepFn, depth: int, n_queries: int, beam_size: int, vocab_size: int,
                trie: PrefixTrie | None = None, return_sequences: bool = False):
    r"""Free beam search over ``depth`` tokens (no trie): what a decoder writes when nothing stops it.

    Same ``step`` contract and scores as :func:`constrained_beam_search`. With ``trie`` the sequences are
    looked up afterwards: ``values`` is ``-1`` wherever a finished beam is no item (count them to see how
    often an unconstrained decoder invents IDs). Without ``trie`` the sequences themselves are returned in
    place of the values, ``(sequences (n_queries, beam_size, depth), scores)``.

    >>> step = lambda q, p: np.log(np.tile([0.6, 0.3, 0.1], (len(q), 1)))
    >>> values, scores = beam_search(step, 2, 1, 2, 3, trie=PrefixTrie([[0, 1], [1, 0]], values=[7, 8]))
    >>> values.tolist(), np.exp(scores).round(2).tolist()        # the best free sequence [0, 0] is no item
    ([[-1, 7]], [[0.36, 0.18]])
    """
    depth = check_positive_int(depth, "depth")
    Q, b, V = _check_common(n_queries, beam_size, vocab_size)
    if trie is not None and (not isinstance(trie, PrefixTrie) or trie.depth != depth):
        raise CourseKitError(f"trie must be a PrefixTrie of depth {depth} (or None), got {trie!r}.")
    seqs, scores = _beam(step, depth, Q, b, V, None)
    if trie is None:
        return seqs, scores
    values = np.where(np.isfinite(scores), trie.values_of(seqs.reshape(-1, depth)).reshape(Q, b), -1)
    return (values, scores, seqs) if return_sequences else (values, scores)
