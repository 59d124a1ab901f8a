"""What MS-Mix's intensity predictors (SIG) learned: intensity statistics of a trained model on one split.

``python -m benchmarks.sig_diagnostics --model outputs/lmf-msmix/seed-1111 --dataset default``

Predicts every sample's SIG intensities I_m (no mixing, as at evaluation) and prints per modality:
the mean and std of I over samples, the share of samples at the tanh bound (|I| >= 2.9 of 3), the
Pearson and Spearman correlation of |I| with |y| (and, where the dataset has unimodal labels as
CH-SIMS does, Pearson r of |I_m| with the modality's own |y_m|: ``pearson_abs_y_own``), SAL's KL(P(y) || P(I_m)) averaged over shuffled
batches of the training batch size next to the KL that a constant intensity gets (P(I) uniform),
and the mean |lam_adapt - 0.5| over each batch's random pairs (0 means the intensity-guided half of
the ratio is always 0.5, so SIG does not steer the mixing). From the run's ``trainer_state.json``
it also prints the mean of each logged MS-Mix statistic over training, among them the share of
pairs above the SASS threshold (near 1, SASS leaves the partners almost as random as Mixup's), and
each loss part's gradient norm and share on the shared parameters and on SIG's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr
from torch.utils.data import DataLoader
from transformers import HfArgumentParser

from data_processing.loading import load_msa_dataset
from modeling_msmix.feature_schema import UNIMODAL_LABELS_KEY
from modeling_msmix.mixing_msmix import SIG_BOUND_LEVEL, MSMix, adaptive_ratio, batch_distribution
from modeling_msmix.modeling_base import MODALITY_NAMES
from trainer.collator import MSMixDataCollator

from .fit_gap import load_trained_model, log_history


@dataclass
class SIGDiagnosticsArguments:
    """A trained MS-Mix model and the split to read its intensities on."""

    model: str = field(metadata={"help": "a folder written by trainer/run.py with augmentation msmix"})
    dataset: str = field(default="default", metadata={"help": "as trainer/run.py's --dataset"})
    split: str = field(default="test", metadata={"help": "the split to predict"})
    batch_size: int = field(default=64, metadata={"help": "batch size of the SAL and lam_adapt figures"})
    seed: int = field(default=0, metadata={"help": "seed of the batch shuffle and the random pairs"})


def predict_intensities(model: torch.nn.Module, split) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(intensities [N, 3], labels [N], unimodal labels [N, 3] or ``None``) of one torch-formatted split."""
    collator = MSMixDataCollator(return_mix_seed=False)
    intensities, labels, unimodal = [], [], []
    with torch.no_grad():
        for batch in DataLoader(split, batch_size=256, collate_fn=collator):
            labels.append(batch.pop("labels").reshape(-1))
            if UNIMODAL_LABELS_KEY in batch:
                unimodal.append(batch.pop(UNIMODAL_LABELS_KEY))
            intensities.append(model(**batch).intensities)
    return (torch.cat(intensities).numpy(), torch.cat(labels).numpy(),
            torch.cat(unimodal).numpy() if unimodal else None)


def batch_figures(intensity: np.ndarray, labels: np.ndarray, batch_size: int, label_scale: float,
                  rng: np.random.Generator, mixing: MSMix) -> dict[str, float]:
    """SAL's KL (learned and constant intensity) and mean |lam_adapt - 0.5| over shuffled batches
    (lam_adapt with ``mixing``'s own ratio weights)."""
    order = rng.permutation(len(labels))
    kl, kl_constant, adapt = [], [], []
    for start in range(0, len(order) - batch_size + 1, batch_size):
        rows = order[start:start + batch_size]
        values, targets = torch.from_numpy(intensity[rows]), torch.from_numpy(labels[rows])
        target = batch_distribution(targets, label_scale)
        for predicted, store in ((values, kl), (torch.zeros_like(values), kl_constant)):
            log_p = batch_distribution(predicted, label_scale).log()
            store.append(float(torch.nn.functional.kl_div(log_p, target, reduction="batchmean")))
        partners = torch.from_numpy(rng.permutation(batch_size))
        lam_adapt = adaptive_ratio(mixing.ratio_weight(values, None), torch.arange(batch_size), partners)
        adapt.append(float((lam_adapt - 0.5).abs().mean()))
    return {"SAL_KL": float(np.mean(kl)), "SAL_KL_constant": float(np.mean(kl_constant)),
            "mean_abs_lam_adapt_minus_half": float(np.mean(adapt))}


def sig_diagnostics(args: SIGDiagnosticsArguments) -> dict[str, dict[str, float]]:
    """Per modality: mean, std, saturated share, correlations with |y|, SAL KL and lam_adapt spread."""
    model = load_trained_model(args.model)
    if model.config.augmentation != "msmix":
        raise SystemExit(f"--model {args.model!r} was trained with augmentation {model.config.augmentation!r}; "
                         "SIG intensities exist for msmix only")
    split = load_msa_dataset(args.dataset)[args.split].with_format("torch")
    intensities, labels, unimodal = predict_intensities(model, split)
    label_scale = float(model.config.label_scale)
    rng = np.random.default_rng(args.seed)
    figures = {}
    for index, (name, column) in enumerate(zip(MODALITY_NAMES, intensities.T)):
        magnitude = np.abs(column)
        figures[name] = {
            "mean": float(column.mean()),
            "std": float(column.std()),
            "saturated_share": float((magnitude >= SIG_BOUND_LEVEL).mean()),
            "pearson_abs_y": float(pearsonr(magnitude, np.abs(labels)).statistic),
            "spearman_abs_y": float(spearmanr(magnitude, np.abs(labels)).statistic),
            **batch_figures(column, labels, args.batch_size, label_scale, rng, model.augmentation),
        }
        if unimodal is not None:
            figures[name]["pearson_abs_y_own"] = float(pearsonr(magnitude, np.abs(unimodal[:, index])).statistic)
    return figures


LOGGED_PREFIXES: tuple[str, ...] = ("msmix_", "grad_norm_", "grad_share_")


def logged_statistics(folder: str) -> dict[str, float] | None:
    """Mean over the logged training steps of every ``msmix_*`` statistic and of each loss part's gradient norm
    and share (``grad_norm_<group>_<part>``, ``grad_share_<group>_<part>``; ``None`` without ``trainer_state.json``)."""
    history = log_history(folder)
    if history is None:
        return None
    names = sorted({key for entry in history for key in entry if key.startswith(LOGGED_PREFIXES)})
    return {name: float(np.mean([entry[name] for entry in history if name in entry])) for name in names}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float] | None]:
    (args,) = HfArgumentParser(SIGDiagnosticsArguments).parse_args_into_dataclasses(argv)
    figures = sig_diagnostics(args)
    columns = list(next(iter(figures.values())))
    print(f"SIG intensities of {args.model} on the {args.split} split")
    print("| modality | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, row in figures.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.4g}" for c in columns) + " |")
    logged = logged_statistics(args.model)
    if logged:
        print("mean over the logged training steps: " + ", ".join(f"{k} {v:.3f}" for k, v in logged.items()))
    return {**figures, "logged_during_training": logged}


if __name__ == "__main__":
    main()
