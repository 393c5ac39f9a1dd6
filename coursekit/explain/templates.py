r"""Natural-language explanations from templates, filled only with what an explainer found.

``because(...)`` names the ``k`` history items with the largest *positive* contribution (from any
explanation frame) and, optionally, the recommended item's attributes with positive weight
(from :mod:`coursekit.explain.attributes`). Nothing else enters the sentence: the returned
``facts`` list exactly what was used, and :func:`mentioned` lets a test check the text against
the whole catalogue. When the explainer found no positive reason, the sentence says so instead
of inventing one.

>>> import pandas as pd
>>> from coursekit.explain.contributions import contributions_frame
>>> f = contributions_frame([1, 2, 3], [0.5, -0.1, 0.9], method="exact")
>>> because(f, {1: "Alien", 2: "Heat", 3: "Aliens", 9: "Up"}, "Predator", k=2)[0]
'Because you liked "Aliens" and "Alien", we recommend "Predator".'
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

__all__ = ["because", "mentioned"]


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def because(explanation: pd.DataFrame, titles: Mapping, target_title: str, k: int = 2,
            attributes: pd.DataFrame | None = None, n_attributes: int = 2) -> tuple[str, dict]:
    """``(sentence, facts)`` for a recommendation; ``titles`` maps history item ids to names."""
    pos = explanation[explanation["contribution"] > 0].head(k)
    items = pos["feature"].tolist()
    attrs: list[str] = []
    if attributes is not None:
        attrs = attributes[attributes["contribution"] > 0].head(n_attributes)["feature"].astype(str).tolist()
    if items:
        liked = _join([chr(34) + str(titles[i]) + chr(34) for i in items])
        text = f'Because you liked {liked}, we recommend "{target_title}"'
    else:
        text = f'We recommend "{target_title}"; none of your past items speaks for it'
    if attrs:
        nice = [a.split("=", 1)[-1] + (" " + a.split("=", 1)[0] if "=" in a else "") for a in attrs]
        text += f" (it matches your taste for {_join(nice)})"
    return text + ".", {"items": items, "attributes": attrs}


def mentioned(text: str, titles: Mapping) -> list:
    """Ids whose quoted title occurs in ``text`` (titles are quoted in the sentences)."""
    quoted = set(re.findall(r'"([^"]*)"', text))
    return [i for i, t in dict(titles).items() if str(t) in quoted]
