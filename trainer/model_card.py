"""The model card of a trained msmix model, generated from its config and the run's results.

The card's YAML carries the seed-averaged test metrics as ``model-index`` eval results
(``EvalResult``; the standard deviation over seeds goes in the metric's display name and the
card's table, since ``model-index`` has no field for it), the dataset, the backbone and the
augmentation as tags. The body says how to load it, how it was trained, its limitations, and
cites MS-Mix and the backbone's paper.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from transformers import PretrainedConfig, TrainingArguments

from hub_cards.citations import BACKBONE_CITATIONS, BACKBONE_TITLES, MSMIX_CITATION
from hub_cards.provenance import describe_provenance, strip_machine_paths
from modeling_msmix import augmentation_of
from modeling_msmix import augmentation_title as augmentation_title_of

from .metrics import MOSI_METRICS, SIMS_METRICS
from .msmix_health import flagged_text, health_rule

MODEL_TEMPLATE = Path(__file__).with_name("model_card_template.md")
TRAINING_ARGUMENT_KEYS: tuple[str, ...] = (
    "learning_rate",
    "weight_decay",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "num_train_epochs",
    "max_steps",
    "lr_scheduler_type",
    "warmup_steps",
    "optim",
    "seed",
    "metric_for_best_model",
    "early_stopping_patience",
)
_HIDDEN_CONFIG_KEYS = {"dataset_metadata", "auto_map", "architectures", "transformers_version", "model_type", "dtype"}
_METRIC_TYPES = {"MAE": "mae", "Corr": "pearsonr"}
_RUN_KEYS = ("runtime", "samples_per_second", "steps_per_second", "loss", "epoch")


@dataclass(frozen=True)
class MetricSummary:
    """A metric over seeds: its mean, its standard deviation (None for one run) and the run count."""

    mean: float
    std: float | None
    runs: int

    def display(self) -> str:
        """``0.8123 ± 0.0101`` (or ``0.8123`` for a single run)."""
        return f"{self.mean:.4f}" if self.std is None else f"{self.mean:.4f} ± {self.std:.4f}"


def _summary(value: Any) -> MetricSummary | None:
    if isinstance(value, Mapping) and "mean" in value:
        std = value.get("std")
        runs = value.get("runs", value.get("n", len(value["values"]) if "values" in value else 1))
        return MetricSummary(float(value["mean"]), None if std is None else float(std), int(runs))
    if isinstance(value, Sequence) and not isinstance(value, str) and value:
        values = np.asarray(value, dtype=np.float64)
        std = float(values.std(ddof=1)) if values.size > 1 else None
        return MetricSummary(float(values.mean()), std, int(values.size))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return MetricSummary(float(value), None, 1)
    return None


def metric_summaries(results: Mapping[str, Any], dataset_kind: str) -> dict[str, MetricSummary]:
    """The test metrics of ``results`` in the standard order of ``dataset_kind``.

    Accepted shapes (the first that applies): ``results["test"]`` or ``results["test_metrics"]``
    holding the metrics, else ``results`` itself. Metric names may carry a ``test_`` or
    ``eval_`` prefix. A metric's value is a number (one run), a list of per-seed values, or a
    mapping with ``mean``, ``std`` and optionally ``runs``/``n``/``values``.
    """
    metrics = results.get("test", results.get("test_metrics", results))
    names = SIMS_METRICS if dataset_kind == "sims" else MOSI_METRICS
    found: dict[str, MetricSummary] = {}
    for key, value in metrics.items():
        name = key.removeprefix("test_").removeprefix("eval_")
        summary = _summary(value) if name in names else None
        if summary is not None:
            found[name] = summary
    return {name: found[name] for name in names if name in found}


def training_rows(
    training_args: TrainingArguments | Mapping[str, Any] | None, weights_seed: int | None = None
) -> list[tuple[str, Any]]:
    """The training arguments worth printing, as ``(name, value)`` pairs; ``seed`` is ``weights_seed`` when given
    (the seed of the run whose weights the card describes)."""
    if training_args is None:
        return []
    values = training_args.to_dict() if isinstance(training_args, TrainingArguments) else dict(training_args)
    if weights_seed is not None:
        values["seed"] = weights_seed
    return [(key, values[key]) for key in TRAINING_ARGUMENT_KEYS if values.get(key) not in (None, "")]


def weights_seed(results: Mapping[str, Any]) -> int | None:
    """The seed of the weights ``results`` describe (its ``best_seed``), if it says."""
    best = results.get("best_seed")
    return int(best["seed"]) if isinstance(best, Mapping) and best.get("seed") is not None else None


def backbone_name(config: PretrainedConfig) -> str:
    """``tfn`` for ``model_type == "msmix_tfn"``."""
    return str(config.model_type).removeprefix("msmix_")


def eval_results(
    summaries: Mapping[str, MetricSummary], *, dataset_name: str, dataset_type: str
) -> list[EvalResult]:
    """One ``EvalResult`` per metric (mean over seeds; std and run count in the name)."""
    results = []
    for name, summary in summaries.items():
        if not math.isfinite(summary.mean):
            continue
        label = name if summary.std is None else f"{name} (mean ± {summary.std:.4f} over {summary.runs} seeds)"
        results.append(
            EvalResult(
                task_type="multimodal-sentiment-analysis",
                task_name="Multimodal Sentiment Analysis",
                dataset_type=dataset_type,
                dataset_name=dataset_name,
                dataset_split="test",
                metric_type=_METRIC_TYPES.get(name, "f1" if "F1" in name else "accuracy"),
                metric_name=label,
                metric_value=round(summary.mean, 6),
            )
        )
    return results


def seeds_line(results: Mapping[str, Any], summaries: Mapping[str, MetricSummary]) -> str:
    """``mean ± std over 5 seeds (1111, ..., 1115)`` or ``one run``."""
    runs = max((s.runs for s in summaries.values()), default=0)
    if runs < 2:
        return "one run"
    seeds = results.get("seeds")
    return f"mean ± std over {runs} seeds" + (f" ({', '.join(map(str, seeds))})" if seeds else "")


def selection_line(results: Mapping[str, Any]) -> str:
    """How checkpoints were selected and which seed's weights these are, as far as ``results`` says."""
    metric = str(results.get("metric_for_best_model") or "loss").removeprefix("eval_")
    line = f"Each run kept its best checkpoint by the validation {metric}; the test split played no part in selection."
    best = results.get("best_seed")
    if isinstance(best, Mapping) and "seed" in best:
        line += f" The weights here are those of seed {best['seed']}, the best by validation {metric}."
    return line


def health_section(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The template values of the "MS-Mix health" section (``None``: no section)."""
    if not summary:
        return None
    rows = [(m, f"{100 * summary['bound_share'][m]:.1f} %", f"{summary['intensity_spread'][m]:.3g}")
            for m in ("text", "audio", "vision") if summary["bound_share"].get(m) is not None]
    passed = summary.get("sass_above_threshold")
    sass_line = "SASS ran without a threshold (random partners)." if passed is None else (
        f"SASS passed {100 * passed:.1f} % of the pairs.")
    flagged = flagged_text(summary)
    verdict = f"Flagged logs: {flagged}." if flagged else "No log was flagged."
    shares = summary.get("gradient_shares") or {}
    norms = summary.get("gradient_norms") or {}
    parts = sorted({key.split("_", 1)[1] for key in shares}, key=lambda part: (part != "task", part))
    gradient_rows = [(part, f"{100 * shares[f'shared_{part}']:.1f} %", f"{norms.get(f'shared_{part}', 0.0):.3g}",
                      f"{norms[f'sig_{part}']:.3g}" if f"sig_{part}" in norms else "-")
                     for part in parts if f"shared_{part}" in shares]
    return {"logs": summary["logs"], "rule": health_rule(), "rows": rows, "sass_line": sass_line, "verdict": verdict,
            "gradient_rows": gradient_rows}


def build_model_card(
    config: PretrainedConfig,
    *,
    repo_id: str = "<user>/<model>",
    dataset_id: str | None = None,
    results: Mapping[str, Any] | None = None,
    training_args: TrainingArguments | Mapping[str, Any] | None = None,
    license: str | None = "apache-2.0",
    mixing_health: Mapping[str, Any] | None = None,
) -> ModelCard:
    """Render the model card of a trained msmix model (absolute paths of this machine are left out).

    Args:
        config: the trained model's config (an ``MSAConfig`` subclass): backbone, dims, label
            range, augmentation and its options, ``dataset_metadata``.
        repo_id: where the model is (or will be) published, used in the usage snippets.
        dataset_id: the ``--dataset`` the model was trained on; the card names the data from its
            metadata (see :func:`hub_cards.provenance.describe_provenance`) and lists it under
            ``datasets`` when this is a Hub id.
        results: the run's results, e.g. the experiment JSON with mean ± std over seeds (see
            :func:`metric_summaries` for the accepted shapes).
        training_args: the ``TrainingArguments`` (or their dict) of the run.
        license: the licence of the weights; the training data's licence may restrict it.
        mixing_health: MS-Mix's health over training (:func:`trainer.msmix_health.health_summary`),
            shown as its own section.
    """
    metadata = dict(getattr(config, "dataset_metadata", None) or {})
    kind = str(getattr(config, "dataset_kind", metadata.get("dataset_kind", "custom")))
    backbone = backbone_name(config)
    augmentation = str(getattr(config, "augmentation", "none"))
    backbone_title = BACKBONE_TITLES.get(backbone, backbone.upper())
    augmentation_title = augmentation_title_of(augmentation_of(config))
    provenance = describe_provenance({"dataset_kind": kind, **metadata}, dataset_id)
    model_title = f"{backbone_title} + {augmentation_title} ({provenance.name})"
    results = results or {}
    summaries = metric_summaries(results, kind)
    baseline = metric_summaries({"test": results.get("train_mean_baseline") or {}}, kind)
    card_data = ModelCardData(
        library_name="transformers",
        license=license,
        datasets=[provenance.hub_id] if provenance.hub_id else None,
        tags=["multimodal-sentiment-analysis", "msmix", backbone, augmentation, "custom_code"],
        metrics=sorted({_METRIC_TYPES.get(n, "f1" if "F1" in n else "accuracy") for n in summaries}) or None,
        model_name=model_title,
        eval_results=eval_results(summaries, dataset_name=provenance.name,
                                  dataset_type=provenance.hub_id or kind) or None,
    )
    config_values = config.to_diff_dict()
    card = ModelCard.from_template(
        card_data,
        template_path=str(MODEL_TEMPLATE),
        repo_id=repo_id,
        model_title=model_title,
        backbone_title=backbone_title,
        augmentation_title=augmentation_title,
        dataset_line=provenance.description,
        dataset_citation=provenance.citation,
        has_processor=bool(metadata.get("extraction")),
        dataset_kind=kind,
        label_min=float(getattr(config, "label_min", metadata.get("label_min", -3.0))),
        label_max=float(getattr(config, "label_max", metadata.get("label_max", 3.0))),
        has_intensities=augmentation == "msmix",
        health=health_section(mixing_health),
        results_rows=[{"name": n, "value": s.display(), "baseline": baseline[n].display() if n in baseline else "-"}
                      for n, s in summaries.items()],
        seeds_line=seeds_line(results, summaries),
        selection_line=selection_line(results),
        text_dim=config.text_dim,
        audio_dim=config.audio_dim,
        vision_dim=config.vision_dim,
        extractors={m: metadata.get("extractors", {}).get(m, "extractor not recorded")
                    for m in ("text", "audio", "vision")},
        model_settings=[(k, json.dumps(v)) for k, v in sorted(config_values.items()) if k not in _HIDDEN_CONFIG_KEYS],
        training_rows=training_rows(training_args, weights_seed(results)),
        msmix_citation=MSMIX_CITATION,
        backbone_citation=BACKBONE_CITATIONS.get(backbone, ""),
    )
    return ModelCard(strip_machine_paths(str(card)))

