"""Robustness of a trained msmix model to missing and noisy modalities.

    python -m trainer.robustness --model runs/lmf/seed-1111 --dataset default
    python -m trainer.robustness robustness.yaml          # or .json: the same keys

evaluates the model on a split (default ``test``) clean and under every protocol of
``trainer.robustness_protocols`` (fixed missing, random modality missing p = 0.1 ... 0.7,
LNLN's random step missing r = 0.0 ... 0.9 and their average, Gaussian feature noise at
20 / 10 / 5 / 0 / -5 dB SNR), with per-sample seeds from ``--seed`` and the sample ids, so two
runs print the same tables. It writes ``robustness.json``, ``robustness.md`` (one table per
protocol, every MSA metric of the dataset kind, plus each protocol's average over its levels)
and ``robustness.png`` (MAE and binary accuracy against the missing / noise rate, one line
per protocol) into ``--output_dir`` (default: the model's folder when it is local, so that
``hub_cards`` finds them), prints the tables and the wall time. Predictions go through
``MSMixTrainer.predict``, so ``accelerate launch -m trainer.robustness`` evaluates on several
processes with the same result.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from datasets import DatasetDict
from torch.utils.data import Dataset
from tqdm.auto import tqdm
from transformers import AutoModel, HfArgumentParser, TrainingArguments
from transformers.utils import logging

import modeling_msmix  # noqa: F401  (registers the msmix models with AutoModel)
from data_processing.cli import parse_cli
from data_processing.loading import DEFAULT_DATASET, load_msa_dataset
from data_processing.schema import read_metadata

from .collator import MSMixDataCollator
from .metrics import compute_msa_metrics
from .model_data_fit import check_model_fits_dataset
from .msmix_trainer import MSMixTrainer
from .report import format_value, is_percentage, metric_names
from .robustness_protocols import (
    DEFAULT_MODALITY_RATES,
    DEFAULT_SNR_DB,
    DEFAULT_STEP_RATES,
    PROTOCOL_TITLES,
    PROTOCOLS,
    Perturbation,
    PerturbingCollator,
    protocol_perturbations,
)

ROBUSTNESS_JSON = "robustness.json"
ROBUSTNESS_MARKDOWN = "robustness.md"
ROBUSTNESS_PLOT = "robustness.png"
LNLN_AVERAGE = "random_step_missing"


class RobustnessArgumentError(ValueError):
    """An argument that cannot work; the message starts with its flag."""
"""The protocol whose average over rates is LNLN's headline robustness figure."""


@dataclass
class RobustnessArguments:
    """Which model to test on which data, and the protocol levels."""

    model: str = field(metadata={"help": "a saved msmix model folder or a Hub model id"})
    dataset: str = field(default=DEFAULT_DATASET, metadata={"help": "'default', a save_to_disk folder or a Hub id"})
    dataset_config_name: str | None = field(default=None, metadata={"help": "load_dataset configuration name"})
    dataset_kind: str | None = field(default=None, metadata={"help": "metric set (default: the model's config)"})
    split: str = field(default="test", metadata={"help": "the split to evaluate"})
    output_dir: str | None = field(
        default=None, metadata={"help": "where the files go (default: the model folder, or robustness/<model id>)"})
    seed: int = field(default=1111, metadata={"help": "seed of every protocol's per-sample draws"})
    protocols: list[str] = field(default_factory=lambda: list(PROTOCOLS), metadata={
        "help": "protocols to run: fixed_missing, random_modality_missing, random_step_missing, feature_noise"})
    modality_missing_rates: list[float] = field(default_factory=lambda: list(DEFAULT_MODALITY_RATES),
                                                metadata={"help": "p of random modality missing"})
    step_missing_rates: list[float] = field(default_factory=lambda: list(DEFAULT_STEP_RATES),
                                            metadata={"help": "r of random step missing (LNLN)"})
    noise_snr_db: list[float] = field(default_factory=lambda: list(DEFAULT_SNR_DB),
                                      metadata={"help": "signal-to-noise ratios (dB) of the Gaussian feature noise"})
    per_device_eval_batch_size: int = field(default=128, metadata={"help": "evaluation batch size per process"})
    max_text_length: int | None = field(default=None, metadata={"help": "truncate text to this many steps"})
    max_audio_length: int | None = field(default=None, metadata={"help": "truncate audio to this many frames"})
    max_vision_length: int | None = field(default=None, metadata={"help": "truncate vision to this many frames"})
    max_predict_samples: int | None = field(default=None, metadata={"help": "use only the first N samples"})
    trust_remote_code: bool = field(default=False, metadata={"help": "allow a Hub model's own modeling code"})


def default_output_dir(model: str) -> Path:
    """The model folder when ``model`` is local, else ``robustness/<model id>``."""
    return Path(model) if Path(model).is_dir() else Path("robustness") / model.replace("/", "--")


def average_metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Mean of every metric over a protocol's levels."""
    names = rows[0]["metrics"].keys()
    return {name: float(np.mean([row["metrics"][name] for row in rows])) for name in names}


class DecodedRows(Dataset):
    """The rows of a split decoded from Arrow once (as the torch format gives them), for many passes."""

    def __init__(self, dataset, batch_size: int = 256):
        self.rows = []
        for batch in dataset.with_format("torch").iter(batch_size=batch_size):
            self.rows += [dict(zip(batch, values)) for values in zip(*batch.values())]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]


class RobustnessEvaluator:
    """Predicts one split under perturbations with ``MSMixTrainer.predict`` and scores them.

    The split is decoded once (``DecodedRows``); each perturbation re-collates it.
    """

    def __init__(self, model, dataset, collator: MSMixDataCollator, dataset_kind: str, batch_size: int):
        self.dataset = DecodedRows(dataset)
        self.collator = collator
        self.dataset_kind = dataset_kind
        self._scratch = tempfile.TemporaryDirectory(prefix="msmix-robustness-")
        args = TrainingArguments(output_dir=self._scratch.name, per_device_eval_batch_size=batch_size,
                                 remove_unused_columns=False, label_names=["labels"], disable_tqdm=True,
                                 report_to="none", dataloader_pin_memory=False)
        self.trainer = MSMixTrainer(model=model, args=args, data_collator=PerturbingCollator(collator, Perturbation(
            "clean")), dataset_kind=dataset_kind)

    @property
    def is_main_process(self) -> bool:
        return self.trainer.args.process_index == 0

    def predictions(self, perturbation: Perturbation) -> tuple[np.ndarray, np.ndarray]:
        """(predictions [N], labels [N]) of the split under ``perturbation``."""
        self.trainer.data_collator = PerturbingCollator(self.collator, perturbation)
        output = self.trainer.predict(self.dataset)
        return np.asarray(output.predictions, dtype=np.float64).reshape(-1), np.asarray(output.label_ids).reshape(-1)

    def evaluate(self, perturbation: Perturbation) -> dict[str, Any]:
        """``{"level", "label", "metrics", "nan_predictions"}`` of one perturbation."""
        predictions, labels = self.predictions(perturbation)
        return {
            "level": list(perturbation.removed) if perturbation.protocol == "fixed_missing" else perturbation.level,
            "label": perturbation.label,
            "metrics": compute_msa_metrics(predictions, labels, self.dataset_kind),
            "nan_predictions": int(np.isnan(predictions).sum()),
        }


def run_protocols(evaluator: RobustnessEvaluator, perturbations: Mapping[str, Sequence[Perturbation]]
                  ) -> dict[str, Any]:
    """The clean metrics and, per protocol, every level's metrics and their average (a bar counts the passes)."""
    passes = tqdm(total=1 + sum(len(levels) for levels in perturbations.values()), desc="robustness passes",
                  unit="pass", disable=not evaluator.is_main_process, leave=False)
    with passes:
        clean = evaluator.evaluate(Perturbation("clean"))
        passes.update()
        protocols = {}
        for name, levels in perturbations.items():
            rows = []
            for perturbation in levels:
                rows.append(evaluator.evaluate(perturbation))
                passes.update()
            protocols[name] = {"levels": rows, "average": average_metrics(rows) if rows else {}}
    return {"clean": clean["metrics"], "clean_nan_predictions": clean["nan_predictions"], "protocols": protocols}


def metric_header(metrics: Sequence[str]) -> list[str]:
    return [f"{m} (%)" if is_percentage(m) else m for m in metrics]


def protocol_table(name: str, protocol: Mapping[str, Any], clean: Mapping[str, float], metrics: Sequence[str]) -> str:
    """One protocol as a Markdown table: a clean row, one row per level, the average row."""
    first = {"fixed_missing": "kept (removed)", "random_modality_missing": "p",
             "random_step_missing": "r", "feature_noise": "SNR"}[name]
    lines = ["| " + " | ".join([first, *metric_header(metrics)]) + " |",
             "|" + "|".join(["---"] * (len(metrics) + 1)) + "|"]

    def row(label: str, values: Mapping[str, float]) -> str:
        return "| " + " | ".join([label, *(format_value(m, {"mean": values.get(m)}) for m in metrics)]) + " |"

    lines.append(row("clean", clean))
    lines += [row(level["label"], level["metrics"]) for level in protocol["levels"]]
    if protocol["levels"]:
        lines.append(row("**average**", protocol["average"]))
    return "\n".join(lines)


def robustness_markdown(results: Mapping[str, Any], heading_level: int = 2) -> str:
    """The tables of ``robustness.json`` as Markdown (one per protocol, under ``#``*``heading_level`` headings)."""
    metrics = metric_names(results["dataset_kind"])
    marks = "#" * heading_level
    parts = [
        f"Model `{results['model']}` on `{results['dataset']}` ({results['split']} split, {results['num_samples']} "
        f"samples), per-sample seeds from seed {results['seed']}. Noise power is 10^(-SNR/10) times each sample's "
        "mean signal power per modality; a removed modality or step is what a modality of length 0 / a shorter "
        "sequence gives the model."
    ]
    for name in PROTOCOLS:
        if name in results["protocols"]:
            parts += [f"{marks} {PROTOCOL_TITLES[name]}",
                      protocol_table(name, results["protocols"][name], results["clean"], metrics)]
    return "\n\n".join(parts)


def severity_curves(results: Mapping[str, Any], metric: str) -> dict[str, tuple[list[float], list[float]]]:
    """Per protocol: (rate in [0, 1], metric) points, starting from the clean model at rate 0.

    Fixed missing is the fraction of modalities removed (mean over the subsets of that size);
    noise is the noise share of the total power, 1 / (1 + 10^(SNR/10)).
    """
    clean = results["clean"][metric]
    curves = {}
    for name, protocol in results["protocols"].items():
        levels = protocol["levels"]
        if name == "fixed_missing":
            by_size: dict[int, list[float]] = {}
            for level in levels:
                by_size.setdefault(len(level["level"]), []).append(level["metrics"][metric])
            points = [(size / 3, float(np.mean(values))) for size, values in sorted(by_size.items())]
        elif name == "feature_noise":
            points = [(1 / (1 + 10 ** (level["level"] / 10)), level["metrics"][metric]) for level in levels]
        else:
            points = [(level["level"], level["metrics"][metric]) for level in levels]
        points = sorted(points if any(x == 0 for x, _ in points) else [(0.0, clean), *points])
        curves[name] = ([x for x, _ in points], [y for _, y in points])
    return curves


def plot_robustness(results: Mapping[str, Any], path: str | Path) -> Path:
    """``robustness.png``: MAE and binary accuracy against the rate, one line per protocol."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    kind = results["dataset_kind"]
    panels = ("MAE", "Mult_acc_2" if kind == "sims" else "Has0_acc_2")
    figure, axes = pyplot.subplots(1, len(panels), figsize=(11, 4))
    for axis, metric in zip(axes, panels):
        for name, (x, y) in severity_curves(results, metric).items():
            axis.plot(x, y, marker="o", label=PROTOCOL_TITLES[name].split(" (")[0])
        axis.set_xlabel("missing rate / fraction removed / noise share of power")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"{results['model']} on {results['dataset']} ({results['split']})", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return Path(path)


def write_robustness(output_dir: str | Path, results: Mapping[str, Any], markdown: str) -> dict[str, Path]:
    """Write ``robustness.json``, ``robustness.md`` and ``robustness.png`` into ``output_dir``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": output_dir / ROBUSTNESS_JSON, "markdown": output_dir / ROBUSTNESS_MARKDOWN,
             "plot": output_dir / ROBUSTNESS_PLOT}
    paths["json"].write_text(json.dumps(results, indent=2, allow_nan=True) + "\n")
    paths["markdown"].write_text(f"# Robustness\n\n{markdown}\n")
    plot_robustness(results, paths["plot"])
    return paths


def averaged_robustness(results: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """``protocol -> averaged metrics`` of a ``robustness.json``."""
    return {name: dict(protocol["average"]) for name, protocol in results["protocols"].items() if protocol["average"]}


SUMMARY_COLUMNS: dict[str, str] = {
    "fixed_missing": "fixed missing",
    "random_modality_missing": "modality p",
    "random_step_missing": "LNLN avg",
    "feature_noise": "noise",
}


def summary_metrics(dataset_kind: str) -> tuple[str, str]:
    """The two metrics a robustness summary shows: MAE and the binary accuracy of the dataset kind."""
    return ("MAE", "Mult_acc_2" if dataset_kind == "sims" else "Has0_acc_2")


def flat_summary(results: Mapping[str, Any]) -> dict[str, float]:
    """``{"MAE clean": ..., "MAE LNLN avg": ..., "Has0_acc_2 clean": ...}``: clean and per-protocol averages."""
    flat = {}
    for metric in summary_metrics(results["dataset_kind"]):
        flat[f"{metric} clean"] = results["clean"][metric]
        for name, column in SUMMARY_COLUMNS.items():
            if results["protocols"].get(name, {}).get("average"):
                flat[f"{metric} {column}"] = results["protocols"][name]["average"][metric]
    return flat


def load_model(args: RobustnessArguments):
    """The model of ``--model`` in eval mode; a failure names the flag."""
    try:
        return AutoModel.from_pretrained(args.model, trust_remote_code=args.trust_remote_code).eval()
    except (OSError, ValueError) as error:
        raise RobustnessArgumentError(f"--model {args.model!r}: {error}") from error


def evaluate_robustness(args: RobustnessArguments, model=None, dataset: DatasetDict | None = None,
                        print_tables: bool = True) -> dict[str, Any]:
    """Run every protocol; on the main process write the three files and print the tables and time.

    The results hold only what the model, data and seed determine (the time is printed, not
    stored), so two runs write the same ``robustness.json`` byte for byte.

    ``model`` and ``dataset`` (already loaded) replace loading ``args.model`` / ``args.dataset``.
    """
    started = time.perf_counter()
    model = model if model is not None else load_model(args)
    if dataset is None:
        try:
            dataset = load_msa_dataset(args.dataset, args.dataset_config_name)
        except Exception as error:  # any failure to load names the flag
            raise RobustnessArgumentError(f"--dataset {args.dataset!r}: {type(error).__name__}: {error}") from error
    try:
        check_model_fits_dataset(model.config, read_metadata(dataset), args.model, args.dataset,
                                 check_kind=args.dataset_kind is None)
    except ValueError as error:
        raise RobustnessArgumentError(str(error)) from error
    if args.split not in dataset:
        raise RobustnessArgumentError(f"--split {args.split!r} is not in the dataset (it has {sorted(dataset)})")
    rows = dataset[args.split]
    if args.max_predict_samples is not None:
        rows = rows.select(range(min(args.max_predict_samples, rows.num_rows)))
    kind = args.dataset_kind or model.config.dataset_kind
    collator = MSMixDataCollator(max_text_length=args.max_text_length, max_audio_length=args.max_audio_length,
                                 max_vision_length=args.max_vision_length, return_mix_seed=False)
    evaluator = RobustnessEvaluator(model, rows.with_format("torch"), collator, kind, args.per_device_eval_batch_size)
    unknown = sorted(set(args.protocols) - set(PROTOCOLS))
    if unknown:
        raise RobustnessArgumentError(f"--protocols {unknown} are not among {list(PROTOCOLS)}")
    perturbations = protocol_perturbations(args.seed, args.modality_missing_rates, args.step_missing_rates,
                                           args.noise_snr_db)
    perturbations = {name: levels for name, levels in perturbations.items() if name in args.protocols}
    results = {
        "model": args.model,
        "dataset": args.dataset,
        "split": args.split,
        "dataset_kind": kind,
        "num_samples": rows.num_rows,
        "seed": args.seed,
        "backbone": model.config.model_type,
        "augmentation": model.config.augmentation,
        **run_protocols(evaluator, perturbations),
    }
    results["lnln_average"] = results["protocols"].get(LNLN_AVERAGE, {}).get("average", {})
    if evaluator.is_main_process:
        output_dir = Path(args.output_dir) if args.output_dir else default_output_dir(args.model)
        markdown = robustness_markdown(results)
        write_robustness(output_dir, results, markdown)
        tables = f"\n{markdown}\n" if print_tables else ""
        print(tables, f"\nrobustness evaluation took {time.perf_counter() - started:.1f} s, writing the files "
              f"included (written to {output_dir})")
    return results


def parse_arguments(argv: list[str] | None) -> RobustnessArguments:
    """The command line: flags, or a ``.json`` / ``.yaml`` file with the same keys followed by flags that override it."""
    return parse_cli(HfArgumentParser(RobustnessArguments), argv)[0]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Entry point of ``python -m trainer.robustness``; a bad argument exits with a message naming it."""
    args = parse_arguments(argv)
    logging.set_verbosity_warning()
    try:
        return evaluate_robustness(args)
    except RobustnessArgumentError as error:
        sys.exit(f"trainer.robustness: error: {error}")


def cli() -> None:
    """The ``msmix-robustness`` console script: ``main`` on the command line, its results dict not returned
    (a console script exits with what its function returns)."""
    main()


if __name__ == "__main__":
    cli()
