"""The paper's comparison: every backbone x augmentation x seed, one table of test mean ± std.

``python -m trainer.experiment --backbones lmf tfn --augmentations none mixup msmix --seeds 1111 1112 1113``, or
``python -m trainer.experiment --recipe trainer/recipes/mosi --dataset data/mosi --augmentations none mixup msmix``
(each backbone trains with its recipe file; flags override the files).

Each (backbone, augmentation) trains once per seed into
``<output_dir>/<backbone>-<augmentation>/seed-<seed>`` with the same data, training arguments
and best-model selection as ``trainer/run.py``, and is evaluated on the test split. The command
writes ``results.json`` (every run's validation and test metrics and the mean ± std per
setting) and ``results.md`` (the paper-style table, with the gain of each augmentation over
``none`` on the same backbone, and that gain paired by seed with its 95 % interval over training
seeds on this one data set, see ``trainer.paired_comparison``; over several data sets,
``benchmarks.collect_experiment`` and ``trainer.study_statistics``) into ``output_dir`` and prints
the table with the experiment's wall time (how many runs were trained and how many read back with
``--reuse_finished_runs``).
All settings are checked against the data before the first run starts. Training options are those of
``trainer/run.py`` (``TrainingArguments`` and the data arguments); the defaults here are
smaller (fewer epochs) so that the comparison fits on a CPU. With ``--robustness`` every run's
model also goes through ``trainer.robustness`` (its files land in the seed folder), and a second
table shows clean test metrics next to each protocol's average (fixed missing, random modality
missing, LNLN's step-missing average, feature noise), mean ± std over seeds.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm
from transformers import HfArgumentParser
from transformers.utils import logging

from data_processing.cli import parse_cli
from modeling_msmix import augmentation_names

from .arguments import DataArguments, ModelArguments, MSMixTrainingArguments
from .paired_comparison import paired_against_none, paired_markdown
from .recipe_files import parse_with_recipe, recipe_paths
from .report import markdown_table, metric_names, summarize_seeds, train_mean_baseline, write_results
from .robustness import ROBUSTNESS_JSON, RobustnessArguments, evaluate_robustness, flat_summary
from .robustness_protocols import PROTOCOLS
from .run_environment import run_environment
from .training_run import (
    RunArgumentError,
    build_config,
    check_model_arguments,
    load_finished_run,
    load_training_data,
    parse_config_overrides,
    refuse_unread_options,
    train_one_seed,
)


PAIRED_METRICS: tuple[str, ...] = ("MAE", "Corr")


@dataclass
class ExperimentArguments:
    """Which backbones and augmentations to compare."""

    backbones: list[str] | None = field(
        default=None, metadata={"help": "backbones to compare (default: lmf tfn, or every recipe of --recipe)"}
    )
    augmentations: list[str] = field(
        default_factory=lambda: ["none", "mixup", "msmix"],
        metadata={"help": f"augmentations to compare ({', '.join(augmentation_names())}; "
                          "msmix:no_* are the paper's ablations)"},
    )
    config_overrides: str | None = field(
        default=None, metadata={"help": "config settings applied to every run, e.g. 'alpha=1.0,threshold=0.3'"}
    )
    recipe: str | None = field(
        default=None,
        metadata={"help": "a recipe folder (trainer/recipes/<dataset>): each backbone trains with its <backbone>.yaml; "
                  "flags override the files"},
    )
    reuse_finished_runs: bool = field(
        default=False,
        metadata={"help": "read the results of runs whose folder holds a finished run instead of training them again "
                  "(to finish an interrupted experiment, or to build one table from partial invocations)"},
    )
    robustness: bool = field(
        default=False,
        metadata={"help": "evaluate every run under the robustness protocols (trainer.robustness) and add the "
                  "averaged missing-modality and noise metrics to the comparison"},
    )
    robustness_protocols: list[str] = field(
        default_factory=lambda: list(PROTOCOLS), metadata={"help": "the protocols that --robustness runs"})


@dataclass
class ExperimentTrainingArguments(MSMixTrainingArguments):
    """``MSMixTrainingArguments`` with smaller defaults for a many-run comparison."""

    output_dir: str | None = field(default="outputs/experiment", metadata={"help": "where all runs and the table go"})
    num_train_epochs: float = field(default=6.0, metadata={"help": "total number of training epochs per run"})
    seeds: list[int] = field(default_factory=lambda: [1111, 1112], metadata={"help": "seeds of every setting"})
    disable_tqdm: bool | None = field(default=True, metadata={"help": "hide the per-run progress bars"})


def setting_name(backbone: str, augmentation: str) -> str:
    """``lmf + msmix``."""
    return f"{backbone} + {augmentation}"


def gains_over_none(summaries: dict[str, dict[str, Any]], backbones: list[str], augmentations: list[str],
                    metrics: tuple[str, ...]) -> dict[str, dict[str, dict[str, Any]]]:
    """Mean test metric of each augmentation minus that of ``none`` on the same backbone."""
    gains = {}
    for backbone in backbones:
        base = summaries.get(setting_name(backbone, "none"))
        if base is None:
            continue
        for augmentation in augmentations:
            if augmentation == "none":
                continue
            current = summaries[setting_name(backbone, augmentation)]
            gains[f"{setting_name(backbone, augmentation)} - none"] = {
                m: {"mean": current[m]["mean"] - base[m]["mean"], "std": None} for m in metrics if m in current
            }
    return gains


def run_experiment(experiment_args: ExperimentArguments, data_args: DataArguments,
                   training_args: MSMixTrainingArguments,
                   recipes: dict[str, tuple[str | None, MSMixTrainingArguments]] | None = None) -> dict[str, Any]:
    """Train and test every setting on every seed; write and return the results.

    ``recipes`` maps a backbone to its own (config_overrides, training arguments), from ``--recipe``.
    """
    started_experiment = time.perf_counter()
    recipes = recipes or {}
    backbones = experiment_args.backbones or list(recipes) or ["lmf", "tfn"]
    settings = [(b, a) for b in backbones for a in experiment_args.augmentations]
    overrides = {b: recipes[b][0] if b in recipes else experiment_args.config_overrides for b in backbones}
    run_args = {b: recipes[b][1] if b in recipes else training_args for b in backbones}
    model_args = {s: ModelArguments(*s, config_overrides=overrides[s[0]]) for s in settings}
    for arguments in model_args.values():
        check_model_arguments(arguments)
    with training_args.main_process_first(desc="loading the dataset"):
        data = load_training_data(data_args)
    configs = {s: build_config(model_args[s], data.metadata, check_unread_options=False) for s in settings}
    overrides = parse_config_overrides(experiment_args.config_overrides, configs[settings[0]])
    refuse_unread_options(experiment_args.augmentations, overrides)
    output_dir = Path(training_args.output_dir)
    runs: dict[str, list[dict[str, Any]]] = {setting_name(*setting): [] for setting in settings}
    progress = tqdm(total=len(training_args.run_seeds) * len(settings), desc="experiment runs", unit="run",
                    disable=training_args.process_index != 0)
    for seed in training_args.run_seeds:  # seed-major: an interrupted experiment still has whole seeds
        for setting in settings:
            name = setting_name(*setting)
            seed_dir = output_dir / "-".join(setting).replace(":", "-") / f"seed-{seed}"
            run = load_finished_run(seed_dir) if experiment_args.reuse_finished_runs else None
            if run is None:
                started = time.perf_counter()
                run = train_one_seed(data, configs[setting], model_args[setting], data_args, run_args[setting[0]],
                                     seed, seed_dir)
                run["wall_seconds"] = time.perf_counter() - started
            else:
                run.update(seed=seed, wall_seconds=None)
            if experiment_args.robustness:
                run["robustness"] = run_robustness(seed_dir, data, data_args, experiment_args.robustness_protocols,
                                                   experiment_args.reuse_finished_runs)
            runs[name].append(run)
            if training_args.process_index == 0:
                progress.write(f"[experiment] {name}, seed {seed}: test MAE {run['test']['MAE']:.3f}, "
                               f"Corr {run['test']['Corr']:.3f} ({run['train_runtime']:.0f} s training, "
                               f"{run['epochs']:.0f} epochs)")
            progress.update()
    progress.close()
    kind = data.metadata.dataset_kind
    metrics = ("loss", *metric_names(kind))
    summaries = {name: summarize_seeds([run["test"] for run in setting_runs]) for name, setting_runs in runs.items()}
    baseline = train_mean_baseline(data.labels("train"), data.labels("test"), kind)
    results = {
        "dataset": data_args.dataset,
        "dataset_kind": kind,
        "seeds": training_args.run_seeds,
        "metric_for_best_model": training_args.metric_for_best_model,
        "test": summaries,
        "validation": {name: summarize_seeds([r["validation"] for r in rs]) for name, rs in runs.items()},
        "train_mean_baseline": baseline,
        "gains_over_none": gains_over_none(summaries, backbones, experiment_args.augmentations, metrics),
        "paired_vs_none": paired_against_none(runs, PAIRED_METRICS),
        "runs": runs,
        "wall_seconds": time.perf_counter() - started_experiment,
        "run_environment": run_environment(),
        "trained_runs": sum(run["wall_seconds"] is not None for setting_runs in runs.values() for run in setting_runs),
    }
    if experiment_args.robustness:
        results["robustness"] = {name: summarize_seeds([run["robustness"] for run in setting_runs])
                                 for name, setting_runs in runs.items()}
    if training_args.process_index == 0:
        parts = [
            f"Test split, mean ± std over seeds {training_args.run_seeds} (dataset {data_args.dataset!r}).",
            markdown_table({**summaries, "predict the training mean": baseline}, metrics),
        ]
        if results["gains_over_none"]:
            parts += ["Gain over no augmentation (difference of means; lower is better for loss and MAE):",
                      markdown_table(results["gains_over_none"], metrics),
                      "Paired by seed on this one data set (each seed's run minus the none run of the same seed), "
                      "95 % t-interval over training seeds; 'helps' only when it excludes 0. It speaks for this draw "
                      "of the data only: benchmarks.collect_experiment compares over data sets:",
                      paired_markdown(results["paired_vs_none"], PAIRED_METRICS)]
        if experiment_args.robustness:
            columns = tuple(next(iter(results["robustness"].values())))
            parts += ["Robustness (test split): clean metrics and each protocol's average over its levels "
                      "(trainer.robustness):", markdown_table(results["robustness"], columns)]
        parts.append(wall_time_line(results))
        markdown = "\n\n".join(parts)
        write_results(output_dir, results, markdown)
        print(f"\n{markdown}\n\n(written to {output_dir})")
    return results


def wall_time_line(results: dict[str, Any]) -> str:
    """``Wall time: 12.3 minutes for 6 runs (2 trained, 4 read back).``"""
    total = sum(len(setting_runs) for setting_runs in results["runs"].values())
    trained = results["trained_runs"]
    return (f"Wall time: {results['wall_seconds'] / 60:.1f} minutes for {total} runs "
            f"({trained} trained, {total - trained} read back).")


def run_robustness(seed_dir: Path, data, data_args: DataArguments, protocols: list[str],
                   reuse: bool) -> dict[str, float]:
    """The clean and averaged robustness metrics of the model in ``seed_dir`` (read back when ``reuse``)."""
    saved = seed_dir / ROBUSTNESS_JSON
    if reuse and saved.is_file():
        return flat_summary(json.loads(saved.read_text()))
    args = RobustnessArguments(model=str(seed_dir), dataset=data_args.dataset, dataset_kind=data.metadata.dataset_kind,
                               max_text_length=data_args.max_text_length, max_audio_length=data_args.max_audio_length,
                               max_vision_length=data_args.max_vision_length, protocols=protocols)
    return flat_summary(evaluate_robustness(args, dataset=data.dataset, print_tables=False))


def experiment_parser() -> HfArgumentParser:
    """The parser of ``python -m trainer.experiment``."""
    return HfArgumentParser((ExperimentArguments, DataArguments, ExperimentTrainingArguments))


def read_recipes(experiment_args: ExperimentArguments, argv: list[str]) -> tuple[
        DataArguments, MSMixTrainingArguments, dict[str, tuple[str | None, MSMixTrainingArguments]]]:
    """(data arguments, training arguments of the first backbone, per-backbone recipes) of ``--recipe``."""
    paths = recipe_paths(experiment_args.recipe)
    backbones = experiment_args.backbones or list(paths)
    missing = [backbone for backbone in backbones if backbone not in paths]
    if missing:
        raise RunArgumentError(f"--recipe {experiment_args.recipe!r} has no recipe for {missing}")
    recipes, data_args = {}, None
    for backbone in backbones:
        recipe_args, recipe_data, recipe_training = parse_with_recipe(experiment_parser, paths[backbone], argv)
        data_args = data_args or recipe_data
        recipes[backbone] = (recipe_args.config_overrides, recipe_training)
    return data_args, recipes[backbones[0]][1], recipes


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Entry point of ``python -m trainer.experiment`` (``[config file] [flags]``; flags win)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    experiment_args, data_args, training_args = parse_cli(experiment_parser(), argv)
    logging.set_verbosity(training_args.get_process_log_level())
    try:
        recipes = None
        if experiment_args.recipe:
            data_args, training_args, recipes = read_recipes(experiment_args, argv)
        return run_experiment(experiment_args, data_args, training_args, recipes)
    except RunArgumentError as error:
        sys.exit(f"trainer.experiment: error: {error}")


if __name__ == "__main__":
    main(sys.argv[1:])
