"""How much a trained model overfits: its metrics on the train, validation and test splits.

``python -m benchmarks.fit_gap --model outputs/lmf-none/seed-1111 --dataset default``

Loads a folder written by ``trainer/run.py`` (the best checkpoint) and the dataset, predicts
every split without mixing and prints MAE, Corr and Has0 Acc-2 per split. The MOSI-like profile
was calibrated so that train MAE lies well below test MAE, as on MOSI.
"""

from __future__ import annotations

import argparse
import json

import torch
from torch.utils.data import DataLoader

from data_processing.loading import load_msa_dataset
from modeling_msmix import BACKBONES
from trainer.collator import MSMixDataCollator
from trainer.metrics import compute_msa_metrics

REPORTED: tuple[str, ...] = ("MAE", "Corr", "Has0_acc_2")


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


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a folder written by trainer/run.py")
    parser.add_argument("--dataset", default="default", help="as trainer/run.py's --dataset")
    args = parser.parse_args(argv)
    model_type = json.loads(open(f"{args.model}/config.json").read())["model_type"]
    model_class = next(model for config, model in BACKBONES.values() if config.model_type == model_type)
    model = model_class.from_pretrained(args.model).eval()
    dataset = load_msa_dataset(args.dataset)
    figures = {split: split_metrics(model, dataset[split].with_format("torch")) for split in dataset}
    for split, metrics in figures.items():
        print(f"{split}: {metrics}")
    print(f"test MAE - train MAE: {figures['test']['MAE'] - figures['train']['MAE']:.3f}")
    return figures


if __name__ == "__main__":
    main()
