"""Where the time of one training step goes: torch.profiler over the real model and trainer path, and an A/B.

    python -m benchmarks.profile_step --backbone tfn --augmentations none msmix --batch-size 32
    python -m benchmarks.profile_step --backbone mult --batch-size 4 --steps 2 --warmup 1
    python -m benchmarks.profile_step --backbone tfn --augmentations none msmix msmix --overrides "" "" num_mix=16
    python -m benchmarks.profile_step --backbone tfn --no-profile --keep-freed-cpu-memory off on

Each augmentation (with its ``--overrides``, one entry per augmentation) gets its own model and
``MSMixTrainer`` built as ``benchmarks.bench_training`` builds them (``trainer.training_run``),
on one batch of the synthetic ``--shape`` dataset. A step is ``trainer.training_step`` (forward,
loss, the trainer's per-step bookkeeping, backward) plus the optimizer step and ``zero_grad``.

- profile (unless ``--no-profile``): one ``torch.profiler`` run of ``--steps`` steps per
  configuration; prints the CPU time under named regions (the whole training step, forward and
  backward; the optimizer; and within the forward: encode, MS-Mix's inputs, MS-Mix and its parts,
  fuse, the mixed loss) and the top operators by self CPU time, overall and by input shapes.
- A/B (always): the configurations' steps interleaved round-robin in this one process, so that
  the load of a shared machine hits them alike; prints per configuration the median wall step and
  forward time, the process CPU time of a step (user + system; less disturbed than wall time by
  other processes on the machine), its system part and the minor page faults of a step (fresh
  memory that the kernel maps and zeroes), and the step ratios to the first configuration.
- ``--keep-freed-cpu-memory on`` (the default, as in training) applies
  ``trainer.cpu_memory.keep_freed_cpu_memory`` before the first step, ``off`` leaves glibc's
  defaults. It holds for the whole process, so with both (``off on``) each runs in a fresh
  process, one after the other, and a last table puts their A/B figures and peak RSS side by side.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import resource
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from benchmarks.bench_training import SHAPES, _save_dataset, prepare_dataset
from benchmarks.timing import process_usage, run_isolated

REGIONS: tuple[tuple[str, str, str], ...] = (
    ("modeling_msmix.modeling_base", "MSAPreTrainedModel", "_encode_checked"),
    ("modeling_msmix.modeling_base", "MSAPreTrainedModel", "_modality_context"),
    ("modeling_msmix.mixing_msmix", "MSMix", "forward"),
    ("modeling_msmix.mixing_msmix", "MSMix", "intensities"),
    ("modeling_msmix.mixing_msmix", "PartnerSelector", "select"),
    ("modeling_msmix.mixing_msmix", "MSMix", "alignment_loss"),
    ("modeling_msmix.mixing_base", "MixResult", "mixed_loss"),
)
FUNCTION_REGIONS: tuple[tuple[str, str], ...] = (
    ("modeling_msmix.mixing_msmix", "modality_similarity"),
    ("modeling_msmix.mixing_msmix", "normalise_similarity"),
    ("modeling_msmix.mixing_msmix", "mixing_statistics"),
    ("modeling_msmix.mixing_msmix", "mix_pairs"),
)


def _labelled(name: str, function):
    def wrapper(*args, **kwargs):
        with torch.profiler.record_function(name):
            return function(*args, **kwargs)

    wrapper.__wrapped__ = function
    return wrapper


@contextmanager
def labelled_regions(model_classes: list[type]):
    """Wrap the named methods and functions (and each model class's ``fuse``) in profiler regions."""
    undo = []
    targets = [(getattr(importlib.import_module(module), owner), name) for module, owner, name in REGIONS]
    targets += [(cls, "fuse") for cls in model_classes]
    for owner, name in targets:
        original = owner.__dict__[name]
        undo.append((owner, name, original))
        setattr(owner, name, _labelled(f"#{owner.__name__}.{name}", original))
    for module_name, name in FUNCTION_REGIONS:
        module = importlib.import_module(module_name)
        original = getattr(module, name)
        undo.append((module, name, original))
        setattr(module, name, _labelled(f"#{name}", original))
    try:
        yield
    finally:
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)


@dataclasses.dataclass
class Setup:
    label: str
    trainer: Any
    batch: dict[str, Any]
    forward_seconds: list[float] = dataclasses.field(default_factory=list)
    step_seconds: list[float] = dataclasses.field(default_factory=list)
    cpu_seconds: list[float] = dataclasses.field(default_factory=list)
    system_seconds: list[float] = dataclasses.field(default_factory=list)
    page_faults: list[int] = dataclasses.field(default_factory=list)


def build_setup(dataset_path: str, backbone: str, augmentation: str, overrides: str | None, batch_size: int,
                output_dir: str, keep_freed_cpu_memory: bool = True) -> Setup:
    """Model, trainer, optimizer and one prepared training batch, as ``bench_training.measure_training`` builds them."""
    from transformers import set_seed

    from trainer.arguments import DataArguments, ModelArguments, MSMixTrainingArguments
    from trainer.msmix_trainer import MSMixTrainer
    from trainer.training_run import build_collator, build_config, build_model, load_training_data

    data = load_training_data(DataArguments(dataset=dataset_path, in_memory_max_gb=4.0))
    model_args = ModelArguments(backbone=backbone, augmentation=augmentation, config_overrides=overrides or None)
    set_seed(0)
    model = build_model(model_args, build_config(model_args, data.metadata))
    collator = build_collator(DataArguments(), seed=0)
    args = MSMixTrainingArguments(
        output_dir=output_dir, max_steps=10, per_device_train_batch_size=batch_size, eval_strategy="no",
        save_strategy="no", logging_strategy="no", load_best_model_at_end=False, early_stopping_patience=None,
        report_to="none", disable_tqdm=True, use_cpu=True, seed=0, keep_freed_cpu_memory=keep_freed_cpu_memory,
    )
    trainer = MSMixTrainer(model=model, args=args, data_collator=collator, train_dataset=data.model_input("train"))
    trainer.create_optimizer()
    trainer.current_gradient_accumulation_steps = 1
    batch = next(iter(trainer.get_train_dataloader()))
    label = augmentation + (f"[{overrides}]" if overrides else "")
    return Setup(label, trainer, trainer._prepare_inputs(batch))


def run_step(setup: Setup, record: bool = True) -> None:
    """One training step: ``trainer.training_step`` (forward, loss, backward), optimizer step, ``zero_grad``."""
    trainer, model = setup.trainer, setup.trainer.model
    forward_time = {}

    def begin(module, args):
        forward_time["begin"] = time.perf_counter()

    def end(module, args, output):
        forward_time["end"] = time.perf_counter()

    hooks = [model.register_forward_pre_hook(begin), model.register_forward_hook(end)]
    start, usage = time.perf_counter(), process_usage()
    try:
        with torch.profiler.record_function("#training_step"):
            trainer.training_step(model, setup.batch)
        with torch.profiler.record_function("#optimizer"):
            trainer.optimizer.step()
            trainer.optimizer.zero_grad(set_to_none=True)
    finally:
        for hook in hooks:
            hook.remove()
    if record:
        setup.step_seconds.append(time.perf_counter() - start)
        cpu, system, faults = (now - before for now, before in zip(process_usage(), usage))
        setup.cpu_seconds.append(cpu)
        setup.system_seconds.append(system)
        setup.page_faults.append(faults)
        setup.forward_seconds.append(forward_time["end"] - forward_time["begin"])


def profile(setup: Setup, steps: int, rows: int) -> None:
    """Profile ``steps`` steps; print the named regions and the top operators by self CPU time."""
    model_classes = [type(setup.trainer.model)]
    with labelled_regions(model_classes), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                                                 record_shapes=True) as profiler:
        for _ in range(steps):
            run_step(setup, record=False)
    events = profiler.key_averages()
    step_total = sum(e.cpu_time_total for e in events if e.key == "#training_step") + sum(
        e.cpu_time_total for e in events if e.key == "#optimizer")
    print(f"\n=== {setup.label}: {steps} step(s), {step_total / steps / 1000:.1f} ms CPU per step (profiled)")
    print(f"{'region':44s} {'ms/step':>9s} {'share':>7s} {'calls/step':>10s}")
    for event in sorted((e for e in events if e.key.startswith("#")), key=lambda e: -e.cpu_time_total):
        print(f"{event.key:44s} {event.cpu_time_total / steps / 1000:9.2f} {event.cpu_time_total / step_total:7.1%} "
              f"{event.count / steps:10.1f}")
    operators = [e for e in events if not e.key.startswith("#")]
    print(f"operators: {sum(e.count for e in operators) / steps:.0f} calls per step")
    print(f"{'operator (self CPU)':44s} {'ms/step':>9s} {'share':>7s} {'calls/step':>10s}")
    for event in sorted(operators, key=lambda e: -e.self_cpu_time_total)[:rows]:
        print(f"{event.key[:44]:44s} {event.self_cpu_time_total / steps / 1000:9.2f} "
              f"{event.self_cpu_time_total / step_total:7.1%} {event.count / steps:10.1f}")
    by_shape = profiler.key_averages(group_by_input_shape=True)
    print(f"{'operator by input shapes (self CPU)':44s} {'ms/step':>9s} {'share':>7s}  shapes")
    for event in sorted((e for e in by_shape if not e.key.startswith("#")),
                        key=lambda e: -e.self_cpu_time_total)[:rows]:
        print(f"{event.key[:44]:44s} {event.self_cpu_time_total / steps / 1000:9.2f} "
              f"{event.self_cpu_time_total / step_total:7.1%}  {str(event.input_shapes)[:90]}")


SETTINGS = {"on": True, "off": False}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="tfn")
    parser.add_argument("--augmentations", nargs="+", default=["none", "msmix"])
    parser.add_argument("--overrides", nargs="+", default=None,
                        help="config overrides per augmentation ('' for none), as --config_overrides")
    parser.add_argument("--shape", default="mosi", choices=list(SHAPES))
    parser.add_argument("--max-lengths", type=int, nargs=3, default=None, metavar=("TEXT", "AUDIO", "VISION"),
                        help="shorter synthetic sequences than the shape's (shortest rows 2/15 of these)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3, help="profiled steps per configuration")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved A/B rounds")
    parser.add_argument("--rows", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--keep-freed-cpu-memory", nargs="+", default=["on"], choices=list(SETTINGS),
                        help="keep freed memory in the heap (trainer.cpu_memory); several: one fresh process each")
    parser.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "msmix-bench-data"))
    return parser.parse_args(argv)


def prepare_profile_dataset(args: argparse.Namespace) -> str:
    """The synthetic dataset of ``--shape`` (and ``--max-lengths``) with two batches of training rows."""
    cache_dir = Path(args.cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not args.max_lengths:
        return str(prepare_dataset(cache_dir, args.shape, args.batch_size * 2))
    lengths = dict(zip(("text", "audio", "vision"), args.max_lengths))
    shape = f"{args.shape}-t{lengths['text']}a{lengths['audio']}v{lengths['vision']}"
    dataset_path = str(cache_dir / f"{shape}-train{args.batch_size * 2}-seed0")
    if not (Path(dataset_path) / "dataset_dict.json").is_file():
        SHAPES[shape] = {**SHAPES[args.shape], **{f"max_{name}_length": length for name, length in lengths.items()},
                         **{f"min_{name}_length": max(1, length * 2 // 15) for name, length in lengths.items()}}
        _save_dataset(dataset_path, args.batch_size * 2, shape, 0)
    return dataset_path


def measure(args: argparse.Namespace, dataset_path: str, keep_freed_cpu_memory: bool) -> list[dict[str, Any]]:
    """Build the configurations, apply the memory setting, warm up, profile, run the interleaved A/B rounds;
    print the A/B table and return each configuration's medians (ms, page faults) and the process's peak RSS."""
    import datasets
    import transformers

    from trainer.cpu_memory import keep_freed_cpu_memory_for_training

    torch.set_num_threads(args.threads)
    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    overrides = args.overrides or [""] * len(args.augmentations)
    with tempfile.TemporaryDirectory() as output_dir:
        setups = [build_setup(dataset_path, args.backbone, augmentation, override, args.batch_size, output_dir,
                              keep_freed_cpu_memory)
                  for augmentation, override in zip(args.augmentations, overrides)]
        kept = keep_freed_cpu_memory_for_training(setups[0].trainer.args)
        shapes = {k: tuple(v.shape) for k, v in setups[0].batch.items() if torch.is_tensor(v) and v.dim() > 1}
        print(f"{args.backbone}, batch {args.batch_size}, threads {torch.get_num_threads()}, "
              f"freed CPU memory {'kept in the heap' if kept else 'returned to the OS (glibc defaults)'}, "
              f"inputs {shapes}", flush=True)
        for setup in setups:
            for _ in range(args.warmup):
                run_step(setup, record=False)
        if not args.no_profile:
            for setup in setups:
                profile(setup, args.steps, args.rows)
        for _ in range(args.rounds):
            for setup in setups:
                run_step(setup)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    base = statistics.median(setups[0].step_seconds)
    base_cpu = statistics.median(setups[0].cpu_seconds)
    print(f"\nA/B, {args.rounds} interleaved rounds (median ms): wall step, forward, ratio; process CPU step, ratio; "
          f"of it system; minor page faults (peak RSS {peak_mb:.0f} MB)")
    rows = []
    for setup in setups:
        step, cpu = statistics.median(setup.step_seconds), statistics.median(setup.cpu_seconds)
        print(f"  {setup.label:36s} {1000 * step:9.1f} {1000 * statistics.median(setup.forward_seconds):9.1f} "
              f"{step / base:6.2f}x {1000 * cpu:9.1f} {cpu / base_cpu:6.2f}x "
              f"{1000 * statistics.median(setup.system_seconds):8.1f} {statistics.median(setup.page_faults):9.0f}",
              flush=True)
        rows.append({"label": setup.label, "kept": kept, "wall_ms": 1000 * step, "cpu_ms": 1000 * cpu,
                     "system_ms": 1000 * statistics.median(setup.system_seconds),
                     "page_faults": statistics.median(setup.page_faults), "peak_rss_mb": peak_mb})
    return rows


def side_by_side(results: dict[str, list[dict[str, Any]]]) -> None:
    """Per configuration, each memory setting's process CPU, system time and page faults of a step, and CPU ratios."""
    first = next(iter(results))
    print(f"\nper step (median; each setting in its own process, run one after the other): "
          f"process CPU ms, ratio to '{first}'; system ms; minor page faults; peak RSS MB")
    for index, row in enumerate(results[first]):
        for setting, rows in results.items():
            current = rows[index]
            ratio = current["cpu_ms"] / row["cpu_ms"]
            print(f"  {row['label']:28s} {setting:4s} {current['cpu_ms']:9.1f} {ratio:6.2f}x "
                  f"{current['system_ms']:8.1f} {current['page_faults']:9.0f} {current['peak_rss_mb']:8.0f}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.overrides and len(args.overrides) != len(args.augmentations):
        raise SystemExit("--overrides needs one entry per augmentation")
    dataset_path = prepare_profile_dataset(args)
    settings = list(dict.fromkeys(args.keep_freed_cpu_memory))
    if len(settings) == 1:
        measure(args, dataset_path, SETTINGS[settings[0]])
        return
    results = {setting: run_isolated(measure, args=args, dataset_path=dataset_path,
                                     keep_freed_cpu_memory=SETTINGS[setting]) for setting in settings}
    side_by_side(results)


if __name__ == "__main__":
    main()
