"""SASRec and BERT4Rec vs MostPopular on ml-latest-small, leave-last-out, full ranking.

Protocol
--------
1. Tuning on validation: ``leave_last_out(inter, n_test=1, n_valid=1)``; models are fitted on its
   ``train`` and scored on ``valid`` (HR@10 / NDCG@10, full ranking, seen items excluded) every
   ``--eval-every`` epochs; the epoch count with the best validation NDCG@10 is kept (seed 0).
   The test item is never used for tuning.
2. Test: ``leave_last_out(inter, n_test=1)`` (the validation item is back in train); each model is
   refitted with the chosen epochs for each seed and evaluated on ``test``; mean ± sd over seeds.

Both models get the same budget: 2 blocks, 2 heads, 32-d, 50 items, dropout 0.2, batch 64, Adam
lr 5e-3, every training window each epoch, epochs chosen on validation (at most ``--max-epochs``).

Run (CPU: about a minute per SASRec epoch on a busy 2-core machine; a GPU is used when present)::

    COURSEKIT_DATA_HOME=/path/to/folder/with/ml-latest-small.zip python benchmarks/bench_sequential.py --seeds 0 1 2
    # skip the tuning run when the epochs were chosen before on the same validation split:
    python benchmarks/bench_sequential.py --models SASRec --epochs SASRec=15 --seeds 1
"""
from __future__ import annotations

import argparse
import json
import time

import pandas as pd

from coursekit.datasets import load_movielens
from coursekit.evaluation import evaluate
from coursekit.models import BERT4Rec, MostPopular, SASRec
from coursekit.splits import leave_last_out


def metrics(model, train, test) -> dict:
    df = evaluate(model, train, test, ks=(10,), metrics=("hit_rate", "ndcg"), beyond=False)
    df = df[df["group"] == "warm users"].set_index("metric")["value"]
    return {"hr@10": float(df["hit_rate"]), "ndcg@10": float(df["ndcg"])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--max-epochs", type=int, default=24)
    ap.add_argument("--eval-every", type=int, default=4)
    ap.add_argument("--models", nargs="+", default=["SASRec", "BERT4Rec"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", nargs="*", default=[], metavar="MODEL=N",
                    help="skip tuning for MODEL and use N epochs (e.g. SASRec=15, chosen from an earlier "
                         "validation curve of the same configuration)")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    inter = load_movielens(download=False).to_interactions()
    configs = {
        # the same budget for both: architecture, window, batch, learning rate, epochs chosen on validation
        "SASRec": lambda epochs, seed: SASRec(dim=32, n_layers=2, n_heads=2, max_len=50, dropout=0.2,
                                              epochs=epochs, batch_size=64, lr=5e-3, device="auto", seed=seed),
        "BERT4Rec": lambda epochs, seed: BERT4Rec(dim=32, n_layers=2, n_heads=2, max_len=50, dropout=0.2,
                                                  epochs=epochs, batch_size=64, lr=5e-3, mask_prob=0.2,
                                                  device="auto", seed=seed),
    }
    report: dict = {"protocol": "ml-latest-small leave_last_out, full ranking, warm users", "models": {}}
    tune = leave_last_out(inter, n_test=1, n_valid=1)
    test = leave_last_out(inter, n_test=1)
    pop = metrics(MostPopular().fit(test.train), test.train, test.test)
    report["models"]["MostPopular"] = {"test": pop}
    print("MostPopular test", pop, flush=True)
    fixed = {k: int(v) for k, v in (x.split("=") for x in args.epochs)}
    for name in args.models:
        curve = []

        def on_epoch(model, epoch, curve=curve, name=name):
            if epoch % args.eval_every == 0:
                m = metrics(model, tune.train, tune.valid)
                curve.append({"epoch": epoch, **m, "loss": float(model.loss_history_[-1])})
                print(name, "valid", curve[-1], flush=True)

        t0 = time.time()
        if name in fixed:
            best = {"epoch": fixed[name], "note": "given with --epochs (tuned earlier on the same validation split)"}
        else:
            model = configs[name](args.max_epochs, 0)
            model.epoch_callback = on_epoch
            model.fit(tune.train)
            best = max(curve, key=lambda r: r["ndcg@10"])
            print(name, "chosen epochs", best["epoch"], flush=True)
        rows = []
        for seed in args.seeds:
            t1 = time.time()
            m = configs[name](best["epoch"], seed).fit(test.train)
            rows.append({"seed": seed, **metrics(m, test.train, test.test), "fit_s": time.time() - t1})
            print(name, "test", rows[-1], flush=True)
        res = pd.DataFrame(rows)
        report["models"][name] = {
            "params": configs[name](best["epoch"], 0).get_params(), "valid_curve": curve,
            "chosen_epochs": best["epoch"], "tuning": best, "test_per_seed": rows,
            "test_mean": {k: float(res[k].mean()) for k in ("hr@10", "ndcg@10")},
            "test_sd": {k: float(res[k].std(ddof=1)) if len(res) > 1 else float("nan") for k in ("hr@10", "ndcg@10")},
            "seconds": time.time() - t0,
        }
        result = report["models"][name]
        print(name, "test mean", result["test_mean"], "sd", result["test_sd"], flush=True)
    print(json.dumps(report, indent=1, default=str))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
