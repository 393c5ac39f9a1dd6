"""Environment helpers for lessons: versions, device choice, seeding, smoke mode.

>>> isinstance(smoke_mode(False), bool)
True
"""
from __future__ import annotations

import importlib
import os
import platform
import random

import numpy as np
import pandas as pd

SMOKE_ENV = "COURSEKIT_SMOKE"
PACKAGES = ("coursekit", "numpy", "scipy", "pandas", "scikit-learn", "matplotlib", "torch", "transformers")


def smoke_mode(default: bool) -> bool:
    """The notebook's ``SMOKE`` parameter, forced on when ``COURSEKIT_SMOKE=1`` (as CI sets it)."""
    value = os.environ.get(SMOKE_ENV, "").strip().lower()
    if value in {"1", "true", "yes"}:
        return True
    if value in {"0", "false", "no"}:
        return False
    return bool(default)


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, numpy and (if imported) torch; return a numpy Generator for the lesson."""
    from coursekit._validation import check_seed

    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = _torch_if_available()
    if torch is not None:
        torch.manual_seed(seed)
    return np.random.default_rng(seed)


def _torch_if_available():
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def pick_device(prefer: str = "auto") -> str:
    """``"cuda"`` if a CUDA GPU is present, else ``"mps"`` on Apple silicon, else ``"cpu"``.

    ``prefer`` other than ``"auto"`` is returned as is (``"cpu"`` forces the CPU).
    """
    if prefer != "auto":
        return prefer
    torch = _torch_if_available()
    if torch is None:
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def environment_report() -> pd.DataFrame:
    """A table of Python, package versions, CPU count and the compute device."""
    rows = [("python", platform.python_version()), ("platform", platform.platform()),
            ("cpu cores", str(os.cpu_count()))]
    rows += [(p, _version(p)) for p in PACKAGES]
    device = pick_device()
    if device == "cuda":
        import torch

        device += f" ({torch.cuda.get_device_name(0)})"
    rows.append(("device", device))
    return pd.DataFrame(rows, columns=["what", "value"]).set_index("what")
