r"""``explain(model, user, item, method)``: one entry point for every history explainer.

=================  =====================================================  ========================
method             what it returns (contribution of each history item)    models
=================  =====================================================  ========================
``"exact"``        the item's exact share of the score                    ItemKNN (implicit), EASE
``"kernel_shap"``  Shapley values (exact enumeration for short histories)  any with a history scorer
``"lime"``         weighted ridge coefficients on masked histories         any with a history scorer
``"counterfactual"``  removal drop of the target's score; the minimal     any with a history scorer
                   set that flips the top-1 first (``in_counterfactual``)
=================  =====================================================  ========================

"Any with a history scorer" means ItemKNN, EASE, iALS and the BERT two-stage re-ranker
(:func:`coursekit.explain.history.history_scorer`); the model's ``score`` is the black box.
For the cross-encoder's words and tokens see :func:`coursekit.explain.integrated_gradients`.

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> from coursekit.models import EASE
>>> log = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 3], "item_id": [10, 20, 30, 10, 40, 20]})
>>> model = EASE(reg=1.0).fit(Interactions.from_frame(log))
>>> a = explain(model, 1, 40, "exact"); b = explain(model, 1, 40, "kernel_shap")
>>> bool(np.allclose(a["contribution"], b["contribution"]))
True
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from coursekit._validation import check_choice
from coursekit.explain.contributions import contributions_frame
from coursekit.explain.history import HistoryScorer, history_scorer

if TYPE_CHECKING:
    from coursekit.models.base import Recommender

__all__ = ["explain", "METHODS"]

METHODS = ("exact", "kernel_shap", "lime", "counterfactual")


def explain(model: Recommender, user: int, item: int, method: str = "kernel_shap", *, seed: int = 0,
            n_samples: int | None = None, scorer: HistoryScorer | None = None, **kwargs: Any) -> pd.DataFrame:
    """Contributions of ``user``'s history items to ``model``'s score of ``item`` (external ids).

    Returns a frame ``feature`` (history item id), ``contribution``, sorted most important first
    (see :mod:`coursekit.explain.contributions`); ``attrs["ms"]`` is the wall time in milliseconds.
    """
    import time

    check_choice(method, "method", METHODS)
    start = time.perf_counter()
    if method == "exact":
        from coursekit.explain.exact import exact_contributions

        frame = exact_contributions(model, user, item)
    else:
        hs = scorer or history_scorer(model, user)
        v = hs.value_function(item)
        M = hs.n_features
        if method == "kernel_shap":
            from coursekit.explain.shapley import kernel_shap_values

            phi, v0, v1 = kernel_shap_values(v, M, n_samples=n_samples, seed=seed, **kwargs)
            frame = contributions_frame(hs.history_ids, phi, method=method, base=v0, score=v1)
        elif method == "lime":
            from coursekit.explain.lime import lime_values

            beta, b0 = lime_values(v, M, n_samples=n_samples or 1000, seed=seed, **kwargs)
            frame = contributions_frame(hs.history_ids, beta, method=method, base=b0,
                                        score=float(v(np.ones((1, M)))[0]))
        else:
            from coursekit.explain.counterfactual import counterfactual

            cf = counterfactual(model, user, item, scorer=hs, **kwargs)
            full = v(np.ones((1, M)))[0]
            loo = full - v(~np.eye(M, dtype=bool) * 1.0)             # leave-one-out drop of the target
            in_cf = np.isin(hs.history_ids, cf.removed)
            step = np.full(M, M, dtype=np.int64)
            step[[int(np.nonzero(hs.history_ids == r)[0][0]) for r in cf.removed]] = np.arange(cf.size)
            frame = pd.DataFrame({"feature": hs.history_ids, "contribution": loo, "in_counterfactual": in_cf,
                                  "_step": step})
            frame = frame.sort_values(["_step", "contribution"], ascending=[True, False], kind="stable")
            frame = frame.drop(columns="_step").reset_index(drop=True)
            frame.attrs.update(method=method, base=float("nan"), score=float(full), counterfactual=cf)
    frame.attrs["ms"] = 1000.0 * (time.perf_counter() - start)
    return frame
