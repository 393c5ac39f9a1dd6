r"""An LM as a ranker: score each candidate title as the continuation of a prompt, and what biases it.

The prompt lists the user's history and the candidates (:func:`ranking_prompt`); candidate :math:`i`
with title tokens :math:`c_{i1} \dots c_{im_i}` gets

.. math:: s_i = \sum_{j=1}^{m_i} \log P(c_{ij} \mid \text{prompt}, c_{i,<j})
          \quad\text{or, length-normalised,}\quad \bar s_i = s_i / m_i .

Sums penalise long titles (every token costs log-probability); the mean per token removes that, but
also the evidence of a title's later tokens. The shop's titles are all 3 to 5 tokens long ("brand line
noun"), and there the **sum** ranks better: the lesson uses it (``normalize=False``, the default) and shows
the mean beside it. (Measured on the shop: a 128-dim, 2-layer LM trained 2 epochs on the training
corpus, 100 queries of 9 random candidates + the user's next item: hit@1 0.19 with the sum, 0.08
with the mean; chance is 0.10.)

Two known weaknesses of LM rankers are measured, per query so that claims carry an SE over queries:

* :func:`position_bias` -- the same candidates listed in ``n_orders`` random orders: does the ranking
  (Kendall :math:`\tau` between orders) or the top-1 change, and does a candidate score higher when it
  is listed first than when it is listed last?
* :func:`popularity_correlation` -- Spearman between the LM's scores and the candidates' log popularity.

>>> ranking_prompt(["Lumen mug", "Nimbus kettle"], ["Kestrel lamp", "Velora vest"])
'A customer bought: Lumen mug; Nimbus kettle. Options: 1. Kestrel lamp; 2. Velora vest. The customer will buy next:'
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_positive_int, check_seed
from coursekit.generative.lm import history_text, sequence_log_likelihood

__all__ = ["ranking_prompt", "LMRanker", "PositionBias", "position_bias", "popularity_correlation"]


def ranking_prompt(history_titles: Sequence[str], candidate_titles: Sequence[str], options: bool = True) -> str:
    """``"A customer bought: T1; T2. Options: 1. X; 2. Y. The customer will buy next:"`` (``options=False``
    leaves the candidate list out, so the order of the candidates cannot matter)."""
    text = f"A customer bought: {history_text(history_titles)}."
    if options and len(candidate_titles):
        text += " Options: " + "; ".join(f"{k}. {t}" for k, t in enumerate(candidate_titles, start=1)) + "."
    return text + " The customer will buy next:"


class LMRanker:
    """Ranks candidate titles by their log-likelihood after :func:`ranking_prompt`.

    Parameters
    ----------
    model, tokenizer
        A causal LM and its tokenizer (:func:`coursekit.generative.lm.build_causal_lm` trained here, or
        :func:`~coursekit.generative.lm.load_causal_lm`).
    normalize : bool
        ``False``: the sum of the title tokens' log-probabilities (the lesson's choice); ``True``: their mean.
    options : bool
        Whether the prompt lists the candidates (then their order can matter: :func:`position_bias`).
    batch_size : int
        Prompt/continuation pairs per forward pass.
    """

    def __init__(self, model: Any, tokenizer: Any, normalize: bool = False, options: bool = True,
                 batch_size: int = 32) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.normalize, self.options = bool(normalize), bool(options)
        self.batch_size = check_positive_int(batch_size, "batch_size")

    def score(self, histories: Sequence[Sequence[str]], candidates: Sequence[Sequence[str]],
              normalize: bool | None = None) -> list[np.ndarray]:
        """Per query, the score of each candidate (in the order given, which is also the prompt's order).

        All queries' pairs go through :func:`~coursekit.generative.lm.sequence_log_likelihood` in one call.
        """
        if len(histories) != len(candidates):
            raise CourseKitError(f"histories and candidates must have one entry per query, got {len(histories)} "
                                 f"and {len(candidates)}.")
        normalize = self.normalize if normalize is None else bool(normalize)
        prompts, conts, sizes = [], [], []
        for h, c in zip(histories, candidates):
            if isinstance(c, str) or isinstance(h, str):
                raise CourseKitError("each history and each candidate list must be a list of titles, got a string; "
                                     "wrap it in a list.")
            p = ranking_prompt(h, c, self.options)
            prompts += [p] * len(c)
            conts += [str(t) for t in c]
            sizes.append(len(c))
        flat = sequence_log_likelihood(self.model, self.tokenizer, prompts, conts, batch_size=self.batch_size,
                                       reduce="mean" if normalize else "sum") if conts else np.zeros(0)
        return np.split(flat, np.cumsum(sizes)[:-1])


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Rank 1 = best along the last axis (ties by position)."""
    order = np.argsort(-scores, axis=-1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, scores.shape[-1] + 1), axis=-1)
    return ranks


def _kendall(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall tau-b of two score vectors (NaN when one is constant)."""
    from scipy.stats import kendalltau

    if len(a) < 2:
        return float("nan")
    return float(kendalltau(a, b).statistic)


@dataclass
class PositionBias:
    """Result of :func:`position_bias`.

    Attributes
    ----------
    per_query : DataFrame
        One row per query: ``kendall_tau`` (mean over pairs of orders), ``top1_changed`` (the best
        candidate is not the same under every order), ``first_minus_last`` (the mean score shift of the
        candidate listed first minus that of the one listed last; a paired, per-query quantity).
    by_position : DataFrame
        Per prompt position (1 = listed first): ``mean_rank`` and ``score_shift`` (a candidate's score
        there minus its mean score over all orders), each averaged over orders within a query and then
        over queries, with ``*_se`` over queries and ``n_queries``.
    scores : list of arrays (n_orders, n_candidates)
        Raw scores, columns in the original candidate order; ``positions`` likewise (1-based).
    """

    per_query: pd.DataFrame
    by_position: pd.DataFrame
    scores: list
    positions: list


def position_bias(ranker: LMRanker, histories: Sequence[Sequence[str]], candidates: Sequence[Sequence[str]],
                  n_orders: int = 5, seed: int = 0) -> PositionBias:
    """Score each query's candidates under ``n_orders`` random prompt orders (one batched scoring call).

    The first order is the order given; the others are random permutations (``seed``).
    """
    n_orders = check_positive_int(n_orders, "n_orders")
    if n_orders < 2:
        raise CourseKitError("n_orders must be at least 2 to compare orders, got 1.")
    rng = np.random.default_rng(check_seed(seed))
    perms = [[np.arange(len(c))] + [rng.permutation(len(c)) for _ in range(n_orders - 1)] for c in candidates]
    hist_all = [h for h, P in zip(histories, perms) for _ in P]
    cand_all = [[c[j] for j in p] for c, P in zip(candidates, perms) for p in P]
    flat = ranker.score(hist_all, cand_all)
    scores, positions, rows, table = [], [], [], []
    for q, P in enumerate(perms):
        m = len(P[0])
        S = np.empty((n_orders, m))
        pos = np.empty((n_orders, m), dtype=np.int64)
        for o, p in enumerate(P):
            S[o, p] = flat[q * n_orders + o]
            pos[o, p] = np.arange(1, m + 1)
        scores.append(S)
        positions.append(pos)
        taus = [_kendall(S[a], S[b]) for a in range(n_orders) for b in range(a + 1, n_orders)]
        best = np.argmax(S, axis=1)
        shift = S - S.mean(0, keepdims=True)
        by_pos = np.zeros(m)
        rank_by_pos = np.zeros(m)
        np.add.at(by_pos, pos.ravel() - 1, shift.ravel())
        np.add.at(rank_by_pos, pos.ravel() - 1, _ranks(S).ravel().astype(float))
        by_pos /= n_orders
        rank_by_pos /= n_orders
        rows.append({"query": q, "n_candidates": m, "kendall_tau": float(np.nanmean(taus)) if m > 1 else np.nan,
                     "top1_changed": bool(m > 1 and np.any(best != best[0])),
                     "first_minus_last": float(by_pos[0] - by_pos[-1]) if m > 1 else np.nan})
        table.append(pd.DataFrame({"query": q, "position": np.arange(1, m + 1), "rank": rank_by_pos,
                                   "score_shift": by_pos}))
    per_pos = pd.concat(table, ignore_index=True)
    g = per_pos.groupby("position")
    by_position = pd.DataFrame({
        "mean_rank": g["rank"].mean(), "mean_rank_se": g["rank"].sem(),
        "score_shift": g["score_shift"].mean(), "score_shift_se": g["score_shift"].sem(),
        "n_queries": g["query"].nunique()})
    return PositionBias(pd.DataFrame(rows), by_position, scores, positions)


def popularity_correlation(scores: Sequence[ArrayLike], popularity: Sequence[ArrayLike]) -> np.ndarray:
    """Per query, Spearman's rho between the LM scores and :math:`\\log(1 + \\text{popularity})` of the candidates.

    NaN for a query with fewer than 3 candidates or constant scores or popularity.

    >>> popularity_correlation([np.array([0.1, 0.5, 0.9])], [np.array([1, 10, 100])]).tolist()
    [1.0]
    """
    from scipy.stats import rankdata

    if len(scores) != len(popularity):
        raise CourseKitError(f"scores and popularity must have one entry per query, got {len(scores)} "
                             f"and {len(popularity)}.")
    out = np.full(len(scores), np.nan)
    for q, (s, p) in enumerate(zip(scores, popularity)):
        s, p = np.asarray(s, dtype=float), np.asarray(p, dtype=float)
        if s.shape != p.shape:
            raise CourseKitError(f"query {q}: {s.size} scores but {p.size} popularity values; align them.")
        if (p < 0).any():
            raise CourseKitError(f"popularity must be counts >= 0, got {p.min()} in query {q}.")
        if s.size < 3:
            continue
        a, b = rankdata(s), rankdata(np.log1p(p))
        if a.std() > 0 and b.std() > 0:
            out[q] = float(np.corrcoef(a, b)[0, 1])
    return out
