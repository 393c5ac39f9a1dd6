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

**Sampling and update scheme.** Every epoch draws one fresh negative per training pair
(uniform over the items the user has no event with, by rejection: :func:`sample_negatives`),
shuffles the triples and cuts them into minibatches of ``batch_size``. Each minibatch takes one
step of Adam (default) or SGD on the exact gradient of its mean loss
(:func:`bpr_gradients`, written by hand: three gathers, a row-wise dot product and three
scatter-adds per batch; the tests check it against torch's autograd). Rendle et al.'s
LearnBPR draws triples with replacement and takes one SGD step per triple; here an epoch is
one pass over the pairs in random order and the steps are minibatch steps, which vectorise.
Training runs in torch, on one CPU thread (the setting is restored afterwards) or on the GPU
(``device="auto"``); the learned weights are converted to numpy at the end of ``fit``.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from coursekit._validation import CourseKitError, check_choice, check_positive_int, check_seed
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender

if TYPE_CHECKING:
    import torch


def sample_negatives(seen: sp.csr_matrix, users: np.ndarray, rng: np.random.Generator,
                     max_rounds: int = 50, lookup: SeenLookup | None = None) -> np.ndarray:
    """One uniformly drawn item per entry of ``users`` that the user has not seen (rejection sampling).

    Vectorized: draw for everyone, redraw only the draws that hit a seen item. After
    ``max_rounds`` the remaining draws (users who have seen almost every item) are ``-1``.
    Unlike :func:`coursekit.interactions.sample_negatives` (distinct negatives per pair, an
    error when a user has too few free items), a user who has seen everything is tolerated
    here: their pairs get ``-1`` and BPR skips them. ``lookup`` (built once from ``seen``)
    saves rebuilding the membership test on every call.

    >>> seen = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 1]]))
    >>> j = sample_negatives(seen, np.array([0, 0, 1, 1]), np.random.default_rng(0))
    >>> bool(np.all(j[:2] >= 2) and np.all(j[2:] == 0))
    True
    """
    n_items = seen.shape[1]
    member = lookup if lookup is not None else SeenLookup(seen)
    users = np.asarray(users, dtype=np.int64)
    neg = rng.integers(0, n_items, len(users))
    bad = np.nonzero(member(users * n_items + neg))[0]
    for _ in range(max_rounds):
        if bad.size == 0:
            break
        neg[bad] = rng.integers(0, n_items, bad.size)
        bad = bad[member(users[bad] * n_items + neg[bad])]
    neg[bad] = -1
    return neg


class SeenLookup:
    """Membership test for keys ``user * n_items + item`` of the stored entries of ``seen``.

    A bit per (user, item) cell when that fits in ``max_bits`` (one lookup per key), else
    binary search in the sorted keys.

    >>> seen = sp.csr_matrix(np.array([[1, 0, 1], [0, 1, 0]]))
    >>> SeenLookup(seen)(np.array([0, 1, 2, 4])).tolist()  # (0, 0), (0, 1), (0, 2), (1, 1)
    [True, False, True, True]
    """

    def __init__(self, seen: sp.csr_matrix, max_bits: int = 1 << 29) -> None:
        seen = sp.csr_matrix(seen)
        rows = np.repeat(np.arange(seen.shape[0], dtype=np.int64), np.diff(seen.indptr))
        keys = rows * seen.shape[1] + seen.indices
        cells = seen.shape[0] * seen.shape[1]
        if cells <= max_bits:
            flags = np.zeros(cells, dtype=bool)
            flags[keys] = True
            self.bits, self.keys = np.packbits(flags, bitorder="little"), None
        else:
            self.bits, self.keys = None, np.unique(keys)

    def __call__(self, query: np.ndarray) -> np.ndarray:
        """Boolean array: whether each key is a stored entry."""
        if self.bits is not None:
            return ((self.bits[query >> 3] >> (query & 7).astype(np.uint8)) & 1).astype(bool)
        if self.keys.size == 0:
            return np.zeros(query.shape, bool)
        pos = np.minimum(np.searchsorted(self.keys, query), self.keys.size - 1)
        return self.keys[pos] == query


def bpr_gradients(W: torch.Tensor, H: torch.Tensor, b: torch.Tensor | None, u: torch.Tensor, i: torch.Tensor,
                  j: torch.Tensor, reg: float, buffers: tuple | None = None) -> torch.Tensor:
    r"""Gradients of one minibatch's BPR loss, written into ``W.grad``, ``H.grad`` (and ``b.grad``).

    For the :math:`B` triples :math:`(u, i, j)` of the batch, with
    :math:`\hat x_{uij} = w_u^\top (h_i - h_j) + b_i - b_j`, the loss is

    .. math::

        L = \frac1B \sum_{(u,i,j)} \Big[ -\ln\sigma(\hat x_{uij})
        + \lambda \big(\lVert w_u\rVert^2 + \lVert h_i\rVert^2 + \lVert h_j\rVert^2 + b_i^2 + b_j^2\big) \Big]

    and, with :math:`g = -\sigma(-\hat x_{uij}) / B` and :math:`c = 2\lambda / B`, each triple adds

    .. math::

        \partial_{w_u} = g\,(h_i - h_j) + c\,w_u, \quad
        \partial_{h_i} = g\,w_u + c\,h_i, \quad
        \partial_{h_j} = -g\,w_u + c\,h_j, \quad
        \partial_{b_i} = g + c\,b_i, \quad
        \partial_{b_j} = -g + c\,b_j

    to the rows it uses (a row used by several triples gets the sum; the penalty's share, :math:`c`
    times the number of uses times the row, is added in one pass over the parameters).
    ``b=None``: no bias. ``W.grad``, ``H.grad`` and ``b.grad`` are overwritten (no ``zero_grad``
    needed); ``buffers`` is work space from :func:`bpr_buffers` (allocated when ``None``).

    Returns
    -------
    tensor (0-d)
        :math:`\sum -\ln\sigma(\hat x_{uij})` over the batch (the rank loss, without the penalty).

    Examples
    --------
    >>> import torch
    >>> W, H = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 0.0], [0.0, 1.0]])
    >>> W.grad, H.grad = torch.zeros_like(W), torch.zeros_like(H)
    >>> u, i, j = (torch.tensor([k]) for k in (0, 0, 1))
    >>> loss = bpr_gradients(W, H, None, u, i, j, reg=0.0)  # x = 0.5, g = -sigmoid(-0.5)
    >>> round(float(loss), 4), [round(float(v), 4) for v in W.grad[0]]
    (0.4741, [-0.1888, 0.3775])
    """
    import torch

    batch = len(u)
    c = 2.0 * reg / batch
    # the penalty's share, c * w summed over the triples that use a row, is c * (uses) * w: one dense pass
    uses_u = torch.bincount(u, minlength=W.shape[0]).to(W.dtype).mul_(c)
    uses_i = torch.bincount(i, minlength=H.shape[0]).add_(torch.bincount(j, minlength=H.shape[0])).to(H.dtype).mul_(c)
    torch.mul(W, uses_u.unsqueeze(1), out=W.grad)
    torch.mul(H, uses_i.unsqueeze(1), out=H.grad)
    if b is not None:
        torch.mul(b, uses_i, out=b.grad)
    if buffers is None:
        buffers = bpr_buffers(W, batch)
    wu, d, hj, x = (buf[:batch] for buf in buffers)
    torch.index_select(W, 0, u, out=wu)
    torch.index_select(H, 0, i, out=d)
    d.sub_(torch.index_select(H, 0, j, out=hj))  # h_i - h_j
    torch.bmm(wu.unsqueeze(1), d.unsqueeze(2), out=x.view(-1, 1, 1))  # row-wise dot products
    if b is not None:
        x += b.index_select(0, i) - b.index_select(0, j)
    loss = torch.nn.functional.softplus(-x).sum()
    g = torch.sigmoid(-x).mul_(-1.0 / batch)  # dL/dx
    if b is not None:
        b.grad.index_add_(0, i, g).index_add_(0, j, -g)  # negated data: index_add_(alpha=-1) is slower
    g = g.unsqueeze(1)
    W.grad.index_add_(0, u, d.mul_(g))
    gw = wu.mul_(g)
    H.grad.index_add_(0, i, gw).index_add_(0, j, gw.neg_())  # -g w_u for the negative item
    return loss


def bpr_buffers(W: torch.Tensor, rows: int) -> tuple:
    """Work space for :func:`bpr_gradients` on up to ``rows`` triples, allocated once per fit.

    Fresh large temporaries on every step would cost a page fault per page.
    """
    import torch

    f = W.shape[1]
    return tuple(torch.empty(rows, f, dtype=W.dtype, device=W.device) for _ in range(3)) + (
        torch.empty(rows, dtype=W.dtype, device=W.device),)


def _fused_ok(torch, device) -> bool:
    """Fused Adam (one pass over each parameter) exists on CPU from torch 2.4 and on CUDA."""
    return device.type == "cuda" or tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 4)


@contextmanager
def _torch_threads(n: int | None):
    """Run torch on ``n`` intra-op threads (``None``: unchanged), restoring the setting after."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
        Learning rate. With Adam, ``lr``, ``epochs`` and ``batch_size`` trade off (BPR over-fits
        when trained too long): the defaults ``lr=0.006, epochs=30, batch_size=16384`` score within
        0.003 NDCG@10 of ``lr=0.003`` with batches of 4096 (near the best of a grid) on the validation
        parts of both course data sets (the shop and ml-latest-small), with a quarter of the
        optimizer steps; lesson 03 tunes ``lr`` and ``epochs``.
    reg : float
        :math:`\lambda` on the parameters used in each triple (mean over the batch).
    epochs : int
        Passes over the training pairs (each with fresh negatives).
    batch_size : int
        Triples per gradient step. Large batches make an epoch cheap (Adam updates every
        parameter at each step).
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

    def __init__(self, factors: int = 64, lr: float = 0.006, reg: float = 1e-4, epochs: int = 30,
                 batch_size: int = 16384, optimizer: str = "adam", item_bias: bool = True,
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
        with _torch_threads(1 if device.type == "cpu" else None):
            self._train(torch, device)

    def _train(self, torch, device) -> None:
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        seen = self.seen_.tocsr()
        pos_u = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr)).astype(np.int64)
        pos_i = seen.indices.astype(np.int64)
        n_users, n_items, f = seen.shape[0], seen.shape[1], self.factors
        W = (torch.randn(n_users, f, generator=gen, dtype=torch.float32) * 0.1).to(device)
        H = (torch.randn(n_items, f, generator=gen, dtype=torch.float32) * 0.1).to(device)
        b = torch.zeros(n_items, device=device)
        params = [W, H] + ([b] if self.item_bias else [])
        for p in params:
            p.grad = torch.zeros_like(p)
        fused = {"fused": True} if _fused_ok(torch, device) else {}
        opt = (torch.optim.Adam(params, lr=self.lr, **fused) if self.optimizer == "adam"
               else torch.optim.SGD(params, lr=self.lr))
        member = SeenLookup(seen)
        buffers = bpr_buffers(W, min(self.batch_size, max(len(pos_u), 1)))
        losses = np.empty(self.epochs)
        for epoch in range(self.epochs):
            neg = sample_negatives(seen, pos_u, rng, lookup=member)
            keep = np.nonzero(neg >= 0)[0]
            order = keep[rng.permutation(len(keep))]
            us, is_, js = (torch.from_numpy(a[order]).to(device) for a in (pos_u, pos_i, neg))
            total = torch.zeros((), dtype=torch.float64, device=device)
            for s in range(0, len(order), self.batch_size):
                u, i, j = us[s:s + self.batch_size], is_[s:s + self.batch_size], js[s:s + self.batch_size]
                total += bpr_gradients(W, H, b if self.item_bias else None, u, i, j, self.reg, buffers)
                opt.step()
            losses[epoch] = float(total) / max(len(order), 1)
        self.user_factors_ = W.cpu().numpy().astype(np.float64)
        self.item_factors_ = H.cpu().numpy().astype(np.float64)
        self.item_bias_ = b.cpu().numpy().astype(np.float64)
        self.loss_history_ = losses
        if not (np.isfinite(self.user_factors_).all() and np.isfinite(self.item_factors_).all()):
            raise FloatingPointError("BPR diverged (non-finite weights); lower lr or raise reg.")

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        return self.user_factors_[user_index] @ self.item_factors_.T + self.item_bias_[None, :]

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_
