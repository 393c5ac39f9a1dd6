"""Where downloaded data lives: the *data home*.

The data home is, in order of precedence:

1. the ``data_home`` argument of a loader,
2. the environment variable ``COURSEKIT_DATA_HOME``,
3. the user cache folder of the platform (``platformdirs.user_cache_dir("coursekit")``,
   e.g. ``~/.cache/coursekit`` on Linux).

Nothing is created on import or on lookup: a read-only folder (such as a shared
offline copy used by CI) works as a data home as long as the files are already there.

>>> import os
>>> os.environ["COURSEKIT_DATA_HOME"] = "/tmp/ck-home"
>>> str(data_home())
'/tmp/ck-home'
>>> del os.environ["COURSEKIT_DATA_HOME"]
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "COURSEKIT_DATA_HOME"


def data_home(data_home: str | os.PathLike | None = None) -> Path:
    """The folder where coursekit looks for and caches downloaded data.

    Parameters
    ----------
    data_home : str or os.PathLike, optional
        An explicit folder; overrides ``COURSEKIT_DATA_HOME`` and the default. Anything else
        (a number, bytes) raises a :class:`~coursekit.CourseKitError` naming ``data_home``.

    Returns
    -------
    Path
        The folder (``~`` expanded). It may not exist yet; it is created only when
        something is downloaded into it.
    """
    if data_home is not None:
        from coursekit._validation import check_path

        return check_path(data_home, "data_home")
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("coursekit"))


def is_writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (or in the nearest existing parent)."""
    folder = Path(folder)
    while not folder.exists():
        if folder.parent == folder:
            return False
        folder = folder.parent
    return os.access(folder, os.W_OK | os.X_OK)


_resolve_home = data_home   # checkpoint_dir's argument has the same name as the function


def checkpoint_dir(name: str, data_home: str | os.PathLike | None = None) -> Path:
    """A writable folder for a model one lesson saves and a later lesson loads: ``<data home>/checkpoints/<name>``.

    When the data home cannot be written (a read-only shared copy), the folder is
    ``<temp dir>/coursekit-checkpoints/<name>`` instead, so the lessons of one machine still find it.

    >>> import os, tempfile
    >>> folder = checkpoint_dir("04_cross_encoder_shop", data_home=tempfile.mkdtemp())
    >>> folder.name, folder.parent.name, folder.is_dir()
    ('04_cross_encoder_shop', 'checkpoints', True)
    """
    import tempfile

    from coursekit._validation import CourseKitError

    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise CourseKitError(f"name must be a plain folder name such as '04_cross_encoder_shop', got {name!r}.")
    roots = (_resolve_home(data_home) / "checkpoints", Path(tempfile.gettempdir()) / "coursekit-checkpoints")
    for root in roots:
        try:
            (root / name).mkdir(parents=True, exist_ok=True)
            probe = root / name / ".write-test"
            probe.write_text("")
            probe.unlink()
            return root / name
        except OSError:
            continue
    raise CourseKitError(f"no writable folder for checkpoint {name!r}: set COURSEKIT_DATA_HOME to a writable folder.")
