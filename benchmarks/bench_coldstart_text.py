"""Fine-tuned text model vs frozen content kNN on lesson 06's strict cold-item split, measured.

The shop's cold items are its late releases (they lose every training event); MovieLens holds out a
random ``--cold-frac`` of the active items. Every text model is tried on four inputs (TF-IDF / frozen
MiniLM vectors of the full descriptions / of the attribute summaries) and each one's input (and the
two-tower's epochs) is chosen on a **validation** part of the training data: ``--valid-frac`` of the
warm items lose their training events and play "new item". The chosen models are refitted on the
whole training data and scored on the cold test users: NDCG@10 among the cold items, paired SE of
the two-tower against each model, counts of users / test events per user-history bucket. On the
shop, an oracle on the simulator's true tastes and item attributes gives the ceiling.

Usage::

    nice -n 10 .venv/bin/python benchmarks/bench_coldstart_text.py [--dataset shop|movielens] [--seed 0]

(MovieLens: ``COURSEKIT_DATA_HOME=/work/shared/data/movielens``.) Prints the tables and the command.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from coursekit import Interactions, load_dataset
from coursekit.coldstart import (
    bucket_table,
    cold_item_mask,
    history_buckets,
    per_user_ndcg,
    strict_cold_items,
    text_inputs,
    validate_cold_models,
    validation_cold_split,
)
from coursekit.models import ProfileRecommender, TwoTower
from coursekit.text import TextEncoder

TOWER = dict(dim=64, history_len=50, batch_size=512, user_embedding=True, temperature=0.2, lr=1e-2,
             epochs=15, early_stopping=2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="shop", choices=["shop", "movielens"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cold-frac", type=float, default=0.2, help="MovieLens: share of items held out as cold")
    ap.add_argument("--valid-frac", type=float, default=0.1, help="share of warm items held out for validation")
    ap.add_argument("--temperatures", type=float, nargs="+", default=[0.2])
    ap.add_argument("--tower-kinds", nargs="+", default=["TF-IDF", "MiniLM"], choices=["TF-IDF", "MiniLM"],
                    help="vector kinds the two-tower may use (e.g. only MiniLM: a 'fine-tuned MiniLM' model)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    data = load_dataset(args.dataset)
    inter = Interactions.from_frame(data.interactions)
    if args.dataset == "shop":
        late = data.items.loc[data.items["release_time"] > data.items["release_time"].min(), "item_id"].to_numpy()
        split = strict_cold_items(inter, cold_items=np.intersect1d(late, inter.items.ids))
    else:
        split = strict_cold_items(inter, test_frac=args.cold_frac, seed=args.seed)
    train, test = split.train, split.test
    cold = cold_item_mask(train, test)
    inputs = text_inputs(data, inter.items.ids, TextEncoder(progress=False))
    valid = validation_cold_split(train, frac=args.valid_frac, seed=args.seed)

    candidates = {}
    for (kind, source), vecs in inputs.items():
        candidates["kNN", kind, source] = ProfileRecommender(vecs)
        for tau in args.temperatures if kind in args.tower_kinds else ():
            candidates["two-tower", kind, source, tau] = TwoTower(vecs, **{**TOWER, "temperature": tau},
                                                                 seed=args.seed)
    table = validate_cold_models({" / ".join(map(str, k)): m for k, m in candidates.items()}, valid)
    print(f"validation: {int(cold_item_mask(valid.train, valid.test).sum())} pseudo-cold warm items, "
          f"{int(table['users'].iloc[0])} users; NDCG@10 among them")
    print(table.round(4).to_string())

    chosen = {}
    for family, kind in (("kNN", "TF-IDF"), ("kNN", "MiniLM"), ("two-tower", None)):
        keys = [k for k in candidates if k[0] == family and (kind is None or k[1] == kind)]
        best = max(keys, key=lambda k: table.loc[" / ".join(map(str, k)), "ndcg"])
        chosen[family, kind] = best
    models = {}
    for (family, kind), key in chosen.items():
        vecs = inputs[key[1], key[2]]
        if family == "kNN":
            models[f"content kNN {kind} ({key[2]})"] = ProfileRecommender(vecs).fit(train)
        else:
            epochs = int(table.loc[" / ".join(map(str, key)), "best_epoch"])
            tt = TwoTower(vecs, **{**TOWER, "temperature": key[3], "epochs": epochs, "early_stopping": None},
                          seed=args.seed)
            models[f"two-tower on {key[1]} ({key[2]}), {epochs} epochs"] = tt.fit(train)
    values, users = {}, None
    for name, m in models.items():
        users, values[name] = per_user_ndcg(m, train, test, 10, candidates=cold)
    if args.dataset == "shop":
        from coursekit.datasets.shop.truth import affinity

        a = affinity(data.truth, inter.users.ids, inter.items.ids)
        values["oracle (true tastes x attributes)"] = per_user_ndcg(a, train, test, 10, candidates=cold)[1]
    ref = next(n for n in values if n.startswith("two-tower"))
    events = test.user_counts()[users]
    table_b = bucket_table(values, history_buckets(train, users), reference=ref, events=events,
                           order=["1-19", "20-49", "50-99", ">=100"])
    pd.set_option("display.width", 250)
    print(f"\ntest: {int(cold.sum())} cold items, {len(users)} users, {int(events.sum())} test events; "
          f"NDCG@10 among the cold items by training-history length; '{ref} - X': paired gap ± SE")
    print(table_b.to_string(float_format=lambda v: f"{v:.4f}"))
    print(f"\n{time.perf_counter() - t0:.0f} s; command: python {' '.join(sys.argv)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
