"""Tests of coursekit.datasets: the synthetic shop (model, determinism, shipped files) and the
MovieLens loader (checksum, offline behaviour, parsing). MovieLens tests that need the real
archive skip with a reason when it is not in COURSEKIT_DATA_HOME (see tests/conftest.py)."""
from __future__ import annotations

import io
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coursekit import CourseKitError
from coursekit.datasets import cache_info, data_home, fetch, load_dataset
from coursekit.datasets import movielens as ml
from coursekit.datasets import shop as sh
from coursekit.datasets.home import ENV_VAR
from coursekit.datasets.shop.catalogue import attribute_matrix
from coursekit.datasets.shop.population import choose_items


def movielens_available() -> bool:
    return (data_home() / ml.FILENAME).exists()


def need_movielens() -> None:
    if not movielens_available():
        if os.environ.get("COURSEKIT_REQUIRE_MOVIELENS") == "1":
            pytest.fail(f"{ml.FILENAME} not found in {data_home()}")
        pytest.skip(f"{ml.FILENAME} not found: set {ENV_VAR} to a folder holding it "
                    "or run `coursekit data fetch movielens` once online")

INTER_DTYPES = {"user_id": "int64", "item_id": "int64", "rating": "float64", "timestamp": "int64",
                "event": "str", "review": "str"}


@pytest.fixture(scope="module")
def small():
    return sh.make_shop(n_users=300, n_items=120, n_events=12_000, seed=3)


@pytest.fixture(scope="module")
def default_shop():
    return sh.load_shop()


# ============================================================================ shop
def test_shop_deterministic_and_seed_dependent(small):
    again = sh.make_shop(n_users=300, n_items=120, n_events=12_000, seed=3)
    pd.testing.assert_frame_equal(small.interactions, again.interactions)
    pd.testing.assert_frame_equal(small.items, again.items)
    pd.testing.assert_frame_equal(small.truth["user_tastes"], again.truth["user_tastes"])
    other = sh.make_shop(n_users=300, n_items=120, n_events=12_000, seed=4)
    assert not small.interactions["item_id"].equals(other.interactions["item_id"])


def test_shop_shapes_columns_dtypes(small):
    inter, items, users = small.interactions, small.items, small.users
    assert list(inter.columns) == list(INTER_DTYPES)
    assert {c: str(inter[c].dtype) for c in inter} == INTER_DTYPES
    assert len(inter) == 12_000 and len(items) == 120 and len(users) == 300
    assert items["item_id"].tolist() == list(range(1, 121))
    assert users["user_id"].tolist() == list(range(1, 301))
    assert set(inter["event"]) <= set(sh.EVENT_TYPES)
    assert list(items.columns) == ["item_id", "title", "text", "category", "brand", "price_band", "words",
                                   "release_time"]
    assert items["release_time"].dtype == np.int64 and users["signup_time"].dtype == np.int64
    assert items["words"].map(len).eq(sh.N_WORDS_PER_ITEM).all()
    assert inter.groupby("user_id").size().min() >= 3  # every user has a few events
    t = small.truth
    assert t["user_tastes"].shape == (300, sh.N_ATTRIBUTES) == (300, len(t["attribute_names"]))
    assert t["item_attributes"].shape == (120, sh.N_ATTRIBUTES)
    assert (t["item_attributes"].sum(axis=1) == 3 + sh.N_WORDS_PER_ITEM).all()  # cat + brand + band + words
    assert len(t["drift"]) == round(0.15 * 300) == len(t["drift_tastes"])


def test_shop_time_rules(small):
    inter, items, users = small.interactions, small.items, small.users
    release = items.set_index("item_id")["release_time"].loc[inter["item_id"]].to_numpy()
    assert (inter["timestamp"].to_numpy() >= release).all(), "an event before its item's release"
    signup = users.set_index("user_id")["signup_time"].loc[inter["user_id"]].to_numpy()
    assert (inter["timestamp"].to_numpy() >= signup).all()
    assert inter["timestamp"].between(sh.EPOCH, sh.EPOCH + 180 * sh.DAY - 1).all()
    # sorted by user, then time
    keys = inter[["user_id", "timestamp"]].to_numpy()
    assert (np.diff(keys[:, 0]) >= 0).all()
    same_user = np.diff(keys[:, 0]) == 0
    assert (np.diff(keys[:, 1])[same_user] >= 0).all()


def test_late_items_are_known_and_get_events(default_shop):
    items, inter = default_shop.items, default_shop.interactions
    late = items.loc[items["release_time"] > sh.EPOCH, "item_id"]
    assert len(late) == 100  # 10% of 1000
    assert default_shop.truth["release_time"].loc[late].gt(sh.EPOCH).all()
    # most late items are used after release, so the cold-start lessons have test events
    assert inter["item_id"].isin(late).groupby(inter["item_id"]).any().sum() >= 90


def test_drift_users_change_behaviour(default_shop):
    """After its drift time, a drift user's events move away from the categories it liked before."""
    inter, truth = default_shop.interactions, default_shop.truth
    names = truth["attribute_names"]
    cat_cols = [n for n in names if n.startswith("category=")]
    cat_of_item = truth["item_attributes"][cat_cols].to_numpy().argmax(axis=1)
    drift = truth["drift"].set_index("user_id")["drift_time"]
    ev = inter[inter["user_id"].isin(drift.index)]
    old_liked = truth["user_tastes"].loc[ev["user_id"], cat_cols].to_numpy() > 0
    new_liked = truth["drift_tastes"].loc[ev["user_id"], cat_cols].to_numpy() > 0
    cat = cat_of_item[ev["item_id"].to_numpy() - 1]
    in_old = old_liked[np.arange(len(ev)), cat]
    in_new = new_liked[np.arange(len(ev)), cat]
    after = ev["timestamp"].to_numpy() >= drift.loc[ev["user_id"]].to_numpy()
    assert 0.3 < after.mean() < 0.7
    assert in_old[~after].mean() > 0.4 and in_old[after].mean() < 0.15, (in_old[~after].mean(), in_old[after].mean())
    assert in_new[after].mean() > 0.4 and in_new[~after].mean() < 0.15
    # and the non-drift users do not move: same share in the first and second half of their events
    rest = inter[~inter["user_id"].isin(drift.index)]
    liked = truth["user_tastes"].loc[rest["user_id"], cat_cols].to_numpy() > 0
    hit = liked[np.arange(len(rest)), cat_of_item[rest["item_id"].to_numpy() - 1]]
    n_of_user = rest.groupby("user_id")["user_id"].transform("size").to_numpy()
    late_half = rest.groupby("user_id").cumcount().to_numpy() >= n_of_user / 2
    assert abs(hit[late_half].mean() - hit[~late_half].mean()) < 0.03


def _surface_forms(word: str) -> list[str]:
    adjectives, sentences = sh.WORD_FORMS[word]
    return [f.lower() for f in (*adjectives, *sentences)]


def test_event_types_ratings_reviews(default_shop):
    inter, truth = default_shop.interactions, default_shop.truth
    state_time = inter["timestamp"].to_numpy()
    theta = sh.taste_at(truth, inter["user_id"].to_numpy(), state_time)
    x = truth["item_attributes"].to_numpy(dtype=float)[inter["item_id"].to_numpy() - 1]
    a = (theta * x).sum(axis=1)
    # purchase share increases with affinity (ordered logit)
    bins = pd.qcut(a, 4, labels=False, duplicates="drop")
    share = pd.Series(inter["event"].eq("purchase").to_numpy()).groupby(bins).mean()
    assert share.is_monotonic_increasing and share.iloc[-1] > 2 * share.iloc[0]
    # ratings only on clicks and purchases, in 1..5, one per (user, item) pair, at its first engaged event
    rated = inter["rating"].notna()
    assert inter.loc[rated, "event"].isin(["click", "purchase"]).all()
    assert set(inter.loc[rated, "rating"].unique()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert not inter.loc[rated].duplicated(["user_id", "item_id"]).any()
    engaged = inter[inter["event"].isin(["click", "purchase"])]
    first = engaged.drop_duplicates(["user_id", "item_id"]).index
    assert rated[rated].index.isin(first).all()
    assert 0.8 < rated.sum() / len(first) < 1.0  # most first engagements are rated (calibrated shares)
    # the rating follows user bias, item bias and affinity
    r = inter.loc[rated, "rating"].to_numpy()
    bu = truth["user_rating_bias"].loc[inter.loc[rated, "user_id"]].to_numpy()
    bi = truth["item_rating_bias"].loc[inter.loc[rated, "item_id"]].to_numpy()
    for signal in (bu, bi, a[rated.to_numpy()]):
        assert np.corrcoef(signal, r)[0, 1] > 0.2
    q = truth["item_quality"].to_numpy()
    corr = np.corrcoef(truth["item_rating_bias"].to_numpy(), q)[0, 1]
    assert 0.2 < corr < 0.6  # item quality as raters see it: correlated with popularity, not equal
    expected = sh.expected_rating(truth, inter.loc[rated, "user_id"].to_numpy()[:2000],
                                  time=inter.loc[rated, "timestamp"].to_numpy()[:2000])
    mean_expected = expected[np.arange(2000), inter.loc[rated, "item_id"].to_numpy()[:2000] - 1]
    assert np.corrcoef(mean_expected, r[:2000])[0, 1] > 0.6
    # reviews only on rated events; a review names one of the item's words (in one of its surface forms)
    reviewed = inter["review"].notna()
    assert reviewed.sum() > 10_000 and (~reviewed | rated).all()
    words = default_shop.items.set_index("item_id")["words"]
    rv = inter[reviewed]
    assert all(any(f in text.lower() for w in words[i] for f in _surface_forms(w))
               for i, text in zip(rv["item_id"].iloc[:3000], rv["review"].iloc[:3000]))
    low = rv.loc[rv["rating"] <= 2, "review"]
    high = rv.loc[rv["rating"] >= 4, "review"]
    assert low.str.contains("Disappointed|Returned|put me off|Not for me").all()
    assert high.str.contains("Love|got it right|Really happy|Would buy again").all()
    pair = rv["review"].str.extract(r"I like that it is (.+), but the (.+) part")
    pair = pair.dropna()
    assert len(pair) > 10 and (pair[0] != pair[1]).all()


def test_calibration_targets_hold_on_the_shipped_shop(default_shop):
    """Targets 1 and 2 of the card (datasets/shop/README.md): MovieLens-like long tail and enough ratings."""
    from coursekit.datasets import describe

    d = describe(default_shop)["shop"]
    assert 0.55 <= d["top-10% item share"] <= 0.70, d["top-10% item share"]
    assert 0.65 <= d["item gini"] <= 0.80, d["item gini"]
    assert d["ratings"] >= 40_000 and d["median ratings per user"] >= 15
    assert d["rated pairs"] == d["ratings"]  # one rating per (user, item) pair
    assert d["events"] <= 250_000 and d["users"] == 2000 and d["items"] == 1000


def test_shipped_shop_equals_generated(default_shop):
    """The shipped files are exactly make_shop() with its defaults (regenerate: python -m coursekit.datasets.shop)."""
    fresh = sh.make_shop()
    for part in ("interactions", "items", "users"):
        pd.testing.assert_frame_equal(getattr(default_shop, part), getattr(fresh, part))
    assert default_shop.truth.keys() == fresh.truth.keys()
    for key, value in fresh.truth.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(default_shop.truth[key], value)
        elif isinstance(value, pd.Series):
            pd.testing.assert_series_equal(default_shop.truth[key], value)
        else:
            assert default_shop.truth[key] == value, key


def test_shop_save_load_roundtrip(small, tmp_path):
    sh.save_shop(small, tmp_path)
    back = sh.load_shop(tmp_path)
    pd.testing.assert_frame_equal(back.interactions, small.interactions)
    pd.testing.assert_frame_equal(back.truth["drift_tastes"], small.truth["drift_tastes"])
    (tmp_path / "items.csv.gz").unlink()
    with pytest.raises(CourseKitError, match="python -m coursekit.datasets.shop"):
        sh.load_shop(tmp_path)


def test_load_shop_returns_copies():
    a = sh.load_shop()
    a.interactions.loc[0, "item_id"] = -5
    a.items.loc[0, "words"].append("x")
    a.truth["user_tastes"].iloc[0, 0] = 99.0
    b = sh.load_shop()
    assert b.interactions.loc[0, "item_id"] != -5
    assert "x" not in b.items.loc[0, "words"]
    assert b.truth["user_tastes"].iloc[0, 0] != 99.0


def test_truth_helpers(small):
    truth = small.truth
    users = np.array([1, 2, 3])
    x = truth["item_attributes"].to_numpy(dtype=float)
    np.testing.assert_allclose(sh.affinity(truth, users), truth["user_tastes"].loc[users].to_numpy() @ x.T)
    p = sh.purchase_probability(truth, users, [1, 5])
    assert p.shape == (3, 2) and ((p > 0) & (p < 1)).all()
    # taste switches exactly at the drift time
    u, t = truth["drift"].iloc[0]
    np.testing.assert_array_equal(sh.taste_at(truth, [u], t - 1)[0], truth["user_tastes"].loc[u])
    np.testing.assert_array_equal(sh.taste_at(truth, [u], t)[0], truth["drift_tastes"].loc[u])
    # choice probabilities: rows sum to 1, unreleased items get 0
    probs = sh.choice_probabilities(truth, users, sh.EPOCH)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    late = truth["release_time"].to_numpy() > sh.EPOCH
    assert late.any() and (probs[:, late] == 0).all()
    with pytest.raises(CourseKitError, match="unknown shop user"):
        sh.taste_at(truth, [10**6])


def test_shop_choice_follows_truth():
    """Empirical item frequencies of one user match the choice probabilities of the model."""
    data = sh.make_shop(n_users=1, n_items=30, n_events=30_000, seed=5, late_item_frac=0.0, drift_user_frac=0.0)
    freq = np.bincount(data.interactions["item_id"] - 1, minlength=30) / 30_000
    expected = sh.choice_probabilities(data.truth, [1])[0]
    assert np.abs(freq - expected).max() < 0.01


@pytest.mark.parametrize("max_rounds", [20, 0])  # 0: every event goes through the exact Gumbel-max fallback
def test_choose_items_samples_the_restricted_softmax(max_rounds):
    """Rejection of unreleased items (and the fallback) draw from softmax over released items only."""
    rng = np.random.default_rng(0)
    n_items, n_events = 12, 40_000
    cols = np.column_stack([np.arange(n_items) % 8, 8 + np.arange(n_items) % 20, 28 + np.arange(n_items) % 3,
                            31 + np.arange(n_items), 31 + (np.arange(n_items) + 1) % 40,
                            31 + (np.arange(n_items) + 2) % 40])
    x = attribute_matrix(cols)
    theta = rng.normal(size=(2, sh.N_ATTRIBUTES))
    bias = rng.normal(size=n_items)
    release = np.where(np.arange(n_items) % 3 == 0, 100, 0)  # a third released at t=100
    state = np.repeat([0, 1], n_events // 2)
    t = np.full(n_events, 50)  # before the late items exist
    item = choose_items(rng, state, t, theta, x, bias, release, max_rounds=max_rounds)
    for s in (0, 1):
        logits = theta[s] @ x.T + bias
        p = np.where(release <= 50, np.exp(logits - logits.max()), 0.0)
        p /= p.sum()
        freq = np.bincount(item[state == s], minlength=n_items) / (n_events // 2)
        assert np.abs(freq - p).max() < 0.015
        assert freq[release > 50].sum() == 0


def test_make_shop_bad_arguments():
    with pytest.raises(CourseKitError, match="n_users"):
        sh.make_shop(n_users=0)
    with pytest.raises(CourseKitError, match="late_item_frac"):
        sh.make_shop(late_item_frac=1.0)
    with pytest.raises(CourseKitError, match="seed"):
        sh.make_shop(seed=1.5)
    with pytest.raises(CourseKitError, match="params must be a ShopParams"):
        sh.make_shop(params={"taste_scale": 1.0})


@pytest.mark.parametrize("field, value, message", [
    ("taste_scale", -1.0, r"taste_scale must be a finite number >= 0, got -1.0"),
    ("activity_sigma", float("nan"), r"activity_sigma must be a finite number, got nan"),
    ("rating_noise", "big", r"rating_noise must be a finite number, got 'big'"),
    ("user_bias_sd", -0.1, r"user_bias_sd must be a finite number >= 0, got -0.1"),
    ("item_bias_popularity_corr", 1.5, r"item_bias_popularity_corr must lie in \[-1, 1\], got 1.5"),
    ("rated_share", 1.2, r"rated_share must be a probability in \[0, 1\], got 1.2"),
    ("rated_click_share", -0.5, r"rated_click_share must be a probability in \[0, 1\], got -0.5"),
    ("review_share", True, r"review_share must be a finite number, got True"),
    ("rating_cuts", (1.0, 3.0, 2.0, 4.0),
     r"rating_cuts must be 4 increasing finite numbers, got \(1.0, 3.0, 2.0, 4.0\)"),
    ("rating_cuts", (1.0, 2.0), r"rating_cuts must be 4 increasing"),
    ("click_cut", 5.0, r"click_cut must be below purchase_cut, got click_cut=5.0"),
])
def test_make_shop_rejects_bad_params(field, value, message):
    with pytest.raises(CourseKitError, match=r"ShopParams\." + message):
        sh.make_shop(n_users=10, n_items=10, n_events=50, params=sh.ShopParams(**{field: value}))


def test_shop_texts_readable(default_shop):
    items = default_shop.items
    lengths = items["text"].str.len()
    assert lengths.between(50, 400).all() and lengths.std() > 20  # varied length
    assert items["title"].str.split().str.len().le(6).all()  # short titles: brand, line, noun
    assert all(t.startswith(b + " ") for b, t in zip(items["brand"], items["title"]))  # brands stay names
    assert all(b in t and b in d for b, t, d in zip(items["brand"], items["title"], items["text"]))
    assert not items["text"].str.contains(r"\{|\}|nan|None|\ba [aeio]", regex=True).any()
    # every attribute word appears in one of its surface forms ...
    for words, text in zip(items["words"], items["text"].str.lower()):
        assert all(any(f in text for f in _surface_forms(w)) for w in words), (words, text)
    # ... but often not literally, and filler sentences carry attribute words they do not mean
    literal = np.mean([all(w in t for w in ws) for ws, t in zip(items["words"], items["text"].str.lower())])
    assert literal < 0.25, literal
    assert items["text"].str.contains("Ships in recycled packaging.", regex=False).any()
    assert items["text"].str.contains("|".join(sh.FILLERS).replace(".", r"\."), regex=True).mean() > 0.5
    # price bands in several forms
    budget = items.loc[items["price_band"] == "budget", "text"].str.lower()
    forms = [f.lower() for f in (*sh.BAND_FORMS["budget"][0], *sh.BAND_FORMS["budget"][1])]
    used = {f for f in forms if budget.str.contains(f, regex=False).any()}
    assert len(used) >= 5 and not budget.str.contains("budget ", regex=False).all()


def test_describe_and_interactions(default_shop):
    desc = default_shop.describe()
    assert desc["interactions"] == 220_000 and desc["items"] == 1000
    inter = default_shop.to_interactions()
    assert inter.n_users == 2000 and inter.n_items == 1000


def test_load_dataset_names():
    assert load_dataset("shop").name == "shop"
    with pytest.raises(CourseKitError, match=r"available: \['ml-latest-small', 'movielens', 'shop'\]"):
        load_dataset("netflix")
    assert fetch("shop") == sh.SHOP_DATA
    with pytest.raises(CourseKitError, match="unknown data set"):
        fetch("netflix")


# ============================================================================ data home
def test_data_home_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert data_home() == tmp_path / "env"
    assert data_home(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv(ENV_VAR)
    import platformdirs

    assert data_home() == Path(platformdirs.user_cache_dir("coursekit"))


# ============================================================================ MovieLens (no archive needed)
@pytest.mark.parametrize("raw, title, year", [
    ("Toy Story (1995)", "Toy Story", 1995),
    ("From Dusk Till Dawn 2: Texas Blood Money (1999) ", "From Dusk Till Dawn 2: Texas Blood Money", 1999),
    ("Babylon 5", "Babylon 5", None),
    ("Death Note: Desu nôto (2006\u20132007)", "Death Note: Desu nôto", 2006),
    ("Misérables, Les (1995)", "Misérables, Les", 1995),
    ("Big Bang Theory, The (2007-)", "Big Bang Theory, The", 2007),
    ("1984 (1956)", "1984", 1956),
    ("(500) Days of Summer (2009)", "(500) Days of Summer", 2009),
    ("2001", "2001", None),
])
def test_parse_title(raw, title, year):
    assert ml.parse_title(raw) == (title, year)
    got_title, got_year = ml._split_titles(pd.Series([raw], dtype="str"))
    assert got_title.iloc[0] == title
    assert (pd.isna(got_year.iloc[0]) if year is None else got_year.iloc[0] == year)


def _tiny_archive() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ml-latest-small/movies.csv",
                    'movieId,title,genres\n1,Heat (1995),Action|Crime|Thriller\n'
                    '2,"Misérables, Les (1995) ",(no genres listed)\n3,Babylon 5,Sci-Fi\n4,NA,Drama\n')
        zf.writestr("ml-latest-small/ratings.csv",
                    "userId,movieId,rating,timestamp\n1,1,4.5,964982703\n1,3,3.0,964981247\n2,1,0.5,964982224\n")
        zf.writestr("ml-latest-small/tags.csv",
                    "userId,movieId,tag,timestamp\n1,1,Pacino,1\n2,1,pacino ,2\n2,1,heist,3\n3,1,heist,4\n"
                    "1,3,space,5\n")
    return buf.getvalue()


def test_parse_archive_by_hand():
    inter, items = ml.parse_archive(_tiny_archive())
    assert inter.to_dict("list") == {"user_id": [1, 1, 2], "item_id": [1, 3, 1], "rating": [4.5, 3.0, 0.5],
                                     "timestamp": [964982703, 964981247, 964982224]}
    assert [str(d) for d in inter.dtypes] == ["int64", "int64", "float64", "int64"]
    rows = items.set_index("item_id")
    assert rows.loc[1, "tags"] == ["heist", "pacino"]  # distinct, lower-cased, ties alphabetical
    assert rows.loc[1, "text"] == "Heat (1995). Genres: Action, Crime, Thriller. Tags: heist, pacino."
    assert rows.loc[1, "text_no_tags"] == "Heat (1995). Genres: Action, Crime, Thriller."
    assert rows.loc[2, "genres"] == [] and rows.loc[2, "title"] == "Misérables, Les"
    assert rows.loc[2, "text"] == "Misérables, Les (1995)."
    assert pd.isna(rows.loc[3, "year"]) and rows.loc[3, "text"] == "Babylon 5. Genres: Sci-Fi. Tags: space."
    assert rows.loc[4, "title"] == "NA"  # a movie called "NA" is not a missing value
    assert str(items["year"].dtype) == "Int64"


def test_corrupted_archive_is_rejected(tmp_path):
    bad = tmp_path / ml.FILENAME
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(CourseKitError) as err:
        ml.load_movielens(data_home=tmp_path)
    msg = str(err.value)
    got = ml.sha256_of(bad)
    assert str(bad) in msg and ml.SHA256 in msg and got in msg
    assert "delete it" in msg and "coursekit data fetch movielens" in msg
    with pytest.raises(CourseKitError, match="expected"):  # a valid zip with other bytes is rejected too
        bad.write_bytes(_tiny_archive())
        ml.load_movielens(data_home=tmp_path)


def test_offline_without_cache(tmp_path, monkeypatch):
    def no_network(url, folder, filename):
        raise ConnectionError("Failed to establish a new connection: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(ml, "_download", no_network)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "home"))
    with pytest.raises(CourseKitError) as err:
        ml.load_movielens()
    msg = str(err.value)
    for needle in (ENV_VAR, "coursekit data fetch movielens", "load_shop()", str(tmp_path / "home"), "ConnectionError"):
        assert needle in msg, needle
    with pytest.raises(CourseKitError, match="download=False"):
        ml.load_movielens(download=False)
    with pytest.raises(CourseKitError, match="coursekit data fetch"):
        load_dataset("movielens")


def test_download_is_verified(tmp_path, monkeypatch):
    """Whatever the downloader returns is hash-checked before use."""
    def bad_download(url, folder, filename):
        path = Path(folder) / filename
        path.write_bytes(b"tampered")
        return path

    monkeypatch.setattr(ml, "_download", bad_download)
    with pytest.raises(CourseKitError, match="SHA-256 expected"):
        fetch("movielens", data_home=tmp_path)


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True,
                    reason="root can write into read-only folders; needs a non-root POSIX user")
def test_read_only_home_without_archive(tmp_path):
    home = tmp_path / "ro"
    home.mkdir()
    home.chmod(0o555)
    try:
        with pytest.raises(CourseKitError, match="not writable"):
            ml.load_movielens(data_home=home)
    finally:
        home.chmod(0o755)


def test_unknown_movielens_variant():
    with pytest.raises(CourseKitError, match="ml-latest-small"):
        ml.load_movielens("ml-25m")


# ============================================================================ MovieLens (real archive)
def test_movielens_counts_and_dtypes(movielens):
    inter, items = movielens.interactions, movielens.items
    assert len(inter) == 100_836 and inter["user_id"].nunique() == 610 and len(items) == 9_742
    assert inter["item_id"].nunique() == 9_724
    assert [str(d) for d in inter.dtypes] == ["int64", "int64", "float64", "int64"]
    assert sorted(inter["rating"].unique()) == [x / 2 for x in range(1, 11)]
    assert movielens.name == "ml-latest-small"
    assert "research" in movielens.license and "Harper" in movielens.citation


def test_movielens_items(movielens):
    rows = movielens.items.set_index("item_id")
    assert rows.loc[1, "title"] == "Toy Story" and rows.loc[1, "year"] == 1995
    assert rows.loc[1, "genres"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert rows.loc[1, "text_no_tags"] == "Toy Story (1995). Genres: Adventure, Animation, Children, Comedy, Fantasy."
    assert rows.loc[1, "text"].startswith(rows.loc[1, "text_no_tags"] + " Tags: ")
    assert int(rows["year"].isna().sum()) == 12  # 13 titles without "(year)" minus "Death Note ... (2006-2007)"
    assert int((rows["genres"].map(len) == 0).sum()) == 34
    assert rows["tags"].map(len).gt(0).sum() == 1572
    all_tags = [t for ts in rows["tags"] for t in ts]
    assert all(t == t.lower().strip() for t in all_tags)
    assert rows["tags"].map(lambda ts: len(ts) == len(set(ts))).all()
    assert not rows["text_no_tags"].str.contains("Tags:").any()


def test_movielens_returns_copies(movielens):
    from coursekit.datasets import load_movielens

    a = load_movielens()
    a.items.loc[0, "genres"].append("Western")
    a.interactions.loc[0, "rating"] = -1.0
    b = load_movielens()
    assert "Western" not in b.items.loc[0, "genres"] and b.interactions.loc[0, "rating"] != -1.0


def test_movielens_describe(movielens):
    desc = movielens.describe()
    assert desc["interactions"] == 100_836 and desc["rating 4"] == 26_818
    assert movielens.to_interactions().n_items == 9_742


def test_movielens_fake_download_into_empty_home(tmp_path, monkeypatch):
    """A successful (simulated) download is stored in the data home and then used from there."""
    need_movielens()
    source = Path(data_home()) / ml.FILENAME

    def copy_download(url, folder, filename):
        assert url == ml.URL
        return Path(shutil.copy(source, Path(folder) / filename))

    monkeypatch.setattr(ml, "_download", copy_download)
    home = tmp_path / "new" / "home"
    path = fetch("movielens", data_home=home)
    assert path == home / ml.FILENAME and ml.sha256_of(path) == ml.SHA256
    monkeypatch.setattr(ml, "_download", None)  # now it must not download again
    assert len(ml.load_movielens(data_home=home).interactions) == 100_836


def test_cache_info(tmp_path):
    info = cache_info(tmp_path)
    assert list(info.columns) == ["name", "path", "exists", "size", "verified", "note"]
    row = info.set_index("name").loc["ml-latest-small"]
    assert not row["exists"] and row["verified"] is None
    shop_row = info.set_index("name").loc["shop"]
    assert shop_row["exists"] and 0 < shop_row["size"] < 5_000_000
    if movielens_available():
        row = cache_info().set_index("name").loc["ml-latest-small"]
        assert row["exists"] and row["verified"] and row["size"] == 978_202
