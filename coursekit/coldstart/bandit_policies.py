r"""Bandit policies for new items and users: epsilon-greedy, UCB1, Thompson sampling and LinUCB.

The problem (see :mod:`coursekit.coldstart.simulator`): in each run a user arrives and, round after
round :math:`t = 1..T`, we show one of :math:`K` candidate items (arms) with content vectors
:math:`x_k \in \mathbb{R}^d`; the user buys with probability :math:`\mu_k` (unknown to the policy).

Policies (one interface: ``reset(n_runs, n_arms, dim, rngs)``, ``select(t, features) -> arms``,
``update(arms, rewards, features)``; every policy plays all runs at once, vectorised over runs)

* :class:`RandomPolicy`: uniform arm. Linear regret; the floor every method must beat.
* :class:`EpsilonGreedy`: with probability :math:`\varepsilon` a uniform arm, else
  :math:`\arg\max_k \hat\mu_k` (untried arms count as ``initial``). Fixed :math:`\varepsilon` keeps
  exploring forever: regret grows linearly, at least :math:`\varepsilon\,\bar\Delta\,T`.
* :class:`UCB1` (Auer et al. 2002): every arm once, then
  :math:`\arg\max_k \hat\mu_k + c\sqrt{2\ln t / n_k}` with :math:`t` the **total** number of pulls so far
  and :math:`n_k` the pulls of arm :math:`k`. Regret :math:`O(\sum_k \ln T / \Delta_k)`.
* :class:`BetaThompson`: Beta-Bernoulli Thompson sampling, prior :math:`\mathrm{Beta}(a_0, b_0)`;
  draw :math:`\tilde\mu_k \sim \mathrm{Beta}(a_0 + s_k, b_0 + f_k)` and play the largest.
* :class:`LinUCB` (Li et al. 2010), **shared-parameter** (one :math:`\theta` for all arms, the linear
  bandit / OFUL form): :math:`A = \lambda I + \sum_s x_{a_s} x_{a_s}^\top`, :math:`b = \sum_s r_s x_{a_s}`,
  :math:`\hat\theta = A^{-1} b`, play :math:`\arg\max_k x_k^\top\hat\theta + \alpha\sqrt{x_k^\top A^{-1} x_k}`.
  Sharing :math:`\theta` across arms is what lets content help: a purchase of one waterproof jacket
  raises the estimate of every waterproof item, so :math:`K \gg d` arms are learnt from few rounds.
  (The *disjoint* LinUCB of Li et al. keeps one :math:`\theta_k` per arm over *user* features; with a
  single user per run and fixed item vectors it would reduce to UCB per arm.)
  :math:`A^{-1}` and the widths :math:`x_k^\top A^{-1} x_k` are updated by Sherman-Morrison,
  :math:`O(d^2 + Kd)` per round.
* :class:`LinearThompson` (Agrawal & Goyal 2013): draw :math:`\tilde\theta \sim N(\hat\theta, v^2 A^{-1})`
  and play :math:`\arg\max_k x_k^\top\tilde\theta`.

Rewards are Bernoulli while LinUCB / linear TS fit a linear model: a misspecification they survive
when the content ranks the items well (the shop's purchase probability is a monotone function of
:math:`\theta_u^\top x_i`). Ties are broken at random.

:func:`coursekit.coldstart.bandits.run_bandits` plays them on a problem and measures their regret.

>>> policy = UCB1().reset(n_runs=2, n_arms=3, dim=1, rngs=[np.random.default_rng(s) for s in (0, 1)])
>>> arms = policy.select(1, np.zeros((2, 3, 1)))
>>> arms.shape, bool(((arms >= 0) & (arms < 3)).all())
((2,), True)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from coursekit._validation import CourseKitError, check_positive_int

__all__ = ["BanditPolicy", "RandomPolicy", "EpsilonGreedy", "UCB1", "BetaThompson", "LinUCB", "LinearThompson",
           "OraclePolicy", "default_policies"]


def _random_argmax(scores: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Row-wise argmax of ``scores`` (R, K), ties broken by the random ``keys`` (R, K)."""
    top = scores.max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):       # top = inf: the untried arms (inf) are the tied ones
        tied = (scores == top) | (scores >= top - 1e-12 * np.maximum(1.0, np.abs(top)))
    return np.where(tied, keys, -1.0).argmax(axis=1)


class BanditPolicy:
    """Base class: a policy that plays ``n_runs`` independent runs at once.

    Subclasses implement ``_reset()``, ``select(t, features)`` and ``update(arms, rewards, features)``.
    ``features`` has shape (R, K, d); ``arms`` and ``rewards`` shape (R,). ``self.rngs`` holds one
    numpy Generator per run, so a run's draws do not depend on the other runs.
    """

    name = "policy"

    def reset(self, n_runs: int, n_arms: int, dim: int, rngs: Sequence[np.random.Generator]) -> BanditPolicy:
        self.n_runs = check_positive_int(n_runs, "n_runs")
        self.n_arms = check_positive_int(n_arms, "n_arms (the number of arms, k)")
        self.dim = check_positive_int(dim, "dim")
        if len(rngs) != n_runs:
            raise CourseKitError(f"one random generator per run is needed ({n_runs}), got {len(rngs)}.")
        self.rngs = list(rngs)
        self._reset()
        return self

    def _reset(self) -> None:
        pass

    def _uniform(self, size: int) -> np.ndarray:
        return np.stack([g.random(size) for g in self.rngs])

    def select(self, t: int, features: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def update(self, arms: np.ndarray, rewards: np.ndarray, features: np.ndarray) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class _CountingPolicy(BanditPolicy):
    """Keeps pulls ``n`` and reward sums ``s`` per run and arm."""

    def _reset(self) -> None:
        self.n = np.zeros((self.n_runs, self.n_arms))
        self.s = np.zeros((self.n_runs, self.n_arms))

    def update(self, arms: np.ndarray, rewards: np.ndarray, features: np.ndarray | None = None) -> None:
        rows = np.arange(self.n_runs)
        self.n[rows, arms] += 1.0
        self.s[rows, arms] += rewards


class RandomPolicy(BanditPolicy):
    """A uniformly random arm every round."""

    name = "random"

    def select(self, t: int, features: np.ndarray) -> np.ndarray:
        return np.array([g.integers(self.n_arms) for g in self.rngs])


class OraclePolicy(BanditPolicy):
    """Always a best arm (knows the true ``means`` (R, K)): its regret is 0 by definition."""

    name = "oracle"

    def __init__(self, means: np.ndarray):
        self.means = np.asarray(means, dtype=np.float64)

    def select(self, t: int, features: np.ndarray) -> np.ndarray:
        return self.means.argmax(axis=1)


class EpsilonGreedy(_CountingPolicy):
    r"""With probability :math:`\varepsilon` a uniform arm, else the best empirical mean (untried: ``initial``)."""

    def __init__(self, epsilon: float = 0.1, initial: float = 0.0):
        if not 0.0 <= float(epsilon) <= 1.0:
            raise CourseKitError(f"epsilon must lie in [0, 1], got {epsilon!r}.")
        self.epsilon, self.initial = float(epsilon), float(initial)
        self.name = f"epsilon-greedy ({self.epsilon:g})"

    def select(self, t: int, features: np.ndarray) -> np.ndarray:
        mean = np.where(self.n > 0, self.s / np.maximum(self.n, 1.0), self.initial)
        u = self._uniform(self.n_arms + 2)
        greedy = _random_argmax(mean, u[:, :self.n_arms])
        explore = np.minimum((u[:, -1] * self.n_arms).astype(np.int64), self.n_arms - 1)
        return np.where(u[:, -2] < self.epsilon, explore, greedy)


class UCB1(_CountingPolicy):
    r"""UCB1: each arm once, then :math:`\arg\max_k \hat\mu_k + c\sqrt{2 \ln t / n_k}` (:math:`t` = total pulls)."""

    def __init__(self, c: float = 1.0):
        if not float(c) >= 0:
            raise CourseKitError(f"c must be >= 0, got {c!r}.")
        self.c = float(c)
        self.name = "UCB1" if self.c == 1.0 else f"UCB1 (c={self.c:g})"

    def select(self, t: int, features: np.ndarray) -> np.ndarray:
        total = self.n.sum(axis=1, keepdims=True)
        bonus = self.c * np.sqrt(2.0 * np.log(np.maximum(total, 1.0)) / np.maximum(self.n, 1.0))
        score = np.where(self.n > 0, self.s / np.maximum(self.n, 1.0) + bonus, np.inf)
        return _random_argmax(score, self._uniform(self.n_arms))


class BetaThompson(_CountingPolicy):
    r"""Beta-Bernoulli Thompson sampling: play :math:`\arg\max_k \tilde\mu_k`,
    :math:`\tilde\mu_k \sim \mathrm{Beta}(a_0 + s_k,\, b_0 + n_k - s_k)`."""

    name = "Thompson (Beta)"

    def __init__(self, a0: float = 1.0, b0: float = 1.0):
        if not (float(a0) > 0 and float(b0) > 0):
            raise CourseKitError(f"the Beta prior needs a0 > 0 and b0 > 0, got {a0!r}, {b0!r}.")
        self.a0, self.b0 = float(a0), float(b0)

    def select(self, t: int, features: np.ndarray) -> np.ndarray:
        a, b = self.a0 + self.s, self.b0 + self.n - self.s
        draws = np.stack([g.beta(a[r], b[r]) for r, g in enumerate(self.rngs)])
        return draws.argmax(axis=1)


class _LinearPolicy(BanditPolicy):
    """Ridge statistics shared by LinUCB and linear TS: :math:`A^{-1}` (Sherman-Morrison), b, theta, widths."""

    def __init__(self, reg: float = 1.0):
        if not float(reg) > 0:
            raise CourseKitError(f"reg (the ridge lambda) must be > 0, got {reg!r}.")
        self.reg = float(reg)

    def _reset(self) -> None:
        d = self.dim
        self.A = np.broadcast_to(self.reg * np.eye(d), (self.n_runs, d, d)).copy()
        self.A_inv = np.broadcast_to(np.eye(d) / self.reg, (self.n_runs, d, d)).copy()
        self.b = np.zeros((self.n_runs, d))
        self.theta = np.zeros((self.n_runs, d))
        self._X = None          # features the cached widths belong to
        self._widths = None     # x_k' A^{-1} x_k, shape (R, K)

    def _check(self, features: np.ndarray) -> np.ndarray:
        if features.shape != (self.n_runs, self.n_arms, self.dim):
            raise CourseKitError(f"features must have shape {(self.n_runs, self.n_arms, self.dim)}, "
                                 f"got {features.shape}.")
        return features

    def widths(self, features: np.ndarray) -> np.ndarray:
        """:math:`x_k^\\top A^{-1} x_k` for every arm, shape (R, K) (cached while the features stay the same)."""
        if self._X is not features:
            self._X = features
            self._widths = np.einsum("rkd,rde,rke->rk", features, self.A_inv, features)
        return self._widths

    def update(self, arms: np.ndarray, rewards: np.ndarray, features: np.ndarray) -> None:
        features = self._check(features)
        rows = np.arange(self.n_runs)
        x = features[rows, arms]                                   # (R, d)
        u = np.einsum("rde,re->rd", self.A_inv, x)                 # A^{-1} x
        denom = 1.0 + np.einsum("rd,rd->r", x, u)
        if self._X is features:                                    # widths after the rank-one update
            self._widths = self._widths - np.einsum("rkd,rd->rk", features, u) ** 2 / denom[:, None]
        self.A_inv -= u[:, :, None] * u[:, None, :] / denom[:, None, None]
        self.A += x[:, :, None] * x[:, None, :]
        self.b += np.asarray(rewards, dtype=np.float64)[:, None] * x
        self.theta = np.einsum("rde,re->rd", self.A_inv, self.b)


class LinUCB(_LinearPolicy):
    r"""Shared-parameter LinUCB: :math:`\arg\max_k x_k^\top\hat\theta + \alpha\sqrt{x_k^\top A^{-1}x_k}`."""

    def __init__(self, alpha: float = 0.5, reg: float = 1.0):
        super().__init__(reg)
        if not float(alpha) >= 0:
            raise CourseKitError(f"alpha must be >= 0, got {alpha!r}.")
        self.alpha = float(alpha)
        self.name = "LinUCB"

    def select(self, t: int, features: np.ndarray) -> np.ndarray:
        features = self._check(features)
        w = np.maximum(self.widths(features), 0.0)
        score = np.einsum("rkd,rd->rk", features, self.theta) + self.alpha * np.sqrt(w)
        return _random_argmax(score, self._uniform(self.n_arms))


class LinearThompson(_LinearPolicy):
    r"""Linear Gaussian Thompson sampling: :math:`\tilde\theta \sim N(\hat\theta, v^2 A^{-1})`,
    play :math:`\arg\max_k x_k^\top\tilde\theta`."""

    def __init__(self, v: float = 0.2, reg: float = 1.0):
        super().__init__(reg)
        if not float(v) >= 0:
            raise CourseKitError(f"v must be >= 0, got {v!r}.")
        self.v = float(v)
        self.name = "Thompson (linear)"

    def select(self, t: int, features: np.ndarray) -> np.ndarray:
        features = self._check(features)
        z = np.stack([g.standard_normal(self.dim) for g in self.rngs])
        L = np.linalg.cholesky(self.A)                              # A = L L'
        noise = np.linalg.solve(np.swapaxes(L, 1, 2), z[:, :, None])[:, :, 0]   # ~ N(0, A^{-1})
        theta = self.theta + self.v * noise
        return np.einsum("rkd,rd->rk", features, theta).argmax(axis=1)


def default_policies() -> list[BanditPolicy]:
    """The lesson's line-up: random, epsilon-greedy (0.1), UCB1, Beta TS, LinUCB (alpha 0.5), linear TS (v 0.2).

    The two exploration scales were picked from {0.1, 0.2, 0.3, 0.5, 1} on the shop with seeds 0-4
    (K = 100, T = 2000); ``benchmarks/bench_bandits.py`` reports results on other seeds (100+).
    """
    return [RandomPolicy(), EpsilonGreedy(0.1), UCB1(), BetaThompson(), LinUCB(alpha=0.5), LinearThompson(v=0.2)]
