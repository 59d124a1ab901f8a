"""A cheap probe of a built-in data profile: ridge regression on time-averaged features.

``python -m benchmarks.probe_synthetic --profile mosi_like [--seed 0] [--set text_noise=1.0 ...]``

Prints the label histogram, the train-mean baseline and, for text, audio, vision and all three
(concatenated time averages, ridge strength picked on validation), train and test MAE, Corr and
Has0 Acc-2 (SIMS-like: Mult_acc_2); for each single modality also ``intensity_r``, the test
Pearson r of |ridge prediction| with |y|: how well the size of that modality's reading tells the
size of the sentiment, which is what MS-Mix's SIG learns. It trains no backbone, so it takes
seconds; it is what the built-in profiles were calibrated with before confirming with real
training (``data_processing/synthetic/mosi_like.py``, ``reliability.py``).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from sklearn.linear_model import Ridge

from data_processing.synthetic import PROFILES, profile_of
from trainer.metrics import compute_msa_metrics

PROBE_INPUTS: dict[str, tuple[int, ...]] = {"text": (0,), "audio": (1,), "vision": (2,), "all": (0, 1, 2)}
RIDGE_STRENGTHS: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)
HISTOGRAM_EDGES: tuple[float, ...] = (-3.01, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.01)


def pooled_splits(config) -> dict[str, tuple[list[np.ndarray], np.ndarray, list[str]]]:
    """Per split: time-averaged features per modality, labels and ids, drawn as the dataset would be."""
    generator = PROFILES[profile_of(config)][1](config)
    pooled = {}
    for split in ("train", "validation", "test"):
        rows = generator.split(split, getattr(config, f"{split}_size"))
        blocks = [np.stack([row[f"{m}_features"].mean(0) for row in rows]) for m in ("text", "audio", "vision")]
        pooled[split] = (blocks, np.array([row["label"] for row in rows], dtype=np.float64),
                         [row["id"] for row in rows])
    return pooled


def label_histogram(labels: np.ndarray, label_max: float = 3.0) -> list[float]:
    """Share of labels in seven equal bins of [-label_max, label_max] (for MOSI: those that round to -3, ..., 3)."""
    counts, _ = np.histogram(labels, bins=np.array(HISTOGRAM_EDGES) * label_max / 3.0)
    return [round(float(c) / len(labels), 3) for c in counts]


def probe(pooled, columns: tuple[int, ...], dataset_kind: str = "mosi",
          label_max: float = 3.0) -> dict[str, dict[str, float]]:
    """Train/test MAE, Corr and binary accuracy of a ridge on the given modalities (strength chosen on validation).

    The test entry also has ``intensity_r``: Pearson r of |prediction| with |y|.
    """
    def stack(split):
        blocks, labels, _ = pooled[split]
        return np.concatenate([blocks[c] for c in columns], axis=1), labels

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = stack("train"), stack("validation"), stack("test")
    mean, std = x_train.mean(0), x_train.std(0) + 1e-8
    scale = lambda x: (x - mean) / std  # noqa: E731
    fits = [Ridge(alpha=a * x_train.shape[1]).fit(scale(x_train), y_train) for a in RIDGE_STRENGTHS]
    best = min(fits, key=lambda m: np.abs(m.predict(scale(x_val)) - y_val).mean())
    accuracy = "Mult_acc_2" if dataset_kind == "sims" else "Has0_acc_2"
    figures = {}
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        prediction = np.clip(best.predict(scale(x)), -label_max, label_max)
        metrics = compute_msa_metrics(prediction, y, dataset_kind)
        figures[split] = {k: round(float(metrics[k]), 3) for k in ("MAE", "Corr", accuracy)}
    figures["test"]["intensity_r"] = round(float(np.corrcoef(np.abs(prediction), np.abs(y))[0, 1]), 3)
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="mosi_like")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[], help="config changes, e.g. text_noise=1.0")
    args = parser.parse_args(argv)
    changes = {key: json.loads(value) for key, _, value in (item.partition("=") for item in args.set)}
    config = PROFILES[args.profile][0](seed=args.seed, **changes)
    pooled = pooled_splits(config)
    y_train, y_test = pooled["train"][1], pooled["test"][1]
    report = {
        "label_histogram_train (7 bins)": label_histogram(y_train, config.label_max),
        "label_std_train": round(float(y_train.std()), 3),
        "train_mean_test_MAE": round(float(np.abs(y_test - y_train.mean()).mean()), 3),
        **{name: probe(pooled, columns, config.dataset_kind, config.label_max)
           for name, columns in PROBE_INPUTS.items()},
    }
    for key, value in report.items():
        print(f"{key}: {value}")
    return report


if __name__ == "__main__":
    main()
