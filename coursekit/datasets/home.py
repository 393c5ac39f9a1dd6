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
