r"""New users: fold-in of onboarding answers, which items to ask about, and profiles from own text.

**Fold-in.** With the item factors :math:`Y` of a trained iALS fixed, a new user's vector solves
the same ridge problem as in training, over the items :math:`H` the user revealed,

.. math:: x = \Big(Y^\top Y + \lambda I + \sum_{i \in H} (c_i - 1)\, y_i y_i^\top\Big)^{-1}
   \sum_{i \in H} c_i\, y_i ,

solved for all new users at once (:meth:`coursekit.models.IALS.user_factors_batch`; the same vector
:meth:`coursekit.models.IALS.user_factors` gives one user, and :meth:`~coursekit.models.IALS.fold_in` its
scores). :func:`fold_in_scores` scores every item for every new user this way.

**Which items to ask** (:func:`question_items`, among the ``pool`` most popular items):

``"popular"``
    the :math:`n` most popular items: most users can answer, but they say little about taste.
``"diverse"``
    greedy farthest-first in factor space: start with the most popular item, then repeatedly add the
    item whose largest cosine to the items already chosen is smallest.
``"informative"``
    greedy expected information: item :math:`i` is answered "yes" with probability about its share of
    users :math:`p_i`, and a "yes" shrinks the uncertainty of :math:`x` along :math:`y_i` by
    :math:`y_i^\top A^{-1} y_i` (:math:`A = \lambda I + \sum_{j\ \text{chosen}} y_j y_j^\top`); pick
    :math:`\arg\max_i p_i\, y_i^\top A^{-1} y_i`, add :math:`y_i y_i^\top` to :math:`A`, repeat
    (greedy D-optimal design weighted by the chance of an answer).

**Popularity prior** (:func:`prior_scores`, :func:`choose_prior_weight`). A vector folded in from one to
ten items is noisy, and for a stranger popularity is a strong baseline; add it as a prior,

.. math:: s_{ui} = x_u^\top y_i + \beta \log(1 + n_i),

with :math:`n_i` the item's training count and :math:`\beta` chosen by NDCG@10 on **validation users**: a second
onboarding split drawn from the training users only, with an iALS refitted on the rest (the evaluated
new users never choose :math:`\beta`).

**Text the user wrote** (:func:`text_profile_scores`): the mean of the user's review embeddings,
scored against the item embeddings by cosine.

>>> Y = np.eye(3)
>>> question_items("popular", Y, np.array([5, 9, 1]), n=2).tolist()
[1, 0]
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import scipy.sparse as sp

from coursekit._validation import CourseKitError, check_choice, check_positive_int
from coursekit.coldstart.protocols import onboarding_split
from coursekit.interactions import Interactions
from coursekit.models.ials import IALS

__all__ = ["fold_in_scores", "prior_scores", "choose_prior_weight", "question_items", "answer_questions",
           "text_profile_scores", "profile_scores", "STRATEGIES"]

STRATEGIES = ("popular", "diverse", "informative")


def fold_in_scores(ials: IALS, revealed: Interactions) -> np.ndarray:
    r"""Scores ``(n_users, n_items)`` from fold-in of each user's revealed events, :math:`s_u = Y x_u`.

    All users are solved at once (:meth:`coursekit.models.IALS.user_factors_batch` of the count
    matrix); users with nothing revealed get the model's training popularity (the named fallback of
    every coursekit model).
    """
    X = ials.user_factors_batch(revealed.matrix("count", dtype=np.float64))
    scores = X @ ials.item_factors_.T
    none = revealed.user_counts() == 0
    scores[none] = ials.item_popularity_
    return scores


def prior_scores(ials: IALS, revealed: Interactions, beta: float) -> np.ndarray:
    r"""Fold-in scores plus a popularity prior, :math:`x_u^\top y_i + \beta \log(1 + n_i)` (module docstring).

    Users with nothing revealed get the model's training popularity, as in :func:`fold_in_scores`.

    The prior term alone, for items seen 0 and :math:`e - 1` times, :math:`\beta = 0.5`:

    >>> (0.5 * np.log1p(np.array([0.0, np.e - 1]))).round(2).tolist()
    [0.0, 0.5]
    """
    if not (np.isfinite(beta) and beta >= 0):
        raise CourseKitError(f"beta must be a finite number >= 0, got {beta!r}.")
    scores = fold_in_scores(ials, revealed)
    has = revealed.user_counts() > 0
    scores[has] += beta * np.log1p(np.asarray(ials.item_popularity_, dtype=np.float64))
    return scores


def choose_prior_weight(train: Interactions, ks: Iterable[int],
                        betas: Iterable[float] = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0), seed: int = 0,
                        max_k: int = 10, test_frac: float = 0.2, k_eval: int = 10,
                        **ials_params: Any) -> dict[int, tuple[float, np.ndarray]]:
    r"""Choose :math:`\beta` of :func:`prior_scores` per reveal count :math:`k` on validation users.

    ``train`` must hold the training users only (e.g. ``onboarding_split(...).train``). An inner
    :func:`onboarding_split` of it (seed ``seed + 1``) gives validation users; iALS (``ials_params``) is
    refitted on the remaining users once, and for each :math:`k` in ``ks`` the :math:`\beta` with the best
    validation NDCG@``k_eval`` is kept. Returns ``{k: (beta, validation NDCG per beta)}``.
    """
    import pandas as pd

    from coursekit.evaluation import evaluate

    betas = [float(b) for b in betas]
    if not betas:
        raise CourseKitError("betas must name at least one value.")
    inner = onboarding_split(train, k=max_k, test_frac=test_frac, seed=seed + 1, max_k=max_k)
    ials = IALS(seed=seed, **ials_params).fit(inner.train)
    out = {}
    for k in ks:
        ob = onboarding_split(train, k=int(k), test_frac=test_frac, seed=seed + 1, max_k=max_k)
        seen = Interactions.from_frame(pd.concat([ob.train.frame, ob.revealed.frame], ignore_index=True),
                                       users=train.users, items=train.items)
        vals = []
        for beta in betas:
            df = evaluate(prior_scores(ials, ob.revealed, beta), seen, ob.target, ks=(k_eval,), metrics=["ndcg"],
                          beyond=False)
            vals.append(float(df.loc[df.metric == "ndcg", "value"].iloc[0]))
        vals = np.asarray(vals)
        out[int(k)] = (betas[int(np.argmax(vals))], vals)
    return out


def profile_scores(item_vectors: np.ndarray, revealed: Interactions, popularity: np.ndarray) -> np.ndarray:
    r"""Content profile of each user's revealed items (mean of unit vectors), cosine to every item.

    Users with nothing revealed get ``popularity``.
    """
    V = np.asarray(item_vectors, dtype=np.float64)
    unit = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
    B = revealed.matrix("binary", dtype=np.float64)
    P = np.asarray(B @ unit)
    P /= np.maximum(np.linalg.norm(P, axis=1, keepdims=True), 1e-12)
    scores = P @ unit.T
    none = revealed.user_counts() == 0
    scores[none] = popularity
    return scores


def text_profile_scores(user_index: np.ndarray, text_vectors: np.ndarray, item_vectors: np.ndarray,
                        n_users: int, popularity: np.ndarray) -> np.ndarray:
    r"""Score items by the cosine between the mean embedding of each user's own texts and the items.

    ``user_index[j]`` wrote the text embedded in ``text_vectors[j]``; users without a text get
    ``popularity``.
    """
    T = np.asarray(text_vectors, dtype=np.float64)
    T = T / np.maximum(np.linalg.norm(T, axis=1, keepdims=True), 1e-12)
    owner = sp.csr_matrix((np.ones(len(user_index)), (np.asarray(user_index), np.arange(len(user_index)))),
                          shape=(n_users, len(user_index)))
    P = np.asarray(owner @ T)
    P /= np.maximum(np.linalg.norm(P, axis=1, keepdims=True), 1e-12)
    V = np.asarray(item_vectors, dtype=np.float64)
    scores = P @ (V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)).T
    none = np.bincount(np.asarray(user_index, dtype=np.int64), minlength=n_users) == 0
    scores[none] = popularity
    return scores


def question_items(strategy: str, item_factors: np.ndarray, popularity: np.ndarray, n: int,
                   pool: int = 200, reg: float = 1.0) -> np.ndarray:
    """Internal indices of ``n`` onboarding questions chosen by ``strategy`` (module docstring)."""
    check_choice(strategy, "strategy", list(STRATEGIES))
    n = check_positive_int(n, "n")
    pop = np.asarray(popularity, dtype=np.float64)
    cand = np.argsort(-pop, kind="stable")[:max(pool, n)]
    cand = cand[pop[cand] > 0] if (pop[cand] > 0).sum() >= n else cand
    if strategy == "popular":
        return cand[:n]
    Y = np.asarray(item_factors, dtype=np.float64)[cand]
    chosen = [0]
    if strategy == "diverse":
        unit = Y / np.maximum(np.linalg.norm(Y, axis=1, keepdims=True), 1e-12)
        closest = unit @ unit[0]
        for _ in range(1, min(n, len(cand))):
            closest_masked = closest.copy()
            closest_masked[chosen] = np.inf
            j = int(np.argmin(closest_masked))
            chosen.append(j)
            closest = np.maximum(closest, unit @ unit[j])
        return cand[chosen]
    p = pop[cand] / max(pop.max(), 1.0)
    A_inv = np.eye(Y.shape[1]) / reg
    chosen = []
    for _ in range(min(n, len(cand))):
        gain = p * np.einsum("ij,jk,ik->i", Y, A_inv, Y)
        gain[chosen] = -np.inf
        j = int(np.argmax(gain))
        chosen.append(j)
        y = Y[j]
        Ay = A_inv @ y
        A_inv -= np.outer(Ay, Ay) / (1.0 + y @ Ay)     # Sherman-Morrison: (A + y y^T)^{-1}
    return cand[chosen]


def answer_questions(questions: np.ndarray, known: sp.csr_matrix) -> sp.csr_matrix:
    """The "yes" answers: for each user (row of ``known``, binary), the questions among their items."""
    mask = np.zeros(known.shape[1])
    mask[np.asarray(questions)] = 1.0
    out = sp.csr_matrix(known, dtype=np.float64, copy=True) @ sp.diags(mask)
    out = sp.csr_matrix(out)
    out.eliminate_zeros()
    return out
