"""What the demo page shows, computed from the pipeline's output (no Gradio here, so it is testable alone).

Every function takes one result of ``pipeline("multimodal-sentiment")(..., return_details=True)``:
``{"sentiment", "label", "intensities", "warnings", "details"}`` where ``details`` holds the
processor's view of the clip (``face_crops``, ``face_found``, ``frame_times``, ``waveform``,
``sampling_rate``, ``warnings``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

MODALITIES = ("text", "audio", "vision")
NO_FACE_BORDER = (220, 30, 30)
TABLE_HEADERS = ["clip", "sentiment", "label", "text", "audio", "vision", "warnings or error"]
WAVEFORM_POINTS = 1500


def format_sentiment(value: float) -> str:
    """The score as the page shows it (3 decimals, signed): the test compares this with the pipeline."""
    return f"{value:+.3f}"


def sentiment_markdown(result: Mapping[str, Any], label_range: tuple[float, float]) -> str:
    """``**+1.234** on [-3, 3]: positive``: the score on the dataset's scale and its 7-class label."""
    low, high = label_range
    return (
        f"## <span id='sentiment-value'>{format_sentiment(result['sentiment'])}</span> "
        f"<span id='sentiment-label'>{result['label']}</span>\n"
        f"sentiment on the dataset's scale [{low:g}, {high:g}], 7-class label"
    )


def intensity_figure(intensities: Mapping[str, float | None] | None, label_range: tuple[float, float]) -> Figure:
    """MS-Mix's per-modality sentiment intensities as bars; a missing modality (None) is written on the
    axis instead of a bar. A model trained without MS-Mix has none (all None, or ``intensities`` None)."""
    figure = Figure(figsize=(4.2, 2.6), layout="constrained")
    axes = figure.add_subplot()
    values = dict(intensities or {})
    heights = [values.get(m) for m in MODALITIES]
    colors = ["#2e7d32" if (h or 0) >= 0 else "#c62828" for h in heights]
    axes.bar(MODALITIES, [0.0 if h is None else h for h in heights], color=colors)
    for index, height in enumerate(heights):
        text = "missing" if height is None else f"{height:+.2f}"
        axes.annotate(text, (index, 0.0 if height is None else height), ha="center",
                      va="bottom" if (height or 0) >= 0 else "top", fontsize=9)
    axes.axhline(0.0, color="black", linewidth=0.8)
    axes.set_ylim(*label_range)
    axes.set_ylabel("intensity")
    has_intensities = any(h is not None for h in heights)
    axes.set_title("MS-Mix intensity per modality" if has_intensities else "no intensities (model without MS-Mix)",
                   fontsize=10)
    return figure


def waveform_figure(waveform: np.ndarray, sampling_rate: int) -> Figure:
    """The mono waveform the audio encoder heard, as a min/max envelope over time."""
    figure = Figure(figsize=(6.0, 1.8), layout="constrained")
    axes = figure.add_subplot()
    waveform = np.asarray(waveform, dtype=np.float32).reshape(-1)
    if waveform.size == 0:
        axes.text(0.5, 0.5, "no audio", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return figure
    bins = max(1, min(WAVEFORM_POINTS, waveform.size))
    edges = np.linspace(0, waveform.size, bins + 1).astype(int)
    lows = np.minimum.reduceat(waveform, edges[:-1])
    highs = np.maximum.reduceat(waveform, edges[:-1])
    times = edges[:-1] / float(sampling_rate)
    axes.fill_between(times, lows, highs, color="#1565c0", linewidth=0.5)
    axes.set_xlim(0, waveform.size / float(sampling_rate))
    axes.set_title("audio waveform the audio encoder heard", fontsize=10)
    axes.set_xlabel(f"seconds ({sampling_rate} Hz)")
    return figure


def _with_border(image: np.ndarray, color: tuple[int, int, int], width: int) -> np.ndarray:
    framed = np.array(image, dtype=np.uint8, copy=True)
    framed[:width], framed[-width:], framed[:, :width], framed[:, -width:] = color, color, color, color
    return framed


def face_gallery(details: Mapping[str, Any]) -> list[tuple[np.ndarray, str]]:
    """One thumbnail per sampled frame with its time; frames without a face get a red border and say so."""
    items = []
    for crop, found, time in zip(details["face_crops"], details["face_found"], details["frame_times"]):
        if found:
            items.append((np.asarray(crop, dtype=np.uint8), f"{time:.1f} s"))
        else:
            width = max(2, min(crop.shape[:2]) // 12)
            items.append((_with_border(crop, NO_FACE_BORDER, width), f"{time:.1f} s: no face"))
    return items


def warnings_markdown(warnings: Sequence[str]) -> str:
    """The extraction warnings as a list (or a line saying there were none)."""
    if not warnings:
        return "No extraction warnings."
    return "**Extraction warnings**\n" + "\n".join(f"- {w}" for w in warnings)


def table_row(clip: str, result: Mapping[str, Any] | None, error: str | None = None) -> list[Any]:
    """One row of the several-clips table: the clip, its score, label, intensities, warnings or error."""
    if result is None:
        return [clip, None, None, None, None, None, error]
    intensities = result.get("intensities") or {}
    rounded = [None if intensities.get(m) is None else round(float(intensities[m]), 3) for m in MODALITIES]
    return [clip, round(float(result["sentiment"]), 3), result["label"], *rounded, "; ".join(result["warnings"])]
