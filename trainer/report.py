"""Results over seeds: mean ± std of every metric, the results JSON and a paper-style Markdown table.

The standard deviation is the sample one (``ddof=1``) over seeds; with one seed it is ``None``
and tables show the mean alone. Accuracies and F1 scores print as percentages (two decimals),
MAE, Corr and losses with three decimals, as MSA papers print them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .metrics import MOSI_METRICS, SIMS_METRICS, compute_msa_metrics

RESULTS_JSON = "results.json"
RESULTS_MARKDOWN = "results.md"


def summarize_seeds(per_seed: Sequence[Mapping[str, float]]) -> dict[str, dict[str, Any]]:
    """``metric -> {"mean", "std", "n", "values"}`` over the per-seed metric dicts (metrics all runs share)."""
    if not per_seed:
        raise ValueError("summarize_seeds got no runs")
    names = [name for name in per_seed[0] if all(name in run for run in per_seed)]
    summary = {}
    for name in names:
        values = np.asarray([float(run[name]) for run in per_seed], dtype=np.float64)
        summary[name] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if values.size > 1 else None,
            "n": int(values.size),
            "values": values.tolist(),
        }
    return summary


def metric_names(dataset_kind: str) -> tuple[str, ...]:
    """The standard metric columns of ``dataset_kind``, in the field's order."""
    return SIMS_METRICS if dataset_kind == "sims" else MOSI_METRICS


def is_percentage(metric: str) -> bool:
    """Accuracies and F1 scores print as percentages."""
    return "acc" in metric or "F1" in metric


def format_value(metric: str, stats: Mapping[str, Any] | None) -> str:
    """``82.15 ± 1.02`` (percent metrics) or ``0.712 ± 0.013``; ``-`` when missing."""
    if stats is None or stats.get("mean") is None:
        return "-"
    scale, digits = (100.0, 2) if is_percentage(metric) else (1.0, 3)
    mean = f"{stats['mean'] * scale:.{digits}f}" if math.isfinite(stats["mean"]) else "nan"
    if stats.get("std") is None:
        return mean
    return f"{mean} ± {stats['std'] * scale:.{digits}f}"


def markdown_table(rows: Mapping[str, Mapping[str, Mapping[str, Any]]], metrics: Sequence[str]) -> str:
    """A Markdown table: one row per run name, one column per metric, cells ``mean ± std``."""
    header = ["run", *(f"{m} (%)" if is_percentage(m) else m for m in metrics)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for name, summary in rows.items():
        cells = [name, *(format_value(m, summary.get(m)) for m in metrics)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def train_mean_baseline(train_labels: Sequence[float], test_labels: Sequence[float], dataset_kind: str) -> dict[str, Any]:
    """Test metrics of predicting the training labels' mean for every sample (Corr is NaN)."""
    test_labels = np.asarray(test_labels, dtype=np.float64)
    prediction = np.full_like(test_labels, float(np.mean(train_labels)))
    metrics = compute_msa_metrics(prediction, test_labels, dataset_kind)
    return {name: {"mean": value, "std": None, "n": 1, "values": [value]} for name, value in metrics.items()}


def write_results(output_dir: str | Path, results: Mapping[str, Any], markdown: str) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.md`` into ``output_dir``; return their paths."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path = output_dir / RESULTS_JSON, output_dir / RESULTS_MARKDOWN
    json_path.write_text(json.dumps(results, indent=2, allow_nan=True) + "\n")
    markdown_path.write_text(markdown + "\n")
    return json_path, markdown_path
