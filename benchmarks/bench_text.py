"""Text benchmark: MiniLM encoding throughput and two-tower training throughput on CPU.

* **encode items/s**: :class:`coursekit.text.TextEncoder` with the cache off, on item texts of the shop
  (or MovieLens with ``--dataset movielens``), median of ``--repeats`` runs, per torch thread count.
* **two-tower pairs/s**: :class:`coursekit.models.TwoTower` on frozen MiniLM vectors (adaptor only),
  training pairs processed per second, per thread count.
* **fine-tuning step** (``--finetune``): one end-to-end MiniLM step (batch 32, length 96), the cost that
  sets the lesson's CPU budgets.

Run::

    python benchmarks/bench_text.py                  # shop, 1 and 2 threads
    python benchmarks/bench_text.py --dataset movielens --n-items 2000 --finetune
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="shop", choices=["shop", "movielens"])
    parser.add_argument("--n-items", type=int, default=1000, help="texts encoded per run")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2, help="two-tower epochs per run")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--finetune", action="store_true", help="also time one MiniLM fine-tuning step")
    args = parser.parse_args(argv)

    import torch

    import coursekit
    from coursekit.models import TwoTower
    from coursekit.text import TextEncoder, item_texts

    data = coursekit.load_dataset(args.dataset)
    texts = item_texts(data)
    sample = texts.iloc[: args.n_items].tolist()
    inter = data.to_interactions()
    print(f"command: python {' '.join(sys.argv)}")
    print(f"data: {args.dataset}, {len(sample)} texts (mean {np.mean([len(t) for t in sample]):.0f} chars), "
          f"{inter.matrix().nnz:,} distinct training pairs; torch {torch.__version__}")
    enc = TextEncoder(cache_dir=False, max_length=args.max_length, batch_size=args.batch_size, progress=False)
    enc.encode(sample[:8])  # load the model once
    vectors = None
    for threads in args.threads:
        torch.set_num_threads(threads)
        seconds = _median_time(lambda: enc.encode(sample) if not enc._memory.clear() else None, args.repeats)
        print(f"encode  threads={threads}: {len(sample) / seconds:8.1f} items/s  "
              f"({seconds:.2f} s for {len(sample)} texts, max_length={args.max_length}, batch={args.batch_size})")
    all_vectors = enc.encode(texts.tolist())
    vectors = (texts.index.to_numpy(), all_vectors)
    n_pairs = inter.matrix().nnz
    for threads in args.threads:
        torch.set_num_threads(threads)
        model = TwoTower(vectors, dim=64, epochs=args.epochs, batch_size=256, device="cpu", seed=0)
        seconds = _median_time(lambda model=model: model.fit(inter), args.repeats)
        print(f"two-tower threads={threads}: {n_pairs * args.epochs / seconds:10.0f} pairs/s  "
              f"({seconds:.2f} s for {args.epochs} epochs x {n_pairs:,} pairs, dim 64, history 50, batch 256)")
    if args.finetune:
        from coursekit.text.encoder import load_encoder_model, mean_pool

        torch.set_num_threads(max(args.threads))
        net = load_encoder_model(device="cpu").train()
        opt = torch.optim.AdamW(net.parameters(), lr=2e-5)
        batch = enc.tokenizer(sample[:32], padding="max_length", truncation=True, max_length=96, return_tensors="pt")

        def step():
            out = mean_pool(net(**batch).last_hidden_state, batch["attention_mask"])
            loss = out.pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

        step()
        seconds = _median_time(step, args.repeats)
        print(f"fine-tune step (MiniLM, batch 32, length 96, threads={max(args.threads)}): {seconds:.2f} s "
              f"= {32 / seconds:.1f} texts/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
