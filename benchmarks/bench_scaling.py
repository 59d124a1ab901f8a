"""Time and memory of one training epoch as the dataset grows and as sequences get longer.

    python -m benchmarks.bench_scaling             # 1x, 4x, 16x MOSI train size; lengths 0.5x, 1x, 2x
    python -m benchmarks.bench_scaling --size-factors 1 4 --length-factors 1 --backbone tfn

Every point is a synthetic MOSI-shaped dataset (``SyntheticConfig``) generated in one process and
saved with ``save_to_disk``, then trained for one epoch in a fresh process that loads it with
``trainer.training_run.load_training_data`` (``load_from_disk``: memory-mapped Arrow) and trains
through ``MSMixTrainer`` exactly as ``trainer/run.py`` does.

Size points scale MOSI's training size (1284 rows) at MOSI's lengths (50/375/500); length points
scale the three maximum (and minimum) sequence lengths at MOSI's size. Per point it prints the
dataset's size on disk, epoch time, samples/s and memory: peak RSS (``ru_maxrss``), and sampled
peaks of its two parts, anonymous memory (RssAnon: the process's own heap, tensors, Python
objects) and file-backed memory (RssFile: resident pages of memory-mapped files, i.e. the Arrow
data the epoch has read plus the shared libraries). A dataset loaded whole would show up in the
anonymous part; reading a memory-mapped one only adds file-backed pages that the kernel shares
with its page cache and can drop under memory pressure. Flat anonymous memory across sizes is
the evidence that the data are memory-mapped, not loaded.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.timing import EpochTimingCallback, MemorySampler, run_isolated

MOSI_TRAIN_SIZE = 1284
MOSI_MAX_LENGTHS = (50, 375, 500)
MOSI_MIN_LENGTHS = (8, 50, 50)


def _save_dataset(path: str, train_size: int, length_factor: float, seed: int) -> None:
    import datasets

    from data_processing.synthetic import SyntheticConfig, generate_default_dataset

    datasets.disable_progress_bars()
    maxima = [max(1, round(n * length_factor)) for n in MOSI_MAX_LENGTHS]
    minima = [min(m, max(1, round(n * length_factor))) for n, m in zip(MOSI_MIN_LENGTHS, maxima)]
    config = SyntheticConfig(
        train_size=train_size,
        validation_size=8,
        test_size=8,
        seed=seed,
        max_text_length=maxima[0],
        max_audio_length=maxima[1],
        max_vision_length=maxima[2],
        min_text_length=minima[0],
        min_audio_length=minima[1],
        min_vision_length=minima[2],
    )
    generate_default_dataset(config).save_to_disk(path)


def prepare_point(cache_dir: Path, train_size: int, length_factor: float, seed: int = 0) -> Path:
    """The saved dataset of one point (generated in a separate process, reused when present)."""
    path = cache_dir / f"mosi-train{train_size}-len{length_factor:g}-seed{seed}"
    if not (path / "dataset_dict.json").is_file():
        run_isolated(_save_dataset, path=str(path), train_size=train_size, length_factor=length_factor, seed=seed)
    return path


def folder_megabytes(path: Path) -> float:
    """Total size of the files under ``path`` in MB."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def measure_epoch(
    dataset_path: str,
    backbone: str,
    augmentation: str,
    batch_size: int,
    threads: int | None = None,
    max_steps: int = -1,
) -> dict[str, Any]:
    """Load the saved dataset and train one epoch (or ``max_steps``) through ``MSMixTrainer``; time and memory."""
    import datasets
    import torch
    import transformers
    from transformers import PrinterCallback, set_seed

    from trainer.arguments import DataArguments, ModelArguments, MSMixTrainingArguments
    from trainer.msmix_trainer import MSMixTrainer
    from trainer.training_run import build_collator, build_config, build_model, load_training_data

    if threads:
        torch.set_num_threads(threads)
    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    epoch_timer = EpochTimingCallback()
    with MemorySampler() as memory, tempfile.TemporaryDirectory() as output_dir:
        data = load_training_data(DataArguments(dataset=dataset_path))
        model_args = ModelArguments(backbone=backbone, augmentation=augmentation)
        set_seed(0)
        model = build_model(model_args, build_config(model_args, data.metadata))
        args = MSMixTrainingArguments(
            output_dir=output_dir,
            num_train_epochs=1,
            max_steps=max_steps,
            per_device_train_batch_size=batch_size,
            eval_strategy="no",
            save_strategy="no",
            logging_strategy="no",
            load_best_model_at_end=False,
            early_stopping_patience=None,
            report_to="none",
            disable_tqdm=True,
            dataloader_num_workers=0,
            use_cpu=True,
            seed=0,
        )
        trainer = MSMixTrainer(
            model=model,
            args=args,
            data_collator=build_collator(DataArguments(), 0),
            train_dataset=data.dataset["train"],
            callbacks=[epoch_timer],
        )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
        rows = min(data.dataset["train"].num_rows, trainer.state.global_step * batch_size)
    seconds = epoch_timer.epoch_seconds[0]
    return {
        "train_rows": data.dataset["train"].num_rows,
        "rows_trained": rows,
        "epoch_seconds": seconds,
        "samples_per_second": rows / seconds,
        "peak_mb": memory.peak_mb(),
        "torch_threads": torch.get_num_threads(),
    }


HEADER = (
    f"{'point':10s} {'rows':>6s} {'max t/a/v':>14s} {'disk MB':>8s} {'epoch s':>8s} {'samples/s':>9s} "
    f"{'peak RSS':>9s} {'anon':>7s} {'file':>7s}"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-factors", nargs="+", type=float, default=[1, 4, 16])
    parser.add_argument("--length-factors", nargs="+", type=float, default=[0.5, 1, 2])
    parser.add_argument("--backbone", default="lmf")
    parser.add_argument("--augmentation", default="msmix")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--base-size", type=int, default=MOSI_TRAIN_SIZE, help="training rows at factor 1")
    parser.add_argument(
        "--max-steps", type=int, default=-1, help="stop the epoch after this many steps (-1: whole epoch)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "msmix-bench-data"))
    parser.add_argument("--output", default=None, help="also write all results as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    cache_dir = Path(args.cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    points = [("size", f, 1.0) for f in args.size_factors] + [("length", 1.0, f) for f in args.length_factors]
    results: list[dict[str, Any]] = []
    print(f"{args.backbone} + {args.augmentation}, batch {args.batch_size}, one epoch per point\n{HEADER}", flush=True)
    for kind, size_factor, length_factor in points:
        train_size = round(args.base_size * size_factor)
        path = prepare_point(cache_dir, train_size, length_factor)
        result = run_isolated(
            measure_epoch,
            dataset_path=str(path),
            backbone=args.backbone,
            augmentation=args.augmentation,
            batch_size=args.batch_size,
            threads=args.threads,
            max_steps=args.max_steps,
        )
        lengths = "/".join(str(max(1, round(n * length_factor))) for n in MOSI_MAX_LENGTHS)
        label = f"{kind} {size_factor if kind == 'size' else length_factor:g}x"
        result.update(
            kind=kind,
            size_factor=size_factor,
            length_factor=length_factor,
            max_lengths=lengths,
            disk_mb=folder_megabytes(path),
        )
        results.append(result)
        peak = result["peak_mb"]
        print(
            f"{label:10s} {result['train_rows']:6d} {lengths:>14s} {result['disk_mb']:8.0f} "
            f"{result['epoch_seconds']:8.1f} {result['samples_per_second']:9.1f} {peak['rss']:9.0f} "
            f"{peak['anon']:7.0f} {peak['file']:7.0f}",
            flush=True,
        )
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
