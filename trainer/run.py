"""Train an msmix model with ``transformers.Trainer``: ``accelerate launch -m trainer.run [options]``.

From any folder once msmix is installed: ``accelerate launch -m trainer.run``, ``python -m trainer.run``
or the console script ``msmix-train`` (in a checkout, ``accelerate launch trainer/run.py`` too).

With no options it trains the default backbone (LMF) with MS-Mix on the built-in default
dataset, selects the best epoch by the validation MAE, and prints the test metrics next to
those of predicting the training mean. Options are ``TrainingArguments`` plus:

- data: ``--dataset`` ('default' = the MOSI-like built-in data, 'default:clean', a ``save_to_disk``
  folder or a Hub id), ``--dataset_kind``,
  ``--max_{text,audio,vision}_length``, ``--max_{train,eval,predict}_samples``;
- model: ``--backbone`` (tfn, lmf, mult, misa, almt, glomo, lnln, dashfusion), ``--augmentation`` (none, mixup,
  manifold_mixup, multimix, powmix, cmixup, advmixup, msmix, and the ablations msmix:no_sass, msmix:no_sig,
  msmix:no_sal), ``--config_overrides 'alpha=1.0,...'`` (options the augmentation reads),
  ``--model_name_or_path``;
- run: ``--seeds 1111 1112 1113`` (one model per seed; mean ± std of every metric),
  ``--metric_for_best_model`` (default ``MAE``, computed on the predictions of all processes; e.g. ``Corr``),
  ``--early_stopping_patience``, ``--resume_from_checkpoint last``, ``--overwrite_output_dir``, ``--push_to_hub``.

A recipe named as in the docs (``trainer/recipes/mosi/lmf.yaml``) is the one installed with msmix
when no such file exists in the current folder. One run holds its ``--output_dir`` at a time, and a
folder that holds another run's files is refused unless the run resumes or is told to overwrite
(``trainer.output_dir_guard``).

The model config is filled from the dataset's metadata (dims, label range, kind, and the whole
metadata incl. extraction settings as ``dataset_metadata``). Each seed trains into
``<output_dir>/seed-<seed>``; ``<output_dir>/results.json`` and ``results.md`` hold the per-seed
and mean ± std validation and test metrics. Arguments that cannot work with the data (unknown
backbone, mismatching dims, an empty split) stop the run before training with a message that
names the argument.

Several processes: ``accelerate launch --num_processes 2 trainer/run.py`` on GPUs (add
``--mixed_precision bf16``); on CPU, ``ACCELERATE_USE_CPU=1 accelerate launch --config_file
trainer/accelerate_configs/two_processes.yaml trainer/run.py`` (gloo). The batch size is per
process, and MS-Mix (like every mixup here) picks partners within each process's local batch:
with N processes it mixes within N separate batches. Each batch's mixing draws come from its
own ``mix_seed``, so they do not depend on the rank or the number of processes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from accelerate import PartialState
from transformers import HfArgumentParser
from transformers.utils import logging

from data_processing.cli import parse_cli
from data_processing.schema import MSAMetadata
from modeling_msmix import MSAConfig
from trainer.arguments import DataArguments, ModelArguments, MSMixTrainingArguments
from trainer.output_dir_guard import OutputDirError, claim_output_dir
from trainer.recipe_files import installed_recipe_path
from trainer.report import markdown_table, metric_names, summarize_seeds, train_mean_baseline, write_results
from trainer.run_environment import run_environment
from trainer.training_run import (
    RunArgumentError,
    TrainingData,
    build_config,
    build_processor,
    load_training_data,
    preflight_checks,
    resume_checkpoint,
    train_one_seed,
)

logger = logging.get_logger(__name__)


def resolve_output_dir(training_args: MSMixTrainingArguments, model_args: ModelArguments) -> Path:
    """``--output_dir`` with ``{backbone}`` and ``{augmentation}`` filled in."""
    return Path(
        training_args.output_dir.replace("{backbone}", model_args.backbone).replace(
            "{augmentation}", model_args.augmentation
        )
    )


def best_seed_run(runs: list[dict[str, Any]], training_args: MSMixTrainingArguments) -> dict[str, Any]:
    """The seed whose validation ``metric_for_best_model`` is best."""
    metric = (training_args.metric_for_best_model or "loss").removeprefix("eval_")
    values = [run["validation"].get(metric, np.nan) for run in runs]
    if all(np.isnan(values)):
        return runs[0]
    index = int(np.nanargmax(values) if training_args.greater_is_better else np.nanargmin(values))
    return runs[index]


def push_best_model(results: dict[str, Any], training_args: MSMixTrainingArguments, model_args: ModelArguments,
                    dataset_id: str) -> None:
    """Publish the best seed's model with the run's results through ``trainer.push_model``."""
    from modeling_msmix import BACKBONES, MSMixProcessor
    from trainer.push_model import push_trained_model

    best = results["best_seed"]
    model = BACKBONES[model_args.backbone][1].from_pretrained(best["output_dir"])
    has_processor = (Path(best["output_dir"]) / "processor_config.json").is_file()
    processor = MSMixProcessor.from_pretrained(best["output_dir"]) if has_processor else None
    repo_id = training_args.hub_model_id or Path(results["output_dir"]).name
    commit = push_trained_model(
        model, repo_id, dataset_id=dataset_id, results=results, training_args=training_args,
        private=training_args.hub_private_repo, token=training_args.hub_token, processor=processor,
        allow_local_extractors=training_args.hub_allow_local_extractors,
    )
    logger.warning(f"pushed the model of seed {best['seed']} to {commit.commit_url}")


def check_publishable(data_args: DataArguments, training_args: MSMixTrainingArguments, metadata: MSAMetadata) -> None:
    """With ``--push_to_hub``, refuse before training to publish a model whose extractors are local folders."""
    try:
        processor = build_processor(data_args, metadata)
    except ValueError as error:
        raise RunArgumentError(f"--max_*_length / --pad_to_max_length: {error}") from error
    if training_args.push_to_hub and processor is not None:
        try:
            processor.check_publishable(training_args.hub_allow_local_extractors)
        except ValueError as error:
            raise RunArgumentError(f"--push_to_hub: {error} (--hub_allow_local_extractors)") from error


def run(data_args: DataArguments, model_args: ModelArguments, training_args: MSMixTrainingArguments) -> dict[str, Any]:
    """Check the arguments, train one model per seed, write and return the results."""
    preflight_checks(data_args, model_args, training_args)
    with training_args.main_process_first(desc="loading the dataset"):
        data = load_training_data(data_args)
    config = build_config(model_args, data.metadata)
    check_publishable(data_args, training_args, data.metadata)
    output_dir = resolve_output_dir(training_args, model_args)
    for seed in training_args.run_seeds:
        resume_checkpoint(training_args, output_dir / f"seed-{seed}")
    try:
        with claim_output_dir(output_dir, overwrite=training_args.overwrite_output_dir,
                              resuming=training_args.resume_from_checkpoint is not None,
                              take_lock=training_args.process_index == 0):
            PartialState().wait_for_everyone()  # every process has checked the folder before any writes into it
            return train_and_report(data, config, data_args, model_args, training_args, output_dir)
    except OutputDirError as error:
        raise RunArgumentError(str(error)) from error


def train_and_report(data: TrainingData, config: MSAConfig, data_args: DataArguments, model_args: ModelArguments,
                     training_args: MSMixTrainingArguments, output_dir: Path) -> dict[str, Any]:
    """Train one model per seed into ``output_dir``, write the results (and push the best model when asked)."""
    runs = [
        train_one_seed(data, config, model_args, data_args, training_args, seed, output_dir / f"seed-{seed}")
        for seed in training_args.run_seeds
    ]
    kind = data.metadata.dataset_kind
    results = {
        "dataset": data_args.dataset,
        "dataset_kind": kind,
        "backbone": model_args.backbone,
        "augmentation": model_args.augmentation,
        "output_dir": str(output_dir),
        "seeds": training_args.run_seeds,
        "metric_for_best_model": training_args.metric_for_best_model,
        "validation": summarize_seeds([run["validation"] for run in runs]),
        "test": summarize_seeds([run["test"] for run in runs]),
        "train_mean_baseline": train_mean_baseline(data.labels("train"), data.labels("test"), kind),
        "runs": runs,
        "run_environment": run_environment(),
    }
    results["best_seed"] = best_seed_run(runs, training_args)
    if training_args.process_index == 0:
        name = f"{model_args.backbone} + {model_args.augmentation}"
        table = markdown_table(
            {
                f"{name}, validation": results["validation"],
                f"{name}, test": results["test"],
                "predict the training mean, test": results["train_mean_baseline"],
            },
            ("loss", *metric_names(kind)),
        )
        write_results(output_dir, results, table)
        print(f"\nmsmix results ({len(runs)} seed(s): {training_args.run_seeds}; written to {output_dir})\n{table}")
        if training_args.push_to_hub:
            try:
                push_best_model(results, training_args, model_args, data_args.dataset)
            except Exception as error:
                raise RunArgumentError(
                    f"--push_to_hub: the push failed ({type(error).__name__}: {error}); "
                    f"the results and models are kept in {output_dir}"
                ) from error
    return results


def parse_arguments(argv: list[str] | None) -> tuple[DataArguments, ModelArguments, MSMixTrainingArguments]:
    """Parse ``[recipe.yaml | args.json] [--flag value ...]``; flags override the file."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-"):
        argv[0] = installed_recipe_path(argv[0])
    return parse_cli(HfArgumentParser((DataArguments, ModelArguments, MSMixTrainingArguments)), argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Entry point; exits with a one-line error naming the argument when an argument is bad."""
    data_args, model_args, training_args = parse_arguments(argv)
    logging.set_verbosity(training_args.get_process_log_level())
    try:
        return run(data_args, model_args, training_args)
    except RunArgumentError as error:
        sys.exit(f"run.py: error: {error}")


def cli() -> None:
    """The ``msmix-train`` console script: ``main`` on the command line (a console script exits with
    what its function returns, so the results dict is not returned)."""
    main()


if __name__ == "__main__":
    cli()
