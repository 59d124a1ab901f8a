"""How much a trained model overfits: its metrics on the train, validation and test splits.

``python -m benchmarks.fit_gap --model outputs/lmf-none/seed-1111 --dataset default``

Loads a folder written by ``trainer/run.py`` (the best checkpoint) and the dataset, predicts
every split without mixing and prints MAE, Corr and Has0 Acc-2 per split. When the folder holds the
run's ``trainer_state.json`` it also prints the course of training: the best and the last epoch,
and at the last epoch the training loss (mean of the logged steps, dropout on) next to the
validation MAE. The MOSI-like profile was calibrated so that train MAE lies well below test MAE as
training goes on, as on MOSI.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from transformers import TrainerState
from transformers.trainer import TRAINER_STATE_NAME

from data_processing.loading import load_msa_dataset
from modeling_msmix import BACKBONES
from trainer.collator import MSMixDataCollator
from trainer.metrics import compute_msa_metrics

REPORTED: tuple[str, ...] = ("MAE", "Corr", "Has0_acc_2")


def load_trained_model(folder: str) -> torch.nn.Module:
    """The model saved in ``folder`` by ``trainer/run.py``, of the backbone its config names, in eval mode."""
    model_type = json.loads(open(f"{folder}/config.json").read())["model_type"]
    model_class = next(model for config, model in BACKBONES.values() if config.model_type == model_type)
    return model_class.from_pretrained(folder).eval()


def split_metrics(model: torch.nn.Module, split, batch_size: int = 128) -> dict[str, float]:
    """MAE, Corr and Has0 Acc-2 of ``model`` on one torch-formatted split."""
    collator = MSMixDataCollator(return_mix_seed=False)
    predictions, labels = [], []
    with torch.no_grad():
        for batch in DataLoader(split, batch_size=batch_size, collate_fn=collator):
            labels.append(batch.pop("labels"))
            predictions.append(model(**batch).logits.reshape(-1))
    metrics = compute_msa_metrics(torch.cat(predictions).numpy(), torch.cat(labels).numpy(), "mosi")
    return {key: round(float(metrics[key]), 4) for key in REPORTED}


def log_history(folder: str) -> list[dict[str, float]] | None:
    """The ``log_history`` of the run's ``trainer_state.json`` in ``folder`` (``None`` when there is none)."""
    state_file = Path(folder) / TRAINER_STATE_NAME
    return TrainerState.load_from_json(str(state_file)).log_history if state_file.is_file() else None


def training_course(folder: str) -> dict[str, float] | None:
    """Best and last epoch, and the last epoch's mean training loss and validation MAE, from ``trainer_state.json``."""
    history = log_history(folder)
    if history is None:
        return None
    evaluations = [entry for entry in history if "eval_MAE" in entry]
    last_epoch = evaluations[-1]["epoch"]
    last_losses = [entry["loss"] for entry in history
                   if "loss" in entry and last_epoch - 1 < entry["epoch"] <= last_epoch]
    best = min(evaluations, key=lambda entry: entry["eval_MAE"])
    return {"best_epoch": best["epoch"], "last_epoch": last_epoch,
            "last_epoch_training_loss": round(sum(last_losses) / len(last_losses), 4),
            "last_epoch_validation_MAE": round(evaluations[-1]["eval_MAE"], 4)}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a folder written by trainer/run.py")
    parser.add_argument("--dataset", default="default", help="as trainer/run.py's --dataset")
    args = parser.parse_args(argv)
    model = load_trained_model(args.model)
    dataset = load_msa_dataset(args.dataset)
    figures = {split: split_metrics(model, dataset[split].with_format("torch")) for split in dataset}
    for split, metrics in figures.items():
        print(f"{split}: {metrics}")
    print(f"test MAE - train MAE: {figures['test']['MAE'] - figures['train']['MAE']:.3f}")
    course = training_course(args.model)
    if course is not None:
        print(f"course of training: {course}")
        figures["course"] = course
    return figures


if __name__ == "__main__":
    main()
