"""Which cross-encoder fine-tuning setup learns on a CPU budget: head pooling, learning rates, loss, layers, LoRA.

Run::

    .venv/bin/python benchmarks/bench_finetune_setup.py [--budget 150] [--max-length 64] [--history-words 25]
        [--variants cls:bce:1e-4,candidate:bce:1e-4:3e-3,...] [--valid-positives 400] [--threads 2]

Data: the shop, lesson 04's split (per-user temporal 20 % test, then 10 % of the training part as
validation). Pairs are (history, candidate) item summaries (``coursekit.text.item_summaries``),
built on the training part; every variant trains for ``--budget`` seconds (BCE with 3 negatives per
positive, or listwise with 7) and is scored on the same validation groups: each validation
positive with 7 random negatives, and with 7 negatives from iALS's top 50. Printed per variant:
steps, seconds per step, training loss of the first and last 50 steps against the loss of a model
that ignores its input, and the grouped AUC (``coursekit.finetune.group_auc``) with its SE and the
paired difference to the frozen MiniLM cosine.

A variant is ``pooling:loss:lr[:head_lr][:layers][:lora]``, e.g. ``candidate:bce:1e-4:3e-3:3``
(pooling ``cls`` or ``candidate``; loss ``bce`` or ``listwise``; ``layers`` = MiniLM layers kept,
default 3; append ``:lora`` for LoRA adapters instead of full fine-tuning).
"""
from __future__ import annotations

import argparse
import shlex
import sys

DEFAULT_VARIANTS = ("cls:bce:1e-4::3,candidate:bce:1e-4::3,candidate:bce:1e-4:3e-3:3,"
                    "candidate:listwise:1e-4:3e-3:3,candidate:bce:1e-4:3e-3:6,candidate:bce:1e-3:3e-3:3:lora")


def parse_variant(text: str) -> dict:
    parts = (text.split(":") + [""] * 6)[:6]
    pooling, loss, lr, head_lr, layers, lora = parts
    return {"pooling": pooling, "loss": loss, "lr": float(lr), "head_lr": float(head_lr) if head_lr else None,
            "layers": int(layers) if layers else 3, "lora": lora == "lora", "name": text}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=DEFAULT_VARIANTS)
    parser.add_argument("--budget", type=float, default=150.0, help="training seconds per variant")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--history-words", type=int, default=25)
    parser.add_argument("--valid-positives", type=int, default=400)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print("command:", shlex.join([sys.executable, *sys.argv]))

    import numpy as np
    import torch

    import coursekit
    from coursekit.claims import compare
    from coursekit.finetune import group_auc, label_prior_entropy, make_pairs, train_cross_encoder, with_negatives
    from coursekit.models import IALS
    from coursekit.splits import user_temporal_split
    from coursekit.text import TextEncoder, item_summaries
    from coursekit.text.cross_encoder import CrossEncoder

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, budget {args.budget:.0f} s per variant")
    data = coursekit.load_dataset("shop")
    inter = data.to_interactions()
    inner = user_temporal_split(user_temporal_split(inter, test_frac=0.2).train, test_frac=0.1)
    summaries = item_summaries(data).reindex(inter.items.ids)
    pair_args = dict(history_item_texts=summaries, history_size=20, max_history_words=args.history_words)
    train = make_pairs(inner.train, None, summaries, max_pairs=30000, seed=args.seed, **pair_args)
    valid = make_pairs(inner.train, inner.test, summaries, max_pairs=args.valid_positives, seed=args.seed, **pair_args)
    retriever = IALS(factors=64, reg=30.0, alpha=1.0, iterations=15, seed=args.seed).fit(inner.train)
    pool, _ = retriever.recommend_indices(np.arange(inner.train.n_users), k=50)
    groups = {"random": with_negatives(valid, np.arange(len(valid)), 7, np.random.default_rng(args.seed + 7)),
              "retriever": with_negatives(valid, np.arange(len(valid)), 7, np.random.default_rng(args.seed + 8),
                                          pool, 7)}
    encoder = TextEncoder(None, max_length=128, cache_dir=False, progress=False)
    frozen = {}
    for g, (h, c, _) in groups.items():
        hv, cv = encoder.encode(h), encoder.encode(c)
        frozen[g] = group_auc((hv * cv).sum(1) / np.linalg.norm(hv, axis=1) / np.linalg.norm(cv, axis=1), 8)
    print(f"{len(train):,} training positives, {len(valid):,} validation positives (x 8 pairs per group)")
    print(f"frozen MiniLM cosine: grouped AUC {frozen['random'].mean():.3f} (random negatives), "
          f"{frozen['retriever'].mean():.3f} (retriever's negatives)\n")

    rows = []
    for spec in args.variants.split(","):
        v = parse_variant(spec)
        ce = CrossEncoder.from_pretrained(None, max_length=args.max_length, device="cpu", num_layers=v["layers"],
                                          pooling=v["pooling"])
        n_neg = 7 if v["loss"] == "listwise" else 3
        res = train_cross_encoder(ce, train, None, n_neg=n_neg, batch_size=16, max_steps=100_000,
                                  time_budget_s=args.budget, lr=v["lr"], head_lr=v["head_lr"], lora=v["lora"],
                                  loss=v["loss"], warmup_frac=0.02, seed=args.seed, progress=False)
        prior = label_prior_entropy(1 / (1 + n_neg)) if v["loss"] == "bce" else float(np.log(1 + n_neg))
        loss = res.history["train_loss"]
        row = {"variant": spec, "steps": res.n_steps, "s/step": res.seconds_per_step,
               "loss first 50": loss.head(50).mean(), "loss last 50": loss.tail(50).mean(), "no-input loss": prior}
        for g, (h, c, _) in groups.items():
            a = group_auc(ce.logits(h, c), 8)
            claim = compare(a, frozen[g], spec, "frozen cosine", metric="grouped AUC", unit="positives")
            row[f"AUC {g}"] = f"{a.mean():.3f} ± {a.std(ddof=1) / np.sqrt(len(a)):.3f}"
            row[f"vs frozen ({g})"] = f"{claim.estimate:+.3f} ± {claim.se:.3f}"
        rows.append(row)
        print("  ".join(f"{k}={v_:.3f}" if isinstance(v_, float) else f"{k}={v_}" for k, v_ in row.items()),
              flush=True)
    import pandas as pd

    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.precision", 3):
        print("\n", pd.DataFrame(rows).set_index("variant").to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
