"""The "Robustness" section of a model card, from a ``robustness.json`` next to the model.

``trainer.robustness`` writes ``robustness.json`` / ``robustness.md`` / ``robustness.png`` into
a model folder. When they are there, ``add_robustness_section`` appends the tables and the plot
to the card's body and adds ``model-index`` entries for LNLN's headline figure (every metric
averaged over the step-missing rates r = 0.0 ... 0.9), and ``save_model_for_hub`` copies the
plot into the repository. The section is appended to the rendered card, so it does not depend
on the rest of the card's template.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard

from .robustness import LNLN_AVERAGE, ROBUSTNESS_JSON, ROBUSTNESS_PLOT, robustness_markdown

_METRIC_TYPES = {"MAE": "mae", "Corr": "pearsonr"}


def load_robustness(model_dir: str | Path | None) -> dict[str, Any] | None:
    """The ``robustness.json`` in ``model_dir``, or ``None`` when there is none."""
    if not model_dir:
        return None
    path = Path(model_dir) / ROBUSTNESS_JSON
    return json.loads(path.read_text()) if path.is_file() else None


def robustness_section(results: Mapping[str, Any], plot_file: str | None = ROBUSTNESS_PLOT) -> str:
    """The card's ``## Robustness`` section: how it was measured, the plot and one table per protocol."""
    lines = [
        "## Robustness",
        "",
        "Missing and noisy modalities, measured with `python -m trainer.robustness` (each protocol's levels, "
        "then their average; LNLN's figure is the average over the random step-missing rates).",
        "",
    ]
    if plot_file:
        lines += [f"![metrics against the missing rate and noise]({plot_file})", ""]
    lines.append(robustness_markdown(results, heading_level=3))
    return "\n".join(lines)


def lnln_eval_results(results: Mapping[str, Any], *, dataset_name: str, dataset_type: str) -> list[EvalResult]:
    """``model-index`` entries: every metric averaged over LNLN's random step-missing rates."""
    protocol = results.get("protocols", {}).get(LNLN_AVERAGE, {})
    rates = [level["level"] for level in protocol.get("levels", [])]
    if not rates:
        return []
    span = f"r = {min(rates):g}-{max(rates):g}"
    entries = []
    for name, value in protocol["average"].items():
        if not math.isfinite(value):
            continue
        entries.append(EvalResult(
            task_type="multimodal-sentiment-analysis",
            task_name="Multimodal Sentiment Analysis",
            dataset_type=dataset_type,
            dataset_name=dataset_name,
            dataset_split=results.get("split", "test"),
            metric_type=_METRIC_TYPES.get(name, "f1" if "F1" in name else "accuracy"),
            metric_name=f"{name} (random step missing, LNLN average over {span})",
            metric_value=round(float(value), 6),
        ))
    return entries


def add_robustness_section(card: ModelCard, results: Mapping[str, Any], *, dataset_name: str,
                           dataset_type: str, plot_file: str | None = ROBUSTNESS_PLOT) -> ModelCard:
    """``card`` with the Robustness section appended and the LNLN averages in its ``model-index``."""
    extra = lnln_eval_results(results, dataset_name=dataset_name, dataset_type=dataset_type)
    card.data.eval_results = [*(card.data.eval_results or []), *extra] or None
    if card.data.eval_results and not card.data.model_name:
        card.data.model_name = dataset_name
    body = card.text.rstrip("\n")
    card.content = f"---\n{card.data.to_yaml()}\n---\n{body}\n\n{robustness_section(results, plot_file)}\n"
    return card


def copy_robustness_files(model_dir: str | Path, output_dir: str | Path) -> list[Path]:
    """Copy the robustness files of ``model_dir`` (those that exist) into ``output_dir``."""
    copied = []
    for name in (ROBUSTNESS_JSON, ROBUSTNESS_PLOT, "robustness.md"):
        source = Path(model_dir) / name
        if source.is_file() and source.resolve() != (Path(output_dir) / name).resolve():
            copied.append(Path(shutil.copy2(source, Path(output_dir) / name)))
    return copied


def add_robustness_from_folder(card: ModelCard, model_dir: str | Path | None, output_dir: str | Path,
                               dataset_id: str | None, dataset_kind: str) -> ModelCard:
    """When ``model_dir`` holds a ``robustness.json``: add the section to ``card`` and copy the files to ``output_dir``.

    The ``model-index`` entries name the dataset as the card's other results do.
    """
    results = load_robustness(model_dir)
    if results is None:
        return card
    existing = card.data.eval_results or []
    dataset_name = existing[0].dataset_name if existing else (dataset_id or results.get("dataset") or dataset_kind)
    dataset_type = existing[0].dataset_type if existing else (dataset_id or dataset_kind)
    copy_robustness_files(model_dir, output_dir)
    return add_robustness_section(card, results, dataset_name=dataset_name, dataset_type=dataset_type)
