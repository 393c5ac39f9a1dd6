r"""Claims: a lesson's conclusions as objects computed from the run, never typed text.

A claim compares measured quantities with their uncertainty and renders the sentence the
lesson shows, whether or not the comparison comes out as the story hoped:

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> a = rng.normal(0.30, 0.1, size=500)                 # per-user NDCG@10 of model A
>>> b = a - rng.normal(0.05, 0.05, size=500)            # model B, the same users
>>> c = compare(a, b, "EASE", "MostPopular", metric="NDCG@10")
>>> c.verdict, c.holds
('beats', True)
>>> print(c.text)
EASE beats MostPopular by 0.0465 ± 0.0021 NDCG@10 (paired SE over 500 users).

The rule (one for the whole course): with :math:`d_u = a_u - b_u` over the same users,
:math:`\bar d` and its standard error :math:`\mathrm{SE} = s_d / \sqrt n` (or the standard
deviation of :math:`\bar d` over paired bootstrap resamples), **A beats B** when
:math:`\bar d > 2\,\mathrm{SE}`, **A loses to B** when :math:`\bar d < -2\,\mathrm{SE}`, and
otherwise there is *no difference we can measure*. A margin asks for more: with a relative
margin :math:`m`, the differences are :math:`a_u - (1 + m) b_u` ("A beats B by more than m").

A lesson marks the claims its story needs with :meth:`Claim.require`; ``coursekit run``
reads them back (through :mod:`coursekit.record`) and fails a notebook whose required claim
does not hold. Claims that depend on the data size are required in full runs only
(``full_only=True``, the default), so smoke runs render them without failing.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError
from coursekit.record import load_records, record

Verdict = Literal["beats", "loses to", "no measurable difference", "above", "below", "not beyond"]
Expect = Literal["beats", "loses to", "no measurable difference", "no worse", "above", "below", "not beyond",
                 "not above"]
Z = 2.0  # a difference counts when it exceeds Z standard errors
CLAIMS_KEY = "claims"


@dataclass
class Claim:
    """A computed conclusion: the numbers, the verdict under the 2-SE rule, and its sentence.

    Attributes
    ----------
    text : str
        The sentence to show, rendered from the numbers.
    verdict : str
        ``"beats"``, ``"loses to"``, ``"no measurable difference"`` (comparisons) or
        ``"above"``, ``"below"``, ``"not beyond"`` (a value against a threshold).
    estimate, se : float
        The difference (or value) and its standard error.
    n : int
        Number of paired units (users, items, runs) behind the standard error.
    expect : str or None
        What the lesson's story needs; ``holds`` says whether the verdict delivers it.
    """

    text: str
    verdict: str
    estimate: float
    se: float
    n: int
    expect: str | None = None
    key: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        """Whether the verdict delivers ``expect`` (True when nothing is expected)."""
        return _delivers(self.verdict, self.expect)

    def show(self) -> Claim:
        """Display the sentence (Markdown in Jupyter, plain text elsewhere); return the claim."""
        try:
            from IPython import get_ipython
            from IPython.display import Markdown, display

            if get_ipython() is not None:
                display(Markdown(self._markdown()))
                return self
        except ImportError:  # pragma: no cover - IPython ships with every Jupyter kernel
            pass
        print(self.text)
        return self

    def require(self, full_only: bool = True, key: str | None = None) -> None:
        """Mark this claim as one the lesson's story needs; ``coursekit run`` fails if it does not hold.

        Parameters
        ----------
        full_only : bool
            True (default): required only in full runs (data-size dependent); False: in smoke runs too.
        key : str, optional
            Short stable name in the records (default: the claim's ``key``, or its sentence).
        """
        if self.expect is None:
            raise CourseKitError("a required claim needs expect=...: say what the lesson's story needs "
                                 "(e.g. compare(..., expect='beats')).")
        entry = {**self.as_record(), "required": True, "full_only": bool(full_only),
                 "key": key or self.key or self.text}
        _append(entry)
        if not self.holds:
            print(f"NOTE: the lesson relies on this claim and it does not hold in this run: {self.text}")

    def record(self, key: str | None = None) -> Claim:
        """Store the claim (not required) with the notebook's records; return it."""
        _append({**self.as_record(), "required": False, "full_only": True, "key": key or self.key or self.text})
        return self

    def as_record(self) -> dict[str, Any]:
        d = asdict(self)
        d["holds"] = self.holds
        d["estimate"], d["se"] = _json_float(self.estimate), _json_float(self.se)
        d["details"] = {k: _json_float(v) if isinstance(v, float) else v for k, v in self.details.items()}
        return d

    def _markdown(self) -> str:
        mark = "" if self.expect is None else (" ✔" if self.holds else " ✘ (not what the lesson expected)")
        return f"**Claim{mark}:** {self.text}"

    def _repr_markdown_(self) -> str:
        return self._markdown()

    def __str__(self) -> str:
        return self.text


def _json_float(v: float) -> float | str:
    return float(v) if math.isfinite(float(v)) else str(float(v))


def _delivers(verdict: str, expect: str | None) -> bool:
    if expect is None:
        return True
    if expect == "no worse":
        return verdict in ("beats", "no measurable difference")
    if expect == "not above":
        return verdict in ("below", "not beyond")
    return verdict == expect


def _append(entry: dict[str, Any]) -> None:
    from coursekit.record import records_path

    notebook = os.environ.get("COURSEKIT_NOTEBOOK", "notebook")
    path = records_path(notebook)
    if path is None:
        return
    existing = load_records(notebook, path.parent).get(CLAIMS_KEY, []) if path.exists() else []
    existing = [e for e in existing if e.get("key") != entry["key"]]
    record(CLAIMS_KEY, existing + [entry], notebook=notebook)


def _fmt(x: float, digits: int) -> str:
    return f"{x:.{digits}f}"


def _digits(se: float, value: float) -> int:
    """Decimals that show the standard error to two significant figures (at least 2, at most 6)."""
    ref = se if math.isfinite(se) and se > 0 else abs(value)
    if not math.isfinite(ref) or ref == 0:
        return 3
    return int(min(6, max(2, 1 - math.floor(math.log10(ref)))))


def _as_vector(x: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise CourseKitError(f"{name} must be a 1-D array of per-unit values (one per user), got shape {arr.shape}.")
    return arr


def paired_se(differences: ArrayLike, n_boot: int | None = None, seed: int = 0) -> tuple[float, float, int]:
    r"""Mean of paired differences and its standard error: :math:`s_d/\sqrt n`, or the bootstrap SD.

    NaN units (e.g. users without a relevant item) are dropped.

    >>> [round(v, 4) for v in paired_se([1.0, 0.0, 2.0, 1.0])[:2]]
    [1.0, 0.4082]
    """
    d = _as_vector(differences, "differences")
    d = d[~np.isnan(d)]
    n = d.size
    if n == 0:
        return float("nan"), float("nan"), 0
    if n == 1:
        return float(d[0]), float("nan"), 1
    if n_boot:
        rng = np.random.default_rng(seed)
        means = d[rng.integers(0, n, size=(int(n_boot), n))].mean(axis=1)
        return float(d.mean()), float(means.std(ddof=1)), n
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(n)), n


def compare(a: Sequence[float], b: Sequence[float], name_a: str, name_b: str, *, metric: str,
            higher_is_better: bool = True, rel_margin: float = 0.0, unit: str = "users",
            expect: Expect | None = None, n_boot: int | None = None, seed: int = 0,
            key: str = "") -> Claim:
    r"""Paired comparison of A and B over the same units (per-user metric values, aligned).

    Parameters
    ----------
    a, b : array (n,)
        Per-unit values of the two methods, aligned (unit u in position u of both); NaN pairs dropped.
    name_a, name_b : str
        Names used in the sentence.
    metric : str
        What is compared ("NDCG@10", "test RMSE", ...).
    higher_is_better : bool
        False for errors (RMSE, loss): then "beats" means lower.
    rel_margin : float
        Ask for "A beats B by more than ``rel_margin``" (relative to B's mean): the test uses
        :math:`a_u - (1 + m)\,b_u` (for errors :math:`(1 + m)\,a_u - b_u`). 0: plain comparison.
    unit : str
        What the pairs are ("users", "test ratings", "seeds").
    expect : str, optional
        What the story needs: ``"beats"``, ``"loses to"``, ``"no measurable difference"`` or
        ``"no worse"`` (beats or no measurable difference).
    n_boot : int, optional
        Use the SD of ``n_boot`` paired bootstrap means as the SE instead of :math:`s/\sqrt n`.

    Returns
    -------
    Claim

    Examples
    --------
    >>> c = compare([0.1, 0.2, 0.3, 0.2], [0.1, 0.2, 0.3, 0.21], "A", "B", metric="NDCG@10")
    >>> c.verdict
    'no measurable difference'
    >>> compare([1.0, 1.1, 0.9], [1.2, 1.3, 1.1], "MF", "mean", metric="RMSE", higher_is_better=False).verdict
    'beats'
    """
    a, b = _as_vector(a, "a"), _as_vector(b, "b")
    if a.shape != b.shape:
        raise CourseKitError(f"a and b must hold the same units in the same order; got {a.size} and {b.size} values.")
    if rel_margin < 0:
        raise CourseKitError(f"rel_margin must be >= 0, got {rel_margin!r}.")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    sign = 1.0 if higher_is_better else -1.0
    gain, se_gain, n = paired_se(sign * (a - b), n_boot, seed)
    if rel_margin:
        test_d = (a - (1 + rel_margin) * b) if higher_is_better else ((1 + rel_margin) * a - b)
        t_mean, t_se, _ = paired_se(test_d, n_boot, seed)
    else:
        t_mean, t_se = gain, se_gain
    if n >= 2 and t_mean > Z * t_se:
        verdict = "beats"
    elif n >= 2 and gain < -Z * se_gain:
        verdict = "loses to"
    else:
        verdict = "no measurable difference"
    mean_a, mean_b = float(a.mean()) if n else float("nan"), float(b.mean()) if n else float("nan")
    digits = _digits(se_gain, gain)
    diff = f"{_fmt(abs(gain), digits)} ± {_fmt(se_gain, digits)} {metric}"
    rel = gain / abs(mean_b) if mean_b else float("nan")
    rel_text = f", {rel:+.0%} relative to {name_b}" if rel_margin and math.isfinite(rel) else ""
    tail = f" (paired {'bootstrap ' if n_boot else ''}SE over {n:,} {unit}{rel_text})"
    if verdict == "beats":
        what = f"by more than {rel_margin:.0%}: " if rel_margin else ""
        text = f"{name_a} beats {name_b} {what}by {diff}{tail}."
    elif verdict == "loses to":
        text = f"{name_a} loses to {name_b} by {diff}{tail}."
    elif rel_margin and gain > Z * se_gain:
        text = (f"{name_a} beats {name_b} by {diff}{tail}, but not by more than {rel_margin:.0%} "
                f"beyond noise.")
    else:
        side = "ahead" if gain >= 0 else "behind"
        text = (f"No difference we can measure between {name_a} and {name_b} on {metric}: "
                f"{name_a} is {side} by {diff}{tail}, within {Z:g} SE.")
    return Claim(text=text, verdict=verdict, estimate=gain, se=se_gain, n=n, expect=expect, key=key,
                 details={"name_a": name_a, "name_b": name_b, "metric": metric, "mean_a": mean_a,
                          "mean_b": mean_b, "rel_margin": float(rel_margin), "relative_gain": float(rel)})


def threshold(value: float, se: float, threshold: float, name: str, *, what: str, n: int = 0,
              unit: str = "users", expect: Literal["above", "below", "not beyond", "not above"] | None = None,
              key: str = "") -> Claim:
    r"""A measured value against a fixed threshold: "above" when :math:`v - 2\,\mathrm{SE} > t`.

    For example an AUC against chance (0.5), a loss against the label-prior entropy, a share
    against a target.

    >>> threshold(0.62, 0.02, 0.5, "validation AUC", what="chance").text
    'validation AUC is above chance (0.5): 0.620 ± 0.020 (beyond 2 SE).'
    >>> threshold(0.51, 0.02, 0.5, "validation AUC", what="chance").verdict
    'not beyond'

    ``expect="not beyond"`` asks that the value be indistinguishable from the threshold (an A/A test's
    false-positive rate against the nominal 5%); ``"not above"`` accepts "below" or "not beyond":

    >>> threshold(0.04, 0.005, 0.05, "false-positive rate", what="alpha", expect="not above").holds
    True
    """
    value, se = float(value), float(se)
    if value - Z * se > threshold:
        verdict = "above"
    elif value + Z * se < threshold:
        verdict = "below"
    else:
        verdict = "not beyond"
    digits = max(3, _digits(se, value))
    num = f"{_fmt(value, digits)} ± {_fmt(se, digits)}" if math.isfinite(se) else _fmt(value, digits)
    over = f" over {n:,} {unit}" if n else ""
    if verdict == "not beyond":
        text = f"{name} is not distinguishable from {what} ({threshold:g}): {num}{over}, within {Z:g} SE."
    else:
        text = f"{name} is {verdict} {what} ({threshold:g}): {num}{over} (beyond {Z:g} SE)."
    return Claim(text=text, verdict=verdict, estimate=value, se=se, n=n, expect=expect, key=key,
                 details={"name": name, "threshold": float(threshold), "what": what})


# ------------------------------------------------------------------ reading claims back
def claims_of(notebook: str, folder: str | os.PathLike) -> list[dict[str, Any]]:
    """The claims a notebook recorded in ``folder`` (its records folder); [] if none."""
    try:
        return list(load_records(notebook, folder).get(CLAIMS_KEY, []))
    except FileNotFoundError:
        return []


def failed_claims(claims: list[dict[str, Any]], smoke: bool) -> list[dict[str, Any]]:
    """Required claims that do not hold; in a smoke run only those not marked ``full_only``."""
    return [c for c in claims if c.get("required") and not c.get("holds")
            and not (smoke and c.get("full_only", True))]
