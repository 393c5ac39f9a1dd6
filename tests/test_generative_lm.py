"""Lesson 09's language-model side: tokenizer, shop corpus, a tiny GPT-2, likelihoods, the LM ranker and its
biases, generated explanations and the attribute checks against the shop's truth."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from coursekit._validation import CourseKitError
from coursekit.datasets import load_shop
from coursekit.generative.explanations import (
    check_explanations,
    explanation_prompt,
    extract_attributes,
    generate_explanations,
    hallucination_summary,
    item_attribute_sets,
    liked_attribute_sets,
    template_explanations,
)
from coursekit.generative.lm import (
    build_causal_lm,
    detokenize,
    load_causal_lm,
    review_prompt,
    sequence_log_likelihood,
    shop_corpus,
    train_causal_lm,
    train_tokenizer,
)
from coursekit.generative.lm_ranker import LMRanker, popularity_correlation, position_bias, ranking_prompt

KINDS = ("word", "category", "price", "brand")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread (no OpenMP spinning on a shared machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def shop():
    return load_shop()


@pytest.fixture(scope="module")
def train_log(shop):
    log = shop.interactions
    return log[log["timestamp"] < log["timestamp"].quantile(0.5)]


@pytest.fixture(scope="module")
def corpus(shop, train_log):
    return shop_corpus(shop, train_log)


@pytest.fixture(scope="module")
def tok(corpus):
    return train_tokenizer(corpus)


@pytest.fixture(scope="module")
def tiny(tok):
    return build_causal_lm(len(tok), dim=16, n_layers=1, n_heads=2, max_len=128, seed=0, dropout=0.0).eval()


# ---------------------------------------------------------------------------- tokenizer
def test_tokenizer_specials_lowercase_punctuation_and_unknown_words():
    tok = train_tokenizer(["The Lumen mug; quick-drying.", "the mug"], min_frequency=1)
    assert tok.convert_ids_to_tokens([0, 1, 2, 3]) == ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]
    assert (tok.pad_token_id, tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2, 3)
    words = tok.convert_ids_to_tokens(tok("LUMEN quick-drying; zebra")["input_ids"])
    assert words == ["lumen", "quick", "-", "drying", ";", "[UNK]"]
    rare = train_tokenizer(["the mug", "the cup"], min_frequency=2)
    assert rare.convert_ids_to_tokens(rare("the mug")["input_ids"]) == ["the", "[UNK]"]
    with pytest.raises(CourseKitError, match="list of strings"):
        train_tokenizer("one text")


def test_decode_then_detokenize_gives_the_lowercased_copy_back(shop, tok):
    texts = shop.items["text"].tolist()[:300]
    back = [detokenize(tok.decode(ids)) for ids in tok(texts, add_special_tokens=False)["input_ids"]]
    same = np.mean([b == t.lower() for b, t in zip(back, texts)])
    assert same >= 0.99, same


# ---------------------------------------------------------------------------- corpus
def _naive_history(log: pd.DataFrame, user, time, k: int) -> list:
    first = log.sort_values(["user_id", "timestamp"], kind="stable").drop_duplicates(["user_id", "item_id"])
    mine = first[(first["user_id"] == user) & (first["timestamp"] < time)]
    return mine["item_id"].tolist()[-k:]


def test_review_documents_match_a_naive_loop_and_use_only_earlier_events(shop, train_log, corpus):
    titles = shop.items.set_index("item_id")["title"]
    reviews = train_log[train_log["review"].notna()]
    n_items = len(shop.items)
    assert corpus[:n_items][0].startswith(titles.iloc[0] + ". ")
    docs = corpus[n_items:n_items + len(reviews)]
    rng = np.random.default_rng(0)
    for r in rng.choice(len(reviews), size=60, replace=False):
        row = reviews.iloc[r]
        hist = _naive_history(train_log, row["user_id"], row["timestamp"], 5)
        assert row["item_id"] not in hist                       # rated at its first event: not its own history
        expected = review_prompt([titles[i] for i in hist], titles[row["item_id"]]) + " " + row["review"]
        assert docs[r] == expected
    assert any("who bought" in d for d in docs) and any(d.startswith("A customer wrote") for d in docs)


def test_history_documents_and_the_training_cut(shop, train_log, corpus):
    late_titles = set(shop.items.set_index("item_id").loc[
        sorted(set(shop.interactions["item_id"]) - set(train_log["item_id"])), "title"])
    hist_docs = [d for d in corpus if d.startswith("A customer bought ")]
    n_pairs = len(train_log.drop_duplicates(["user_id", "item_id"]))
    n_titles = sum(d.count("; ") + 1 for d in hist_docs)
    assert n_titles == n_pairs                               # every (user, item) once, in documents of <= 10
    assert max(d.count("; ") + 1 for d in hist_docs) == 10
    assert not any(t in d for d in hist_docs[:500] for t in late_titles)   # items first seen after the cut never
    small = shop_corpus(shop, train_log.head(0), copy=False)
    assert small == []
    with pytest.raises(CourseKitError, match="without a title"):
        shop_corpus(shop.items.head(5), train_log)


# ---------------------------------------------------------------------------- model, training, likelihoods
def test_build_is_seeded_and_checks_its_arguments():
    a, b = build_causal_lm(30, dim=16, n_layers=1, n_heads=2, seed=1), build_causal_lm(30, dim=16, n_layers=1,
                                                                                        n_heads=2, seed=1)
    c = build_causal_lm(30, dim=16, n_layers=1, n_heads=2, seed=2)
    wa, wb, wc = (m.transformer.wte.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    with pytest.raises(CourseKitError, match="multiple of n_heads"):
        build_causal_lm(30, dim=10, n_heads=4)


def _naive_ll(model, tok, prompt: str, cont: str) -> float:
    p = [tok.bos_token_id] + tok(prompt, add_special_tokens=False)["input_ids"]
    c = tok(cont, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([p + c])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0], dim=-1)
    return float(sum(logp[len(p) - 1 + j, t] for j, t in enumerate(c)))


def test_sequence_log_likelihood_equals_a_one_at_a_time_loop(tok, tiny, shop):
    titles = shop.items["title"].tolist()
    prompts = [ranking_prompt(titles[k:k + 1 + k % 4], titles[k + 5:k + 8]) for k in range(12)]
    conts = [titles[k + 20] + (" extra words" if k % 3 == 0 else "") for k in range(12)]
    got = sequence_log_likelihood(tiny, tok, prompts, conts, batch_size=5)
    naive = np.array([_naive_ll(tiny, tok, p, c) for p, c in zip(prompts, conts)])
    np.testing.assert_allclose(got, naive, rtol=1e-4, atol=1e-4)
    assert np.all(got < 0)
    one = sequence_log_likelihood(tiny, tok, prompts, conts, batch_size=1)
    np.testing.assert_allclose(one, got, rtol=1e-4, atol=1e-4)
    n_tok = np.array([len(tok(c, add_special_tokens=False)["input_ids"]) for c in conts])
    np.testing.assert_allclose(sequence_log_likelihood(tiny, tok, prompts, conts, reduce="mean"), got / n_tok,
                               rtol=1e-5)
    long = sequence_log_likelihood(tiny, tok, [" ".join(titles[:100])], [titles[0]])    # keeps the last tokens
    assert np.isfinite(long).all()
    with pytest.raises(CourseKitError, match="same length"):
        sequence_log_likelihood(tiny, tok, prompts, conts[:3])


def test_training_lowers_the_loss_is_deterministic_and_stops_early(tok):
    texts = ["a customer bought lumen willow mug ; nimbus echo kettle ."] * 40 + ["soft to the touch ."] * 40
    runs = []
    for _ in range(2):
        net = build_causal_lm(len(tok), dim=16, n_layers=1, n_heads=2, max_len=32, seed=0, dropout=0.0)
        runs.append(train_causal_lm(net, tok, texts, epochs=4, batch_size=16, lr=1e-2, valid_texts=texts[::8],
                                    seed=0, device="cpu"))
    h = runs[0]
    assert h["train_loss"] == runs[1]["train_loss"]
    assert h["valid_loss"][-1] < 0.5 * h["valid_loss"][0]
    assert h["train_loss"][-1] < h["train_loss"][0] and h["tokens_per_s"][0] > 0 and h["n_tokens"] > 0
    assert h["best_epoch"] == int(np.argmin(h["valid_loss"])) + 1
    # a validation set the model cannot learn: stops after `patience` epochs without improvement
    net = build_causal_lm(len(tok), dim=16, n_layers=1, n_heads=2, max_len=32, seed=0, dropout=0.0)
    odd = train_causal_lm(net, tok, texts, epochs=20, batch_size=16, lr=5e-2, valid_texts=["zebra llama okapi"] * 4,
                          patience=1, device="cpu")
    assert len(odd["train_loss"]) < 20 and len(odd["train_loss"]) - odd["best_epoch"] == 1
    quick = train_causal_lm(net, tok, texts * 50, epochs=50, batch_size=4, time_budget_s=0.2, device="cpu")
    assert len(quick["train_loss"]) == 1 and quick["seconds"] < 5
    with pytest.raises(CourseKitError, match="texts is empty"):
        train_causal_lm(net, tok, [], epochs=1)


def test_load_causal_lm_reads_a_saved_folder_like_a_hub_model(tmp_path):
    """The path a hub id takes online (AutoTokenizer / AutoModelForCausalLM), fed a folder offline."""
    tok = train_tokenizer(["red wool scarf", "blue oak table", "green steel lamp"])
    net = build_causal_lm(len(tok), dim=8, n_layers=1, n_heads=2, max_len=16, seed=0).eval()
    net.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    loaded, loaded_tok = load_causal_lm(str(tmp_path), device="cpu", local_files_only=True)
    prompts, conts = ["red wool", "blue"], ["scarf", "oak table"]
    np.testing.assert_allclose(sequence_log_likelihood(loaded, loaded_tok, prompts, conts),
                               sequence_log_likelihood(net, tok, prompts, conts), rtol=1e-6)


def test_load_causal_lm_offline_says_what_to_do():
    with pytest.raises(CourseKitError, match="needs internet") as err:
        load_causal_lm("coursekit-tests/no-such-model-anywhere", local_files_only=True)
    assert "build_causal_lm" in str(err.value)
    with pytest.raises(CourseKitError, match="hub_id"):
        load_causal_lm("")


# ---------------------------------------------------------------------------- LM ranker
def test_ranker_scores_are_the_continuation_likelihoods(tok, tiny, shop):
    titles = shop.items["title"].tolist()
    hist, cands = [titles[:3], titles[3:4]], [titles[10:14], titles[20:22]]
    ranker = LMRanker(tiny, tok, normalize=False)
    s = ranker.score(hist, cands)
    assert [len(x) for x in s] == [4, 2]
    direct = sequence_log_likelihood(tiny, tok, [ranking_prompt(hist[1], cands[1])] * 2, cands[1])
    np.testing.assert_allclose(s[1], direct, rtol=1e-5)
    mean = ranker.score(hist, cands, normalize=True)
    assert all(np.all(m > x) for m, x in zip(mean, s))                   # per-token mean of negatives > their sum
    assert "Options" not in ranking_prompt(hist[0], cands[0], options=False)
    with pytest.raises(CourseKitError, match="one entry per query"):
        ranker.score(hist, cands[:1])


class PositionOnly:
    """A stub ranker that only likes whatever is listed first (scores -position)."""

    def score(self, histories, candidates):
        return [-np.arange(1.0, len(c) + 1) for c in candidates]


def test_position_bias_finds_a_pure_position_effect_and_none_without_options(tok, tiny, shop):
    titles = shop.items["title"].tolist()
    hist = [titles[k:k + 2] for k in range(0, 40, 4)]
    cands = [titles[100 + 5 * k:105 + 5 * k] for k in range(10)]
    pb = position_bias(PositionOnly(), hist, cands, n_orders=6, seed=0)
    assert pb.per_query["top1_changed"].mean() > 0.8
    assert (pb.per_query["first_minus_last"] > 0).all()
    np.testing.assert_allclose(pb.by_position["mean_rank"].to_numpy(), np.arange(1, 6))
    assert pb.scores[0].shape == (6, 5) and (np.sort(pb.positions[0], axis=1) == np.arange(1, 6)).all()
    flat = position_bias(LMRanker(tiny, tok, options=False), hist, cands, n_orders=3, seed=0)
    np.testing.assert_allclose(flat.per_query["kendall_tau"], 1.0)
    assert not flat.per_query["top1_changed"].any()
    np.testing.assert_allclose(flat.by_position["score_shift"], 0.0, atol=1e-5)
    real = position_bias(LMRanker(tiny, tok), hist, cands, n_orders=3, seed=0)
    assert real.per_query["kendall_tau"].between(-1, 1).all() and len(real.by_position) == 5


def test_popularity_correlation():
    s = [np.array([3.0, 2.0, 1.0]), np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0])]
    p = [np.array([100, 10, 1]), np.array([5, 1, 50, 7]), np.array([1, 2, 3]), np.array([1, 2])]
    rho = popularity_correlation(s, p)
    assert rho[0] == pytest.approx(1.0) and rho[1] == pytest.approx(0.6) and np.isnan(rho[2:]).all()
    with pytest.raises(CourseKitError, match="align"):
        popularity_correlation([np.ones(3)], [np.ones(2)])


# ---------------------------------------------------------------------------- attributes in text
def _scores(found: list[set], truth: list[set]) -> dict:
    out = {}
    for kind in KINDS:
        tp = fp = fn = 0
        for f, t in zip(found, truth):
            f, t = {a for a in f if a.startswith(kind + "=")}, {a for a in t if a.startswith(kind + "=")}
            tp, fp, fn = tp + len(f & t), fp + len(f - t), fn + len(t - f)
        out[kind] = (tp / max(tp + fn, 1), tp / max(tp + fp, 1))
    return out


def test_extractor_recovers_every_items_attributes_from_its_product_copy(shop):
    sets = item_attribute_sets(shop.truth)
    found = [extract_attributes(t) for t in shop.items["text"]]
    scores = _scores(found, [sets[i] for i in shop.items["item_id"]])
    for kind, (recall, precision) in scores.items():   # measured: 1.0 and 1.0 for every kind on the shop
        assert recall >= 0.95 and precision >= 0.95, (kind, recall, precision)


def test_extractor_on_reviews_names_only_true_attributes(shop):
    sets = item_attribute_sets(shop.truth)
    rev = shop.interactions[shop.interactions["review"].notna()].head(3000)
    found = [extract_attributes(t) for t in rev["review"]]
    false = sum(len(f - sets[i]) for f, i in zip(found, rev["item_id"]))
    assert false / sum(len(f) for f in found) < 0.01
    assert np.mean([any(a.startswith("word=") for a in f) for f in found]) > 0.95


def test_extractor_longest_match_fillers_quotes_and_decoded_spacing():
    assert extract_attributes("Made with soft cotton.") == {"word=cotton"}
    assert extract_attributes("A quick-drying towel.") == {"word=quick-drying"}
    assert extract_attributes("a quick - drying , fast - drying vest .") == {"word=quick-drying", "category=outerwear"}
    assert extract_attributes("Ships in recycled packaging. A classic gift idea.") == set()
    assert extract_attributes("RECYCLED") == {"word=recycled"}
    assert extract_attributes("Stainless steel that will not rust.") == {"word=stainless"}
    assert extract_attributes("A reading lamp with a task light.") == {"category=electronics"}
    assert extract_attributes("lightweight") == {"word=lightweight"} and extract_attributes("delight") == set()
    assert extract_attributes('Because you liked "Lumen Willow mug", we recommend it.') == set()
    assert extract_attributes('"Lumen Willow mug"', ignore_quoted=False) == {"brand=Lumen", "category=kitchen"}
    assert extract_attributes("budget price, Granite Row brand") == {"price=budget", "brand=Granite Row"}
    with pytest.raises(CourseKitError, match="string"):
        extract_attributes(None)


def test_template_explanations_assert_what_because_reports_and_never_hallucinate(shop, train_log):
    from coursekit.interactions import Interactions
    from coursekit.models import EASE

    model = EASE(reg=300.0).fit(Interactions.from_frame(train_log))
    titles = shop.items.set_index("item_id")["title"]
    users = model.users_.ids[:15]
    items = model.recommend(users, k=1)[0][:, 0]
    frame = template_explanations(model, shop.truth, users, items, titles)
    assert len(frame) == 15 and frame["text"].str.contains("matches your taste for").all()
    assert [extract_attributes(t) for t in frame["text"]] == frame["attributes"].tolist()
    sets = item_attribute_sets(shop.truth)
    checked = check_explanations(frame["attributes"], [sets[i] for i in items], liked_attribute_sets(shop.truth, users))
    assert checked["n_hallucinated"].sum() == 0 and checked["n_asserted"].min() >= 1
    with_items = template_explanations(model, shop.truth, users[:2], items[:2], titles, method="exact")
    assert with_items["text"].str.startswith("Because you liked").all()
    assert [extract_attributes(t) for t in with_items["text"]] == with_items["attributes"].tolist()


def test_attribute_sets_and_liked_sets(shop):
    sets = item_attribute_sets(shop.truth)
    row = shop.items.iloc[7]
    assert sets[row["item_id"]] == ({f"category={row['category']}", f"brand={row['brand']}",
                                     f"price={row['price_band']}"} | {f"word={w}" for w in row["words"]})
    liked = liked_attribute_sets(shop.truth, [1, 2, 3])
    top2 = liked_attribute_sets(shop.truth, [1, 2, 3], top=2)
    theta = shop.truth["user_tastes"].loc[[1, 2, 3]]
    assert liked[0] == set(theta.columns[theta.iloc[0].to_numpy() > 0])
    assert all(t <= full and len(t) == min(2, len(full)) for t, full in zip(top2, liked))


def test_check_and_summary_by_hand():
    asserted = [{"a", "b"}, {"c"}, set(), {"a", "d", "e"}]
    items = [{"a", "b"}, {"a"}, {"a"}, {"a"}]
    likes = [{"b"}, {"c"}, set(), {"d"}]
    f = check_explanations(asserted, items, likes)
    assert f["n_asserted"].tolist() == [2, 1, 0, 3] and f["n_hallucinated"].tolist() == [0, 1, 0, 2]
    assert f["n_agree"].tolist() == [1, 1, 0, 1] and np.isnan(f["hallucination_share"].iloc[2])
    s = hallucination_summary(f)
    assert s.loc["hallucination_rate", "estimate"] == pytest.approx(3 / 6)
    a, h = np.array([2, 1, 0, 3.0]), np.array([0, 1, 0, 2.0])
    se = np.sqrt(((h - 0.5 * a) ** 2).sum() / (4 * 3)) / a.mean()
    assert s.loc["hallucination_rate", "se"] == pytest.approx(se)
    assert s.loc["any_hallucination", "estimate"] == pytest.approx(2 / 3) and s.loc["any_hallucination", "n"] == 3
    assert s.loc["asserts_nothing", "estimate"] == pytest.approx(0.25)
    none = hallucination_summary(check_explanations([set(), set()], [{"a"}, {"a"}], [set(), set()]))
    assert np.isnan(none.loc["hallucination_rate", "estimate"])
    with pytest.raises(CourseKitError, match="one entry per explanation"):
        check_explanations([set()], [], [])


# ---------------------------------------------------------------------------- generation
def test_generation_is_seeded_cut_at_eos_and_independent_of_batching(tok, tiny, shop):
    titles = shop.items["title"].tolist()
    prompts = [explanation_prompt(titles[k:k + k % 3], titles[50 + k]) for k in range(8)]
    greedy = generate_explanations(tiny, tok, prompts, max_new_tokens=8)
    assert len(greedy) == 8 and all(isinstance(g, str) and g for g in greedy)
    alone = [generate_explanations(tiny, tok, [p], max_new_tokens=8)[0] for p in prompts[:3]]
    assert alone == greedy[:3]
    s1 = generate_explanations(tiny, tok, prompts, max_new_tokens=8, sample=True, seed=1)
    assert s1 == generate_explanations(tiny, tok, prompts, max_new_tokens=8, sample=True, seed=1)
    assert s1 != generate_explanations(tiny, tok, prompts, max_new_tokens=8, sample=True, seed=2)
    assert all(len(g.split()) <= 8 for g in greedy)
    with pytest.raises(CourseKitError, match="context"):
        generate_explanations(tiny, tok, prompts[:1], max_new_tokens=500)
