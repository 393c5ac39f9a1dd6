"""Writing a model to a folder and reading it back, with every file checked.

Used by :meth:`Recommender.save` (:func:`write_model`) and :meth:`Recommender.load`.

A saved model is a folder with ``params.json`` (class, hyperparameters, the kinds of the fitted
attributes and the SHA-256 of the array file) and ``arrays.safetensors``. On load:

* the array file must match the SHA-256 recorded at save time (flipped bytes never load); a
  folder saved before checksums existed loads with a warning;
* the hyperparameters go through the same checks as a fresh model (types and signs read from
  the constructor's defaults, then the model's own ``check_params``), so an edited
  ``reg=-7`` or ``factors='abc'`` is refused;
* every error is a :class:`~coursekit.CourseKitError` that names the folder and the file.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from coursekit._validation import CourseKitError
from coursekit.interactions import IdMap

PARAMS, ARRAYS = "params.json", "arrays.safetensors"
_RESAVE = "The save is damaged or was edited: save the model again with model.save(folder)."


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_meta(folder: Path) -> dict[str, Any]:
    """The parsed ``params.json`` of ``folder``, with its required keys present."""
    path = folder / PARAMS
    if not folder.is_dir():
        raise CourseKitError(f"{folder} is not a folder holding a saved model; save one with model.save(folder).")
    if not path.exists():
        raise CourseKitError(f"{folder} holds no saved model ({PARAMS} missing); save one with model.save(folder).")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CourseKitError(f"{path} is not valid JSON ({err}). {_RESAVE}") from None
    if not isinstance(meta, dict):
        raise CourseKitError(f"{path} must hold a JSON object, got {type(meta).__name__}. {_RESAVE}")
    for key, kind in (("class", str), ("module", str), ("params", dict)):
        if not isinstance(meta.get(key), kind):
            raise CourseKitError(f"{path} lacks {key!r} (a {kind.__name__}), got {meta.get(key)!r}. {_RESAVE}")
    return meta


def model_class(meta: dict[str, Any], folder: Path, base: type) -> type:
    """The coursekit class named in ``params.json``; other modules are refused."""
    path = folder / PARAMS
    if not meta["module"].startswith("coursekit."):
        raise CourseKitError(f"{path}: refusing to load class {meta['class']} from {meta['module']}: "
                             "not a coursekit model.")
    try:
        klass = getattr(importlib.import_module(meta["module"]), meta["class"])
    except (ImportError, AttributeError):
        raise CourseKitError(f"{path} names class {meta['class']} of module {meta['module']}, which this "
                             f"coursekit does not have. {_RESAVE}") from None
    if not (isinstance(klass, type) and issubclass(klass, base)):
        raise CourseKitError(f"{folder} holds a {meta['class']}, not a {base.__name__} ({path}).")
    return klass


def _check_like_default(value: Any, default: Any, name: str) -> str | None:
    """What is wrong with ``value`` for a parameter whose default is ``default`` (``None``: nothing)."""
    if default is None or default is inspect.Parameter.empty:
        return None
    if isinstance(default, bool):
        return None if isinstance(value, bool) else f"{name} must be True or False"
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, int):
        if not is_int:
            return f"{name} must be an integer"
        return f"{name} must be >= 0" if default >= 0 and value < 0 else None
    if isinstance(default, float):
        if not (is_int or isinstance(value, float)) or not math.isfinite(value):
            return f"{name} must be a finite number"
        return f"{name} must be >= 0" if default >= 0 and value < 0 else None
    if isinstance(default, str):
        return None if isinstance(value, str) else f"{name} must be a string"
    return None


def build_model(klass: type, meta: dict[str, Any], folder: Path) -> Any:
    """``klass(**params)`` after the constructor's parameter checks; errors name ``params.json``."""
    path, params = folder / PARAMS, meta["params"]
    sig = inspect.signature(klass.__init__).parameters
    unknown = sorted(set(params) - set(sig) - {"self"})
    if unknown:
        raise CourseKitError(f"{path}: {klass.__name__} has no parameter(s) {unknown}. {_RESAVE}")
    for name, value in params.items():
        problem = _check_like_default(value, sig[name].default, name)
        if problem:
            raise CourseKitError(f"{path}: saved parameter {name}={value!r} is invalid ({problem}). {_RESAVE}")
    model = klass(**params)
    complete = all(p in params for p in sig if p != "self")  # params kept out of params.json: no full check
    if complete:
        try:
            model.check_params()
        except CourseKitError as err:
            raise CourseKitError(f"{path}: invalid saved parameters: {err} {_RESAVE}") from None
    cold = meta.get("cold_users", "popular")
    if cold not in ("popular", "error"):
        raise CourseKitError(f"{path}: cold_users must be 'popular' or 'error', got {cold!r}. {_RESAVE}")
    model.cold_users = cold
    return model


def read_arrays(folder: Path, meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """The arrays of ``arrays.safetensors``, verified against the SHA-256 recorded in ``params.json``."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = folder / ARRAYS
    if not path.exists():
        raise CourseKitError(f"{path} is missing; the saved model in {folder} is incomplete. {_RESAVE}")
    expected = (meta.get("sha256") or {}).get(ARRAYS) if isinstance(meta.get("sha256"), dict) else None
    if expected is None:
        warnings.warn(f"{folder / PARAMS} records no SHA-256 of {ARRAYS} (saved by an older coursekit), so "
                      f"{path} is loaded unverified. Save the model again to add the checksum.",
                      UserWarning, stacklevel=3)
    else:
        got = sha256_file(path)
        if got != expected:
            raise CourseKitError(f"{path} does not match the SHA-256 recorded in {folder / PARAMS} (expected "
                                 f"{expected}, got {got}): the file is damaged or was changed, and was not "
                                 f"used. {_RESAVE}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CourseKitError(f"{path} cannot be read as safetensors ({err}). {_RESAVE}") from None


def _attribute(name: str, kind: str, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> Any:
    """One fitted attribute rebuilt from its ``kind`` (raises KeyError/ValueError on a damaged save)."""
    if kind.startswith("idmap:"):
        return IdMap(arrays[name], kind.split(":", 1)[1])
    if kind.startswith("csr:"):
        shape = tuple(int(x) for x in kind.split(":", 1)[1].split("x"))
        return sp.csr_matrix((arrays[f"{name}.data"], arrays[f"{name}.indices"], arrays[f"{name}.indptr"]),
                             shape=shape)
    if kind == "array":
        return arrays[name]
    if kind == "scalar":
        return scalars[name]
    raise ValueError(f"unknown kind {kind!r}")


def restore_state(model: Any, meta: dict[str, Any], arrays: dict[str, np.ndarray], folder: Path) -> None:
    """Set the fitted attributes listed in ``params.json`` on ``model``; errors name both files."""
    kinds, scalars = meta.get("kinds"), meta.get("scalars", {})
    if not isinstance(kinds, dict) or not isinstance(scalars, dict):
        raise CourseKitError(f"{folder / PARAMS} lacks the 'kinds'/'scalars' tables of the fitted state. {_RESAVE}")
    for name, kind in kinds.items():
        if not (isinstance(name, str) and name.isidentifier() and name.endswith("_") and isinstance(kind, str)):
            raise CourseKitError(f"{folder / PARAMS}: {name!r} is not a fitted attribute (names end in '_'). "
                                 f"{_RESAVE}")
        try:
            setattr(model, name, _attribute(name, kind, arrays, scalars))
        except (KeyError, ValueError, TypeError, IndexError) as err:
            raise CourseKitError(f"{folder}: fitted attribute {name} ({kind}) cannot be rebuilt from {ARRAYS} "
                                 f"and {PARAMS} ({type(err).__name__}: {err}). {_RESAVE}") from None


def write_model(model: Any, state: dict[str, Any], folder: Path) -> Path:
    """Write ``params.json`` and ``arrays.safetensors`` for ``model`` with fitted attributes ``state``."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    arrays, scalars, kinds = {}, {}, {}
    for name, value in state.items():
        if isinstance(value, IdMap):
            arrays[name] = np.ascontiguousarray(value.ids)
            kinds[name] = f"idmap:{value.kind}"
        elif sp.issparse(value):
            csr = sp.csr_matrix(value)
            for part in ("data", "indices", "indptr"):
                arrays[f"{name}.{part}"] = np.ascontiguousarray(getattr(csr, part))
            kinds[name] = f"csr:{csr.shape[0]}x{csr.shape[1]}"
        elif isinstance(value, np.ndarray):
            arrays[name] = np.ascontiguousarray(value)
            kinds[name] = "array"
        elif isinstance(value, (bool, int, float, str, np.integer, np.floating)) or value is None:
            scalars[name] = value.item() if isinstance(value, np.generic) else value
            kinds[name] = "scalar"
        else:
            raise CourseKitError(
                f"cannot save attribute {name} of type {type(value).__name__}; "
                f"override {type(model).__name__}._state() to convert it to arrays."
            )
    save_file(arrays, str(folder / ARRAYS))
    meta = {"class": type(model).__name__, "module": type(model).__module__,
            "params": model.get_params(), "cold_users": model.cold_users,
            "scalars": scalars, "kinds": kinds, "sha256": {ARRAYS: sha256_file(folder / ARRAYS)}}
    (folder / PARAMS).write_text(json.dumps(meta, indent=1))
    return folder


def load_model(folder: Path, base: type) -> Any:
    """The model saved in ``folder``, checked file by file (see the module docstring)."""
    meta = read_meta(folder)
    klass = model_class(meta, folder, base)
    hook = getattr(klass, "_load_folder", None)  # models that save more than arrays (e.g. sub-models)
    if hook is not None:
        return hook(folder, meta)
    model = build_model(klass, meta, folder)
    restore_state(model, meta, read_arrays(folder, meta), folder)
    return model
