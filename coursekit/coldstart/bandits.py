r"""Running bandit policies on a problem, and their regret.

The problem (:mod:`coursekit.coldstart.simulator`): in each run a user arrives and, round after round
:math:`t = 1..T`, we show one of :math:`K` candidate items (arms); the user buys with probability
:math:`\mu_k`, unknown to the policy (:mod:`coursekit.coldstart.bandit_policies`). :func:`run_bandits`
plays every policy on every run, :func:`regret_summary` and :func:`plot_regret` read the curves.

Regret
------
The (pseudo-)regret of run :math:`r` after :math:`T` rounds is the *expected* reward lost against
always playing the best arm,

.. math:: \mathrm{Regret}(T) = \sum_{t=1}^{T} \big(\mu^* - \mu_{a_t}\big), \qquad \mu^* = \max_k \mu_k,

computed from the true means, not from the sampled rewards (so it is non-decreasing, is 0 exactly for
a policy that always plays a best arm, and is not an accuracy score). Sublinear regret,
:math:`\mathrm{Regret}(T)/T \to 0`, means the policy ends up playing the best arm; :func:`regret_summary`
measures it by the regret of the second half of the horizon relative to the first half (1 for linear
growth, about 0.41 for :math:`\sqrt{T}`, near 0 for :math:`\ln T`) and by the log-log slope.

Why not replay logged MovieLens ratings?
----------------------------------------
Logged data only tells us the reward of the item that was actually shown (rated), and which item that
was depended on an unknown *logging policy* (what MovieLens recommended, what people chose to watch
and to rate). An offline evaluation of a new policy on such a log is biased towards items the old
policy favoured, and it cannot be corrected without the propensities :math:`P(\text{item} \mid
\text{context})` of the logging policy, which MovieLens does not record. The replay method of
Li et al. (2011) is unbiased only when the log was collected by a *uniformly random* (or known,
full-support) policy: it keeps the rounds where the new policy picks the logged arm, and those are a
fair sample only under uniform logging. Hence the simulator: on the shop the means are the ground
truth; on MovieLens they come from a model fitted on all the data (an assumption, said plainly).

>>> from coursekit.coldstart.bandit_policies import UCB1, RandomPolicy
>>> from coursekit.coldstart.simulator import bernoulli_problem
>>> problem = bernoulli_problem([0.1, 0.2, 0.9], seeds=[0, 1, 2])
>>> curves = run_bandits(problem, [UCB1(), RandomPolicy()], horizon=300)
>>> final = curves[curves.t == 300].groupby("policy").regret.mean()
>>> bool(final["UCB1"] < final["random"])
True
"""
from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.coldstart.bandit_policies import BanditPolicy, default_policies
from coursekit.coldstart.simulator import BanditProblem

__all__ = ["run_bandits", "regret_summary", "plot_regret"]


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *key])


def run_bandits(problem: BanditProblem, policies: Sequence[BanditPolicy] | Mapping[str, BanditPolicy] | None = None,
                horizon: int = 1000) -> pd.DataFrame:
    r"""Play every policy on every run of ``problem`` for ``horizon`` rounds; cumulative pseudo-regret.

    Run ``r`` (seed :math:`s_r`) uses the reward noise stream ``default_rng([s_r, 0])``: the same for
    every policy (common random numbers: policies differ by their choices, not by their luck), and
    policy ``p`` draws from ``default_rng([s_r, 1, crc32(p.name)])``. A run's result therefore depends
    only on its own seed, not on which other seeds run beside it. The reward of round :math:`t` is
    :math:`r_t = [u_t < \mu_{a_t}]` with :math:`u_t \sim U(0, 1)`.

    Parameters
    ----------
    problem : BanditProblem
    policies : list of BanditPolicy or dict name -> BanditPolicy, optional
        Default :func:`default_policies`. Names must be distinct.
    horizon : int
        Rounds :math:`T`.

    Returns
    -------
    DataFrame
        Tidy, one row per (policy, seed, t): ``policy``, ``seed``, ``t`` (1..T), ``regret`` (cumulative
        pseudo-regret :math:`\sum_{s \le t} \mu^* - \mu_{a_s}`), ``reward`` (cumulative sampled reward),
        ``best_arm_share`` (fraction of the first t rounds that played a best arm).
    """
    if not isinstance(problem, BanditProblem):
        raise CourseKitError(f"problem must be a BanditProblem (see coursekit.coldstart.simulator), "
                             f"got {type(problem).__name__}.")
    horizon = check_positive_int(horizon, "horizon")
    if policies is None:
        policies = default_policies()
    if isinstance(policies, Mapping):
        named = list(policies.items())
    else:
        named = [(getattr(p, "name", type(p).__name__), p) for p in policies]
    if not named:
        raise CourseKitError("policies is empty; pass at least one policy, e.g. default_policies().")
    names = [n for n, _ in named]
    if len(set(names)) != len(names):
        raise CourseKitError(f"policy names must be distinct, got {names}; pass a dict name -> policy.")
    R, K, d = problem.n_runs, problem.n_arms, problem.dim
    noise = np.stack([_stream(s, 0).random(horizon) for s in problem.seeds])       # (R, T)
    best = problem.best_means
    is_best = problem.means >= best[:, None] - 1e-12
    rows = np.arange(R)
    X = problem.features
    frames = []
    for name, policy in named:
        if not isinstance(policy, BanditPolicy):
            raise CourseKitError(f"policy {name!r} must be a BanditPolicy, got {type(policy).__name__}.")
        key = zlib.crc32(name.encode())
        policy.reset(R, K, d, [_stream(s, 1, key) for s in problem.seeds])
        gaps = np.empty((R, horizon))
        rewards = np.empty((R, horizon))
        hits = np.empty((R, horizon))
        for t in range(horizon):
            arms = np.asarray(policy.select(t + 1, X), dtype=np.int64)
            if arms.shape != (R,) or arms.min() < 0 or arms.max() >= K:
                raise CourseKitError(f"policy {name!r} returned invalid arms {arms[:5]} (need {R} ints in [0, {K})).")
            mu = problem.means[rows, arms]
            r = (noise[:, t] < mu).astype(np.float64)
            policy.update(arms, r, X)
            gaps[:, t] = best - mu
            rewards[:, t] = r
            hits[:, t] = is_best[rows, arms]
        t_axis = np.arange(1, horizon + 1)
        frames.append(pd.DataFrame({
            "policy": name,
            "seed": np.repeat(np.asarray(problem.seeds), horizon),
            "t": np.tile(t_axis, R),
            "regret": np.cumsum(gaps, axis=1).ravel(),
            "reward": np.cumsum(rewards, axis=1).ravel(),
            "best_arm_share": (np.cumsum(hits, axis=1) / t_axis).ravel(),
        }))
    out = pd.concat(frames, ignore_index=True)
    out["policy"] = pd.Categorical(out["policy"], categories=names)
    return out


def regret_summary(curves: pd.DataFrame) -> pd.DataFrame:
    r"""Final regret per policy (mean, std, sem over seeds) and two measures of (sub)linearity.

    * ``second_half_ratio`` = :math:`(\mathrm{Regret}(T) - \mathrm{Regret}(T/2)) / \mathrm{Regret}(T/2)`
      of the seed-averaged curve: 1 for linear growth, :math:`\sqrt2 - 1 \approx 0.41` for :math:`\sqrt T`.
    * ``loglog_slope``: least-squares slope of :math:`\log \mathrm{Regret}(t)` on :math:`\log t` over
      :math:`t \in [T/10, T]` (1 linear, 0.5 for :math:`\sqrt T`).

    >>> c = pd.DataFrame({"policy": "lin", "seed": 0, "t": np.arange(1, 101), "regret": 0.5 * np.arange(1, 101)})
    >>> regret_summary(c)[["final_regret", "second_half_ratio", "loglog_slope"]].round(3).values.tolist()
    [[50.0, 1.0, 1.0]]
    """
    need = {"policy", "seed", "t", "regret"}
    if not need <= set(curves.columns):
        raise CourseKitError(f"curves must have the columns {sorted(need)} (the output of run_bandits).")
    T = int(curves["t"].max())
    rows = []
    for policy, g in curves.groupby("policy", observed=True, sort=False):
        mean_curve = g.groupby("t")["regret"].mean()
        final = g.loc[g["t"] == T, "regret"].to_numpy()
        half = float(mean_curve.loc[mean_curve.index[mean_curve.index <= T // 2][-1]]) if T >= 2 else np.nan
        ratio = (float(mean_curve.loc[T]) - half) / half if half and half > 0 else np.nan
        window = mean_curve[(mean_curve.index >= max(1, T // 10)) & (mean_curve > 0)]
        slope = (float(np.polyfit(np.log(window.index.to_numpy(float)), np.log(window.to_numpy()), 1)[0])
                 if len(window) >= 2 else np.nan)
        rows.append({"policy": policy, "final_regret": float(final.mean()),
                     "std": float(final.std(ddof=1)) if final.size > 1 else 0.0,
                     "sem": float(final.std(ddof=1) / np.sqrt(final.size)) if final.size > 1 else 0.0,
                     "n_seeds": int(final.size), "second_half_ratio": ratio, "loglog_slope": slope})
    return pd.DataFrame(rows).set_index("policy")


def plot_regret(curves: pd.DataFrame, ax: Any = None, band: str = "sem", title: str = "", logx: bool = False) -> Any:
    """Mean cumulative regret over seeds per policy, with a band of one ``std`` or ``sem`` (default) around it."""
    import matplotlib.pyplot as plt

    if band not in ("std", "sem", "none"):
        raise CourseKitError(f"band must be 'std', 'sem' or 'none', got {band!r}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    for policy, g in curves.groupby("policy", observed=True, sort=False):
        stats = g.groupby("t")["regret"].agg(["mean", "std", "count"])
        line, = ax.plot(stats.index, stats["mean"], label=str(policy))
        if band != "none" and stats["count"].max() > 1:
            width = stats["std"].fillna(0.0) / (np.sqrt(stats["count"]) if band == "sem" else 1.0)
            ax.fill_between(stats.index, stats["mean"] - width, stats["mean"] + width,
                            color=line.get_color(), alpha=0.2, linewidth=0)
    n = curves["seed"].nunique()
    ax.set_xlabel("round t")
    ax.set_ylabel("cumulative pseudo-regret")
    if logx:
        ax.set_xscale("log")
    ax.set_title(title or f"Cumulative regret (mean ± {band} over {n} seeds)")
    ax.legend(fontsize=8)
    return ax
