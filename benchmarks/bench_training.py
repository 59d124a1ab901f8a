"""Training throughput of every backbone with and without MS-Mix and each baseline mixup.

    python -m benchmarks.bench_training                       # all backbones and augmentations, MOSI and MOSEI shapes
    python -m benchmarks.bench_training --backbones tfn lmf --augmentations none msmix --shapes mosi
    python -m benchmarks.bench_training --device cuda --bf16  # on a GPU, bf16 through accelerate
    python -m benchmarks.bench_training --backbones lmf --augmentations none msmix --shapes mosi \
        --data-paths arrow in_memory  # the data path before (arrow) and after (in_memory)
    python -m benchmarks.bench_training --backbones tfn --augmentations none msmix --shapes mosi \
        --keep-freed-cpu-memory off on  # glibc's defaults (off) and freed memory kept in the heap (on)

Each (shape, backbone, augmentation) trains ``--warmup`` + ``--steps`` steps of batch
``--batch-size`` through the real ``MSMixTrainer`` (``trainer.training_run`` builds the config,
model and collator exactly as ``trainer/run.py`` does) in a fresh process, on a synthetic
dataset of that shape saved to disk and memory-mapped. It prints per configuration: the median
step time split into data (loader + collator), forward (incl. mixing and losses), backward,
optimizer and the rest; samples/s; peak RSS; the share of the step spent on data; the
step-time ratio to no augmentation; and the median process CPU time of a step (user + system,
less disturbed than wall time by other processes on a shared machine), its system part and its
minor page faults. ``--data-paths`` runs each configuration reading the memory-mapped Arrow rows
(``arrow``, the path before the in-memory one existed) and/or the tensors prepared in memory
(``in_memory``, the default of ``trainer/run.py`` for data that fits), and prints both side by
side. ``--keep-freed-cpu-memory`` does the same with the training option of that name
(``trainer.cpu_memory``): ``on`` (as in training) and/or ``off``, column ``freed`` (kept in
the heap, or returned to the OS as glibc does by default). On CUDA it also counts the FLOPs of
one training step (``torch.utils.flop_counter``) and reports the fraction of the GPU's bf16 peak
reached.

Targets: MS-Mix step time at most 1.3x no augmentation for every backbone; data (collator +
loader) under 5 % of the step on the in-memory path.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.timing import MemorySampler, StepTimingCallback, run_isolated
from modeling_msmix import BACKBONES as REGISTERED_BACKBONES, augmentation_names
from trainer.collator import MSMixDataCollator

BACKBONES: tuple[str, ...] = tuple(REGISTERED_BACKBONES)
AUGMENTATIONS: tuple[str, ...] = tuple(augmentation_names(with_variants=False))
SHAPES: dict[str, dict[str, int]] = {
    "mosi": {
        "audio_dim": 5,
        "vision_dim": 20,
        "max_text_length": 50,
        "max_audio_length": 375,
        "max_vision_length": 500,
    },
    "mosei": {
        "audio_dim": 74,
        "vision_dim": 35,
        "max_text_length": 50,
        "max_audio_length": 500,
        "max_vision_length": 500,
    },
}
MSMIX_STEP_RATIO_TARGET = 1.3
DATA_SHARE_TARGET = 0.05
DATA_PATHS: tuple[str, ...] = ("arrow", "in_memory")
FREED_MEMORY: dict[str, bool] = {"on": True, "off": False}
BF16_PEAK_TFLOPS: dict[str, float] = {"H100 PCIe": 756.0, "H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0}


def _save_dataset(path: str, train_size: int, shape: str, seed: int) -> None:
    import datasets

    from data_processing.synthetic import SyntheticConfig, generate_default_dataset

    config = SyntheticConfig(train_size=train_size, validation_size=8, test_size=8, seed=seed, **SHAPES[shape])
    datasets.disable_progress_bars()
    generate_default_dataset(config).save_to_disk(path)


def prepare_dataset(cache_dir: Path, shape: str, train_size: int, seed: int = 0) -> Path:
    """A synthetic ``shape`` dataset with ``train_size`` training rows saved under ``cache_dir`` (reused if there).

    It is generated in a separate process so that the generator's in-memory rows never count
    towards a measured process.
    """
    path = cache_dir / f"{shape}-train{train_size}-seed{seed}"
    if not (path / "dataset_dict.json").is_file():
        run_isolated(_save_dataset, path=str(path), train_size=train_size, shape=shape, seed=seed)
    return path


@dataclasses.dataclass
class TimedCollator(MSMixDataCollator):
    """``MSMixDataCollator`` that records the seconds of each call (only calls in this process: none with workers)."""

    seconds: list[float] = dataclasses.field(default_factory=list)

    def __call__(self, rows):
        start = time.perf_counter()
        batch = super().__call__(rows)
        self.seconds.append(time.perf_counter() - start)
        return batch


def bf16_peak_flops(device_name: str, override_tflops: float | None) -> float | None:
    """The dense bf16 peak of the named GPU in FLOP/s (``override_tflops`` wins), or ``None`` if unknown."""
    if override_tflops:
        return override_tflops * 1e12
    for key, tflops in BF16_PEAK_TFLOPS.items():
        if key in device_name:
            return tflops * 1e12
    return None


def _training_step_flops(model, batch: dict[str, Any]) -> int | None:
    """FLOPs of one forward + backward, or ``None`` where the counter cannot follow the step.

    (``FlopCounterMode`` rejects the ``torch.autograd.grad`` call inside AdvMixUp's forward.)
    """
    from torch.utils.flop_counter import FlopCounterMode

    model.train()
    try:
        with FlopCounterMode(display=False) as counter:
            model(**batch).loss.backward()
    except RuntimeError:
        return None
    finally:
        model.zero_grad()
    return counter.get_total_flops()


def measure_training(
    dataset_path: str,
    backbone: str,
    augmentation: str,
    batch_size: int,
    steps: int,
    warmup: int,
    device: str = "cpu",
    bf16: bool = False,
    config_overrides: str | None = None,
    threads: int | None = None,
    num_workers: int = 0,
    data_path: str = "in_memory",
    keep_freed_cpu_memory: bool = True,
) -> dict[str, Any]:
    """Train ``warmup + steps`` steps through ``MSMixTrainer``; return timings, memory and FLOPs."""
    import datasets
    import torch
    import transformers
    from transformers import PrinterCallback, set_seed

    if threads:
        torch.set_num_threads(threads)
    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()

    from trainer.arguments import DataArguments, ModelArguments, MSMixTrainingArguments
    from trainer.cpu_memory import keep_freed_cpu_memory_for_training
    from trainer.msmix_trainer import MSMixTrainer
    from trainer.training_run import build_collator, build_config, build_model, load_training_data

    cuda = device == "cuda"
    in_memory_max_gb = 4.0 if data_path == "in_memory" else 0.0
    data = load_training_data(DataArguments(dataset=dataset_path, in_memory_max_gb=in_memory_max_gb))
    model_args = ModelArguments(backbone=backbone, augmentation=augmentation, config_overrides=config_overrides)
    set_seed(0)
    model = build_model(model_args, build_config(model_args, data.metadata))
    collator = TimedCollator(**dataclasses.asdict(build_collator(DataArguments(), seed=0)))
    step_timer = StepTimingCallback(warmup_steps=warmup, synchronize=cuda)
    with tempfile.TemporaryDirectory() as output_dir:
        args = MSMixTrainingArguments(
            output_dir=output_dir,
            max_steps=warmup + steps,
            per_device_train_batch_size=batch_size,
            eval_strategy="no",
            save_strategy="no",
            logging_strategy="no",
            load_best_model_at_end=False,
            early_stopping_patience=None,
            report_to="none",
            disable_tqdm=True,
            dataloader_num_workers=num_workers,
            use_cpu=not cuda,
            bf16=bf16,
            seed=0,
            keep_freed_cpu_memory=keep_freed_cpu_memory,
        )
        trainer = MSMixTrainer(
            model=model,
            args=args,
            data_collator=collator,
            train_dataset=data.model_input("train"),
            callbacks=[step_timer],
        )
        trainer.remove_callback(PrinterCallback)
        step_timer.attach(trainer.model)
        with MemorySampler() as memory:
            trainer.train()
        freed_memory_kept = keep_freed_cpu_memory_for_training(trainer.args)
        batch = trainer._prepare_inputs(collator([data.dataset["train"][i] for i in range(batch_size)]))
        with trainer.compute_loss_context_manager():
            flops = _training_step_flops(trainer.model, batch)
    times = step_timer.times
    medians = times.median_ms()
    measured = times.totals()
    result = {
        "backbone": backbone,
        "augmentation": augmentation,
        "data_path": data_path,
        "keep_freed_cpu_memory": keep_freed_cpu_memory,
        "freed_memory_kept": freed_memory_kept,
        "batch_size": batch_size,
        "steps": times.steps,
        "median_ms": medians,
        "median_usage": times.median_usage(),
        "collate_ms": 1000 * statistics.median(collator.seconds[warmup:]) if len(collator.seconds) > warmup else None,
        "samples_per_second": batch_size * len(measured) / sum(measured),
        "data_share": sum(times.parts["data"]) / sum(measured),
        "peak_mb": memory.peak_mb(),
        "parameters": model.num_parameters(),
        "train_flops_per_step": flops,
        "achieved_tflops": flops / (medians["step"] / 1000) / 1e12 if flops else None,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "torch_threads": torch.get_num_threads(),
        "bf16": bf16,
    }
    return result


def _format_row(shape: str, result: dict[str, Any], baseline_ms: float | None, peak_flops: float | None) -> str:
    m = result["median_ms"]
    ratio = f"{m['step'] / baseline_ms:.2f}" if baseline_ms else "-"
    achieved = result["achieved_tflops"]
    fraction = f" {100 * achieved * 1e12 / peak_flops:6.2f}%" if peak_flops and achieved else ""
    if result.get("peak_gpu_mb") is not None:
        fraction += f" {result['peak_gpu_mb']:9.0f}"
    usage = result.get("median_usage") or {"cpu_ms": float("nan"), "system_ms": float("nan"),
                                            "page_faults": float("nan")}
    return (
        f"{shape:6s} {result['backbone']:10s} {result['augmentation']:15s} {result['data_path']:9s} "
        f"{'kept' if result.get('freed_memory_kept') else 'OS' if result.get('device') == 'cpu' else '-':5s} "
        f"{m['step']:9.1f} {m['data']:7.1f} "
        f"{m['forward']:8.1f} {m['backward']:8.1f} {m['optimizer']:7.1f} {result['samples_per_second']:9.1f} "
        f"{result['peak_mb']['rss']:8.0f} {100 * result['data_share']:6.1f}% {ratio:>6s} "
        f"{usage['cpu_ms']:8.1f} {usage['system_ms']:7.1f} {usage['page_faults']:7.0f}{fraction}"
    )


HEADER = (
    f"{'shape':6s} {'model':6s} {'augmentation':15s} {'data path':9s} {'freed':5s} {'step ms':>9s} {'data':>7s} "
    f"{'forward':>8s} {'backward':>8s} "
    f"{'optim':>7s} {'samples/s':>9s} {'RSS MB':>8s} {'data%':>7s} {'xnone':>6s} {'CPU ms':>8s} {'sys ms':>7s} "
    f"{'faults':>7s}"
)


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per shape, backbone and data path: MS-Mix/none and MS-Mix/fastest baseline step ratios, largest data share."""
    summary: dict[str, Any] = {}
    for result in results:
        key = f"{result['shape']}/{result['backbone']}/{result['data_path']}"
        if not result.get("keep_freed_cpu_memory", True):
            key += "/freed-to-OS"
        entry = summary.setdefault(key, {"data_share_max": 0.0})
        entry[result["augmentation"]] = result["median_ms"]["step"]
        entry["data_share_max"] = max(entry["data_share_max"], result["data_share"])
    for entry in summary.values():
        if "none" in entry and "msmix" in entry:
            entry["msmix_over_none"] = entry["msmix"] / entry["none"]
            entry["msmix_target_met"] = entry["msmix_over_none"] <= MSMIX_STEP_RATIO_TARGET
        baselines = [entry[a] for a in AUGMENTATIONS if a not in ("none", "msmix") and a in entry]
        if baselines and "msmix" in entry:
            entry["msmix_over_fastest_baseline_mixup"] = entry["msmix"] / min(baselines)
        entry["data_target_met"] = entry["data_share_max"] < DATA_SHARE_TARGET
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=BACKBONES)
    parser.add_argument("--augmentations", nargs="+", default=list(AUGMENTATIONS), choices=AUGMENTATIONS)
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="measured steps per configuration")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured steps before them")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--bf16", action="store_true", help="bf16 mixed precision (accelerate autocast)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads per run (default: torch's)")
    parser.add_argument(
        "--config-overrides",
        default=None,
        help="model config settings for every run, as trainer/run.py's --config_overrides",
    )
    parser.add_argument(
        "--num-workers",
        type=int,
        default=0,
        help="DataLoader worker processes (with workers, 'data' is the wait for the next batch)",
    )
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak, if not in the table"
    )
    parser.add_argument("--data-paths", nargs="+", default=list(DATA_PATHS), choices=DATA_PATHS,
                        help="arrow: memory-mapped rows (before); in_memory: prepared tensors (after)")
    parser.add_argument("--keep-freed-cpu-memory", nargs="+", default=["on"], choices=list(FREED_MEMORY),
                        help="CPU: keep freed memory in the heap (on, as in training) or leave glibc's defaults (off); "
                        "'freed' column: kept or OS")
    parser.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "msmix-bench-data"))
    parser.add_argument("--output", default=None, help="also write all results as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    cache_dir = Path(args.cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    train_size = args.batch_size * (args.steps + args.warmup)
    augmentations = (
        ["none", *[a for a in args.augmentations if a != "none"]]
        if "none" in args.augmentations
        else args.augmentations
    )
    results: list[dict[str, Any]] = []
    peak_flops = None
    print(HEADER + ("  %bf16 peak  GPU MB" if args.device == "cuda" else ""), flush=True)
    for shape in args.shapes:
        dataset_path = prepare_dataset(cache_dir, shape, train_size)
        for backbone in args.backbones:
            baseline_ms = {}
            settings = list(dict.fromkeys(args.keep_freed_cpu_memory))
            for augmentation, data_path, freed in [(a, p, f) for a in augmentations for p in args.data_paths
                                                   for f in settings]:
                try:
                    result = run_isolated(
                        measure_training,
                        dataset_path=str(dataset_path),
                        backbone=backbone,
                        augmentation=augmentation,
                        batch_size=args.batch_size,
                        steps=args.steps,
                        warmup=args.warmup,
                        device=args.device,
                        bf16=args.bf16,
                        threads=args.threads,
                        num_workers=args.num_workers,
                        config_overrides=args.config_overrides,
                        data_path=data_path,
                        keep_freed_cpu_memory=FREED_MEMORY[freed],
                    )
                except RuntimeError as error:
                    print(f"{shape:6s} {backbone:10s} {augmentation:15s} {data_path:9s} {freed:5s} FAILED: {error}",
                          flush=True)
                    continue
                result["shape"] = shape
                if args.device == "cuda":
                    peak_flops = bf16_peak_flops(result["device"], args.peak_tflops)
                if augmentation == "none":
                    baseline_ms[data_path, freed] = result["median_ms"]["step"]
                results.append(result)
                print(_format_row(shape, result, baseline_ms.get((data_path, freed)), peak_flops), flush=True)
                if args.output:
                    Path(args.output).write_text(json.dumps({"results": results}, indent=2))
    summary = summarize(results)
    print("\ntargets: MS-Mix step <= 1.3x none; data (loader + collator) < 5% of the step on the in-memory path")
    for key, entry in summary.items():
        ratio = entry.get("msmix_over_none")
        ratio_text = f"MS-Mix/none {ratio:.2f} ({'met' if entry['msmix_target_met'] else 'MISSED'})" if ratio else ""
        data_text = (
            f"max data share {100 * entry['data_share_max']:.1f}% ({'met' if entry['data_target_met'] else 'MISSED'})"
        )
        versus = entry.get("msmix_over_fastest_baseline_mixup")
        versus_text = f"MS-Mix/fastest baseline mixup {versus:.2f}" if versus else ""
        print(f"  {key:24s} {ratio_text:28s} {data_text:32s} {versus_text}")
    if args.output:
        Path(args.output).write_text(json.dumps({"results": results, "summary": summary}, indent=2))
    return results


if __name__ == "__main__":
    main()
