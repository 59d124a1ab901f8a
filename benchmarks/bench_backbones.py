"""Parameter count and speed of the registered backbones at their paper sizes on MOSI-shaped batches.

For each backbone, with and without MS-Mix, prints the parameter count (MS-Mix adds the SIG
intensity predictors), the evaluation forward time (no mixing, no gradients), and the training
forward and forward+backward times (mixing on). Times are the median over ``--repeats`` runs
after one warm-up. Every row of the batch has the full lengths (the worst case).

    python benchmarks/bench_backbones.py                      # batch 64, lengths 50/375/500, CPU
    python benchmarks/bench_backbones.py --backbones tfn lmf --threads 2 --repeats 5
    python benchmarks/bench_backbones.py --backbones mult --set attn_dropout=0.0   # config overrides

Attention dropout makes torch materialise every attention map for the backward pass: MulT at its
paper settings (attn_dropout 0.1) on full MOSI lengths needs about 20 GB at batch 64 in training
(twice that with MS-Mix, which fuses 2B rows), so on small machines benchmark it with a smaller
``--batch-size`` or ``--set attn_dropout=0.0``.
"""

import argparse
import json
import statistics
import time

import torch

from modeling_msmix import BACKBONES


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lengths", type=int, nargs=3, default=(50, 375, 500), metavar=("TEXT", "AUDIO", "VISION"))
    parser.add_argument("--dims", type=int, nargs=3, default=(768, 5, 20), metavar=("TEXT", "AUDIO", "VISION"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config overrides for every benchmarked backbone (values parsed as JSON when possible)")
    return parser.parse_args()


def parse_overrides(pairs: list[str]) -> dict:
    """``["attn_dropout=0.0", "loss_type=mse"]`` -> ``{"attn_dropout": 0.0, "loss_type": "mse"}``."""
    overrides = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator:
            raise SystemExit(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def make_batch(args: argparse.Namespace) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    batch = {}
    for name, length, dim in zip(("text", "audio", "vision"), args.lengths, args.dims):
        batch[f"{name}_features"] = torch.randn(args.batch_size, length, dim, generator=generator)
        batch[f"{name}_mask"] = torch.ones(args.batch_size, length, dtype=torch.bool)
    batch["labels"] = torch.rand(args.batch_size, generator=generator) * 6 - 3
    batch["mix_seed"] = torch.tensor(0)
    return {key: value.to(args.device) for key, value in batch.items()}


def median_seconds(step, repeats: int, device: str) -> float:
    """Median wall time of ``step()`` over ``repeats`` runs after one warm-up."""
    times = []
    for index in range(repeats + 1):
        start = time.perf_counter()
        step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if index:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def benchmark(name: str, augmentation: str, batch: dict, args: argparse.Namespace) -> dict:
    config_class, model_class = BACKBONES[name]
    config = config_class(augmentation=augmentation, text_dim=args.dims[0], audio_dim=args.dims[1],
                          vision_dim=args.dims[2], **parse_overrides(args.set))
    model = model_class(config).to(args.device)
    inputs = {key: value for key, value in batch.items() if key not in ("labels", "mix_seed")}

    def evaluate():
        with torch.no_grad():
            model(**inputs)

    def train_forward():
        model(**batch)

    def train_step():
        model.zero_grad(set_to_none=True)
        model(**batch).loss.backward()

    model.eval()
    eval_time = median_seconds(evaluate, args.repeats, args.device)
    model.train()
    forward_time = median_seconds(train_forward, args.repeats, args.device)
    step_time = median_seconds(train_step, args.repeats, args.device)
    return {
        "backbone": name,
        "augmentation": augmentation,
        "parameters": sum(p.numel() for p in model.parameters()),
        "eval forward s": eval_time,
        "train forward s": forward_time,
        "train fwd+bwd s": step_time,
    }


def main() -> None:
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batch = make_batch(args)
    print(f"batch {args.batch_size}, lengths t/a/v {tuple(args.lengths)}, dims {tuple(args.dims)}, "
          f"device {args.device}, torch threads {torch.get_num_threads()}, median of {args.repeats}, "
          f"overrides {parse_overrides(args.set) or 'none'}")
    header = f"{'backbone':<10} {'augment':<7} {'params':>11} {'eval fwd s':>11} {'train fwd s':>12} {'fwd+bwd s':>10}"
    print(header)
    print("-" * len(header))
    for name in args.backbones:
        for augmentation in ("none", "msmix"):
            row = benchmark(name, augmentation, batch, args)
            print(f"{row['backbone']:<10} {row['augmentation']:<7} {row['parameters']:>11,} "
                  f"{row['eval forward s']:>11.3f} {row['train forward s']:>12.3f} {row['train fwd+bwd s']:>10.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
