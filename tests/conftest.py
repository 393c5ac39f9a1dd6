"""Shared fixtures. MovieLens tests skip with a reason when the archive is not available,
unless COURSEKIT_REQUIRE_MOVIELENS=1 (set by CI), in which case they fail."""
import os
from pathlib import Path

import pytest


def movielens_available() -> bool:
    home = os.environ.get("COURSEKIT_DATA_HOME")
    if home and (Path(home) / "ml-latest-small.zip").exists():
        return True
    try:
        from coursekit.datasets.home import data_home
    except ImportError:
        return False
    return (Path(data_home()) / "ml-latest-small.zip").exists()


def need_movielens() -> None:
    """Skip (or fail under COURSEKIT_REQUIRE_MOVIELENS=1) when the MovieLens archive is missing."""
    if movielens_available():
        return
    message = ("ml-latest-small.zip not found: set COURSEKIT_DATA_HOME to a folder holding it, "
               "or run `coursekit data fetch movielens` once online")
    if os.environ.get("COURSEKIT_REQUIRE_MOVIELENS") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def movielens():
    need_movielens()
    from coursekit.datasets import load_movielens

    return load_movielens()


@pytest.fixture(scope="session")
def shop():
    from coursekit.datasets import load_shop

    return load_shop()
