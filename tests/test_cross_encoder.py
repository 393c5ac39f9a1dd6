"""Cross-encoder, its training loops and the two-stage re-ranker, on a tiny random BERT."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from coursekit._validation import CourseKitError
from coursekit.finetune import (
    binary_auc,
    group_auc,
    label_prior_entropy,
    make_pairs,
    overfit_one_batch,
    sample_pair_negatives,
    train_cross_encoder,
    train_rating_regressor,
    training_step_cost,
)
from coursekit.interactions import Interactions
from coursekit.models import MostPopular, Recommender
from coursekit.models.rerank import TwoStageRecommender, fuse_scores, retrieval_rank_scores
from coursekit.text.cross_encoder import CrossEncoder, load_pair_tokenizer
from coursekit.text.pair_inputs import candidate_mean, encode_pairs

COLOURS = ["red", "blue", "green", "yellow", "black", "white"]
OBJECTS = ["shoe", "hat", "scarf", "mug", "lamp", "sofa", "bag", "kite"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread (no OpenMP spinning on a shared 2-core machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tok():
    return load_pair_tokenizer(cached=True)


def tiny(seed=0, **kw):
    return CrossEncoder.tiny(seed=seed, **kw)


# ---------------------------------------------------------------------------- a learnable toy world
def colour_world(n_users=48, seed=0, colours=None, n_own=5):
    """Each user likes one colour (of ``colours``) and took ``n_own`` items of it; item text "<colour> <object>"."""
    rng = np.random.default_rng(seed)
    colours = list(range(len(COLOURS)) if colours is None else colours)
    items = [(c, o) for c in COLOURS for o in OBJECTS]  # item id = index + 1
    texts = {k + 1: f"{c} {o}" for k, (c, o) in enumerate(items)}
    rows = []
    for u in range(1, n_users + 1):
        colour = colours[u % len(colours)]
        own = colour * len(OBJECTS) + 1 + rng.permutation(len(OBJECTS))[:n_own]
        for t, i in enumerate(own):
            rows.append((u, int(i), 10 * t + 1, 5.0))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "rating"])
    inter = Interactions.from_frame(frame, items=np.arange(1, len(items) + 1))
    return inter, texts


def toy_pairs(seed=0, n_users=48):
    inter, texts = colour_world(n_users, seed)
    return make_pairs(inter, None, texts, history_size=3, min_history=1), texts, inter


def red_blue_pairs(n_users, seed):
    """Red lovers and blue lovers who took every item of their colour: a positive candidate has the
    history's colour, negatives any other colour (learnable by a tiny model in a few dozen steps)."""
    inter, texts = colour_world(n_users, seed, colours=[0, 1], n_own=len(OBJECTS))
    return make_pairs(inter, None, texts, history_size=2)


# ---------------------------------------------------------------------------- pair inputs
def test_pair_layout_history_truncated_candidate_kept(tok):
    history = "blue hat | green scarf | red shoe | white lamp | black sofa"
    enc = encode_pairs(tok, [history], ["yellow kite"], max_length=10, return_tensors=None)
    tokens = tok.convert_ids_to_tokens(enc["input_ids"][0])
    # 10 tokens: [CLS] + 5 history tokens (the oldest items cut) + [SEP] + the whole candidate + [SEP]
    assert tokens == ["[CLS]", "blue", "hat", "|", "green", "scarf", "[SEP]", "yellow", "kite", "[SEP]"]
    assert enc["token_type_ids"][0] == [0] * 7 + [1] * 3  # history = segment 0, candidate = segment 1
    assert enc["attention_mask"][0] == [1] * 10


def test_long_candidate_is_capped_not_an_error(tok):
    cand = " ".join(["red"] * 40)
    enc = encode_pairs(tok, ["blue hat"], [cand], max_length=16, max_candidate_tokens=6, return_tensors=None)
    tokens = tok.convert_ids_to_tokens(enc["input_ids"][0])
    assert tokens == ["[CLS]", "blue", "hat", "[SEP]"] + ["red"] * 6 + ["[SEP]"]
    with pytest.raises(CourseKitError, match="max_candidate_tokens"):
        encode_pairs(tok, ["a"], ["b"], max_length=8, max_candidate_tokens=6)
    with pytest.raises(CourseKitError, match="pair up"):
        encode_pairs(tok, ["a", "b"], ["c"])


def test_padding_does_not_change_a_score():
    ce = tiny()
    short = ("red hat", "blue shoe")
    others = [("red hat | blue shoe | green scarf | black mug | white lamp | yellow kite", "green scarf"),
              ("white lamp " * 10, "red sofa bag kite")]
    alone = ce.logits([short[0]], [short[1]])
    batch = ce.logits([short[0]] + [h for h, _ in others], [short[1]] + [c for _, c in others], batch_size=8)
    enc = ce.encode([short[0]] + [h for h, _ in others], [short[1]] + [c for _, c in others])
    assert (enc["attention_mask"][0] == 0).any(), "the short pair must really be padded in the batch"
    np.testing.assert_allclose(batch[0], alone[0], atol=1e-5)
    assert abs(batch[1] - batch[0]) > 1e-6  # a different pair does score differently


def test_wrong_head_is_rejected(tok):
    from transformers import BertConfig, BertForSequenceClassification

    net = BertForSequenceClassification(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1,
                                                   num_attention_heads=2, intermediate_size=64, num_labels=2))
    with pytest.raises(CourseKitError, match="num_labels=1"):
        CrossEncoder(net, tok)


# ---------------------------------------------------------------------------- pairs and negatives
def test_make_pairs_uses_only_earlier_history():
    log = pd.DataFrame({"user_id": [1, 1, 1, 1], "item_id": [1, 2, 1, 3], "timestamp": [1, 2, 3, 4]})
    inter = Interactions.from_frame(log, items=[1, 2, 3, 4])
    p = make_pairs(inter, None, {1: "a", 2: "b", 3: "c", 4: "d"})
    # item 1 again at t=3 is not a first interaction -> no pair; item 3's history: 1 (t=3), then 2
    assert p.candidates == ["b", "c"] and p.histories == ["a", "a | b"]
    assert p.exclude.toarray().tolist() == [[1, 1, 1, 0]]


def test_make_pairs_with_targets_drops_seen_items():
    log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 1], "timestamp": [1, 2, 3]})
    inter = Interactions.from_frame(log, items=[1, 2, 3, 4])
    later = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [2, 3, 4], "timestamp": [5, 6, 7]})
    targets = Interactions.from_frame(later, users=inter.users, items=inter.items)
    p = make_pairs(inter, targets, {1: "a", 2: "b", 3: "c", 4: "d"})
    assert p.candidates == ["c", "d"] and p.histories == ["b | a", "a"]
    with pytest.raises(CourseKitError, match="no text for item"):
        make_pairs(inter, targets, {1: "a"})


def test_negatives_never_touch_known_items():
    pairs, _, inter = toy_pairs()
    neg = sample_pair_negatives(pairs, 5, np.random.default_rng(0))
    known = pairs.exclude[pairs.users[:, None], neg]
    assert known.sum() == 0 and neg.shape == (len(pairs), 5)
    assert all(len(set(r)) == 5 for r in neg.tolist())



def test_hard_negatives_come_from_the_pool_and_skip_known_items():
    from coursekit.finetune import hard_negative_sample, with_negatives

    pairs, _, inter = toy_pairs()
    rng = np.random.default_rng(0)
    # every user's pool: 3 unseen items, then a seen item and an empty slot (both must never be used)
    pool = np.full((inter.n_users, 5), -1, dtype=np.int64)
    for u in range(inter.n_users):
        seen = set(pairs.exclude[u].indices.tolist())
        unseen = [i for i in range(inter.n_items) if i not in seen]
        pool[u, :3] = rng.choice(unseen, 3, replace=False)
        pool[u, 3] = min(seen)
    picked, ok = hard_negative_sample(pool, pairs.users, pairs.exclude, 5, rng)
    assert all(len(set(r)) == 5 for r in picked.tolist())           # distinct slots per row
    assert ok.sum(axis=1).tolist() == [3] * len(pairs)               # only the 3 unseen pool items are usable
    two, ok2 = hard_negative_sample(pool, pairs.users, pairs.exclude, 2, rng)
    assert ok2.all() and np.isin(two, pool[pairs.users, :3]).all()   # usable slots are drawn first
    assert np.all(np.isin(picked[ok].reshape(len(pairs), 3), pool[pairs.users, :3]).all(axis=1))
    idx = np.arange(len(pairs))
    h, c, y = with_negatives(pairs, idx, 3, np.random.default_rng(1), pool, 2)
    assert y.tolist() == [1.0, 0.0, 0.0, 0.0] * len(pairs)
    text_to_item = {t: k for k, t in enumerate(pairs.item_text)}
    neg = np.array([text_to_item[t] for t in c]).reshape(len(pairs), 4)[:, 1:]
    for row, u in zip(neg, pairs.users):
        assert set(row[:2].tolist()) <= set(pool[u, :3].tolist())   # the hard ones come from the pool
        assert pairs.exclude[u, row].sum() == 0                      # no negative is a known item
    with pytest.raises(CourseKitError, match="hard_negatives"):
        train_cross_encoder(tiny(), pairs, None, hard_negatives=pool[:2], n_hard=1, max_steps=1, progress=False)

def test_binary_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=200) + y, 1)  # with ties
    assert binary_auc(y, s) == pytest.approx(roc_auc_score(y, s))


def test_group_auc_matches_binary_auc_within_each_group():
    rng = np.random.default_rng(2)
    s = np.round(rng.normal(size=(50, 8)), 1)   # with ties
    s[:, 0] += 0.8
    per_group = group_auc(s.ravel(), 8)
    y = np.r_[1, np.zeros(7)]
    np.testing.assert_allclose(per_group, [binary_auc(y, row) for row in s])
    with pytest.raises(CourseKitError, match="group_size"):
        group_auc(s.ravel(), 1)
    with pytest.raises(CourseKitError, match="multiple"):
        group_auc(s.ravel()[:-1], 8)


def test_candidate_mean_pools_only_candidate_tokens(tok):
    import torch

    enc = encode_pairs(tok, ["red shoe | blue hat", "red"], ["red kite", "black kite kite"], max_length=32)
    hidden = torch.randn(2, enc["input_ids"].shape[1], 4)
    pooled = candidate_mean(hidden, enc["input_ids"], enc["attention_mask"], tok.sep_token_id)
    for row in range(2):
        types = enc["token_type_ids"][row].bool() & enc["attention_mask"][row].bool()
        types &= enc["input_ids"][row] != tok.sep_token_id
        torch.testing.assert_close(pooled[row], hidden[row, types].mean(0))


# ---------------------------------------------------------------------------- training
@pytest.mark.parametrize("pooling,loss", [("candidate", "bce"), ("cls", "listwise"), ("candidate", "listwise")])
def test_pooling_and_loss_variants_learn(pooling, loss):
    pairs, valid = red_blue_pairs(32, seed=0), red_blue_pairs(16, seed=1)
    ce = tiny(hidden_size=64, intermediate_size=128, pooling=pooling)
    res = train_cross_encoder(ce, pairs, valid, n_neg=3, batch_size=32, epochs=100, max_steps=60, lr=3e-3,
                              eval_every=20, patience=10, progress=False, seed=0, loss=loss)
    assert res.best_value > 0.8, f"{pooling}/{loss}: validation AUC only {res.best_value}"
    if loss == "listwise":   # starts near log(1 + n_neg), the loss of a model that ranks at random
        first = res.history["train_loss"].iloc[0]
        assert abs(first - np.log(4)) < 0.3 and res.history["train_loss"].tail(10).mean() < 0.7 * first


def test_loss_falls_on_a_learnable_task():
    pairs, valid = red_blue_pairs(32, seed=0), red_blue_pairs(16, seed=1)
    ce = tiny(hidden_size=64, intermediate_size=128)
    res = train_cross_encoder(ce, pairs, valid, n_neg=3, batch_size=32, epochs=100, max_steps=60, lr=3e-3,
                              eval_every=20, patience=10, progress=False, seed=0)
    loss = res.history["train_loss"].to_numpy()
    assert loss[-20:].mean() < 0.7 * loss[:10].mean(), f"loss did not fall: {loss[:10].mean()} -> {loss[-20:].mean()}"
    assert res.best_value > 0.8, f"validation AUC only {res.best_value}"
    assert {"valid_loss", "valid_auc", "lr"} <= set(res.history.columns)
    lr = res.history["lr"].to_numpy()
    assert lr.argmax() < len(lr) // 4 and lr[-1] < lr.max() / 5  # warmup then linear decay
    p = ce.score_pairs(["red shoe | red hat"] * 2, ["red kite", "black kite"])
    assert p[0] > p[1]


def test_overfits_one_batch_to_near_zero_loss(tok):
    """Sanity before results: 4 positives and 4 negatives of the toy world are memorised, loss < 0.05."""
    from transformers import BertConfig

    pairs = red_blue_pairs(8, seed=0)
    rng = np.random.default_rng(0)
    idx = rng.choice(len(pairs), 4, replace=False)
    histories = [pairs.histories[i] for i in idx] * 2
    positives = [pairs.candidates[i] for i in idx]
    swap = {"red": "blue", "blue": "red"}                          # the same object in the other colour
    candidates = positives + [f"{swap[c.split()[0]]} {c.split()[1]}" for c in positives]
    labels = [1.0] * 4 + [0.0] * 4
    ce = CrossEncoder.from_config(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1,
                                             num_attention_heads=2, intermediate_size=64), tokenizer=tok,
                                  device="cpu")
    before = ce.logits(histories, candidates)
    losses = overfit_one_batch(ce, histories, candidates, labels, steps=60, lr=3e-3)
    assert len(losses) == 60 and all(np.isfinite(losses))
    assert losses[0] > 0.5 and losses[-1] < 0.05, f"one batch not memorised: {losses[0]:.3f} -> {losses[-1]:.4f}"
    after = ce.logits(histories, candidates)
    assert not np.allclose(before, after)                          # trained in place
    assert (after[:4] > 0).all() and (after[4:] < 0).all()         # every pair on its label's side
    with pytest.raises(CourseKitError, match="one 0/1 value per pair"):
        overfit_one_batch(ce, histories, candidates, labels[:3])
    with pytest.raises(CourseKitError, match="0 or 1"):
        overfit_one_batch(ce, histories, candidates, [2.0] * 8)


def test_label_prior_entropy():
    assert label_prior_entropy(0.5) == pytest.approx(np.log(2))
    assert label_prior_entropy(0.25) == pytest.approx(-(0.25 * np.log(0.25) + 0.75 * np.log(0.75)))
    assert label_prior_entropy(0.0) == 0.0 and label_prior_entropy(1.0) == 0.0
    with pytest.raises(CourseKitError, match="p must be"):
        label_prior_entropy(1.5)


def test_early_stopping_restores_best_and_stops():
    pairs, _, _ = toy_pairs()
    ce = tiny()
    res = train_cross_encoder(ce, pairs, pairs, n_neg=1, batch_size=8, max_steps=60, lr=0.0, eval_every=2,
                              patience=2, warmup_frac=0.0, progress=False)
    assert res.stopped_by == "early_stopping" and res.n_steps == 6 and res.best_step == 2



def test_time_budget_stop_still_evaluates_the_last_step():
    pairs, _, _ = toy_pairs()
    res = train_cross_encoder(tiny(), pairs, pairs, n_neg=1, batch_size=8, max_steps=50, eval_every=40,
                              time_budget_s=0.0, progress=False)
    assert res.stopped_by == "time_budget" and res.n_steps == 1
    assert res.best_step == 1 and res.best_value is not None

def test_lora_trains_only_adapters():
    pairs, _, _ = toy_pairs()
    ce = tiny()
    full_trainable, total = ce.parameter_counts()
    before = {k: v.clone() for k, v in ce.model.state_dict().items()}
    res = train_cross_encoder(ce, pairs, None, lora=True, lora_r=4, merge_lora=False, max_steps=4, lr=1e-2,
                              progress=False)
    assert ce.is_lora
    assert res.trainable_params < 0.05 * full_trainable, (res.trainable_params, full_trainable)
    changed_adapter = changed_base = 0
    for name, p in ce.model.named_parameters():
        if "lora_" in name:
            changed_adapter += int(p.requires_grad and bool(p.abs().sum() > 0) and "lora_B" in name)
            continue
        if "modules_to_save" in name or "original_module" in name:  # the trainable head copy
            continue
        key = name.replace("base_model.model.", "").replace(".base_layer", "")
        assert not p.requires_grad, f"{name} must be frozen"
        assert torch.equal(p, before[key]), f"frozen weight {name} changed"
        changed_base += 1
    assert changed_adapter > 0 and changed_base > 10
    # merging gives a plain transformers model that scores like the adapted one
    h, c = ["red hat"] * 3, ["red kite", "blue mug", "green sofa"]
    adapted = ce.logits(h, c)
    ce.merge_lora()
    assert not ce.is_lora and type(ce.model).__name__ == "BertForSequenceClassification"
    np.testing.assert_allclose(ce.logits(h, c), adapted, atol=1e-5)


def test_freeze_lower_layers():
    pairs, _, _ = toy_pairs()
    ce = tiny()
    before = {k: v.clone() for k, v in ce.model.state_dict().items()}
    train_cross_encoder(ce, pairs, None, freeze_layers=1, max_steps=3, lr=1e-2, progress=False)
    after = ce.model.state_dict()
    for k in before:
        frozen = k.startswith("bert.embeddings") or k.startswith("bert.encoder.layer.0.")
        if frozen:
            assert torch.equal(before[k], after[k]), k
    assert not torch.equal(before["bert.encoder.layer.1.output.dense.weight"],
                           after["bert.encoder.layer.1.output.dense.weight"])
    with pytest.raises(CourseKitError, match="freeze_layers"):
        train_cross_encoder(tiny(), pairs, None, freeze_layers=5, max_steps=1, progress=False)


def test_step_cost_lora_vs_full_leaves_model_untouched():
    pairs, _, _ = toy_pairs()
    ce = tiny()
    before = {k: v.clone() for k, v in ce.model.state_dict().items()}
    full = training_step_cost(ce, pairs, n_steps=2, batch_size=16)
    lora = training_step_cost(ce, pairs, n_steps=2, batch_size=16, lora=True)
    frozen = training_step_cost(ce, pairs, n_steps=2, batch_size=16, freeze_layers=1)
    assert lora.trainable_params < frozen.trainable_params < full.trainable_params == full.total_params
    assert all(c.seconds_per_step > 0 for c in (full, lora, frozen))
    assert not ce.is_lora
    assert all(torch.equal(v, ce.model.state_dict()[k]) for k, v in before.items())


def test_rating_regressor_loss_falls():
    inter, texts = colour_world(32, colours=[0], n_own=4)  # everyone likes red
    rng = np.random.default_rng(0)
    # each user also rated two items of another colour with 1 star (later events)
    users = np.repeat(inter.users.ids, 2)
    extra = pd.DataFrame({"user_id": users, "item_id": len(OBJECTS) + 1 + rng.integers(0, 40, len(users)),
                          "timestamp": 1000 + np.tile([0, 1], len(inter.users.ids)), "rating": 1.0})
    inter2 = Interactions.from_frame(pd.concat([inter.frame, extra]), items=inter.items)
    pairs = make_pairs(inter2, None, texts, label="rating", history_size=2)
    assert set(np.unique(pairs.labels)) == {1.0, 5.0}
    ce = tiny(hidden_size=64, intermediate_size=128)
    res = train_rating_regressor(ce, pairs, pairs, batch_size=32, epochs=100, max_steps=50, lr=1e-3,
                                 eval_every=10, patience=10, progress=False)
    loss = res.history["train_loss"].to_numpy()
    assert loss[-10:].mean() < 0.5 * loss[:5].mean(), f"loss did not fall: {loss[:5].mean()} -> {loss[-10:].mean()}"
    assert ce.task == "regression" and res.monitor == "valid_rmse"
    pred = ce.predict(pairs.histories, pairs.candidates)
    rmse = np.sqrt(np.mean((pred - pairs.labels) ** 2))
    assert rmse < 0.5 * pairs.labels.std(), "the regressor must beat predicting the mean"
    assert rmse == pytest.approx(res.best_value, rel=1e-6)


# ---------------------------------------------------------------------------- persistence
def test_save_load_roundtrip_identical_scores(tmp_path):
    pairs, _, _ = toy_pairs()
    ce = tiny(max_length=40, max_candidate_tokens=8)
    ce.info = {"history_size": 5, "item_text": "summaries"}
    train_cross_encoder(ce, pairs, None, lora=True, merge_lora=False, max_steps=2, lr=1e-2, progress=False)
    h, c = pairs.histories[:7], pairs.candidates[:7]
    expected = ce.score_pairs(h, c)
    ce.save(tmp_path / "ce")
    assert (tmp_path / "ce" / "model.safetensors").exists() and ce.is_lora  # saving merges a copy
    loaded = CrossEncoder.load(tmp_path / "ce", device="cpu")
    assert (loaded.max_length, loaded.max_candidate_tokens, loaded.task) == (40, 8, "binary")
    assert loaded.info == {"history_size": 5, "item_text": "summaries"}
    np.testing.assert_allclose(loaded.score_pairs(h, c), expected, atol=1e-6)
    with pytest.raises(CourseKitError, match="no saved cross-encoder"):
        CrossEncoder.load(tmp_path)


# ---------------------------------------------------------------------------- two-stage re-ranking
class PreferText:
    """A stand-in re-ranker: logit 4 if the candidate mentions ``word``, 0 otherwise."""

    task = "binary"

    def __init__(self, word):
        self.word, self.calls = word, []

    def logits(self, histories, candidates, batch_size=64):
        self.calls.append(list(candidates))
        return np.array([4.0 if self.word in c else 0.0 for c in candidates])


def test_retrieval_rank_scores_order_and_range():
    s = np.array([[0.3, 0.3, 0.9, 0.1]])
    val, order = retrieval_rank_scores(s, sp.csr_matrix([[0, 0, 0, 1]]))
    assert order.tolist() == [[2, 0, 1, 3]]
    assert ((val > 0) & (val < 1)).all() and val[0, 2] > val[0, 0] > val[0, 1] > val[0, 3]


def test_reranker_only_reorders_its_candidates():
    inter, texts = colour_world()
    n = 5
    stub = PreferText("kite")
    model = TwoStageRecommender(MostPopular(), stub, n_candidates=n, item_texts=texts).fit(inter)
    retrieval = MostPopular().fit(inter)
    users = inter.users.ids[:12]
    ret_ids, _ = retrieval.recommend(users, k=30)
    stub.calls.clear()
    ids, scores = model.recommend(users, k=30)
    for row in range(len(users)):
        cands = ret_ids[row, :n]
        assert set(ids[row, :n]) == set(cands), "the first n items must be exactly the retriever's candidates"
        # kites first (stub prefers them), ties keep retrieval order (lower item index wins among equals)
        is_kite = np.array(["kite" in texts[i] for i in ids[row, :n]])
        assert (np.diff(is_kite.astype(int)) <= 0).all()
        np.testing.assert_array_equal(ids[row, n:], ret_ids[row, n:30], "the rest keeps the retrieval order")
        assert (scores[row, :n] >= 1).all() and (scores[row, n:] < 1).all()
    # the re-ranker was asked about the retriever's candidates and nothing else
    asked = sorted(t for call in stub.calls for t in call)
    assert asked == sorted(texts[i] for i in ret_ids[:, :n].ravel())


def test_fusion_weight_zero_keeps_retrieval_order_and_large_weight_follows_reranker():
    inter, texts = colour_world()
    users = inter.users.ids[:12]
    retrieval_ids, _ = MostPopular().fit(inter).recommend(users, k=5)
    w0 = TwoStageRecommender(MostPopular(), PreferText("kite"), n_candidates=5, item_texts=texts,
                             fusion_weight=0.0).fit(inter)
    np.testing.assert_array_equal(w0.recommend(users, k=5)[0], retrieval_ids)
    big = TwoStageRecommender(MostPopular(), PreferText("kite"), n_candidates=5, item_texts=texts,
                              fusion_weight=1e6).fit(inter)
    alone = TwoStageRecommender(MostPopular(), PreferText("kite"), n_candidates=5, item_texts=texts).fit(inter)
    for a, b in zip(big.recommend(users, k=5)[0], alone.recommend(users, k=5)[0]):
        assert [("kite" in texts[i]) for i in a] == [("kite" in texts[i]) for i in b]
    cands, r, z, n = w0.candidate_scores(inter.users.index(users))
    assert cands.shape == r.shape == z.shape == (12, 5) and (n == 5).all()
    assert set(np.unique(z)) <= {0.0, 4.0}
    with pytest.raises(CourseKitError, match="fusion_weight"):
        TwoStageRecommender(MostPopular(), PreferText("x"), item_texts=texts, fusion_weight=-1.0).fit(inter)


def test_fuse_scores_standardises_rows_and_masks_padding():
    r = np.array([[3.0, 2.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    z = np.array([[0.0, 0.0, 9.0, 9.0], [0.0, 5.0, 0.0, 0.0]])
    f = fuse_scores(r, z, 1.0, n_valid=[3, 2])
    assert np.isneginf(f[0, 3]) and np.isneginf(f[1, 2:]).all()
    zr = (r[0, :3] - r[0, :3].mean()) / r[0, :3].std()
    zz = (z[0, :3] - z[0, :3].mean()) / z[0, :3].std()
    np.testing.assert_allclose(f[0, :3], zr + zz)
    np.testing.assert_allclose(f[1, :2], [-1.0, 1.0])   # r has no spread in row 1: only z counts
    with pytest.raises(CourseKitError, match="weight"):
        fuse_scores(r, z, -1.0)


def test_reranker_with_a_tiny_cross_encoder_and_save_load(tmp_path):
    inter, texts = colour_world()
    ce = tiny()
    model = TwoStageRecommender(MostPopular(), ce, n_candidates=6, item_texts=texts, history_size=3).fit(inter)
    users = inter.users.ids[:10]
    idx = inter.users.index(users)
    cands = model.candidate_indices(idx)
    ids, _ = model.recommend(users, k=6)
    for row, c in zip(ids, cands):
        assert set(inter.items.index(row)) == set(c)
    probs = ce.score_pairs(model.history_texts(idx[:1]) * 6, [texts[i] for i in inter.items.ids[cands[0]]])
    order = inter.items.ids[cands[0]][np.argsort(-probs, kind="stable")]
    np.testing.assert_array_equal(ids[0], order)
    model.save(tmp_path / "two")
    loaded = Recommender.load(tmp_path / "two")
    assert isinstance(loaded, TwoStageRecommender) and isinstance(loaded.retriever, MostPopular)
    np.testing.assert_array_equal(loaded.score(users), model.score(users))
    np.testing.assert_array_equal(TwoStageRecommender.load(tmp_path / "two").recommend(users, k=6)[0], ids)


def test_two_stage_input_errors():
    inter, texts = colour_world()
    with pytest.raises(CourseKitError, match="item_texts"):
        TwoStageRecommender(MostPopular(), PreferText("x")).fit(inter)
    with pytest.raises(CourseKitError, match="retriever"):
        TwoStageRecommender("iALS", PreferText("x"), item_texts=texts).fit(inter)
    with pytest.raises(CourseKitError, match="n_candidates"):
        TwoStageRecommender(MostPopular(), PreferText("x"), n_candidates=0, item_texts=texts).fit(inter)


# ---------------------------------------------------------------------------- the real model
@pytest.mark.slow
def test_minilm_scores_pairs():
    ce = CrossEncoder.from_pretrained(device="cpu", max_length=64)
    assert ce.model.config.hidden_size == 384 and ce.model.config.num_hidden_layers == 6
    p = ce.score_pairs(["red shoe | red hat"] * 2 + ["blue mug"] * 2, ["red kite", "blue kite", "blue lamp", ""])
    assert p.shape == (4,) and np.isfinite(p).all() and ((p > 0) & (p < 1)).all()
    trainable, total = ce.parameter_counts()
    assert 22_000_000 < total < 23_500_000 and trainable == total


def test_auc_standard_error_matches_the_spread_of_simulated_aucs():
    from coursekit.finetune import auc_standard_error

    rng = np.random.default_rng(0)
    n_pos, n_neg = 60, 180
    aucs = []
    for _ in range(400):                      # scores with a true AUC of about 0.70
        s = np.r_[rng.normal(0.74, 1.0, n_pos), rng.normal(0.0, 1.0, n_neg)]
        aucs.append(binary_auc(np.r_[np.ones(n_pos), np.zeros(n_neg)], s))
    se = auc_standard_error(float(np.mean(aucs)), n_pos, n_neg)
    assert se == pytest.approx(np.std(aucs), rel=0.2)
    assert np.isnan(auc_standard_error(float("nan"), n_pos, n_neg)) and np.isnan(auc_standard_error(0.6, 0, 5))
    with pytest.raises(CourseKitError, match="auc must be in"):
        auc_standard_error(1.5, 10, 10)


def test_loading_prints_no_load_report(capfd):
    CrossEncoder.from_pretrained(max_length=32, device="cpu")
    out, err = capfd.readouterr()
    assert "LOAD REPORT" not in out + err and "Loading weights" not in out + err


def test_lesson04_cross_encoder_trains_when_no_checkpoint_then_loads_a_saved_one(tmp_path, monkeypatch):
    from coursekit.datasets import checkpoint_dir, make_shop
    from coursekit.finetune import lesson04_checkpoint_name, lesson04_cross_encoder

    monkeypatch.setenv("COURSEKIT_DATA_HOME", str(tmp_path))
    shop = make_shop(n_users=30, n_items=20, n_events=400, seed=0)
    train = shop.to_interactions()
    ce, info, source = lesson04_cross_encoder(shop, train, "shop", smoke=True, seed=0, steps=2)
    assert source == "this lesson" and info["steps"] == 2 and info["history_size"] == 20
    ce.save(checkpoint_dir(lesson04_checkpoint_name("shop", True)))
    loaded, info2, source2 = lesson04_cross_encoder(shop, train, "shop", smoke=True, seed=0)
    assert source2 == "lesson 04" and info2["valid_auc"] == info["valid_auc"]
    h, c = ["a red shoe"], ["a blue hat"]
    np.testing.assert_allclose(loaded.logits(h, c), ce.logits(h, c), atol=1e-5)
    with pytest.raises(CourseKitError, match="was not trained on 'movielens'"):
        ce.info = {**info, "dataset": "shop"}
        ce.save(checkpoint_dir(lesson04_checkpoint_name("movielens", True)))
        lesson04_cross_encoder(shop, train, "movielens", smoke=True)
