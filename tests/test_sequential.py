"""Tests of the sequential models (SASRec, BERT4Rec) and their online updater."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from coursekit._validation import CourseKitError
from coursekit.interactions import Interactions
from coursekit.models.sequences import bert4rec_mask, left_padded_windows, user_sequences
from coursekit.models.sequential import BERT4Rec, SASRec
from coursekit.models.transformer import build_sequence_net
from coursekit.splits import leave_last_out
from coursekit.stream import Replay, SequenceUpdater


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models train several times faster on one thread (no oversubscription on a busy CI box)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def net(causal: bool, n_items=20, max_len=8, seed=0):
    torch.manual_seed(seed)
    m = build_sequence_net(n_items + 2, n_items, dim=16, n_layers=2, n_heads=2, max_len=max_len, dropout=0.3,
                           causal=causal)
    return m.eval()


def cycle_log(n_users=24, n_items=12, length=14, seed=0) -> Interactions:
    """Each user walks the cycle 0 -> 1 -> ... -> n_items-1 -> 0 from a random start: learnable."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, n_items, n_users)
    items = (start[:, None] + np.arange(length)[None, :]) % n_items
    return Interactions.from_frame(pd.DataFrame({
        "user_id": np.repeat(np.arange(n_users), length), "item_id": items.ravel(),
        "timestamp": np.tile(np.arange(length) * 10, n_users)}))


def test_sasrec_is_causal():
    m = net(causal=True)
    tokens = torch.tensor([[0, 0, 3, 7, 1, 9, 4, 2]])
    base = m(tokens)
    for t in range(2, 7):
        changed = tokens.clone()
        changed[0, t + 1:] = torch.tensor([11, 12, 13, 14, 15, 16, 17])[: 7 - t]   # perturb the future
        out = m(changed)
        torch.testing.assert_close(out[0, : t + 1], base[0, : t + 1], atol=1e-6, rtol=0)
        assert not torch.allclose(out[0, t + 1:], base[0, t + 1:], atol=1e-4)     # the test can fail


def test_bidirectional_net_sees_the_future_as_a_control():
    m = net(causal=False)
    tokens = torch.tensor([[0, 0, 3, 7, 1, 9, 4, 2]])
    changed = tokens.clone()
    changed[0, -1] = 15
    assert not torch.allclose(m(changed)[0, 3], m(tokens)[0, 3], atol=1e-4)


def test_padding_never_changes_outputs_and_gives_no_nan():
    m = net(causal=True)
    a = m(torch.tensor([[0, 0, 0, 0, 0, 5, 6, 7]]))
    assert torch.isfinite(a).all()
    b = m(torch.tensor([[0, 0, 0, 0, 0, 0, 0, 0]]))
    assert torch.isfinite(b).all()


def test_bert4rec_masked_position_cannot_see_its_own_item():
    n_items, mask_token = 20, 21
    m = net(causal=False, n_items=n_items)
    tokens = np.array([[0, 3, 7, 1, 9, 4, 2, 5]])
    inp, tgt = bert4rec_mask(tokens, mask_token, 0.4, np.random.default_rng(3))
    masked = np.flatnonzero(tgt[0])
    assert masked.size and (inp[0, masked] == mask_token).all() and (tgt[0, masked] == tokens[0, masked]).all()
    assert (inp[0, tgt[0] == 0] == tokens[0, tgt[0] == 0]).all()
    base = m(torch.as_tensor(inp))
    for p in masked:
        other = tokens.copy()
        other[0, p] = 19 if tokens[0, p] != 19 else 18          # a different hidden item
        inp2, tgt2 = bert4rec_mask(other, mask_token, 0.4, np.random.default_rng(3))
        assert tgt2[0, p] == other[0, p]
        torch.testing.assert_close(m(torch.as_tensor(inp2))[0, p], base[0, p], atol=1e-6, rtol=0)


def test_windows_and_sequences_follow_the_split_tie_rule():
    log = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": [30, 20, 10, 5, 6], "timestamp": [100, 100, 50, 7, 7]})
    inter = Interactions.from_frame(log)
    items, ptr = user_sequences(inter)
    ids = inter.items.ids[items]
    assert ids[ptr[0]:ptr[1]].tolist() == [10, 20, 30]          # tie at t=100: larger id is later
    split = leave_last_out(inter)
    assert sorted(split.test.frame["item_id"]) == sorted([ids[ptr[1] - 1], ids[ptr[2] - 1]])
    w = left_padded_windows(items, ptr, np.array([0, 1]), ptr[1:], 4)
    assert w.tolist() == [[0] + (items[:3] + 1).tolist(), [0, 0] + (items[3:] + 1).tolist()]


@pytest.mark.parametrize("cls", [SASRec, BERT4Rec])
def test_loss_falls_and_next_item_is_learned(cls):
    inter = cycle_log()
    m = cls(dim=32, n_layers=1, n_heads=2, max_len=6, dropout=0.0, epochs=40, batch_size=12, lr=0.01,
            device="cpu", seed=0).fit(inter)
    assert m.loss_history_[-1] < 0.5 * m.loss_history_[0]
    # after 3 -> 4 -> 5 the next item is 6 (internal index = item id here)
    assert int(np.argmax(m.score_sequence([3, 4, 5]))) == 6
    ids, _ = m.recommend(inter.users.ids[:3], k=1, exclude_seen=False)
    items, ptr = user_sequences(inter)
    last = inter.items.ids[items[ptr[1:4] - 1]]
    assert ((ids[:, 0] - last) % 12 == 1).mean() >= 2 / 3


def test_score_equals_score_sequence_and_determinism():
    inter = cycle_log(n_users=10)
    kw = dict(dim=16, n_layers=1, n_heads=2, max_len=5, epochs=3, batch_size=4, device="cpu", seed=4)
    a, b = SASRec(**kw).fit(inter), SASRec(**kw).fit(inter)
    np.testing.assert_array_equal(a.score(inter.users.ids[:3]), b.score(inter.users.ids[:3]))
    items, ptr = user_sequences(inter)
    np.testing.assert_allclose(a.score([inter.users.ids[2]])[0], a.score_sequence(items[ptr[2]:ptr[3]]), atol=1e-9)
    with pytest.raises(CourseKitError):
        SASRec(dim=10, n_heads=3).fit(inter)
    with pytest.raises(CourseKitError):
        a.score_sequence([10_000])


def test_sequence_updater_reacts_to_the_newest_event():
    inter = cycle_log(n_users=12)
    rp = Replay(inter, warmup=0.5)
    m = SASRec(dim=16, n_layers=1, n_heads=2, max_len=5, epochs=20, batch_size=4, lr=0.01, dropout=0.0,
               device="cpu", seed=0).fit(rp.warmup)
    up = SequenceUpdater(m).initialize(rp.warmup)
    e = next(iter(rp.events()))
    up.update_index(e.user, e.item, e.timestamp)
    items, starts = user_sequences(rp.warmup)[:2]
    seq = list(items[starts[e.user]:starts[e.user + 1]])
    expected = m.score_sequence((seq + [e.item])[-m.max_len:])
    np.testing.assert_allclose(up.score_index(e.user), expected, atol=1e-9)


def test_lazy_sequence_updater_gives_the_same_scores():
    inter = cycle_log(n_users=8)
    rp = Replay(inter, warmup=0.5)
    m = SASRec(dim=16, n_layers=1, n_heads=2, max_len=5, epochs=2, batch_size=4, device="cpu", seed=0).fit(rp.warmup)
    eager, lazy = SequenceUpdater(m).initialize(rp.warmup), SequenceUpdater(m, eager=False).initialize(rp.warmup)
    for e in rp.events(max_events=20):
        eager.update_index(e.user, e.item, e.timestamp)
        lazy.update_index(e.user, e.item, e.timestamp)
        np.testing.assert_array_equal(lazy.score_index(e.user), eager.score_index(e.user))


@pytest.mark.parametrize("cls", [SASRec, BERT4Rec])
def test_early_stopping_keeps_the_best_epoch_and_stops_when_validation_flattens(cls):
    split = leave_last_out(cycle_log(n_users=40, length=10))    # no repeats: the held-out item is new
    kw = dict(dim=16, n_layers=1, n_heads=2, max_len=6, dropout=0.0, batch_size=12, lr=0.05, device="cpu", seed=0)
    m = cls(epochs=60, patience=2, **kw).fit(split.train, valid=split.test)   # here the last item is "valid"
    h = m.valid_history_
    assert len(h) == len(m.loss_history_) < 60                  # stopped before the cap
    assert len(h) - m.best_epoch_ == 2 and h[m.best_epoch_ - 1] == h.max()
    assert h.max() > 0.5                                         # it learned the cycle before stopping
    # the kept weights are the best epoch's: a fresh run of best_epoch_ epochs scores the same
    again = cls(epochs=m.best_epoch_, **kw).fit(split.train)
    np.testing.assert_allclose(m.score(split.train.users.ids[:3]), again.score(split.train.users.ids[:3]), atol=1e-5)
    with pytest.raises(CourseKitError, match="patience=2 needs a validation part"):
        cls(epochs=2, patience=2, **kw).fit(split.train)
    with pytest.raises(CourseKitError, match="patience"):
        cls(epochs=2, patience=0, **kw).fit(split.train, valid=split.test)
    with pytest.raises(CourseKitError, match="nothing to validate"):   # every valid item is seen in train
        cls(epochs=1, **kw).fit(split.train, valid=split.train)


def test_torch_threads_sets_and_restores():
    from coursekit.models.transformer import torch_threads

    before = torch.get_num_threads()
    with torch_threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
