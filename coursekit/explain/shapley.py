r"""KernelSHAP over a user's history, hand-written (Lundberg & Lee 2017).

Features are the :math:`M` history items; a coalition :math:`z \in \{0,1\}^M` keeps the items
with :math:`z_j = 1`, and :math:`v(z)` is the target's score from the kept items only
(:mod:`coursekit.explain.history`). The Shapley values :math:`\phi` are the solution of the
weighted least-squares problem

.. math::

    \min_{\phi}\ \sum_{z \ne \mathbf 0, \mathbf 1} \pi(z)\,\Big(v(z) - v(\mathbf 0) - z^\top\phi\Big)^2
    \quad\text{s.t.}\quad \sum_j \phi_j = v(\mathbf 1) - v(\mathbf 0),
    \qquad \pi(z) = \frac{M-1}{\binom{M}{|z|}\,|z|\,(M-|z|)} ,

(the Shapley kernel; the empty and full coalitions have infinite weight, which is the
constraint). With **every** coalition enumerated (:math:`M \le` ``max_exact``) the solution is
exactly the Shapley value. Otherwise coalitions are **sampled**: a size :math:`s` with probability
:math:`\propto (M-1)/(s(M-s))` (the kernel's total mass on size :math:`s`), a uniform subset of
that size, and its complement (paired sampling); sampled coalitions then carry equal weight.
The constraint is removed by substituting :math:`\phi_M = \Delta - \sum_{j<M}\phi_j`.

For an additive value function :math:`v(z) = b + z^\top c` the regression is exact, so
:math:`\phi = c` (the exact contributions) as soon as the sampled design has full rank.

>>> v = lambda Z: 1.0 + Z @ np.array([3.0, -1.0, 0.5])          # additive game
>>> kernel_shap_values(v, 3)[0].round(10).tolist()
[3.0, -1.0, 0.5]
>>> v = lambda Z: Z[:, 0] * Z[:, 1]                              # AND game: split equally
>>> kernel_shap_values(v, 2)[0].round(10).tolist()
[0.5, 0.5]
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from math import comb

import numpy as np

from coursekit._validation import CourseKitError

__all__ = ["kernel_shap_values", "shapley_kernel_weight", "all_coalitions", "sample_coalitions"]


def shapley_kernel_weight(M: int, sizes: np.ndarray) -> np.ndarray:
    r""":math:`\pi(s) = (M-1) / (\binom{M}{s}\, s\,(M-s))` for coalition sizes :math:`0 < s < M`.

    >>> shapley_kernel_weight(4, np.array([1, 2, 3])).round(4).tolist()
    [0.25, 0.125, 0.25]
    """
    sizes = np.asarray(sizes)
    binom = np.array([comb(M, int(s)) for s in sizes], dtype=np.float64)
    return (M - 1) / (binom * sizes * (M - sizes))


def all_coalitions(M: int) -> np.ndarray:
    """Every coalition except the empty and the full one, shape ``(2**M - 2, M)`` (bool)."""
    Z = np.array(list(itertools.product([0, 1], repeat=M)), dtype=bool)
    s = Z.sum(1)
    return Z[(s > 0) & (s < M)]


def sample_coalitions(M: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` coalitions (bool, ``(n, M)``) drawn from the Shapley kernel, in complementary pairs."""
    sizes = np.arange(1, M)
    p = (M - 1) / (sizes * (M - sizes))
    p /= p.sum()
    half = (n + 1) // 2
    s = rng.choice(sizes, size=half, p=p)
    ranks = np.argsort(rng.random((half, M)), axis=1).argsort(axis=1)   # a random permutation per row
    Z = ranks < s[:, None]
    return np.vstack([Z, ~Z])[:n]


def kernel_shap_values(value_fn: Callable[[np.ndarray], np.ndarray], M: int, n_samples: int | None = None,
                       seed: int = 0, max_exact: int = 12) -> tuple[np.ndarray, float, float]:
    """Shapley values of ``value_fn`` over ``M`` features: ``(phi, v(0), v(1))``.

    Parameters
    ----------
    value_fn : callable
        ``v(Z) -> (n,)`` for a batch of masks ``Z`` (``(n, M)``, 1 = kept).
    n_samples : int, optional
        Coalitions to sample when ``M > max_exact``; default ``2 M + 2048`` (as ``shap``'s "auto").
    seed : int
        Seed of the coalition sampler.
    max_exact : int
        Enumerate all :math:`2^M - 2` coalitions up to this ``M`` (exact Shapley values).
    """
    if M < 1:
        raise CourseKitError("kernel SHAP needs at least one feature (an empty history has nothing to explain).")
    ends = np.asarray(value_fn(np.vstack([np.zeros(M), np.ones(M)])), dtype=np.float64)
    v0, v1 = float(ends[0]), float(ends[1])
    if M == 1:
        return np.array([v1 - v0]), v0, v1
    if M <= max_exact:
        Z = all_coalitions(M)
        w = shapley_kernel_weight(M, Z.sum(1))
    else:
        n = int(n_samples) if n_samples is not None else 2 * M + 2048
        Z = sample_coalitions(M, n, np.random.default_rng(seed))
        w = np.ones(len(Z))
    y = np.asarray(value_fn(Z.astype(np.float64)), dtype=np.float64) - v0
    Zf = Z.astype(np.float64)
    delta = v1 - v0
    X = Zf[:, :-1] - Zf[:, -1:]                      # substitute phi_M = delta - sum(phi_<M)
    y = y - Zf[:, -1] * delta
    sw = np.sqrt(w)
    head, *_ = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)
    phi = np.r_[head, delta - head.sum()]
    return phi, v0, v1
