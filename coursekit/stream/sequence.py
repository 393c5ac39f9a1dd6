r"""Sequence updaters: the user state is a sequence model's reading of the latest items.

A transformer over the item sequence (SASRec, BERT4Rec) reacts to a new event through its
*input*: the weights stay fixed, the sequence grows by one, and one forward pass gives the
next state.
"""
from __future__ import annotations

import numpy as np

from coursekit._validation import CourseKitError
from coursekit.interactions import Interactions, user_time_order
from coursekit.models.base import Recommender
from coursekit.stream.online import OnlineRecommender

__all__ = ["SequenceUpdater"]


class SequenceUpdater(OnlineRecommender):
    r"""The user state is a forward pass of a sequence model over the last ``max_len`` items.

    After each event the user's item sequence :math:`(i_1, \dots, i_n)` grows by one and the
    model's output for the next position, :math:`h_u = f_\theta(i_{n-N+1}, \dots, i_n)`, is
    recomputed (:meth:`SASRec.encode_sequence`); scores are :math:`s_{ui} = e_i^\top h_u` (+ bias).
    The weights :math:`\theta` stay fixed: the reaction to a new event comes from the input.

    Parameters
    ----------
    model : fitted SASRec or BERT4Rec (:mod:`coursekit.models.sequential`)
    eager : bool
        Run the forward pass at ``update`` (the state is ready when the next request comes: what a
        serving system does, and what the latency benchmark times). ``False`` defers it to the next
        ``recommend`` (same results; cheaper when many events arrive between requests).
    """

    def __init__(self, model: Recommender, eager: bool = True):
        self.model = model
        self.eager = eager

    def _init(self, train: Interactions) -> None:
        m = self.model
        if not hasattr(m, "encode_sequence"):
            raise CourseKitError(f"SequenceUpdater needs SASRec or BERT4Rec, got {type(m).__name__}.")
        if not hasattr(m, "seen_"):
            m.fit(train)
        if m.n_items != train.n_items:
            raise CourseKitError("the sequence model was fitted on another item universe; fit it on train.")
        order, _, _ = user_time_order(train)
        u_sorted, i_sorted = train.user_index[order], train.item_index[order]
        ptr = np.r_[0, np.cumsum(np.bincount(u_sorted, minlength=train.n_users))]
        N = m.max_len
        self._seq = [list(i_sorted[max(ptr[u], ptr[u + 1] - N):ptr[u + 1]]) for u in range(train.n_users)]
        self._h: dict[int, np.ndarray] = {}
        self._E, self._bias = m.output_embeddings()

    def _update(self, u: int, i: int, t: float, value: float | None) -> None:
        seq = self._seq[u]
        seq.append(i)
        if len(seq) > self.model.max_len:
            del seq[0]
        if self.eager:
            self._h[u] = self.model.encode_sequence(np.asarray(seq))
        else:
            self._h.pop(u, None)

    def _scores(self, u: int) -> np.ndarray:
        if u not in self._h:
            self._h[u] = self.model.encode_sequence(np.asarray(self._seq[u]))
        return self._E @ self._h[u] + self._bias


