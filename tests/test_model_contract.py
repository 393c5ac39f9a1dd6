"""Every registered recommender passes every contract check, and the checks fail on broken models.

The cases are listed in ``tests/contract_cases.py``; each is fitted once and shared among the
checks (:func:`coursekit.models.contract_fixtures.fitted`).
"""
import numpy as np
import pytest
from contract_cases import CONTRACT_CASES

from coursekit import CourseKitError
from coursekit.models import EASE, IALS, BiasedMF, MMRReranker, MostPopular, Recommender
from coursekit.models import contract as ct
from coursekit.models.contract import CHECKS
from coursekit.models.contract_fixtures import clear_cache, contract_data


@pytest.fixture(scope="module", autouse=True)
def _fresh_fits():
    """Each test module starts and ends with an empty cache of fitted cases."""
    clear_cache()
    yield
    clear_cache()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
@pytest.mark.parametrize("name", sorted(CONTRACT_CASES))
def test_contract(name, check):
    check(CONTRACT_CASES[name])


def test_models_does_not_import_topic_packages():
    """coursekit.models sits below trust and coldstart: importing it must not load them."""
    import subprocess
    import sys

    code = ("import sys, coursekit.models; "
            "print([m for m in sys.modules if m.startswith(('coursekit.trust', 'coursekit.coldstart'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_run_contract_passes_a_good_model():
    ct.run_contract(MostPopular)


# ---------------------------------------------------------------------------- broken models must fail
class Leaky(MostPopular):
    """Recommends training items."""

    def recommend_indices(self, user_index, k=10, exclude_seen=True, batch_size=None):
        return super().recommend_indices(user_index, k, exclude_seen=False)


class RatingsCrash(MostPopular):
    """Declares ratings, but predict_rating crashes."""

    capabilities = frozenset({"ratings", "save"})

    def _predict_rating(self, user_index, item_index):
        raise ValueError("oops")


class RatingsUndeclaredButWorks(MostPopular):
    """Predicts ratings without declaring them (a caller cannot know)."""

    def predict_rating(self, users, items):
        return np.zeros(len(users))


class MutatesParams(EASE):
    """Tunes its own constructor argument during fit."""

    def _fit(self, train):
        self.reg = float(self.reg) * 2
        super()._fit(train)


class FitsInnerInPlace(MMRReranker):
    """A wrapper that fits the model it was given instead of a clone."""

    def _fit(self, train):
        self.base.fit(train)
        super()._fit(train)


class BatchDependent(MostPopular):
    """Normalises scores over the users of the batch."""

    def _score(self, user_index):
        s = super()._score(user_index) + np.asarray(user_index, dtype=np.float64)[:, None]
        return s - s.mean()


class MutatesData(MostPopular):
    """Shuffles the training data's index arrays in place."""

    def _fit(self, train):
        super()._fit(train)
        train.item_index[:] = train.item_index[::-1].copy()


class RemembersOldData(MostPopular):
    """Adds the popularity of every earlier fit (forgets nothing)."""

    def _fit(self, train):
        old = getattr(self, "total_", np.zeros(train.n_items))
        self.total_ = old[:train.n_items] + self.item_popularity_
        self.popularity_ = self.total_

    def _score(self, user_index):
        return np.broadcast_to(self.popularity_, (len(user_index), self.n_items)).copy()


class FoldInUndeclaredButWorks(MostPopular):
    """fold_in works but is not declared."""

    def fold_in(self, items, values=None):
        return self.item_popularity_.copy()


class FoldInDeclaredButRaises(MostPopular):
    """Declares fold_in and does not implement it."""

    capabilities = frozenset({"fold_in", "save"})


class FoldInIgnoresUnknownIds(IALS):
    """Declares fold_in, but maps unknown ids to item 0 instead of refusing them."""

    def fold_in(self, items, values=None):
        items = np.where(np.isin(items, self.items_.ids), items, self.items_.ids[0])
        return super().fold_in(items, values)


class FoldInWrongShape(IALS):
    def _fold_in(self, item_index, values):
        return super()._fold_in(item_index, values)[:-1]


class SimilarUndeclaredRaisesOther(MostPopular):
    """similar_items is not declared but fails with a bare Python error instead of a clear one."""

    def similar_items(self, items, k=10):
        raise KeyError(items)


class SaveDeclaredButFails(MostPopular):
    def _fit(self, train):
        super()._fit(train)
        self.lookup_ = {"not": "an array"}


class ExtraParam(MostPopular):
    """get_params returns something that is not a constructor argument."""

    def get_params(self):
        return {"secret": 1}


class Unstored(Recommender):
    """A constructor argument not stored under its name (clone and get_params cannot see it)."""

    def __init__(self, alpha: float = 1.0):
        self._alpha = alpha

    def _fit(self, train):
        pass

    def _score(self, user_index):
        return np.zeros((len(user_index), self.n_items))


BROKEN = [
    (Leaky, ct.check_seen_items_excluded, "training item"),
    (RatingsCrash, ct.check_ratings_iff_declared, "declared in capabilities but raised ValueError"),
    (RatingsUndeclaredButWorks, ct.check_ratings_iff_declared, "no error was raised"),
    (MutatesParams, ct.check_fit_keeps_params, r"\['reg'\]"),
    (lambda: FitsInnerInPlace(IALS(factors=4, iterations=2, seed=1), n_candidates=5), ct.check_fit_keeps_params,
     r"\['base'\]"),
    (BatchDependent, ct.check_batch_independent, "must not depend"),
    (MutatesData, ct.check_fit_keeps_data, "item_index"),
    (RemembersOldData, ct.check_refit_forgets_old_data, "fresh fit on B"),
    (FoldInUndeclaredButWorks, ct.check_fold_in_iff_declared, "no error was raised"),
    (FoldInDeclaredButRaises, ct.check_fold_in_iff_declared, "'fold_in' is declared in capabilities but raised"),
    (lambda: FoldInIgnoresUnknownIds(factors=4, iterations=2, seed=1), ct.check_fold_in_iff_declared,
     "unknown item"),
    (lambda: FoldInWrongShape(factors=4, iterations=2, seed=1), ct.check_fold_in_iff_declared, "declared"),
    (SimilarUndeclaredRaisesOther, ct.check_similar_items_iff_declared, "raised KeyError"),
    (SaveDeclaredButFails, ct.check_save_iff_declared, "'save' is declared in capabilities but raised"),
    (ExtraParam, ct.check_get_params_matches_constructor, "secret"),
    (Unstored, ct.check_get_params_matches_constructor, "alpha"),
]


@pytest.mark.parametrize("factory, check, message", BROKEN,
                         ids=[getattr(f, "__name__", "lambda") + "-" + c.__name__.removeprefix("check_")
                              for f, c, _ in BROKEN])
def test_broken_model_fails_the_suite(factory, check, message):
    """Each deliberately broken model fails its check (a suite that cannot fail proves nothing)."""
    clear_cache()
    with pytest.raises(AssertionError, match=message):
        check(factory)
    with pytest.raises(AssertionError):
        ct.run_contract(factory)


def test_a_rating_model_without_values_says_so():
    model = BiasedMF(factors=2, n_epochs=2, solver="als").fit(contract_data())
    with pytest.raises(CourseKitError, match="values"):
        model.fold_in([100, 101])
