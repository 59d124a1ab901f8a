"""Train one backbone with the MMSA package for a fixed number of epochs; print a JSON result.

This file runs inside MMSA's own virtual environment (``bench_vs_mmsa.py`` starts it as a
subprocess) and imports only MMSA, torch and the standard library (MMSA once the arguments are
parsed, so ``--help`` works anywhere).

It drives MMSA the way ``MMSA.run._run`` does (``get_config_regression``, ``MMDataLoader``,
``AMIO``, ``ATIO().getTrain``, ``do_train``, best checkpoint, ``do_test``) with two changes:
``MMSA_run`` itself cannot start on a CPU-only machine (it calls
``torch.cuda.set_device(torch.device("cpu"))``, a ValueError on torch 2.x), and MMSA trains
until early stopping, so the train loader is wrapped to stop after exactly ``--epochs`` epochs,
each one timed. MMSA's per-epoch validation and best-checkpoint selection are kept.

One compatibility shim: MMSA 2.2.1's MulT trainer passes ``verbose=True`` to
``ReduceLROnPlateau``, an argument torch 2.13 no longer accepts; the shim drops it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import resource
import tempfile
import time
from pathlib import Path

import torch


class _ReduceLROnPlateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
    """``ReduceLROnPlateau`` that ignores the ``verbose`` argument removed from torch."""

    def __init__(self, *args, verbose: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)


class _EpochsDone(Exception):
    """Raised when the train loader is asked for one epoch more than requested."""


class TimedEpochs:
    """Wraps MMSA's train DataLoader: times each pass over it and stops after ``epochs`` passes."""

    def __init__(self, loader, epochs: int) -> None:
        self.loader = loader
        self.epochs = epochs
        self.train_seconds: list[float] = []
        self.epoch_starts: list[float] = []

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        if len(self.epoch_starts) == self.epochs:
            self.epoch_starts.append(time.perf_counter())
            raise _EpochsDone
        start = time.perf_counter()
        self.epoch_starts.append(start)
        yield from self.loader
        self.train_seconds.append(time.perf_counter() - start)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pickle", required=True, help="MMSA-layout feature pickle")
    parser.add_argument("--model", required=True, choices=["tfn", "lmf", "mult", "misa"])
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1111)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--bert-path", default=None, help="local BERT folder for MISA (MMSA's MISA requires BERT)")
    parser.add_argument("--output", required=True, help="where to write the JSON result")
    parser.add_argument("--device", default="cpu", help="torch device to train on (cpu or cuda)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    # MMSA is imported after parsing, so that --help answers outside MMSA's environment too.
    from MMSA.config import get_config_regression
    from MMSA.data_loader import MMDataLoader
    from MMSA.models import AMIO
    from MMSA.trains import ATIO
    from MMSA.utils import count_parameters, setup_seed

    importlib.import_module("MMSA.trains.singleTask.MULT").ReduceLROnPlateau = _ReduceLROnPlateau
    logging.getLogger("MMSA").setLevel(logging.ERROR)
    config = get_config_regression(args.model, "mosi")
    with tempfile.TemporaryDirectory() as workdir:
        config.update(
            featurePath=args.pickle,
            custom_feature=None,
            feature_T="",
            feature_A="",
            feature_V="",
            device=torch.device(args.device),
            train_mode="regression",
            model_save_path=Path(workdir) / f"{args.model}-mosi.pth",
            cur_seed=1,
            batch_size=args.batch_size,
            early_stop=args.epochs + 1,
        )
        if args.bert_path:
            config.update(pretrained=args.bert_path)
        setup_seed(args.seed)
        loaders = MMDataLoader(config, args.num_workers)
        timed = TimedEpochs(loaders["train"], args.epochs)
        loaders["train"] = timed
        model = AMIO(config).to(config.device)
        trainer = ATIO().getTrain(config)
        start = time.perf_counter()
        try:
            trainer.do_train(model, loaders)
        except _EpochsDone:
            pass
        total = time.perf_counter() - start
        model.load_state_dict(torch.load(config.model_save_path))
        test = trainer.do_test(model, loaders["test"], mode="TEST")
    result = {
        "framework": "MMSA",
        "model": args.model,
        "parameters": count_parameters(model),
        "batch_size": args.batch_size,
        "epochs": len(timed.train_seconds),
        "train_epoch_seconds": timed.train_seconds,
        "epoch_with_validation_seconds": [b - a for a, b in zip(timed.epoch_starts, timed.epoch_starts[1:])],
        "total_train_seconds": total,
        "test_metrics": {k: float(v) for k, v in test.items()},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch_threads": torch.get_num_threads(),
        "config": {k: str(v) for k, v in config.items()},
    }
    Path(args.output).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
