"""No silent wrong answers: bad inputs get a clear error naming the argument (or a warning).

Each table row is one distinct bad input: the call, the error type, and a pattern that the
message must match, which names the argument (and, where it helps, the fix). The tables cover
data, splits, metrics, models, persistence, evaluation, exercises and the command line.
"""
from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coursekit._validation import CourseKitError
from coursekit.interactions import Interactions
from coursekit.splits import LeakageError, Split

# ---------------------------------------------------------------------------- shared data


@functools.cache
def log() -> pd.DataFrame:
    """A small log with ratings and integer timestamps (40 users, 30 items, unique pairs)."""
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({"user_id": rng.integers(0, 40, n), "item_id": rng.integers(100, 130, n),
                          "rating": rng.integers(1, 6, n).astype(float), "timestamp": rng.integers(0, 10_000, n)})
    return frame.drop_duplicates(["user_id", "item_id"]).reset_index(drop=True)


@functools.cache
def inter() -> Interactions:
    """The log as Interactions."""
    return Interactions.from_frame(log())


@functools.cache
def split() -> Split:
    """A random 80/20 split (train, test) with a validation part of 10%."""
    from coursekit.splits import random_split

    return random_split(inter(), test_frac=0.2, valid_frac=0.1, seed=0)


@functools.cache
def popular():
    """MostPopular fitted on the train part."""
    from coursekit.models import MostPopular

    return MostPopular().fit(split().train)


@functools.cache
def ials():
    """A tiny IALS fitted on the train part."""
    from coursekit.models import IALS

    return IALS(factors=2, iterations=1, seed=0).fit(split().train)


def expect(call: Callable[[], object], error: type[Exception], match: str) -> None:
    """Assert that ``call()`` raises ``error`` with a message matching ``match``.

    Parameters
    ----------
    call : callable
        The bad call, without arguments.
    error : exception type
        The expected type (a :class:`CourseKitError` or a subclass).
    match : str
        Regular expression the message must match; it names the argument.
    """
    with pytest.raises(error, match=match):
        call()


def _frame_with_missing(column: str) -> pd.DataFrame:
    """The log with ``column`` as nullable ``Int64`` and one missing id."""
    frame = log().copy()
    frame[column] = frame[column].astype("Int64")
    frame.loc[3, column] = pd.NA
    return frame


def _float_ids_with_nan() -> pd.DataFrame:
    """The log with float user ids and one NaN."""
    frame = log().copy()
    frame["user_id"] = frame["user_id"].astype(float)
    frame.loc[0, "user_id"] = np.nan
    return frame


# ---------------------------------------------------------------------------- data
DATA = [
    ("Int64 user_id with <NA>", lambda: Interactions.from_frame(_frame_with_missing("user_id")),
     CourseKitError, r"user_id has 1 missing id.*dropna"),
    ("Int64 item_id with <NA>", lambda: Interactions.from_frame(_frame_with_missing("item_id")),
     CourseKitError, r"item_id has 1 missing id.*dropna"),
    ("float user_id with NaN", lambda: Interactions.from_frame(_float_ids_with_nan()),
     CourseKitError, r"user_id has 1 missing id"),
    ("users= list holding None", lambda: Interactions.from_frame(log(), users=[*range(40), None]),
     CourseKitError, r"user_id has 1 missing id"),
    ("<NA> with an explicit universe", lambda: Interactions(_frame_with_missing("item_id"), inter().users,
                                                            inter().items),
     CourseKitError, r"item_id has 1 missing id"),
    ("IdMap.index of a 2-D array", lambda: inter().users.index(np.array([[0, 1], [2, 3]])),
     CourseKitError, r"users must be 1-D ids, got shape \(2, 2\)"),
]


@pytest.mark.parametrize("call, error, match", [r[1:] for r in DATA], ids=[r[0] for r in DATA])
def test_data(call: Callable, error: type[Exception], match: str) -> None:
    """Interaction logs and id maps refuse missing ids and 2-D id arrays, naming the column."""
    expect(call, error, match)


def _load_movielens(**kwargs):
    from coursekit.datasets import load_movielens

    return load_movielens(**kwargs)


DATA_HOME = [
    ("data_home=5", lambda tmp: _load_movielens(data_home=5), r"data_home must be a folder path.*got 5"),
    ("data_home=bytes", lambda tmp: _load_movielens(data_home=b"/tmp"), r"data_home must be a folder path"),
    ("data_home=list", lambda tmp: _load_movielens(data_home=[str(tmp)]), r"data_home must be a folder path"),
    ("data_home() of a float", lambda tmp: __import__("coursekit.datasets.home", fromlist=["x"]).data_home(3.5),
     r"data_home must be a folder path"),
    ("download='no'", lambda tmp: _load_movielens(data_home=tmp / "empty", download="no"),
     r"download must be True or False"),
]


@pytest.mark.parametrize("call, match", [r[1:] for r in DATA_HOME], ids=[r[0] for r in DATA_HOME])
def test_data_home(call: Callable, match: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The MovieLens loader refuses a data home that is not a path, and a non-bool ``download``."""
    from coursekit.datasets import movielens

    monkeypatch.setattr(movielens, "_download", _no_network)
    expect(lambda: call(tmp_path), CourseKitError, match)


def _no_network(url: str, folder: Path, filename: str) -> Path:
    """Stand-in for the download: the network is unreachable."""
    raise ConnectionError("network is unreachable")


def test_failed_fetch_leaves_no_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An offline fetch into a new data home removes the folders it created."""
    from coursekit.datasets import movielens

    monkeypatch.setattr(movielens, "_download", _no_network)
    home = tmp_path / "new" / "home"
    expect(lambda: movielens.fetch_movielens(home), CourseKitError, r"(?s)download failed.*the data home")
    assert not (tmp_path / "new").exists()


def test_make_shop_seed_is_named() -> None:
    """``make_shop(seed=-1)`` (validated by the shop module) names ``seed``."""
    from coursekit.datasets import make_shop

    expect(lambda: make_shop(seed=-1), CourseKitError, r"seed")


# ---------------------------------------------------------------------------- splits
def _splits():
    from coursekit import splits

    return splits


def _other_universe() -> Interactions:
    """The log over a wider item universe: indices do not line up with :func:`inter`."""
    return Interactions.from_frame(log(), items=np.arange(100, 140))


SEEDS = [-1, "abc", 1.5, True]

SPLITS = [
    *[(f"random_split seed={s!r}", lambda s=s: _splits().random_split(inter(), seed=s), CourseKitError, r"seed must be")
      for s in SEEDS],
    *[(f"cold_item_split seed={s!r}", lambda s=s: _splits().cold_item_split(inter(), seed=s), CourseKitError,
       r"seed must be") for s in (-1, 1.5)],
    *[(f"cold_user_split seed={s!r}", lambda s=s: _splits().cold_user_split(inter(), seed=s), CourseKitError,
       r"seed must be") for s in ("abc", True)],
    ("cut_time as a date string", lambda: _splits().global_temporal_split(inter(), cut_time="2020-01-01"),
     CourseKitError, r"cut_time must be a number in the unit of the timestamps.*pd.Timestamp"),
    ("cut_time as a Timestamp", lambda: _splits().global_temporal_split(inter(), cut_time=pd.Timestamp("2020-01-01")),
     CourseKitError, r"cut_time must be a number"),
    ("cut_time=True", lambda: _splits().global_temporal_split(inter(), cut_time=True),
     CourseKitError, r"cut_time must be a number"),
    ("valid_cut_time as a string", lambda: _splits().global_temporal_split(inter(), cut_time=8000,
                                                                          valid_cut_time="x"),
     CourseKitError, r"valid_cut_time must be a number"),
    ("check_no_leakage(Interactions)", lambda: _splits().check_no_leakage(inter()),
     CourseKitError, r"split must be a Split or a tuple"),
    ("check_no_leakage(list)", lambda: _splits().check_no_leakage([split().train, split().test]),
     CourseKitError, r"split must be a Split or a tuple"),
    ("check_no_leakage(1-tuple)", lambda: _splits().check_no_leakage((split().train,)),
     CourseKitError, r"split must be .* of length 1"),
    ("check_no_leakage test not Interactions", lambda: _splits().check_no_leakage((split().train, "test")),
     CourseKitError, r"split\.test must be coursekit Interactions"),
    ("check_no_leakage mixed universes", lambda: _splits().check_no_leakage((split().train, _other_universe())),
     CourseKitError, r"split: train and test have different items universes"),
    ("check_no_leakage mixed universes, cold", lambda: _splits().check_no_leakage(
        (split().train, _other_universe()), cold="item"), CourseKitError, r"split: .*different items universes"),
    ("check_no_leakage same events twice", lambda: _splits().check_no_leakage(Split(split().train, split().train)),
     LeakageError, r"event leakage: .* both train and test"),
    ("split_summary(list)", lambda: _splits().split_summary([split().train, split().test]),
     CourseKitError, r"split must be a Split or a tuple"),
]


@pytest.mark.parametrize("call, error, match", [r[1:] for r in SPLITS], ids=[r[0] for r in SPLITS])
def test_splits(call: Callable, error: type[Exception], match: str) -> None:
    """Splits refuse bad seeds and cuts; the split checks refuse what is not one split of one universe."""
    expect(call, error, match)


def test_check_no_leakage_accepts_a_plain_tuple() -> None:
    """A ``(train, test)`` tuple is checked like a Split (here: a cold-item split passes)."""
    s = _splits().cold_item_split(inter(), seed=0)
    _splits().check_no_leakage((s.train, s.test), cold="item")
    assert list(_splits().split_summary((s.train, s.test)).index) == ["train", "test"]


# ---------------------------------------------------------------------------- metrics
def _auc(batch_size):
    from coursekit.metrics import auc

    rel = sp.csr_matrix(np.eye(3, 4))
    return auc(np.random.default_rng(0).random((3, 4)), rel, batch_size=batch_size)


def _rating(fn: str, y_true, y_pred):
    from coursekit import metrics

    return getattr(metrics, fn)(y_true, y_pred)


R = np.arange(6.0).reshape(2, 3)

METRICS = [
    ("rmse(R, R.T)", lambda: _rating("rmse", R, R.T), r"y_true has shape \(2, 3\) .* y_pred has shape \(3, 2\)"),
    ("mae(R, R.T)", lambda: _rating("mae", R, R.T), r"y_true has shape .* y_pred has shape"),
    ("rmse column vs flat", lambda: _rating("rmse", np.ones((3, 1)), np.ones(3)), r"y_pred has shape \(3,\)"),
    ("mae flat vs row", lambda: _rating("mae", np.ones(4), np.ones((1, 4))), r"y_pred has shape \(1, 4\)"),
    *[(f"auc batch_size={b!r}", lambda b=b: _auc(b), r"batch_size must be a positive integer")
      for b in (-1, 0, 1.5, "10", True)],
]


@pytest.mark.parametrize("call, match", [r[1:] for r in METRICS], ids=[r[0] for r in METRICS])
def test_metrics(call: Callable, match: str) -> None:
    """Rating errors need aligned shapes; AUC needs a positive integer batch size."""
    expect(call, CourseKitError, match)


# ---------------------------------------------------------------------------- models
def _fit(name: str, **params):
    from coursekit import models

    return getattr(models, name)(**params).fit(inter())


MODELS = [
    *[(f"IALS seed={s!r}", lambda s=s: _fit("IALS", factors=2, iterations=1, seed=s), r"seed must be") for s in SEEDS],
    *[(f"BPR seed={s!r}", lambda s=s: _fit("BPR", factors=2, epochs=1, device="cpu", seed=s), r"seed must be")
      for s in (-1, True)],
    *[(f"BiasedMF seed={s!r}", lambda s=s: _fit("BiasedMF", factors=2, n_epochs=1, seed=s), r"seed must be")
      for s in (1.5, "abc")],
    *[(f"BaselineOnly seed={s!r}", lambda s=s: _fit("BaselineOnly", n_epochs=1, seed=s), r"seed must be")
      for s in (-1, True)],
    *[(f"RandomRecommender seed={s!r}", lambda s=s: _fit("RandomRecommender", seed=s), r"seed must be")
      for s in (-1, 1.5)],
    ("seed_everything(-1)", lambda: __import__("coursekit.env", fromlist=["x"]).seed_everything(-1), r"seed must be"),
    ("IALS factors=10**9", lambda: _fit("IALS", factors=10**9, iterations=1), r"factors=1000000000.* GiB"),
    ("BiasedMF factors=10**9", lambda: _fit("BiasedMF", factors=10**9, n_epochs=1), r"factors=1000000000.* GiB"),
    ("recommend 2-D users", lambda: popular().recommend(np.array([[0], [1]])), r"users must be 1-D ids, got shape"),
    ("score 2-D users", lambda: popular().score(np.array([[0, 1]])), r"users must be 1-D ids, got shape \(1, 2\)"),
    ("score 2-D items", lambda: popular().score([0], items=np.array([[100, 101]])), r"items must be 1-D ids"),
    ("predict_rating 2-D pairs", lambda: _fit("BaselineOnly", n_epochs=1).predict_rating(
        np.array([[0, 1]]), np.array([[100, 101]])), r"users must be 1-D ids"),
    ("similar_items 2-D items", lambda: ials().similar_items(np.array([[100, 101]])), r"items must be 1-D ids"),
]


@pytest.mark.parametrize("call, match", [r[1:] for r in MODELS], ids=[r[0] for r in MODELS])
def test_models(call: Callable, match: str) -> None:
    """Seeded models refuse bad seeds, huge sizes are refused up front, ids must be 1-D."""
    expect(call, CourseKitError, match)


# ---------------------------------------------------------------------------- persistence
def _saved(tmp: Path) -> Path:
    """A fitted IALS saved to ``tmp/model``."""
    return ials().save(tmp / "model")


def _edit_params(folder: Path, **changes) -> None:
    meta = json.loads((folder / "params.json").read_text())
    meta["params"].update(changes)
    (folder / "params.json").write_text(json.dumps(meta))


def _edit_meta(folder: Path, drop: str | None = None, **changes) -> None:
    meta = json.loads((folder / "params.json").read_text())
    meta.update(changes)
    meta.pop(drop, None)
    (folder / "params.json").write_text(json.dumps(meta))


def _flip_last_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))


def _truncate_unverified(folder: Path) -> None:
    """An old-format save (no checksum) whose array file is cut short."""
    _edit_meta(folder, drop="sha256")
    path = folder / "arrays.safetensors"
    path.write_bytes(path.read_bytes()[:40])


PERSISTENCE = [
    ("reg=-7", lambda f: _edit_params(f, reg=-7), r"params\.json: saved parameter reg=-7 is invalid"),
    ("factors='abc'", lambda f: _edit_params(f, factors="abc"), r"params\.json: saved parameter factors='abc'"),
    ("iterations=2.5", lambda f: _edit_params(f, iterations=2.5), r"params\.json: saved parameter iterations=2\.5"),
    ("solver='magic'", lambda f: _edit_params(f, solver="magic"), r"params\.json: invalid saved parameters: solver"),
    ("seed=-1", lambda f: _edit_params(f, seed=-1), r"params\.json: saved parameter seed=-1"),
    ("unknown parameter", lambda f: _edit_params(f, bogus=1), r"params\.json: IALS has no parameter.*bogus"),
    ("cold_users='maybe'", lambda f: _edit_meta(f, cold_users="maybe"), r"params\.json: cold_users must be"),
    ("flipped byte in the arrays", lambda f: _flip_last_byte(f / "arrays.safetensors"),
     r"arrays\.safetensors does not match the SHA-256"),
    ("truncated arrays, no checksum", _truncate_unverified, r"arrays\.safetensors cannot be read"),
    ("params.json not JSON", lambda f: (f / "params.json").write_text("{not json"), r"params\.json is not valid JSON"),
    ("params.json without kinds", lambda f: _edit_meta(f, drop="kinds"), r"params\.json lacks the 'kinds'"),
    ("params.json without class", lambda f: _edit_meta(f, drop="class"), r"params\.json lacks 'class'"),
    ("unknown module", lambda f: _edit_meta(f, module="coursekit.nope"), r"params\.json names class IALS"),
    ("arrays file deleted", lambda f: (f / "arrays.safetensors").unlink(), r"arrays\.safetensors is missing"),
    ("kinds lists a missing array", lambda f: _edit_meta(f, kinds={"ghost_": "array"}),
     r"fitted attribute ghost_ .*arrays\.safetensors"),
]


@pytest.mark.parametrize("damage, match", [r[1:] for r in PERSISTENCE], ids=[r[0] for r in PERSISTENCE])
def test_persistence(damage: Callable[[Path], None], match: str, tmp_path: Path) -> None:
    """A damaged or edited save is refused with an error naming the folder, the file and the value."""
    from coursekit.models.base import Recommender

    folder = _saved(tmp_path)
    damage(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the old-format row also warns (see below)
        with pytest.raises(CourseKitError, match=match) as info:
            Recommender.load(folder)
    assert str(folder) in str(info.value)


def test_load_folder_must_be_a_path() -> None:
    """``Recommender.load(5)`` names ``folder``."""
    from coursekit.models.base import Recommender

    expect(lambda: Recommender.load(5), CourseKitError, r"folder must be a folder path")


def test_a_save_without_checksum_loads_with_a_warning(tmp_path: Path) -> None:
    """Folders saved before checksums still load, with a warning that they are unverified."""
    from coursekit.models.base import Recommender

    folder = _saved(tmp_path)
    _edit_meta(folder, drop="sha256")
    with pytest.warns(UserWarning, match=r"no SHA-256 of arrays\.safetensors.*Save the model again"):
        loaded = Recommender.load(folder)
    users = split().train.users.ids
    np.testing.assert_array_equal(loaded.score(users), ials().score(users))


# ---------------------------------------------------------------------------- evaluation
def _ev():
    from coursekit import evaluation

    return evaluation


def _fitted_on_all():
    from coursekit.models import MostPopular

    return MostPopular().fit(inter())


EVALUATION = [
    ("evaluate, model fitted on all data", lambda: _ev().evaluate(_fitted_on_all(), split().train, split().test),
     r"train is not the data the model was fitted on.*split\.train"),
    ("evaluate, train and test swapped", lambda: _ev().evaluate(popular(), split().test, split().train),
     r"train is not the data the model was fitted on.*swapped"),
    ("evaluate_per_user, fitted on all", lambda: _ev().evaluate_per_user(_fitted_on_all(), split().train,
                                                                         split().test),
     r"train is not the data the model was fitted on"),
    ("evaluate_sampled, fitted on all", lambda: _ev().evaluate_sampled(_fitted_on_all(), split().train,
                                                                       split().test, n_negatives=5, ks=(5,)),
     r"train is not the data the model was fitted on"),
    *[(f"evaluate_per_user batch_size={b!r}", lambda b=b: _ev().evaluate_per_user(popular(), split().train,
                                                                                  split().test, batch_size=b),
       r"batch_size must be a positive integer") for b in (-1, 0)],
    *[(f"evaluate_sampled seed={s!r}", lambda s=s: _ev().evaluate_sampled(popular(), split().train, split().test,
                                                                          n_negatives=5, ks=(5,), seed=s),
       r"seed must be") for s in SEEDS],
    ("evaluate_sampled batch_size=-2", lambda: _ev().evaluate_sampled(popular(), split().train, split().test,
                                                                      n_negatives=5, ks=(5,), batch_size=-2),
     r"batch_size must be a positive integer"),
]


@pytest.mark.parametrize("call, match", [r[1:] for r in EVALUATION], ids=[r[0] for r in EVALUATION])
def test_evaluation(call: Callable, match: str) -> None:
    """The harness refuses a model fitted on test pairs, and bad seeds and batch sizes."""
    expect(call, CourseKitError, match)


def test_evaluate_warns_when_the_model_saw_other_data_than_train() -> None:
    """A model fitted on train + validation and evaluated with ``train`` warns, naming ``train``."""
    from coursekit.models import MostPopular

    s = split()
    train_valid = Interactions(pd.concat([s.train.frame, s.valid.frame]), inter().users, inter().items)
    model = MostPopular().fit(train_valid)
    with pytest.warns(UserWarning, match=r"train differs from the data the model was fitted on.*model\.fit\(train\)"):
        _ev().evaluate(model, s.train, s.test, ks=(5,), beyond=False)


def test_huge_k_is_clipped_to_the_catalogue() -> None:
    """``ks=(10**9,)`` ranks lists of the whole catalogue; precision still divides by the requested k."""
    s, model = split(), popular()
    n_items = s.train.n_items
    huge = _ev().evaluate(model, s.train, s.test, ks=(10**9,), metrics=("precision", "recall"), beyond=False)
    full = _ev().evaluate(model, s.train, s.test, ks=(n_items,), metrics=("precision", "recall"), beyond=False)
    huge, full = huge[huge.group == _ev().WARM], full[full.group == _ev().WARM]
    assert huge["k"].tolist() == [10**9, 10**9]
    np.testing.assert_allclose(huge["value"].to_numpy(), full["value"].to_numpy() * np.array([n_items / 10**9, 1]))
    per_user = _ev().evaluate_per_user(model, s.train, s.test, "recall", k=10**9)
    assert per_user.mean() == pytest.approx(full.loc[full.metric == "recall", "value"].item())


# ---------------------------------------------------------------------------- exercises
def _check(*args, **kwargs):
    from coursekit.exercises import check

    return check(*args, **kwargs)


def _student(recommended, relevant, k):
    return 0.0


EXERCISES = [
    ("misspelt name", lambda: _check("ex01_precison_at_k", _student),
     r"unknown exercise name 'ex01_precison_at_k'\. Did you mean 'ex01_precision_at_k'"),
    ("name=None", lambda: _check(None, _student), r"name must be the exercise's name as a string"),
    ("name as a list", lambda: _check(["ex01_precision_at_k"], _student), r"name must be .* got \['ex01"),
    ("verbose='no'", lambda: _check("ex01_precision_at_k", _student, verbose="no"), r"verbose must be True or False"),
]


@pytest.mark.parametrize("call, match", [r[1:] for r in EXERCISES], ids=[r[0] for r in EXERCISES])
def test_exercises(call: Callable, match: str) -> None:
    """``check`` names a bad exercise name (with the closest known one) and a non-bool ``verbose``."""
    expect(call, CourseKitError, match)


# ---------------------------------------------------------------------------- command line
def _a_file(tmp: Path) -> str:
    path = tmp / "a-file"
    path.write_text("not a folder")
    return str(path)


CLI = [
    ("unknown option", lambda tmp: ["run", "--bogus"], r"--bogus"),
    ("-p without '='", lambda tmp: ["run", "-p", "EPOCHS"], r"-p/--param: parameters are KEY=VALUE"),
    ("--notebooks without a value", lambda tmp: ["run", "--notebooks"], r"--notebooks"),
    ("data fetch without a name", lambda tmp: ["data", "fetch"], r"required: name"),
    ("unknown data action", lambda tmp: ["data", "nope"], r"argument action: invalid choice: 'nope'"),
    ("no command", lambda tmp: [], r"required: command"),
    ("--folder that does not exist", lambda tmp: ["exercises", "generate", "--folder", str(tmp / "nope")],
     r"--folder .* is not a folder"),
    ("--output that is a file", lambda tmp: ["run", "--notebooks", "00", "--output", _a_file(tmp)],
     r"--output .* is a file"),
]


@pytest.mark.parametrize("argv, match", [r[1:] for r in CLI], ids=[r[0] for r in CLI])
def test_cli(argv: Callable[[Path], list[str]], match: str, tmp_path: Path,
             capsys: pytest.CaptureFixture[str]) -> None:
    """Bad options return 2 (no traceback, no SystemExit) and name the option on stderr."""
    from coursekit.cli import main

    assert main(argv(tmp_path)) == 2
    assert __import__("re").search(match, capsys.readouterr().err)


def test_at_least_sixty_distinct_bad_inputs() -> None:
    """The tables above hold at least 60 distinct bad inputs."""
    tables = [DATA, DATA_HOME, SPLITS, METRICS, MODELS, PERSISTENCE, EVALUATION, EXERCISES, CLI]
    names = [row[0] for table in tables for row in table]
    assert len(names) == len(set(names)) and len(names) >= 60


@pytest.mark.parametrize("kwargs, name", [
    ({"n_events": 10**12}, "n_events"),
    ({"n_users": 10**12}, "n_users"),
    ({"n_items": 10**12}, "n_items"),
])
def test_make_shop_refuses_sizes_beyond_memory_up_front(kwargs: dict, name: str) -> None:
    """Huge sizes are refused before any allocation, naming the sizes and the fix."""
    from coursekit.datasets.shop import make_shop

    with pytest.raises(CourseKitError, match=name) as err:
        make_shop(**kwargs)
    assert "GiB" in str(err.value) and "lower" in str(err.value)


def test_ease_refuses_a_catalogue_beyond_memory_up_front(monkeypatch) -> None:
    """EASE's dense item-item matrices are sized before they are allocated."""
    import coursekit._validation as validation
    from coursekit.interactions import Interactions
    from coursekit.models import EASE

    monkeypatch.setattr(validation.os, "sysconf", lambda name: 100 if name == "SC_PHYS_PAGES" else 1)   # 100 bytes
    log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [1, 2, 2, 3, 1]})
    with pytest.raises(CourseKitError, match="EASE on 3 items"):
        EASE().fit(Interactions.from_frame(log))
