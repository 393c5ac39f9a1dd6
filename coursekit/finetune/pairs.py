r"""Training pairs for the cross-encoder: (user history text, candidate item text).

A positive pair is a user's history (as text, most recent first) and an item the user then
interacted with *for the first time*; its history holds only what happened before
(:func:`make_pairs`), so nothing from the future leaks into the input. Events are put in
time order by :func:`coursekit.interactions.user_time_order` (the course's one tie rule),
histories are joined by :func:`coursekit.text.items.history_text` and item texts are aligned
with the item universe by :func:`coursekit.text.items.align_item_texts`.

>>> import pandas as pd
>>> log = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [1, 2, 3], "timestamp": [1, 2, 3]})
>>> p = make_pairs(Interactions.from_frame(log), None, {1: "a", 2: "b", 3: "c"})
>>> len(p), p.histories
(2, ['a', 'b | a'])
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coursekit._validation import CourseKitError, check_choice, check_positive_int
from coursekit.interactions import Interactions, check_same_universe, user_time_order
from coursekit.text.items import align_item_texts, history_text, user_histories

__all__ = ["Pairs", "make_pairs"]

ItemTexts = Mapping[int, str] | pd.Series | pd.DataFrame


@dataclass
class Pairs:
    """Positive (history, candidate) pairs plus what negative sampling needs.

    Attributes
    ----------
    users, items : int arrays (n,)
        User index and item index (candidate) of each pair.
    histories : list of str (n,)
        The user's history text of each pair (most recent first, only earlier events).
    labels : float array (n,)
        1.0 for the binary task; the rating for :func:`coursekit.finetune.train_rating_regressor`.
    item_text : object array (n_items,)
        Text of every item of the universe (the candidate side; negatives use it too).
    exclude : CSR (n_users, n_items)
        Items never drawn as negatives for a user (everything the user interacted with).
    """

    users: np.ndarray
    items: np.ndarray
    histories: list[str]
    labels: np.ndarray
    item_text: np.ndarray
    exclude: sp.csr_matrix = field(repr=False)

    def __len__(self) -> int:
        return len(self.users)

    @property
    def candidates(self) -> list[str]:
        """Candidate text of each pair."""
        return self.item_text[self.items].tolist()

    def subset(self, idx: Sequence[int] | np.ndarray) -> Pairs:
        """The pairs at positions ``idx`` (same item texts and ``exclude``)."""
        idx = np.asarray(idx)
        return Pairs(self.users[idx], self.items[idx], [self.histories[i] for i in idx], self.labels[idx],
                     self.item_text, self.exclude)


def _first_occurrence(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """Mask of events (already in time order) that are the first of their (user, item)."""
    _, first = np.unique(users * np.int64(n_items) + items, return_index=True)
    mask = np.zeros(len(users), dtype=bool)
    mask[first] = True
    return mask


def _sample_positions(pos: np.ndarray, max_pairs: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_pairs is not None and len(pos) > max_pairs:
        return np.sort(rng.choice(pos, check_positive_int(max_pairs, "max_pairs"), replace=False))
    return pos


def make_pairs(history: Interactions, targets: Interactions | None, item_texts: ItemTexts, *,
               label: str = "binary", history_size: int = 20, max_history_words: int = 64,
               history_item_texts: ItemTexts | None = None, min_history: int = 1, max_pairs: int | None = None,
               seed: int = 0, history_builder: Callable[[Sequence[str]], str] | None = None) -> Pairs:
    r"""Positive pairs (user history text, item the user then took) from interaction logs.

    Parameters
    ----------
    history : Interactions
        The events the histories are built from (e.g. ``split.train``).
    targets : Interactions or None
        ``None``: **self-supervised** pairs inside ``history``: each event that is the user's
        first with its item, preceded by at least ``min_history`` distinct items, is a target,
        and its history is only the *earlier* events. Otherwise the target events (e.g.
        ``split.valid``; same universe): the history is all of the user's ``history`` events and
        targets already in it are dropped (a re-ranker never sees seen items as candidates).
    item_texts : dict, Series or DataFrame
        Candidate text of every item (:func:`coursekit.text.items.align_item_texts`).
    label : {"binary", "rating"}
        ``"rating"`` keeps only rated target events and uses the rating as label.
    history_size, max_history_words : int
        The history lists at most ``history_size`` distinct items, most recent first, joined by
        :func:`coursekit.text.items.history_text` up to ``max_history_words`` words.
    history_item_texts : optional
        Texts for items *inside* histories (e.g. short titles, so more items fit); default ``item_texts``.
    max_pairs : int, optional
        Keep a random sample of this many pairs (seeded).
    history_builder : callable, optional
        ``f(texts_most_recent_first) -> str`` replacing the default joiner.

    Returns
    -------
    Pairs
        ``exclude`` covers every event of ``history`` and ``targets``.

    Examples
    --------
    >>> log = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [1, 2, 3], "timestamp": [1, 2, 3]})
    >>> p = make_pairs(Interactions.from_frame(log), None, {1: "a", 2: "b", 3: "c"})
    >>> p.histories, p.candidates
    (['a', 'b | a'], ['b', 'c'])
    """
    label = check_choice(label, "label", ["binary", "rating"])
    history_size = check_positive_int(history_size, "history_size")
    cand_text = align_item_texts(history.items, item_texts)
    hist_text = cand_text if history_item_texts is None else align_item_texts(history.items, history_item_texts)
    build = history_builder or (lambda texts: history_text(list(texts), max_words=max_history_words))
    n_items = history.n_items
    rng = np.random.default_rng(seed)
    if targets is None:
        order, position, _ = user_time_order(history, missing="row")
        u, i = history.user_index[order], history.item_index[order]
        r = history.ratings[order] if label == "rating" else np.ones(len(u))
        first = _first_occurrence(u, i, n_items)
        user_start = np.arange(len(u)) - position  # first sorted position of the event's user
        # distinct items before each event: first occurrences earlier in the user's time line
        n_before = np.cumsum(first) - first
        n_before = n_before - n_before[user_start]
        keep = first & (n_before >= min_history) & (~np.isnan(r))
        pos = _sample_positions(np.nonzero(keep)[0], max_pairs, rng)
        histories = []
        for p in pos:  # one short window per pair
            seen, hist = set(), []
            for q in range(p - 1, user_start[p] - 1, -1):
                item = int(i[q])
                if item not in seen:
                    seen.add(item)
                    hist.append(item)
                    if len(hist) == history_size:
                        break
            histories.append(build(hist_text[hist].tolist()))
        exclude = history.matrix()
    else:
        check_same_universe(history, targets, names=("history", "targets"))
        order, _, _ = user_time_order(targets, missing="row")
        u, i = targets.user_index[order], targets.item_index[order]
        r = targets.ratings[order] if label == "rating" else np.ones(len(u))
        seen = history.matrix()
        in_history = np.asarray(seen[u, i]).ravel() > 0
        has_history = history.user_counts()[u] >= min_history
        keep = _first_occurrence(u, i, n_items) & ~in_history & has_history & ~np.isnan(r)
        pos = _sample_positions(np.nonzero(keep)[0], max_pairs, rng)
        hists = user_histories(history, max_items=history_size)
        cache: dict[int, str] = {}
        histories = []
        for user in u[pos]:
            if user not in cache:
                cache[user] = build(hist_text[hists[user]].tolist())
            histories.append(cache[user])
        exclude = (seen + targets.matrix()).tocsr()
    users, items, labels = u[pos], i[pos], r[pos].astype(np.float64)
    if len(users) == 0:
        raise CourseKitError("no pairs could be built: no target event is a first interaction with at least "
                             f"min_history={min_history} earlier item(s). Use a longer log or lower min_history.")
    exclude.data[:] = 1
    return Pairs(users.astype(np.int64), items.astype(np.int64), histories, labels, cand_text, exclude.tocsr())
