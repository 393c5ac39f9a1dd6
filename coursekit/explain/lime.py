r"""LIME over a user's history (Ribeiro, Singh & Guestrin 2016), the text-LIME flavour.

Perturbations remove history items: for each sample, a number :math:`d \sim U\{1, \dots, M-1\}`
of items is drawn and that many items (uniformly chosen) are removed, giving a mask
:math:`z \in \{0,1\}^M`. Samples near the real history count more, with the exponential kernel
on the cosine distance (in percent, as ``lime.lime_text``):

.. math::

    D(z) = 100\,\Big(1 - \frac{z^\top \mathbf 1}{\lVert z\rVert\,\sqrt M}\Big),\qquad
    \pi(z) = \sqrt{\exp(-D(z)^2 / \sigma^2)},\ \sigma = 25,

and a ridge regression :math:`v(z) \approx \beta_0 + z^\top\beta` with sample weights
:math:`\pi(z)` (:class:`sklearn.linear_model.Ridge`, :math:`\alpha = 1`) gives the explanation
:math:`\beta`. Unlike KernelSHAP, nothing forces :math:`\sum\beta_j = v(\mathbf 1) - v(\mathbf 0)`,
and the ridge penalty shrinks the coefficients; the ranking is what LIME is read for.

>>> v = lambda Z: Z @ np.array([3.0, -1.0, 0.5, 0.0])
>>> np.argsort(-lime_values(v, 4, n_samples=300, seed=0)[0]).tolist()
[0, 2, 3, 1]
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from coursekit._validation import CourseKitError

__all__ = ["lime_values", "lime_samples"]


def lime_samples(M: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` masks (bool, ``(n, M)``): the first is the full history, the others drop 1..M-1 items."""
    d = rng.integers(1, max(M, 2), size=n - 1)
    ranks = np.argsort(rng.random((n - 1, M)), axis=1).argsort(axis=1)
    Z = ranks >= np.minimum(d, M - 1)[:, None] if M > 1 else np.ones((n - 1, 1), bool)
    return np.vstack([np.ones((1, M), bool), Z])


def lime_values(value_fn: Callable[[np.ndarray], np.ndarray], M: int, n_samples: int = 1000, seed: int = 0,
                kernel_width: float = 25.0, alpha: float = 1.0) -> tuple[np.ndarray, float]:
    """LIME coefficients ``beta`` (``(M,)``) and the intercept, for ``value_fn`` over ``M`` features."""
    from sklearn.linear_model import Ridge

    if M < 1:
        raise CourseKitError("LIME needs at least one feature (an empty history has nothing to explain).")
    if n_samples < 2:
        raise CourseKitError(f"n_samples must be >= 2, got {n_samples}.")
    Z = lime_samples(M, int(n_samples), np.random.default_rng(seed)).astype(np.float64)
    y = np.asarray(value_fn(Z), dtype=np.float64)
    cos = Z.sum(1) / (np.sqrt(Z.sum(1)) * np.sqrt(M))
    dist = 100.0 * (1.0 - cos)
    w = np.sqrt(np.exp(-dist ** 2 / kernel_width ** 2))
    reg = Ridge(alpha=alpha, fit_intercept=True).fit(Z, y, sample_weight=w)
    return reg.coef_.astype(np.float64), float(reg.intercept_)
