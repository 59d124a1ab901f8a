"""Paired differences between settings, with a confidence interval and a verdict.

Runs of two settings that share a data seed and a training seed see the same data, the same
initial weights and the same batches, so their difference is far less noisy than the difference
of the two means. For each augmentation against ``none`` on the same backbone, the differences
d_k = metric(setting, k) - metric(none, k) over the shared keys k = (data, seed) give a mean, a
sample std and a two-sided 95 % Student-t interval. The verdict is ``helps`` only when the whole
interval lies on the better side of 0 (lower MAE, higher Corr/accuracy), ``hurts`` when it lies on
the worse side, and ``no detectable difference`` otherwise (and always with fewer than 2 pairs).

The unit here is the run: that is right within one data set (one test set), where the training
seed is what varies. Runs of several data sets are not independent replicates; comparisons over
data sets (the data set as the unit, Holm's correction, an equivalence margin) are in
``trainer.study_statistics``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from scipy.stats import t as student_t

CONFIDENCE = 0.95
LOWER_IS_BETTER: frozenset[str] = frozenset({"MAE", "loss"})
HELPS, HURTS, NO_DIFFERENCE = "helps", "hurts", "no detectable difference"


def run_key(run: Mapping[str, Any]) -> tuple[str, int]:
    """``(data, seed)`` of a run: what pairs it with the same draw of another setting."""
    return str(run.get("data", "")), int(run["seed"])


def paired_difference(values: Mapping[Any, float], reference: Mapping[Any, float], metric: str,
                      confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Mean, std, interval and verdict of ``values[k] - reference[k]`` over the keys both hold."""
    keys = sorted(set(values) & set(reference))
    differences = [float(values[k]) - float(reference[k]) for k in keys]
    count = len(differences)
    mean = sum(differences) / count if count else math.nan
    if count < 2:
        return {"n": count, "mean": mean, "std": None, "low": None, "high": None, "verdict": NO_DIFFERENCE}
    std = math.sqrt(sum((d - mean) ** 2 for d in differences) / (count - 1))
    half = float(student_t.ppf(0.5 + confidence / 2, count - 1)) * std / math.sqrt(count)
    low, high = mean - half, mean + half
    better_below = metric in LOWER_IS_BETTER
    if (high < 0) if better_below else (low > 0):
        verdict = HELPS
    elif (low > 0) if better_below else (high < 0):
        verdict = HURTS
    else:
        verdict = NO_DIFFERENCE
    return {"n": count, "mean": mean, "std": std, "low": low, "high": high, "verdict": verdict}


def paired_against_none(runs: Mapping[str, Sequence[Mapping[str, Any]]], metrics: Sequence[str],
                        split: str = "test") -> dict[str, dict[str, dict[str, Any]]]:
    """``"lmf + msmix - none" -> metric -> paired_difference`` for every setting whose backbone has ``none`` runs.

    ``runs`` maps ``"<backbone> + <augmentation>"`` to its runs (each with ``seed``, optionally
    ``data``, and the ``split`` metrics).
    """
    table = {}
    for name, setting_runs in runs.items():
        backbone, augmentation = name.split(" + ", 1)
        reference = runs.get(f"{backbone} + none")
        if augmentation == "none" or not reference:
            continue
        table[f"{name} - none"] = {
            metric: paired_difference({run_key(r): r[split][metric] for r in setting_runs if metric in r[split]},
                                      {run_key(r): r[split][metric] for r in reference if metric in r[split]},
                                      metric)
            for metric in metrics
        }
    return table


def format_difference(difference: Mapping[str, Any]) -> str:
    """``-0.012 [-0.020, -0.004] (n=15) helps`` (three decimals)."""
    if difference["low"] is None:
        return f"{difference['mean']:+.3f} (n={difference['n']})"
    return (f"{difference['mean']:+.3f} [{difference['low']:+.3f}, {difference['high']:+.3f}] "
            f"(n={difference['n']}) {difference['verdict']}")


def paired_markdown(table: Mapping[str, Mapping[str, Mapping[str, Any]]], metrics: Sequence[str]) -> str:
    """One row per setting, one column per metric: the paired difference from ``none`` with its interval."""
    lines = ["| setting | " + " | ".join(f"{m} - none, mean [95 % CI]" for m in metrics) + " |",
             "|---|" + "---|" * len(metrics)]
    for name, row in table.items():
        cells = [format_difference(row[m]) if m in row else "" for m in metrics]
        lines.append(f"| {name.removesuffix(' - none')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
