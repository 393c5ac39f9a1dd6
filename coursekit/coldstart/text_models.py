r"""Text models for new items, chosen on validation: inputs, a trained two-tower, per-bucket tables.

Every text model of a strict cold-item comparison gets the same treatment:

* :func:`text_inputs` -- the candidate inputs: TF-IDF and frozen MiniLM vectors of the full
  descriptions (:func:`coursekit.text.item_texts`) and of the short attribute summaries
  (:func:`coursekit.text.item_summaries`);
* :func:`validation_cold_split` -- a **validation** part cut from the training data only: a share of
  the warm items loses every training event and plays "new item" (the test items never choose);
* :func:`validate_cold_models` -- fits each candidate on the rest and scores it, per user, by
  NDCG@k among those pseudo-cold items; a model whose ``fit`` takes ``valid=`` (the two-tower) also
  early-stops on it;
* :func:`history_buckets`, :func:`bucket_table` -- the comparison per user-history bucket, with the
  counts (users, test events) each number rests on and the paired gap

.. math:: \bar d = \frac{1}{n}\sum_u (a_u - b_u), \qquad \mathrm{SE} = \frac{s_d}{\sqrt n}

of a reference model against every other model in each bucket.

>>> import pandas as pd
>>> vals = {"A": np.array([1.0, 0.5, 0.0, 1.0]), "B": np.array([0.5, 0.5, 0.0, 0.0])}
>>> t = bucket_table(vals, np.array(["short", "short", "long", "long"]), reference="A",
...                  events=np.array([1, 2, 3, 4]))
>>> int(t.loc["short", "users"]), int(t.loc["short", "test events"]), t.loc["short", "A - B"]
(2, 3, '+0.2500 ± 0.2500')
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError
from coursekit.coldstart.item_features import encoder_item_vectors, tfidf_item_vectors
from coursekit.coldstart.protocols import cold_item_mask, paired_gap, per_user_ndcg, strict_cold_items
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender
from coursekit.splits import Split

__all__ = ["text_inputs", "validation_cold_split", "validate_cold_models", "history_buckets", "bucket_table"]

#: the two text sources every text model is tried on
TEXT_SOURCES = ("descriptions", "summaries")


def text_inputs(dataset: Any, item_ids: Sequence[int] | np.ndarray, encoder: Any = None,
                kinds: Sequence[str] = ("TF-IDF", "MiniLM"),
                max_features: int = 4096) -> dict[tuple[str, str], pd.DataFrame]:
    r"""Item vectors of every (vector kind, text source) pair, rows in the order of ``item_ids``.

    Sources: ``"descriptions"`` (:func:`coursekit.text.item_texts`: title and description) and
    ``"summaries"`` (:func:`coursekit.text.item_summaries`: category, brand, price band, words).
    Kinds: ``"TF-IDF"`` (L2-normalised, :func:`tfidf_item_vectors`) and ``"MiniLM"`` (the frozen
    ``encoder``, a :class:`coursekit.text.TextEncoder`; needed when ``"MiniLM"`` is asked for).
    ``max_features`` caps the TF-IDF vocabulary (the most frequent words; a trained adaptor on
    TF-IDF vectors costs time in proportion to it).

    >>> from types import SimpleNamespace
    >>> items = pd.DataFrame({"item_id": [1, 2], "title": ["Oak mug", "Elm cup"], "text": ["A mug.", "A cup."],
    ...                       "category": ["kitchen"] * 2, "brand": ["Oak", "Elm"], "price_band": ["budget"] * 2,
    ...                       "words": [["rustic"], ["soft"]]})
    >>> sorted(text_inputs(SimpleNamespace(items=items), [2, 1], kinds=("TF-IDF",)))
    [('TF-IDF', 'descriptions'), ('TF-IDF', 'summaries')]
    """
    from coursekit.text import item_summaries, item_texts

    bad = sorted(set(kinds) - {"TF-IDF", "MiniLM"})
    if bad:
        raise CourseKitError(f"kinds must be among 'TF-IDF' and 'MiniLM', got {bad!r}.")
    if "MiniLM" in kinds and encoder is None:
        raise CourseKitError("text_inputs(kinds=('MiniLM', ...)) needs encoder= (a coursekit.text.TextEncoder).")
    ids = np.asarray(item_ids)
    texts = {"descriptions": item_texts(dataset), "summaries": item_summaries(dataset)}
    out = {}
    for source in TEXT_SOURCES:
        t = texts[source].reindex(ids)
        if t.isna().any():
            raise CourseKitError(f"no {source} text for item id(s) {ids[t.isna().to_numpy()][:5].tolist()}; "
                                 "item_ids must come from the dataset's item table.")
        for kind in kinds:
            out[kind, source] = (tfidf_item_vectors(t, max_features=max_features) if kind == "TF-IDF"
                                 else encoder_item_vectors(t, encoder))
    return out


def validation_cold_split(train: Interactions, frac: float = 0.1, seed: int = 0) -> Split:
    """Pseudo-cold validation cut from the **training** data: ``frac`` of its items lose every event.

    The returned ``Split.train`` keeps the other items' events, ``Split.test`` (the validation events)
    holds every event of the held-out items, so model choices never look at the real test set.

    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [1, 2, 1, 3, 2]})
    >>> v = validation_cold_split(Interactions.from_frame(log), frac=0.34, seed=0)
    >>> len(v.train) + len(v.test), int((v.train.item_counts()[v.test.item_index] > 0).sum())
    (5, 0)
    """
    if not 0.0 < frac < 1.0:
        raise CourseKitError(f"frac must be in (0, 1), got {frac!r}; e.g. frac=0.1 holds out 10 % of the items.")
    return strict_cold_items(train, test_frac=frac, seed=seed)


def validate_cold_models(models: Mapping[str, Recommender], split: Split, k: int = 10) -> pd.DataFrame:
    r"""Fit each model on ``split.train`` and score it among the pseudo-cold items of ``split.test``.

    Per user: NDCG@k of the ranking of the held-out items only (:func:`per_user_ndcg` with
    ``candidates`` = the items with validation and no training events). A model whose ``fit``
    accepts ``valid=`` gets ``split.test`` for early stopping. Returns one row per model: ``ndcg``
    (mean), ``se`` (:math:`s/\sqrt n`), ``users``, ``best_epoch`` (early-stopped models, else NaN)
    and ``fit s``; the fitted models are in ``table.attrs["models"]``.

    >>> from coursekit.models import MostPopular
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": [1, 2, 1, 3, 2, 3]})
    >>> v = validation_cold_split(Interactions.from_frame(log), frac=0.34, seed=0)
    >>> list(validate_cold_models({"pop": MostPopular()}, v).columns)
    ['ndcg', 'se', 'users', 'best_epoch', 'fit s']
    """
    import time

    if not models:
        raise CourseKitError("models is empty; pass {name: unfitted Recommender}.")
    cold = cold_item_mask(split.train, split.test)
    rows, fitted = {}, {}
    for name, model in models.items():
        start = time.perf_counter()
        if "valid" in inspect.signature(model.fit).parameters:
            model.fit(split.train, valid=split.test)
        else:
            model.fit(split.train)
        seconds = time.perf_counter() - start
        _, values = per_user_ndcg(model, split.train, split.test, k, candidates=cold)
        rows[name] = {"ndcg": float(values.mean()), "se": float(values.std(ddof=1) / np.sqrt(max(len(values), 1)))
                      if len(values) > 1 else float("nan"), "users": int(len(values)),
                      "best_epoch": float(getattr(model, "best_epoch_", np.nan)), "fit s": seconds}
        fitted[name] = model
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    table.attrs["models"] = fitted
    return table


def history_buckets(train: Interactions, users: np.ndarray, edges: Sequence[int] = (1, 20, 50, 100)) -> np.ndarray:
    """Label of each user (internal index) by their number of training events: ``"1-19"``, ..., ``">=100"``.

    ``edges`` are the increasing lower bounds of the buckets (the first should be 1: evaluated users
    have a training event).

    >>> log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 1]})
    >>> history_buckets(Interactions.from_frame(log), np.array([0, 1]), edges=(1, 2)).tolist()
    ['>=2', '1']
    """
    e = np.asarray(edges, dtype=np.int64)
    if e.ndim != 1 or e.size == 0 or np.any(np.diff(e) <= 0):
        raise CourseKitError(f"edges must be increasing lower bounds, e.g. (1, 20, 50, 100); got {tuple(edges)!r}.")
    labels = [f"{lo}-{hi - 1}" if hi - 1 > lo else f"{lo}" for lo, hi in zip(e[:-1], e[1:])] + [f">={e[-1]}"]
    n = train.user_counts()[np.asarray(users, dtype=np.int64)]
    pos = np.searchsorted(e, n, side="right") - 1
    if np.any(pos < 0):
        raise CourseKitError(f"some users have fewer than edges[0] = {e[0]} training events; start edges at 0 or 1.")
    return np.asarray(labels, dtype=object)[pos]


def bucket_table(values: Mapping[str, np.ndarray], buckets: np.ndarray, reference: str,
                 events: np.ndarray | None = None, order: Sequence[str] | None = None) -> pd.DataFrame:
    r"""Per bucket: the counts, each model's mean, and ``reference`` minus each other model ± its paired SE.

    Parameters
    ----------
    values : {model name: per-unit values}, all aligned with ``buckets``
    buckets : array of labels, one per unit (e.g. :func:`history_buckets`)
    reference : str
        The model every other one is compared with (columns ``"<reference> - <other>"``, formatted
        ``"+d ± SE"``; a row ``"all"`` covers every unit).
    events : array, optional
        Per-unit counts (e.g. test events per user), summed per bucket in ``"test events"``.
    order : labels in display order (default: order of first appearance); labels without units are left out.
    """
    if reference not in values:
        raise CourseKitError(f"reference={reference!r} is not among the models {list(values)}.")
    b = np.asarray(buckets, dtype=object)
    for name, v in values.items():
        if len(v) != len(b):
            raise CourseKitError(f"values[{name!r}] has {len(v)} entries, buckets has {len(b)}; align them.")
    labels = list(order) if order is not None else list(dict.fromkeys(b.tolist()))
    rows = {}
    parts = [(lab, b == lab) for lab in labels]
    for label, mask in [*[(lab, m) for lab, m in parts if m.any()], ("all", np.ones(len(b), dtype=bool))]:
        row: dict[str, Any] = {"users": int(mask.sum())}
        if events is not None:
            row["test events"] = int(np.asarray(events)[mask].sum())
        for name, v in values.items():
            row[name] = float(np.mean(np.asarray(v)[mask])) if mask.any() else float("nan")
        for name, v in values.items():
            if name != reference:
                d, se = paired_gap(np.asarray(values[reference])[mask], np.asarray(v)[mask]) if mask.sum() > 1 \
                    else (float("nan"), float("nan"))
                row[f"{reference} - {name}"] = f"{d:+.4f} ± {se:.4f}"
        rows[label] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "bucket"
    return table
