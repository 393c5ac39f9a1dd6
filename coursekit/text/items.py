r"""Item texts and user-history texts: what a text encoder reads.

MovieLens items become

.. math:: \text{"Title (year). Genres: } g_1, g_2\text{."} \;[\text{" Tags: } t_1, t_2\text{."}]

and shop products their title plus description. **Tags are off by default**: MovieLens user
tags are written *after* people watch a movie, so a movie that nobody has seen yet has none;
using them for cold items leaks popularity (lesson 06 measures it).

A user's history as text lists the items they liked, **most recent first**, and stops at a
budget (tokens of a given tokenizer, characters or words), so the newest taste survives the
truncation of a cross-encoder's input ``[CLS] history [SEP] candidate [SEP]``.

>>> import pandas as pd
>>> items = pd.DataFrame({"item_id": [1], "title": ["Toy Story"], "year": [1995],
...                       "genres": [["Animation", "Comedy"]], "tags": [["pixar"]]})
>>> movielens_item_text(items).iloc[0]
'Toy Story (1995). Genres: Animation, Comedy.'
>>> movielens_item_text(items, include_tags=True).iloc[0]
'Toy Story (1995). Genres: Animation, Comedy. Tags: pixar.'
>>> history_text(["Heat (1995)", "Alien (1979)", "Up (2009)"], max_words=4)
'Heat (1995) | Alien (1979)'
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_columns, check_positive_int
from coursekit.interactions import IdMap, Interactions, user_time_order

__all__ = ["movielens_item_text", "shop_item_text", "item_texts", "item_summaries", "align_item_texts",
           "user_histories", "history_text"]


def _as_list(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        return [v for v in value.split("|") if v and v != "(no genres listed)"]
    return [str(v) for v in value]


def movielens_item_text(items: pd.DataFrame, include_tags: bool = False, max_tags: int = 10) -> pd.Series:
    r"""``"Title (year). Genres: a, b. [Tags: x, y.]"`` per movie, as a Series indexed by ``item_id``.

    Parameters
    ----------
    items : DataFrame
        ``item_id``, ``title`` (without the year), ``year`` (may be missing), ``genres`` (list
        or ``"a|b"`` string), and ``tags`` (list) when ``include_tags``.
    include_tags : bool
        Append user tags. Off by default: tags exist only after users interacted with a movie.
    max_tags : int
        At most this many tags (the most used first, as the loader orders them).
    """
    check_columns(items, ["item_id", "title", "genres"], "the MovieLens item table")
    if include_tags:
        check_columns(items, ["tags"], "the MovieLens item table (include_tags=True)")
    years = items["year"] if "year" in items.columns else pd.Series([None] * len(items), index=items.index)
    out = []
    for row_title, year, genres, tags in zip(items["title"], years, items["genres"],
                                             items["tags"] if include_tags else [None] * len(items)):
        text = str(row_title)
        if year is not None and not pd.isna(year):
            text += f" ({int(year)})"
        text += "."
        g = _as_list(genres)
        if g:
            text += " Genres: " + ", ".join(g) + "."
        t = _as_list(tags)[:max_tags] if include_tags else []
        if t:
            text += " Tags: " + ", ".join(t) + "."
        out.append(text)
    return pd.Series(out, index=pd.Index(items["item_id"].to_numpy(), name="item_id"), name="text", dtype=object)


def shop_item_text(items: pd.DataFrame, include_title: bool = True) -> pd.Series:
    """The shop's product description (``"Title. Description"``), as a Series indexed by ``item_id``.

    >>> items = pd.DataFrame({"item_id": [7], "title": ["Oak mug"], "text": ["A rustic mug."]})
    >>> shop_item_text(items).iloc[0]
    'Oak mug. A rustic mug.'
    """
    check_columns(items, ["item_id", "text"] + (["title"] if include_title else []), "the shop item table")
    text = items["text"].astype(str)
    if include_title:
        text = items["title"].astype(str) + ". " + text
    return pd.Series(text.to_numpy(dtype=object), index=pd.Index(items["item_id"].to_numpy(), name="item_id"),
                     name="text", dtype=object)


def item_texts(dataset: Any, include_tags: bool = False) -> pd.Series:
    """The item texts of a coursekit :class:`~coursekit.datasets.Dataset` (MovieLens or shop layout)."""
    items = dataset.items if hasattr(dataset, "items") else dataset
    if "genres" in items.columns:
        return movielens_item_text(items, include_tags=include_tags)
    if include_tags:
        raise CourseKitError("include_tags=True applies to MovieLens only; the shop has no user tags.")
    return shop_item_text(items)


def item_summaries(dataset: Any) -> pd.Series:
    """A short, attribute-rich text per item, indexed by ``item_id``: what a *history* lists.

    Shop: ``"category, brand, price band: word, word, word"`` (every attribute the simulated
    tastes act on, in about 12 tokens); MovieLens: ``"Title (year): genre, genre"``. Full
    descriptions (:func:`item_texts`) cost 30-60 tokens each, so a 256-token pair would hold
    only a few history items; summaries fit 15-20.

    >>> items = pd.DataFrame({"item_id": [7], "title": ["Oak mug"], "text": ["A mug."], "category": ["kitchen"],
    ...                       "brand": ["Oak"], "price_band": ["budget"], "words": [["rustic", "ceramic"]]})
    >>> item_summaries(items).iloc[0]
    'kitchen, Oak, budget: rustic, ceramic'
    """
    items = dataset if isinstance(dataset, pd.DataFrame) else dataset.items
    ids = pd.Index(items["item_id"].to_numpy(), name="item_id")
    if "genres" in items.columns:
        title = items["title"].astype(str)
        year = items["year"] if "year" in items.columns else pd.Series(np.nan, index=items.index)
        genres = [", ".join(_as_list(g)) for g in items["genres"]]
        text = [f"{t} ({int(y)}): {g}" if not pd.isna(y) else f"{t}: {g}" for t, y, g in zip(title, year, genres)]
    else:
        check_columns(items, ["category", "brand", "price_band", "words"], "the shop item table")
        text = [f"{c}, {b}, {p}: {', '.join(_as_list(w))}"
                for c, b, p, w in zip(items["category"], items["brand"], items["price_band"], items["words"])]
    return pd.Series(np.asarray(text, dtype=object), index=ids, name="summary", dtype=object)


def align_item_texts(items: IdMap, texts: Mapping[int, str] | pd.Series | pd.DataFrame) -> np.ndarray:
    """Texts aligned with the item universe: ``out[j]`` is the text of item id ``items.ids[j]``.

    ``texts`` may be a mapping ``{item_id: text}``, a pandas Series indexed by item id (as
    :func:`item_texts` returns) or a DataFrame with ``item_id`` and ``text``. Every item of the
    universe needs a text.

    >>> align_item_texts(IdMap.from_ids([3, 1]), {1: "one", 3: "three", 9: "unused"}).tolist()
    ['one', 'three']
    """
    if isinstance(texts, pd.DataFrame):
        if not {"item_id", "text"} <= set(texts.columns):
            raise CourseKitError(f"an item-text table needs columns item_id and text, got {list(texts.columns)}.")
        texts = pd.Series(texts["text"].to_numpy(), index=texts["item_id"].to_numpy())
    elif not isinstance(texts, pd.Series):
        if not hasattr(texts, "items"):
            raise CourseKitError(f"item texts must be a dict, a Series indexed by item_id or a DataFrame, "
                                 f"got {type(texts).__name__}.")
        texts = pd.Series(dict(texts))
    if texts.index.has_duplicates:
        raise CourseKitError("item texts have duplicate item ids; give one text per item.")
    found = texts.reindex(items.ids)
    missing = items.ids[found.isna().to_numpy()]
    if missing.size:
        raise CourseKitError(f"no text for item id(s) {missing[:10].tolist()}{' ...' if missing.size > 10 else ''} "
                             f"({missing.size} of {len(items)}); pass a text for every item of the universe "
                             "(e.g. coursekit.text.items.item_texts(dataset)).")
    return found.astype(str).to_numpy(dtype=object)


def user_histories(train: Interactions, min_rating: float | None = None,
                   max_items: int | None = None) -> list[np.ndarray]:
    r"""Per user index, the distinct item indices of the training events, **most recent first**.

    An item seen several times counts at its latest event. With ``min_rating``, only events
    rated at least that are kept ("liked" items; unrated events are dropped). ``max_items``
    keeps the most recent ones. Time order and ties as :func:`coursekit.interactions.user_time_order`.

    >>> log = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [5, 6, 5], "timestamp": [1, 2, 3]})
    >>> [h.tolist() for h in user_histories(Interactions.from_frame(log))]
    [[0, 1]]
    """
    sub = train
    if min_rating is not None:
        r = train.ratings
        sub = train.subset(~np.isnan(r) & (r >= min_rating))
    order, position, count = user_time_order(sub, missing="row")  # by user, oldest first (the tie rule)
    newest_first = order[np.arange(len(order)) - 2 * position + count - 1]  # each user's block reversed
    u, i = sub.user_index[newest_first], sub.item_index[newest_first]
    key = u * np.int64(train.n_items) + i
    _, first = np.unique(key, return_index=True)  # the first (= newest) event of each (u, i)
    first = np.sort(first)
    u, i = u[first], i[first]
    bounds = np.searchsorted(u, np.arange(train.n_users + 1))
    hist = [i[bounds[k]:bounds[k + 1]] for k in range(train.n_users)]
    if max_items is not None:
        n = check_positive_int(max_items, "max_items")
        hist = [h[:n] for h in hist]
    return hist


def history_text(texts: Sequence[str], tokenizer: Any = None, max_tokens: int | None = None,
                 max_chars: int | None = None, max_words: int | None = None, sep: str = " | ") -> str:
    r"""Join item texts (given **most recent first**) until a budget is reached.

    Whole items are kept while they fit; the first item that does not fit ends the text (it
    is cut only if it is the very first one, so the result is never empty for a non-empty
    history). Exactly one budget must be given:

    * ``max_tokens`` with a Hugging Face ``tokenizer``: counted without special tokens (leave
      room for ``[CLS]``/``[SEP]`` and the candidate yourself);
    * ``max_chars``: characters of the joined text;
    * ``max_words``: whitespace-separated words of the items (the separator is not counted).

    >>> history_text(["a b", "c d", "e"], max_chars=9)
    'a b | c d'
    """
    budgets = [b for b in (max_tokens, max_chars, max_words) if b is not None]
    if len(budgets) != 1:
        raise CourseKitError("history_text needs exactly one budget: max_tokens (with tokenizer=), "
                             "max_chars or max_words.")
    budget = check_positive_int(budgets[0], "the budget")
    if max_tokens is not None:
        if tokenizer is None:
            raise CourseKitError("max_tokens needs tokenizer= (e.g. coursekit.text.load_tokenizer()).")

        def cost(s: str) -> int:
            return len(tokenizer(s, add_special_tokens=False)["input_ids"])
    elif max_chars is not None:
        cost = len
    else:
        def cost(s: str) -> int:  # separators are not words
            return sum(w != sep.strip() for w in s.split())
    out = ""
    for k, text in enumerate(texts):
        candidate = text if k == 0 else out + sep + text
        if cost(candidate) <= budget:
            out = candidate
            continue
        if k == 0:  # cut the first item to the budget
            out = _cut(text, budget, tokenizer if max_tokens is not None else None, max_words is not None)
        break
    return out


def _cut(text: str, budget: int, tokenizer, words: bool) -> str:
    if tokenizer is not None:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][:budget]
        return tokenizer.decode(ids)
    if words:
        return " ".join(text.split()[:budget])
    return text[:budget]
