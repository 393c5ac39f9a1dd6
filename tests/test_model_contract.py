"""Every registered recommender passes every contract check (coursekit.models.contract)."""
import pytest

from coursekit.models import CONTRACT_CASES
from coursekit.models.contract import CHECKS


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
@pytest.mark.parametrize("name", sorted(CONTRACT_CASES))
def test_contract(name, check):
    check(CONTRACT_CASES[name])


def test_contract_catches_a_broken_model():
    """The suite must fail on a model that recommends training items (a test that can fail)."""
    from coursekit.models import MostPopular
    from coursekit.models.contract import check_seen_items_excluded

    class Leaky(MostPopular):
        def recommend_indices(self, user_index, k=10, exclude_seen=True, batch_size=None):
            return super().recommend_indices(user_index, k, exclude_seen=False)

    with pytest.raises(AssertionError, match="training item"):
        check_seen_items_excluded(Leaky)
