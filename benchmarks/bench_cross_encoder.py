"""Cross-encoder throughput on this machine: training pairs/s (full, LoRA, frozen lower layers) and scoring pairs/s.

Run::

    .venv/bin/python benchmarks/bench_cross_encoder.py [--model MODEL] [--steps 3] [--batch-size 32]
        [--max-length 96] [--score-pairs 512] [--device auto]

Pairs are built from the shop (``coursekit.datasets.load_shop``): history text (most recent
first) and candidate text, 1 positive + 3 sampled negatives per group. Each training variant
runs ``--steps`` timed steps after one warm-up step on a copy of the model
(:func:`coursekit.finetune.training_step_cost`).
"""
from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="hub id or folder (default: offline all-MiniLM-L6-v2)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=96)
    parser.add_argument("--score-pairs", type=int, default=512)
    parser.add_argument("--freeze-layers", type=int, default=4)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    print("command:", shlex.join([sys.executable, *sys.argv]))

    import torch

    from coursekit.datasets import load_shop
    from coursekit.env import pick_device
    from coursekit.finetune import make_pairs, training_step_cost
    from coursekit.text.cross_encoder import CrossEncoder
    from coursekit.text.items import item_texts

    device = pick_device(args.device)
    print(f"python {platform.python_version()}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"device {device}")
    shop = load_shop()
    inter = shop.to_interactions()
    pairs = make_pairs(inter, None, item_texts(shop), max_pairs=max(4 * args.score_pairs, 2000), seed=0)
    t0 = time.perf_counter()
    ce = CrossEncoder.from_pretrained(args.model, max_length=args.max_length, device=device)
    print(f"model loaded in {time.perf_counter() - t0:.1f} s: {ce!r}")

    rows = []
    for name, kw in [("full fine-tuning", {}), ("LoRA r=8 (query, value)", {"lora": True}),
                     (f"freeze embeddings + {args.freeze_layers} lower layers", {"freeze_layers": args.freeze_layers})]:
        cost = training_step_cost(ce, pairs, n_steps=args.steps, batch_size=args.batch_size, **kw)
        rows.append((name, cost.trainable_params, cost.total_params, cost.seconds_per_step,
                     args.batch_size / cost.seconds_per_step))
    print(f"\ntraining, batch {args.batch_size} pairs, max_length {args.max_length}, median of {args.steps} steps:")
    print(f"{'variant':45s} {'trainable':>12s} {'total':>12s} {'s/step':>8s} {'pairs/s':>8s}")
    for name, tr, tot, s, ps in rows:
        print(f"{name:45s} {tr:12,d} {tot:12,d} {s:8.2f} {ps:8.1f}")

    n = min(args.score_pairs, len(pairs))
    h, c = pairs.histories[:n], pairs.candidates[:n]
    ce.score_pairs(h[:64], c[:64], batch_size=64)  # warm-up
    t0 = time.perf_counter()
    ce.score_pairs(h, c, batch_size=64)
    dt = time.perf_counter() - t0
    print(f"\nscoring {n} pairs (batch 64, max_length {args.max_length}): {dt:.1f} s = {n / dt:.1f} pairs/s "
          f"(re-ranking 100 candidates costs {100 / (n / dt):.2f} s per user)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
