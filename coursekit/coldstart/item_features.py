r"""Item content that exists when an item is created, and a probe for content that does not.

A new item has a title, a year, genres (MovieLens) or a description and attributes (the shop)
the moment it is listed. It has **no user tags**: MovieLens tags are written by people who
watched the movie, so their number and wording follow popularity. :func:`popularity_probe`
measures that leak: how well a linear model predicts an item's (log) popularity from its
content vector, cross-validated,

.. math:: R^2 = 1 - \frac{\sum_i (\log(1+n_i) - \hat y_i)^2}{\sum_i (\log(1+n_i) - \bar y)^2},

with :math:`\hat y_i` predicted by a ridge regression fitted on the other folds. Content that
exists at creation time predicts popularity a little (genres and age matter); content with tags
predicts it much better, which a cold-start evaluation would then wrongly credit to the model.

>>> texts = pd.Series(["red mug", "blue mug", "red cup"], index=[1, 2, 3])
>>> tfidf_item_vectors(texts, min_df=1).shape
(3, 4)
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError

__all__ = ["ItemVectors", "tfidf_item_vectors", "encoder_item_vectors", "popularity_probe", "popularity_probe_errors",
           "standardize"]

#: content vectors of items: a DataFrame indexed by item_id, or a pair (item ids, array of rows)
ItemVectors = pd.DataFrame | tuple[ArrayLike, ArrayLike]


def tfidf_item_vectors(texts: pd.Series, max_features: int = 4096, min_df: int = 2,
                       ngram_range: tuple[int, int] = (1, 1)) -> pd.DataFrame:
    r"""L2-normalised TF-IDF rows of item texts (scikit-learn), as a DataFrame indexed by item id.

    :math:`w_{it} = \mathrm{tf}_{it} \cdot (\ln\frac{1 + N}{1 + \mathrm{df}_t} + 1)`, rows scaled to unit
    length (scikit-learn's ``TfidfVectorizer`` defaults, ``sublinear_tf=True``).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not isinstance(texts, pd.Series):
        raise CourseKitError("texts must be a pandas Series of strings indexed by item_id "
                             "(e.g. coursekit.text.item_texts(dataset)).")
    vec = TfidfVectorizer(max_features=max_features, min_df=min(min_df, len(texts)), ngram_range=ngram_range,
                          sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
    m = vec.fit_transform(texts.fillna("").astype(str).tolist())
    return pd.DataFrame(m.toarray().astype(np.float32), index=texts.index.to_numpy())


def encoder_item_vectors(texts: pd.Series, encoder: Any = None, **encoder_kwargs: Any) -> pd.DataFrame:
    """Item vectors from a :class:`coursekit.text.TextEncoder` (cached on disk), indexed by item id."""
    from coursekit.text import TextEncoder

    enc = encoder if encoder is not None else TextEncoder(**encoder_kwargs)
    return pd.DataFrame(enc.encode(texts.fillna("").astype(str).tolist()), index=texts.index.to_numpy())


def standardize(x: np.ndarray) -> np.ndarray:
    r"""Columns centred and scaled to unit variance (constant columns stay 0): :math:`(x - \mu) / \sigma`.

    >>> standardize(np.array([[1.0, 5.0], [3.0, 5.0]])).tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    """
    x = np.asarray(x, dtype=np.float64)
    mu, sd = x.mean(axis=0), x.std(axis=0)
    return np.divide(x - mu, sd, out=np.zeros_like(x), where=sd > 0)


def popularity_probe(vectors: ArrayLike, popularity: ArrayLike, folds: int = 5, alpha: float = 10.0,
                     seed: int = 0) -> float:
    r"""Cross-validated :math:`R^2` of a ridge regression from item vectors to :math:`\log(1 + n_i)`.

    Parameters
    ----------
    vectors : array or DataFrame (n_items, d)
    popularity : array (n_items,)
        Interaction counts :math:`n_i`, aligned with the rows of ``vectors``.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 3))
    >>> popularity_probe(x, np.expm1(np.abs(x[:, 0] * 2))) > popularity_probe(rng.normal(size=(200, 3)),
    ...                                                                        np.expm1(np.abs(x[:, 0] * 2)))
    True
    """
    err = popularity_probe_errors(vectors, popularity, folds=folds, alpha=alpha, seed=seed)
    y = np.log1p(np.asarray(popularity, dtype=np.float64))
    return float(1.0 - np.sum(err) / np.sum((y - y.mean()) ** 2))


def popularity_probe_errors(vectors: ArrayLike, popularity: ArrayLike, folds: int = 5, alpha: float = 10.0,
                            seed: int = 0) -> np.ndarray:
    r"""Per-item squared cross-validated errors of the ridge probe of :func:`popularity_probe`.

    :math:`e_i = (\log(1 + n_i) - \hat y_i)^2` with :math:`\hat y_i` predicted by a model that did
    not see item :math:`i`; :math:`R^2 = 1 - \sum_i e_i / \sum_i (y_i - \bar y)^2`. Two probes with the
    same ``seed`` use the same folds, so their errors are paired per item (a claim over items).

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(100, 2))
    >>> e = popularity_probe_errors(x, np.expm1(np.abs(x[:, 0])))
    >>> e.shape, bool((e >= 0).all())
    ((100,), True)
    """
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, cross_val_predict

    x = np.asarray(vectors, dtype=np.float64)
    y = np.log1p(np.asarray(popularity, dtype=np.float64))
    if x.shape[0] != y.shape[0]:
        raise CourseKitError(f"vectors ({x.shape[0]} rows) and popularity ({y.shape[0]}) must be aligned.")
    pred = cross_val_predict(Ridge(alpha=alpha), x, y, cv=KFold(folds, shuffle=True, random_state=seed))
    return (y - pred) ** 2
