r"""A DropoutNet-style hybrid (Volkovs, Yu & Poutanen 2017): one network for warm and cold items.

Start from a trained iALS (user factors :math:`x_u`, item factors :math:`y_i`). An item network
reads the concatenation of the item's CF vector and its content vector and a user network reads
the user's CF vector,

.. math:: \phi_i = g\big([\, m_i\, y_i \;|\; c_i \,]\big), \qquad \psi_u = h(x_u),
   \qquad s_{ui} = \psi_u^\top \phi_i ,

trained to reproduce the CF scores on sampled user x item blocks,

.. math:: \min_{g, h} \sum_{u \in B_U} \sum_{i \in B_I} \big(\psi_u^\top \phi_i - x_u^\top y_i\big)^2 ,

where the mask :math:`m_i \in \{0, 1\}` **drops the CF input** with probability ``dropout``
(:math:`m_i = 0`). The network therefore learns both to pass a good CF vector through and to
reconstruct the CF score from content alone. At serving time an item without training events gets
:math:`m_i = 0` (its iALS vector is noise), so its representation depends on its content only:
the same model serves warm and cold items. (The paper also feeds user content and transforms;
this is the item-cold-start core, trained on CPU in seconds.)
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.coldstart.item_features import ItemVectors, standardize
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender
from coursekit.models.content import align_item_vectors
from coursekit.models.ials import IALS

__all__ = ["DropoutNet", "build_towers"]


def build_towers(cf_dim: int, content_dim: int, hidden: int, dim: int) -> tuple[Any, Any]:
    """The item network over ``[cf | content]`` and the user network over ``cf`` (torch modules)."""
    import torch.nn as nn

    item = nn.Sequential(nn.Linear(cf_dim + content_dim, hidden), nn.Tanh(), nn.Linear(hidden, dim))
    user = nn.Sequential(nn.Linear(cf_dim, hidden), nn.Tanh(), nn.Linear(hidden, dim))
    return item, user


class DropoutNet(Recommender):
    r"""DropoutNet-style hybrid over [iALS item vector | content vector] (module docstring).

    Parameters
    ----------
    item_vectors : DataFrame indexed by item_id, or (ids, array)
        Content of every item (cold ones included); standardised per dimension.
    dropout : float
        Probability of dropping an item's CF input during training (the paper uses 0.5).
    dim, hidden : int
        Output and hidden sizes of the towers.
    steps : int
        Training steps (each one block of ``batch_users`` x ``batch_items``).
    lr : float
        Adam learning rate.
    factors, reg, alpha, iterations : iALS hyperparameters.
    seed : int
    device : str
        ``"cpu"`` (default) or ``"auto"`` (a GPU when present).
    """

    capabilities = frozenset({"similar_items", "save"})

    def __init__(self, item_vectors: ItemVectors | None = None, dropout: float = 0.5, dim: int = 64,
                 hidden: int = 128, steps: int = 600, batch_users: int = 256, batch_items: int = 256, lr: float = 3e-3,
                 factors: int = 64, reg: float = 1.0, alpha: float = 10.0, iterations: int = 15,
                 seed: int = 0, device: str = "cpu") -> None:
        self.item_vectors = item_vectors
        self.dropout = dropout
        self.dim = dim
        self.hidden = hidden
        self.steps = steps
        self.batch_users = batch_users
        self.batch_items = batch_items
        self.lr = lr
        self.factors = factors
        self.reg = reg
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed
        self.device = device

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params.pop("item_vectors", None)
        return params

    # ------------------------------------------------------------------ fitting
    def _fit(self, train: Interactions) -> None:
        import torch

        from coursekit.env import pick_device

        if not 0.0 <= float(self.dropout) <= 1.0:
            raise CourseKitError(f"dropout must be in [0, 1], got {self.dropout!r}.")
        for name in ("dim", "hidden", "steps", "batch_users", "batch_items"):
            check_positive_int(getattr(self, name), name)
        if self.item_vectors is None:
            raise CourseKitError("DropoutNet needs item_vectors=(a DataFrame indexed by item_id).")
        content, has = align_item_vectors(self.item_vectors, train.items)
        if not has.all():
            raise CourseKitError(f"{int((~has).sum())} items have no content vector; give every item one.")
        ials = IALS(factors=self.factors, reg=self.reg, alpha=self.alpha, iterations=self.iterations,
                    seed=self.seed).fit(train)
        warm = train.item_counts() > 0
        warm_users = np.flatnonzero(train.user_counts() > 0)
        scale = float(np.sqrt(np.mean(ials.item_factors_[warm] ** 2)) + 1e-12)
        U = ials.user_factors_ * scale      # keep the score scale, balance the inputs' scales
        V = np.where(warm[:, None], ials.item_factors_ / scale, 0.0)
        C = standardize(content)
        dev = pick_device(self.device)
        gen = torch.Generator().manual_seed(int(self.seed))
        torch.manual_seed(int(self.seed))
        item_net, user_net = build_towers(V.shape[1], C.shape[1], self.hidden, self.dim)
        item_net, user_net = item_net.to(dev), user_net.to(dev)
        Ut = torch.tensor(U, dtype=torch.float32, device=dev)
        Vt = torch.tensor(V, dtype=torch.float32, device=dev)
        Ct = torch.tensor(C, dtype=torch.float32, device=dev)
        warm_items = torch.tensor(np.flatnonzero(warm), device=dev)
        users_t = torch.tensor(warm_users, device=dev)
        opt = torch.optim.Adam([*item_net.parameters(), *user_net.parameters()], lr=self.lr)
        losses = np.empty(self.steps)
        threads = torch.get_num_threads()
        if dev == "cpu":
            torch.set_num_threads(1)   # tiny matrices: one thread is faster than waking several (lesson 05)
        try:
            self._train(item_net, user_net, opt, Ut, Vt, Ct, users_t, warm_items, gen, dev, scale, losses)
        finally:
            torch.set_num_threads(threads)
        self._item_net, self._user_net, self._scale = item_net.cpu().eval(), user_net.cpu().eval(), scale
        with torch.no_grad():
            self.item_embeddings_ = self.embed_items(V, C, drop=~warm)
            self.user_embeddings_ = user_net(Ut.cpu()).numpy().astype(np.float64)
        self.loss_history_ = losses
        self.cf_inputs_ = V
        self.content_inputs_ = C

    def _train(self, item_net, user_net, opt, Ut, Vt, Ct, users_t, warm_items, gen, dev, scale, losses) -> None:
        """The training loop: sampled user x item blocks, CF input dropped per item with prob. ``dropout``."""
        import torch

        for step in range(self.steps):
            bu = users_t[torch.randint(len(users_t), (min(self.batch_users, len(users_t)),), generator=gen).to(dev)]
            bi = warm_items[torch.randint(len(warm_items), (min(self.batch_items, len(warm_items)),),
                                          generator=gen).to(dev)]
            keep = (torch.rand(len(bi), generator=gen) >= self.dropout).float().to(dev)[:, None]
            target = Ut[bu] @ (Vt[bi] * scale).T
            phi = item_net(torch.cat([Vt[bi] * keep, Ct[bi]], dim=1))
            psi = user_net(Ut[bu])
            loss = torch.mean((psi @ phi.T - target) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[step] = float(loss.detach())

    def embed_items(self, cf: np.ndarray, content: np.ndarray, drop: ArrayLike | None = None) -> np.ndarray:
        r"""Item representations :math:`\phi_i` for CF and (standardised) content inputs; ``drop`` zeroes CF rows."""
        import torch

        if not hasattr(self, "_item_net"):
            raise CourseKitError("embed_items needs the trained network, which is not saved; fit the model "
                                 "in this session (a loaded model still scores its own items).")
        cf = np.array(cf, dtype=np.float32, copy=True)
        if drop is not None:
            cf[np.asarray(drop, dtype=bool)] = 0.0
        x = torch.tensor(np.concatenate([cf, np.asarray(content, dtype=np.float32)], axis=1))
        with torch.no_grad():
            return self._item_net(x).numpy().astype(np.float64)

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        return self.user_embeddings_[user_index] @ self.item_embeddings_.T

    def _item_vectors(self) -> np.ndarray:
        return self.item_embeddings_
