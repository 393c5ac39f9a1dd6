r"""MovieLens ml-latest-small: a checksummed download, cached, parsed in memory.

The archive is looked up in the data home (:func:`coursekit.datasets.home.data_home`)
and downloaded from GroupLens when it is missing. Its SHA-256 is checked every time a
process first reads it; a file whose hash differs is never used.

The parsed tables:

* ``interactions``: ``user_id``, ``item_id`` (the ``movieId``), ``rating`` (0.5 .. 5.0),
  ``timestamp`` (int64 seconds since 1970-01-01 UTC), in the file's order (by user, then movie).
* ``items``: ``item_id``, ``title`` (without the year), ``year`` (``Int64``, ``<NA>`` when the
  title carries none), ``genres`` (list of str; ``"(no genres listed)"`` gives ``[]``),
  ``tags`` (list of distinct lower-cased tags from ``tags.csv``, most used first, ties
  alphabetical), ``text`` and ``text_no_tags``.

The item text is

.. math:: \text{text}_i = \text{"Title (year). Genres: } g_1, g_2\text{. Tags: } t_1, t_2\text{."}

where a part whose list is empty is left out and ``(year)`` is left out when unknown.
``text_no_tags`` stops before the tags: tags are written by users *after* they watch a
movie, so only ``text_no_tags`` exists when a movie is added (what the cold-start lesson
must use).

>>> parse_title("Toy Story (1995)")
('Toy Story', 1995)
>>> parse_title("Babylon 5")
('Babylon 5', None)
"""
from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_bool
from coursekit.datasets.base import Dataset
from coursekit.datasets.home import ENV_VAR, data_home, is_writable

NAME = "ml-latest-small"
FILENAME = "ml-latest-small.zip"
URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
SHA256 = "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436"
NAMES = ("ml-latest-small", "movielens")

LICENSE = (
    "MovieLens ml-latest-small, GroupLens Research, University of Minnesota. Usage license "
    "(from the archive's README.txt): research use; do not state or imply endorsement by the "
    "University of Minnesota or GroupLens; acknowledge the data set in publications (cite Harper "
    "& Konstan 2015); redistribution, including transformations, only under these same "
    "conditions; no commercial or revenue-bearing use without permission from GroupLens. "
    "Provided without warranty."
)
CITATION = (
    "F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and Context. "
    "ACM Transactions on Interactive Intelligent Systems (TiiS) 5, 4: 19:1-19:19. "
    "https://doi.org/10.1145/2827872"
)

_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*(?:\d{4})?)?\)\s*$")


# ----------------------------------------------------------------------------- files
def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _offline_message(home: Path, reason: str) -> str:
    return (
        f"MovieLens {NAME} is not available: {reason}\n"
        f"  looked for {home / FILENAME} (the data home; set it with the environment variable "
        f"{ENV_VAR}).\n"
        f"  Fix: once online run `coursekit data fetch movielens`, or copy {FILENAME} from "
        f"{URL} into {home} (or point {ENV_VAR} at a folder holding it).\n"
        f"  Offline alternative: the embedded synthetic shop, coursekit.datasets.load_shop() "
        f"(DATASET='shop' in the lessons)."
    )


def _corrupt_message(path: Path, got: str) -> str:
    return (
        f"{path} is not the expected MovieLens archive: SHA-256 expected {SHA256}, got {got}. "
        f"It was not used. Fix: delete it (rm '{path}') and run `coursekit data fetch movielens` "
        f"(or copy an intact {FILENAME} from {URL})."
    )


def verify(path: str | os.PathLike) -> Path:
    """Return ``path`` if its SHA-256 is the published one, else raise :class:`CourseKitError`."""
    path = Path(path)
    got = sha256_of(path)
    if got != SHA256:
        raise CourseKitError(_corrupt_message(path, got))
    return path


def _download(url: str, folder: Path, filename: str) -> Path:
    """Download ``url`` into ``folder/filename`` with pooch, checking the SHA-256.

    Kept as a separate function so tests can replace it (no network in tests).
    """
    import pooch

    return Path(pooch.retrieve(url, known_hash=f"sha256:{SHA256}", fname=filename,
                               path=folder, progressbar=False))


def fetch_movielens(data_home_: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The verified path of ``ml-latest-small.zip``, downloading it when missing.

    Parameters
    ----------
    data_home_ : path, optional
        Folder to look in and download into (default :func:`data_home`).
    download : bool
        When ``False`` and the archive is missing, raise instead of downloading.

    Raises
    ------
    CourseKitError
        The file exists but its hash differs (it is never used); or it is missing and
        cannot be downloaded (offline, ``download=False`` or a read-only data home).
    """
    download = check_bool(download, "download")
    home = data_home(data_home_)
    path = home / FILENAME
    if path.exists():
        return verify(path)
    if not download:
        raise CourseKitError(_offline_message(home, "the archive is missing and download=False."))
    if not is_writable(home):
        raise CourseKitError(_offline_message(home, f"the archive is missing and {home} is not writable."))
    created = _make_folder(home)
    try:
        got = _download(URL, home, FILENAME)
    except (OSError, ConnectionError) as err:  # requests' errors derive from OSError
        _remove_if_empty(created)
        raise CourseKitError(_offline_message(home, f"the download failed ({type(err).__name__}: {err}).")) from err
    except ValueError as err:  # pooch: hash mismatch after download (it deletes the file)
        _remove_if_empty(created)
        raise CourseKitError(f"The downloaded {FILENAME} failed the SHA-256 check and was deleted: {err}. "
                             f"Try again later, or copy an intact archive into {home}.") from err
    return verify(got)


def _make_folder(folder: Path) -> list[Path]:
    """``mkdir -p folder``; return the folders it created, deepest first."""
    created = []
    p = folder
    while not p.exists():
        created.append(p)
        p = p.parent
    folder.mkdir(parents=True, exist_ok=True)
    return created


def _remove_if_empty(created: list[Path]) -> None:
    """Remove the folders a failed download created (deepest first), as long as they are empty."""
    for p in created:
        try:
            p.rmdir()
        except OSError:  # not empty (something else was written there) or gone: leave it
            return


# ----------------------------------------------------------------------------- parsing
def parse_title(raw: str) -> tuple[str, int | None]:
    """Split a MovieLens title into ``(title, year)``; ``year`` is ``None`` when absent.

    A trailing ``(1995)`` gives the year; a year range such as ``(2006\u20132007)``
    (TV series) gives its first year; trailing spaces are ignored.

    >>> parse_title("Misérables, Les (1995) ")
    ('Misérables, Les', 1995)
    >>> parse_title("Death Note: Desu nôto (2006\u20132007)")
    ('Death Note: Desu nôto', 2006)
    """
    m = _TITLE_YEAR.match(raw)
    if m is None or not m.group("title"):
        return raw.strip(), None
    return m.group("title"), int(m.group("year"))


def _split_titles(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    parts = titles.str.extract(_TITLE_YEAR)
    has_year = parts["year"].notna() & parts["title"].fillna("").str.len().gt(0)
    title = parts["title"].where(has_year, titles.str.strip())
    year = pd.to_numeric(parts["year"].where(has_year), errors="raise").astype("Int64")
    return title.astype(str), year


def _parse_genres(genres: pd.Series) -> pd.Series:
    return genres.map(lambda g: [] if g == "(no genres listed)" else g.split("|"))


def _item_tags(tags: pd.DataFrame) -> pd.Series:
    """item_id -> list of distinct lower-cased tags, most frequent first, then alphabetical."""
    t = tags.assign(tag=tags["tag"].astype(str).str.strip().str.lower())
    t = t[t["tag"] != ""]
    counts = t.groupby(["movieId", "tag"]).size().rename("n").reset_index()
    counts = counts.sort_values(["movieId", "n", "tag"], ascending=[True, False, True])
    return counts.groupby("movieId")["tag"].agg(list)


def _join(values: pd.Series) -> pd.Series:
    return values.map(", ".join)


def build_text(title: pd.Series, year: pd.Series, genres: pd.Series, tags: pd.Series | None) -> pd.Series:
    """``"Title (year). Genres: a, b. Tags: x, y."``; empty parts and unknown years left out.

    >>> build_text(pd.Series(["Heat"]), pd.Series([1995], dtype="Int64"),
    ...            pd.Series([["Action", "Crime"]]), pd.Series([["pacino"]])).tolist()
    ['Heat (1995). Genres: Action, Crime. Tags: pacino.']
    """
    year_part = (" (" + year.astype("string") + ")").fillna("")
    text = title + year_part.astype(str) + "."
    has_genres = genres.map(len) > 0
    text = text + (" Genres: " + _join(genres) + ".").where(has_genres, "")
    if tags is not None:
        has_tags = tags.map(len) > 0
        text = text + (" Tags: " + _join(tags) + ".").where(has_tags, "")
    return text.astype(str)


def parse_archive(raw: bytes) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse the zip archive's bytes into ``(interactions, items)`` (no extraction to disk)."""
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        def read(name: str, **kw) -> pd.DataFrame:
            return pd.read_csv(io.BytesIO(zf.read(f"ml-latest-small/{name}")), encoding="utf-8", **kw)

        ratings = read("ratings.csv", dtype={"userId": np.int64, "movieId": np.int64,
                                             "rating": np.float64, "timestamp": np.int64})
        movies = read("movies.csv", dtype={"movieId": np.int64, "title": str, "genres": str},
                      keep_default_na=False)
        tags = read("tags.csv", dtype={"userId": np.int64, "movieId": np.int64, "tag": str,
                                       "timestamp": np.int64}, keep_default_na=False)

    interactions = ratings.rename(columns={"userId": "user_id", "movieId": "item_id"})
    interactions = interactions[["user_id", "item_id", "rating", "timestamp"]]

    title, year = _split_titles(movies["title"])
    genres = _parse_genres(movies["genres"])
    tag_lists = movies["movieId"].map(_item_tags(tags))
    tag_lists = tag_lists.map(lambda v: v if isinstance(v, list) else [])
    items = pd.DataFrame({
        "item_id": movies["movieId"].astype(np.int64),
        "title": title,
        "year": year,
        "genres": genres,
        "tags": tag_lists,
    })
    items["text"] = build_text(items["title"], items["year"], items["genres"], items["tags"])
    items["text_no_tags"] = build_text(items["title"], items["year"], items["genres"], None)
    return interactions.reset_index(drop=True), items.reset_index(drop=True)


@functools.lru_cache(maxsize=2)
def _parsed(path: str, size: int, mtime_ns: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read, verify and parse once per process (keyed by path, size and mtime)."""
    raw = Path(path).read_bytes()
    got = hashlib.sha256(raw).hexdigest()
    if got != SHA256:
        raise CourseKitError(_corrupt_message(Path(path), got))
    return parse_archive(raw)


def _copy_items(items: pd.DataFrame) -> pd.DataFrame:
    out = items.copy()
    for col in ("genres", "tags"):  # lists are mutable: copy them too
        out[col] = out[col].map(list)
    return out


def load_movielens(name: str = NAME, data_home: str | os.PathLike | None = None,
                   download: bool = True) -> Dataset:
    """Load MovieLens ml-latest-small as a :class:`Dataset` (verified, cached, parsed in memory).

    Parameters
    ----------
    name : str
        ``"ml-latest-small"`` (or its alias ``"movielens"``); the only size supported.
    data_home : path, optional
        Where to look for / download ``ml-latest-small.zip`` (default: ``COURSEKIT_DATA_HOME``,
        else the user cache folder). A read-only folder is read in place.
    download : bool
        Download from GroupLens when the archive is missing (default ``True``).

    Returns
    -------
    Dataset
        100,836 ratings by 610 users on 9,742 movies. Each call returns fresh copies of the
        tables (parsed once per process), so modifying them is safe.

    Examples
    --------
    Not run as a doctest (it needs the archive in the data home, or the internet):

    >>> data = load_movielens()  # doctest: +SKIP
    >>> data.items.loc[0, "text_no_tags"]  # doctest: +SKIP
    'Toy Story (1995). Genres: Adventure, Animation, Children, Comedy, Fantasy.'
    """
    if name not in NAMES:
        raise CourseKitError(f"Unknown MovieLens variant {name!r}; supported: {list(NAMES)}.")
    path = fetch_movielens(data_home, download=download)
    stat = path.stat()
    interactions, items = _parsed(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return Dataset(name=NAME, interactions=interactions.copy(), items=_copy_items(items),
                   users=None, license=LICENSE, citation=CITATION, truth={})
