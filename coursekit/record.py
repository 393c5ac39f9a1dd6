"""Record the values a notebook reports, so tests can assert them.

A lesson calls :func:`record` for each key number it reports. Values are appended to
a JSON file in the folder named by the environment variable ``COURSEKIT_RECORDS``
(set by ``coursekit run`` and by the notebook tests); without it, nothing is written
and the value is simply returned, so a student running the notebook sees no files
appear. (This replaces the unmaintained *scrapbook* package.)

>>> record("ndcg@10", 0.1234, notebook="demo")
0.1234
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

ENV = "COURSEKIT_RECORDS"


def _plain(value: Any) -> Any:
    """Convert numpy scalars/arrays and pandas objects into JSON-friendly values."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def records_path(notebook: str) -> Path | None:
    folder = os.environ.get(ENV)
    return Path(folder) / f"{notebook}.json" if folder else None


def record(name: str, value: Any, notebook: str | None = None) -> Any:
    """Store ``value`` under ``name`` for ``notebook`` (default: env ``COURSEKIT_NOTEBOOK``); return it."""
    notebook = notebook or os.environ.get("COURSEKIT_NOTEBOOK", "notebook")
    path = records_path(notebook)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.loads(path.read_text()) if path.exists() else {}
        data[name] = _plain(value)
        path.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
    return value


def load_records(notebook: str, folder: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read back what a notebook recorded (``folder`` defaults to ``$COURSEKIT_RECORDS``)."""
    folder = folder or os.environ.get(ENV)
    if not folder:
        raise FileNotFoundError(f"no records folder: pass folder= or set {ENV}.")
    path = Path(folder) / f"{notebook}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: did the notebook run with {ENV} set?")
    return json.loads(path.read_text())
