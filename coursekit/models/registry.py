"""A registry of model factories for the shared contract suite.

A factory is a callable returning a new, small, unfitted model. Register it under a name, and a
test can run every check of :mod:`coursekit.models.contract` against every registered case:

>>> from coursekit.models import MostPopular
>>> register_contract_case("MostPopular-doc", MostPopular)
>>> "MostPopular-doc" in CONTRACT_CASES
True
>>> del CONTRACT_CASES["MostPopular-doc"]

The repository's own cases are registered in ``tests/contract_cases.py``; ``coursekit.models``
registers none by itself (so importing it loads no other package).
"""
from __future__ import annotations

from collections.abc import Callable

from coursekit.models.base import Recommender

__all__ = ["CONTRACT_CASES", "register_contract_case"]

CONTRACT_CASES: dict[str, Callable[[], Recommender]] = {}


def register_contract_case(name: str, factory: Callable[[], Recommender]) -> None:
    """Register ``factory`` (returns a new, unfitted model) under ``name`` for the contract suite."""
    CONTRACT_CASES[name] = factory
