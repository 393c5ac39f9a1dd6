"""GenerativeRetriever: constrained decoding only writes real items, the cached decoder equals a full
forward pass, beam scores are the items' log-likelihoods, and bad inputs get clear errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit._validation import CourseKitError
from coursekit.generative.retrieval import SHIFT, GenerativeRetriever, top_lists_to_scores
from coursekit.interactions import Interactions


def _log(n_users=30, n_items=12, length=8, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        items = rng.choice(n_items, size=length, replace=False) + 1
        rows += [(u + 1, int(i), t) for t, i in enumerate(items)]
    return Interactions.from_frame(pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]))


def _codes(n_items, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 3, size=(n_items, 2))
    last = np.zeros(n_items, dtype=np.int64)
    seen: dict = {}
    for i, row in enumerate(map(tuple, base)):
        last[i] = seen.get(row, 0)
        seen[row] = last[i] + 1
    return np.column_stack([base, last])


@pytest.fixture(scope="module")
def fitted():
    train = _log()
    model = GenerativeRetriever(dim=16, n_layers=1, n_heads=2, max_len=5, epochs=3, beam_size=6, device="cpu",
                                num_threads=1, seed=0)
    return train, model.fit(train, _codes(train.n_items))


def test_constrained_lists_are_real_unseen_items(fitted):
    train, model = fitted
    hists = model._train_histories(np.arange(train.n_users))
    top, scores = model.generate_sequences(hists, k=4)
    assert top.shape == (train.n_users, 4) and (top >= 0).all() and (top < train.n_items).all()
    for h, row in zip(hists, top):
        assert not np.isin(row, h).any() and len(set(row)) == 4
    assert (np.diff(scores, axis=1) <= 1e-6).all()


def test_beam_scores_are_item_log_likelihoods(fitted):
    train, model = fitted
    hists = model._train_histories(np.arange(5))
    top, scores = model.generate_sequences(hists, k=3, exclude_history=False)
    ll = model.item_log_likelihood([h for h in hists for _ in range(3)], top.ravel())
    np.testing.assert_allclose(ll, scores.ravel(), atol=1e-4)


def test_cached_step_equals_full_forward(fitted):
    import torch

    from coursekit.generative.retrieval import _positions

    train, model = fitted
    hist = model._history_tokens(model._train_histories(np.arange(4)))
    step = model._history_step(hist)
    query = np.array([0, 3, 3, 1])
    prefixes = model.tokens_[[0, 1, 2, 3], :2] + SHIFT
    full = torch.as_tensor(np.concatenate([hist[query], prefixes], axis=1))
    mask = full != 0
    with torch.no_grad():
        want = torch.log_softmax(model.net_(input_ids=full, attention_mask=mask,
                                            position_ids=_positions(mask)).logits[:, -1], -1).numpy()
    np.testing.assert_allclose(step(query, prefixes), want, atol=1e-5)


def test_free_decoding_of_an_untrained_model_invents_codes():
    train = _log(n_items=6, length=4)
    model = GenerativeRetriever(dim=8, n_layers=1, n_heads=1, max_len=4, epochs=1, lr=1e-6, beam_size=20,
                                device="cpu", num_threads=1)
    model.fit(train, _codes(train.n_items, seed=1))
    hists = model._train_histories(np.arange(3))
    free, _ = model.generate_sequences(hists, k=20, constrained=False, exclude_history=False)
    assert (free == -1).any()                      # 27 code triples, only 6 are items
    kept, _ = model.generate_sequences(hists, k=6, exclude_history=False)
    assert (kept >= 0).all()


def test_top_lists_to_scores_reproduces_lists():
    top = np.array([[3, 1, -1], [0, 2, 4]])
    s = top_lists_to_scores(top, np.array([1, 0]), 2, 5)
    assert np.argsort(-s[1])[:2].tolist() == [3, 1] and np.argsort(-s[0])[:3].tolist() == [0, 2, 4]


@pytest.mark.parametrize("codes, match", [
    (np.zeros((12, 2), dtype=int), "unique"),
    (np.zeros((5, 2), dtype=int), "n_items=12"),
    (np.full((12, 1), -1), "codes must be >= 0|unique"),
])
def test_bad_codes(codes, match):
    with pytest.raises(CourseKitError, match=match):
        GenerativeRetriever(epochs=1, device="cpu").fit(_log(), codes)


def test_bad_settings(fitted):
    train, model = fitted
    with pytest.raises(CourseKitError, match="beam_size"):
        model.generate_sequences([[0, 1]], k=7)
    with pytest.raises(CourseKitError, match="patience"):
        GenerativeRetriever(epochs=1, patience=2, device="cpu").fit(train, _codes(train.n_items))
    with pytest.raises(CourseKitError, match="dim"):
        GenerativeRetriever(dim=10, n_heads=3, device="cpu").fit(train, _codes(train.n_items))


def test_decoding_without_a_cache_argument_gives_the_same_lists(fitted):
    import copy

    import torch

    class OldForward(torch.nn.Module):          # a model whose forward has no ``cache`` (transformers < 5)
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, input_ids, attention_mask=None, position_ids=None, use_cache=False):
            return self.net(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids)

    train, model = fitted
    hists = model._train_histories(np.arange(6))
    want = model.generate_sequences(hists, k=4)
    old = copy.copy(model)
    old.net_ = OldForward(model.net_)
    got = old.generate_sequences(hists, k=4)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], atol=1e-5)
