"""The list of models the shared contract suite checks.

A model module registers a factory that builds a small, fast instance of the model:

>>> from coursekit.models.registry import register_contract_case
>>> register_contract_case("MyModel", lambda: MyModel(factors=4))  # doctest: +SKIP

``tests/test_model_contract.py`` then runs every check of
:mod:`coursekit.models.contract` against it.
"""
from __future__ import annotations

from collections.abc import Callable

CONTRACT_CASES: dict[str, Callable] = {}


def register_contract_case(name: str, factory: Callable) -> None:
    """Register ``factory()`` (returns an unfitted model) under ``name`` for the contract suite."""
    CONTRACT_CASES[name] = factory
