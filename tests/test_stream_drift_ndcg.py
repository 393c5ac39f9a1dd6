"""drift_recovery's ``ndcg`` column: the list scored against the drifted user's own next event."""
from __future__ import annotations

import numpy as np

from coursekit.datasets import make_shop
from coursekit.models import IALS
from coursekit.stream import DecayedProfile, FrozenModel, Replay, prequential
from coursekit.stream.drift import drift_recovery, drift_window_mean


def test_drift_ndcg_is_the_prequential_ndcg_of_the_same_events():
    shop = make_shop(n_users=100, n_items=60, n_events=5000, seed=3, drift_user_frac=0.3)
    rp = Replay(shop.to_interactions(), warmup=0.3)
    model = IALS(factors=4, iterations=3, seed=0).fit(rp.warmup)
    res = drift_recovery(FrozenModel(model), rp, shop.truth, k=5)
    pre = prequential(FrozenModel(model), rp, k=5)
    # the frozen model's lists do not depend on other users' events: same values as the prequential run
    key = ["user", "timestamp"]
    merged = res.merge(pre[pre["user"].isin(res["user"])].drop_duplicates(key), on=key, suffixes=("", "_pre"))
    assert len(merged) == len(res)
    np.testing.assert_allclose(merged["ndcg"], merged["ndcg_pre"], equal_nan=True)
    assert res["ndcg"].isna().any() and res["ndcg"].dropna().between(0, 1).all() and (res["ndcg"] > 0).any()
    X = shop.truth["item_attributes"].reindex(rp.items.ids).to_numpy(float)
    prof = drift_recovery(DecayedProfile(X, half_life=5 * 86400.0), rp, shop.truth, only_drift_users=True, after=10)
    per_user = drift_window_mean(prof, 0, 10, column="ndcg")
    assert per_user.notna().all() and per_user.between(0, 1).all()
