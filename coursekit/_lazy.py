"""One helper for packages that load their heavy parts on first use.

``import coursekit`` must stay fast, so packages whose modules import torch or transformers
list their public names here instead of importing them; the name is imported the first
time it is used. :func:`attach` returns the module-level ``__getattr__``, ``__dir__`` and
``__all__`` (so tab completion and ``help()`` see the lazy names too).

>>> __getattr__, __dir__, __all__ = attach("coursekit", {"json_module": "json:dumps"})
>>> __getattr__("json_module")([1])
'[1]'
>>> "json_module" in __dir__()
True
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def attach(package: str, names: Mapping[str, str],
           submodules: tuple[str, ...] = ()) -> tuple[Callable, Callable, list[str]]:
    """Lazy ``__getattr__``, ``__dir__`` and ``__all__`` for ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : mapping
        Public name -> ``"module.path"`` (the attribute of the same name) or
        ``"module.path:attribute"``.
    submodules : tuple of str
        Submodules reachable as attributes (``package.submodule``) without an explicit import.
    """
    targets = dict(names)

    def __getattr__(name: str):
        if name in targets:
            module, _, attribute = targets[name].partition(":")
            return getattr(importlib.import_module(module), attribute or name)
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(targets) | set(submodules) | set(vars(importlib.import_module(package))))

    return __getattr__, __dir__, list(targets)
