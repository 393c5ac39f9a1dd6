r"""Bayesian personalized ranking (BPR; Rendle, Freudenthaler, Gantner & Schmidt-Thieme 2009).

BPR learns from *pairs*: a user :math:`u` should rank an item :math:`i` they interacted with
above an item :math:`j` they did not. With matrix-factorization scores
:math:`\hat x_{ui} = w_u^\top h_i + b_i` and :math:`\hat x_{uij} = \hat x_{ui} - \hat x_{uj}`, it
maximises the log-posterior, i.e. minimises

.. math::

    \mathcal{L} = \sum_{(u, i, j) \in D_S} -\ln \sigma(\hat x_{uij})
    \;+\; \lambda \big( \lVert w_u \rVert^2 + \lVert h_i \rVert^2 + \lVert h_j \rVert^2
    + b_i^2 + b_j^2 \big),

where :math:`\sigma(x) = 1/(1+e^{-x})` and :math:`D_S` holds, for every training pair
:math:`(u, i)`, one negative :math:`j` drawn uniformly from the items :math:`u` has not
interacted with, drawn afresh every epoch. :math:`-\ln\sigma(\hat x_{uij})` is a smooth
surrogate of the AUC's 0/1 loss, so BPR optimizes the ranking directly.

Training is minibatch Adam (or SGD) in torch, on the GPU when one is available
(``device="auto"``); the learned weights are converted to numpy at the end of ``fit``.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from coursekit._validation import CourseKitError, check_choice, check_positive_int, check_seed
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender


def sample_negatives(seen: sp.csr_matrix, users: np.ndarray, rng: np.random.Generator,
                     max_rounds: int = 50) -> np.ndarray:
    """One uniformly drawn item per entry of ``users`` that the user has not seen (rejection sampling).

    Vectorized: draw for everyone, redraw only the draws that hit a seen item. After
    ``max_rounds`` the remaining draws (users who have seen almost every item) are ``-1``.

    >>> seen = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 1]]))
    >>> j = sample_negatives(seen, np.array([0, 0, 1, 1]), np.random.default_rng(0))
    >>> bool(np.all(j[:2] >= 2) and np.all(j[2:] == 0))
    True
    """
    n_items = seen.shape[1]
    keys = _seen_keys(seen)
    neg = rng.integers(0, n_items, len(users))
    bad = np.nonzero(_member(keys, users.astype(np.int64) * n_items + neg))[0]
    for _ in range(max_rounds):
        if bad.size == 0:
            break
        neg[bad] = rng.integers(0, n_items, bad.size)
        bad = bad[_member(keys, users[bad].astype(np.int64) * n_items + neg[bad])]
    neg[bad] = -1
    return neg


def _seen_keys(seen: sp.csr_matrix) -> np.ndarray:
    rows = np.repeat(np.arange(seen.shape[0], dtype=np.int64), np.diff(seen.indptr))
    return np.sort(rows * seen.shape[1] + seen.indices)


def _member(sorted_keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    pos = np.minimum(np.searchsorted(sorted_keys, query), max(len(sorted_keys) - 1, 0))
    return sorted_keys[pos] == query if len(sorted_keys) else np.zeros(query.shape, bool)


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as e:
        raise CourseKitError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}.") from e


class BPR(Recommender):
    r"""BPR matrix factorization; scores :math:`\hat x_{ui} = w_u^\top h_i + b_i`.

    Parameters
    ----------
    factors : int
        Latent dimension.
    lr : float
        Learning rate. With Adam, ``lr`` and ``epochs`` trade off (BPR over-fits when trained too
        long): the defaults ``lr=0.003, epochs=30`` were near the best of a grid on the validation
        parts of both course data sets (the shop and ml-latest-small); lesson 03 tunes them.
    reg : float
        :math:`\lambda` on the parameters used in each triple (mean over the batch).
    epochs : int
        Passes over the training pairs (each with fresh negatives).
    batch_size : int
        Triples per gradient step.
    optimizer : {"adam", "sgd"}
    item_bias : bool
        Learn :math:`b_i` (a popularity term).
    device : str
        ``"auto"`` (CUDA if available), ``"cpu"`` or ``"cuda"``.
    seed : int
        Seeds the initial weights (torch) and the sampling and shuffling (numpy).

    Attributes
    ----------
    user_factors_, item_factors_, item_bias_ : numpy arrays
    loss_history_ : array (epochs,)
        Mean :math:`-\ln\sigma(\hat x_{uij})` (without the penalty) per epoch.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 20, 10]})
    >>> model = BPR(factors=4, epochs=50, batch_size=4, lr=0.05).fit(Interactions.from_frame(log))
    >>> model.loss_history_.shape
    (50,)
    """

    def __init__(self, factors: int = 64, lr: float = 0.003, reg: float = 1e-4, epochs: int = 30,
                 batch_size: int = 4096, optimizer: str = "adam", item_bias: bool = True,
                 device: str = "auto", seed: int = 0):
        self.factors = factors
        self.lr = lr
        self.reg = reg
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.item_bias = item_bias
        self.device = device
        self.seed = seed

    def _check_params(self) -> None:
        check_seed(self.seed)
        for name in ("factors", "epochs", "batch_size"):
            check_positive_int(getattr(self, name), name)
        check_choice(self.optimizer, "optimizer", ["adam", "sgd"])
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and np.isfinite(self.lr)):
            raise CourseKitError(f"lr must be a positive number, got {self.lr!r}.")
        if not (isinstance(self.reg, (int, float)) and self.reg >= 0 and np.isfinite(self.reg)):
            raise CourseKitError(f"reg must be a number >= 0, got {self.reg!r}.")

    def _fit(self, train: Interactions) -> None:
        import torch

        self._check_params()
        device = _device(self.device)
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        seen = self.seen_.tocsr()
        pos_u = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr)).astype(np.int64)
        pos_i = seen.indices.astype(np.int64)
        n_users, n_items, f = seen.shape[0], seen.shape[1], self.factors
        W = (torch.randn(n_users, f, generator=gen, dtype=torch.float32) * 0.1).to(device).requires_grad_()
        H = (torch.randn(n_items, f, generator=gen, dtype=torch.float32) * 0.1).to(device).requires_grad_()
        b = torch.zeros(n_items, device=device, requires_grad=self.item_bias)
        params = [W, H] + ([b] if self.item_bias else [])
        opt = (torch.optim.Adam(params, lr=self.lr) if self.optimizer == "adam"
               else torch.optim.SGD(params, lr=self.lr))
        losses = np.empty(self.epochs)
        for epoch in range(self.epochs):
            neg = sample_negatives(seen, pos_u, rng)
            keep = np.nonzero(neg >= 0)[0]
            order = keep[rng.permutation(len(keep))]
            total, count = 0.0, 0
            for s in range(0, len(order), self.batch_size):
                sel = order[s:s + self.batch_size]
                u = torch.from_numpy(pos_u[sel]).to(device)
                i = torch.from_numpy(pos_i[sel]).to(device)
                j = torch.from_numpy(neg[sel]).to(device)
                wu, hi, hj = W[u], H[i], H[j]
                x_uij = (wu * (hi - hj)).sum(1) + (b[i] - b[j])
                rank_loss = torch.nn.functional.softplus(-x_uij).mean()   # -ln sigma(x)
                penalty = (wu.square().sum(1) + hi.square().sum(1) + hj.square().sum(1)
                           + b[i].square() + b[j].square()).mean()
                loss = rank_loss + self.reg * penalty
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += rank_loss.detach().item() * len(sel)
                count += len(sel)
            losses[epoch] = total / max(count, 1)
        self.user_factors_ = W.detach().cpu().numpy().astype(np.float64)
        self.item_factors_ = H.detach().cpu().numpy().astype(np.float64)
        self.item_bias_ = b.detach().cpu().numpy().astype(np.float64)
        self.loss_history_ = losses
        if not (np.isfinite(self.user_factors_).all() and np.isfinite(self.item_factors_).all()):
            raise FloatingPointError("BPR diverged (non-finite weights); lower lr or raise reg.")

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        return self.user_factors_[user_index] @ self.item_factors_.T + self.item_bias_[None, :]

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_
