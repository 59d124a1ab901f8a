"""The field's standard MSA metrics (SPEC section 2), computed with scikit-learn and scipy.

``round`` is numpy's round-half-to-even, as in the field's reference evaluation code
(so 0.5 rounds to 0 and 1.5 to 2). ``Corr`` is Pearson's r; it is NaN when either array is
constant (reported, not raised).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from scipy.stats import ConstantInputWarning, pearsonr
from sklearn.metrics import accuracy_score, f1_score

MOSI_METRICS: tuple[str, ...] = (
    "Has0_acc_2",
    "Has0_F1_score",
    "Non0_acc_2",
    "Non0_F1_score",
    "Mult_acc_5",
    "Mult_acc_7",
    "MAE",
    "Corr",
)
SIMS_METRICS: tuple[str, ...] = ("Mult_acc_2", "Mult_acc_3", "Mult_acc_5", "F1_score", "MAE", "Corr")
_SIMS_BINS = {
    "Mult_acc_2": (0.0,),
    "Mult_acc_3": (-0.1, 0.1),
    "Mult_acc_5": (-0.7, -0.1, 0.1, 0.7),
}


def _pearson(preds: np.ndarray, labels: np.ndarray) -> float:
    if preds.size < 2 or np.ptp(preds) == 0 or np.ptp(labels) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        return float(pearsonr(preds, labels).statistic)


def _exact_match(preds: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.round(preds) == np.round(labels)))


def _binary(preds: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    if preds.size == 0:
        return float("nan"), float("nan")
    return float(accuracy_score(labels, preds)), float(f1_score(labels, preds, average="weighted"))


def mosi_metrics(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """MOSI/MOSEI metrics; see SPEC section 2."""
    has0_acc, has0_f1 = _binary(preds >= 0, labels >= 0)
    nonzero = labels != 0
    non0_acc, non0_f1 = _binary(preds[nonzero] > 0, labels[nonzero] > 0)
    return {
        "Has0_acc_2": has0_acc,
        "Has0_F1_score": has0_f1,
        "Non0_acc_2": non0_acc,
        "Non0_F1_score": non0_f1,
        "Mult_acc_5": _exact_match(np.clip(preds, -2, 2), np.clip(labels, -2, 2)),
        "Mult_acc_7": _exact_match(np.clip(preds, -3, 3), np.clip(labels, -3, 3)),
        "MAE": float(np.mean(np.abs(preds - labels))),
        "Corr": _pearson(preds, labels),
    }


def sims_metrics(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """CH-SIMS metrics on values clipped to [-1, 1]; bins are right-closed, e.g. {[-1, 0], (0, 1]}."""
    preds, labels = np.clip(preds, -1, 1), np.clip(labels, -1, 1)
    results: dict[str, float] = {}
    for name, edges in _SIMS_BINS.items():
        pred_bins = np.digitize(preds, edges, right=True)
        label_bins = np.digitize(labels, edges, right=True)
        results[name] = float(accuracy_score(label_bins, pred_bins))
        if name == "Mult_acc_2":
            results["F1_score"] = float(f1_score(label_bins, pred_bins, average="weighted"))
    results["MAE"] = float(np.mean(np.abs(preds - labels)))
    results["Corr"] = _pearson(preds, labels)
    return {name: results[name] for name in SIMS_METRICS}


def compute_msa_metrics(preds, labels, dataset_kind: str = "mosi") -> dict[str, float]:
    """All standard metrics of ``dataset_kind`` (``mosi``, ``mosei``, ``custom`` -> MOSI set; ``sims``).

    Args:
        preds: predictions, any array-like of floats (flattened).
        labels: true scores, same number of values.
        dataset_kind: which metric set to report.

    Raises:
        ValueError: empty or mismatched inputs, non-finite values, or an unknown dataset kind.
    """
    preds = np.asarray(preds, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    if preds.size == 0:
        raise ValueError("compute_msa_metrics got no predictions")
    if preds.shape != labels.shape:
        raise ValueError(f"{preds.size} predictions but {labels.size} labels")
    if not (np.isfinite(preds).all() and np.isfinite(labels).all()):
        raise ValueError("predictions and labels must be finite (found NaN or inf)")
    if dataset_kind in ("mosi", "mosei", "custom"):
        return mosi_metrics(preds, labels)
    if dataset_kind == "sims":
        return sims_metrics(preds, labels)
    raise ValueError(f"unknown dataset_kind {dataset_kind!r}; expected mosi, mosei, sims or custom")


def msa_metric_path() -> str:
    """The folder of the ``evaluate`` module of these metrics, installed with msmix: ``evaluate.load(path, "sims")``."""
    return str(Path(__file__).resolve().parent / "metric_modules" / "msa")
