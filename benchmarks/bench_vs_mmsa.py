"""msmix against MMSA (the field's framework): same pickle, backbone, epochs and batch size.

    python -m benchmarks.bench_vs_mmsa                                  # TFN, LMF, MulT, MISA; 3 epochs
    python -m benchmarks.bench_vs_mmsa --backbones tfn lmf --epochs 5 --train-size 1284
    python -m benchmarks.bench_vs_mmsa --mmsa-venv /path/to/venv        # an existing MMSA venv

What it does:

1. MMSA lives in its own virtual environment (``--mmsa-venv``, default ``../mmsa-venv`` next to
   the repository); it is never a dependency of msmix. If the folder has no Python, the script
   creates it: ``python3 -m venv DIR``, ``DIR/bin/pip install torch==2.13.0``, then
   ``DIR/bin/pip install mmsa`` (``--no-install`` prints these commands instead).
2. It writes one MOSI-shaped pickle in MMSA's layout (``train``/``valid``/``test`` dicts of
   ``text`` [N, 50, 768], ``text_bert`` [N, 3, 50], ``audio`` [N, 375, 5], ``vision`` [N, 500, 20],
   ``audio_lengths``, ``vision_lengths``, ``regression_labels``, ``id``, ``raw_text``) from the
   built-in synthetic generator with ``data_processing.mmsa_pickle.export_mmsa_pickle``; token ids
   in ``text_bert`` are random words framed by [CLS]/[SEP].
3. Per backbone, MMSA trains on it in a subprocess (``benchmarks/mmsa_runner.py``: MMSA's own
   config, data loader, model and trainer) and msmix trains on the same file imported with
   ``data_processing.mmsa_pickle.import_mmsa_pickle`` through ``MSMixTrainer`` (in a fresh
   process). Both use MMSA's MOSI hyper-parameters for that backbone (sizes, batch size, learning
   rate, loss), the same number of epochs, validation every epoch, the checkpoint with the best
   validation loss, and the same torch thread count; msmix uses no augmentation (MMSA has no
   MS-Mix), so both do the same work.
4. It prints each framework's training-epoch time (median over epochs, evaluation excluded),
   their ratio (target: msmix at most 0.5x MMSA), the load average, and both test metric sets.
   ``--rounds N`` alternates msmix and MMSA N times and takes the median of the rounds' ratios.

Text input: TFN, LMF and MulT read the precomputed 768-d ``text`` features in MMSA
(``use_bert: False``, MMSA's default for them) and in msmix. MMSA's MISA cannot: it asserts
``use_bert == True`` and always fine-tunes a BERT on ``text_bert``. So both frameworks' MISA
fine-tune the same local, randomly initialised BERT (BERT-base width 768, ``--bert-layers``
layers) saved with ``save_pretrained``; no Hub access is needed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.timing import EpochTimingCallback, MemorySampler, run_isolated

REPO_ROOT = Path(__file__).resolve().parents[1]
MMSA_RUNNER = Path(__file__).resolve().parent / "mmsa_runner.py"
DEFAULT_MMSA_VENV = REPO_ROOT.parent / "mmsa-venv"
MOSI_PADDED_LENGTHS = (50, 375, 500)
MOSI_SIZES = (1284, 229, 686)
EPOCH_RATIO_TARGET = 0.5
VOCABULARY_SIZE = 1000
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
SHOWN_METRICS = ("Has0_acc_2", "Non0_acc_2", "Non0_F1_score", "Mult_acc_5", "Mult_acc_7", "MAE", "Corr")

# MMSA 2.2.1's MOSI settings (config_regression.json) and the msmix config that builds the same network.
MMSA_MOSI_SETTINGS: dict[str, dict[str, Any]] = {
    "tfn": {
        "batch_size": 32,
        "learning_rate": 1e-3,
        "weight_decay": 0.0,
        "overrides": "text_hidden_dim=128,text_out_dim=32,audio_hidden_dim=32,vision_hidden_dim=128,"
        "post_fusion_dim=64,text_dropout=0.3,audio_dropout=0.3,vision_dropout=0.3,post_fusion_dropout=0.5",
    },
    "lmf": {
        "batch_size": 64,
        "learning_rate": 1e-3,
        "weight_decay": 0.005,
        "overrides": "text_hidden_dim=128,text_out_dim=64,audio_hidden_dim=16,vision_hidden_dim=128,rank=3,"
        "text_dropout=0.3,audio_dropout=0.3,vision_dropout=0.3",
    },
    "mult": {
        "batch_size": 16,
        "learning_rate": 2e-3,
        "weight_decay": 0.0,
        "overrides": "hidden_dim=50,num_heads=10,num_layers=4,text_kernel_size=5,audio_kernel_size=5,"
        "vision_kernel_size=5,embed_dropout=0.2,attn_dropout=0.2,relu_dropout=0.0,res_dropout=0.0,out_dropout=0.5",
    },
    "misa": {
        "batch_size": 16,
        "learning_rate": 1e-4,
        "weight_decay": 0.0,
        "overrides": 'hidden_dim=128,dropout=0.2,diff_weight=0.1,sim_weight=0.3,recon_weight=1.0,loss_type="mse"',
    },
}


def ensure_mmsa_venv(venv: Path, install: bool) -> Path:
    """The venv's Python; create the venv with torch 2.13.0 and MMSA when it is missing and ``install``."""
    python = venv / "bin" / "python"
    commands = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(venv / "bin" / "pip"), "install", "torch==2.13.0"],
        [str(venv / "bin" / "pip"), "install", "mmsa"],
    ]
    if python.is_file():
        return python
    if not install:
        steps = "\n  ".join(" ".join(command) for command in commands)
        sys.exit(f"no MMSA venv at {venv}; create it with:\n  {steps}\nor pass --mmsa-venv")
    for command in commands:
        print("+", " ".join(command), flush=True)
        subprocess.run(command, check=True)
    return python


def _write_pickle(path: str, train_size: int, validation_size: int, test_size: int, seed: int) -> None:
    import datasets
    import numpy as np

    from data_processing.mmsa_pickle import export_mmsa_pickle
    from data_processing.synthetic import SyntheticConfig, generate_default_dataset

    datasets.disable_progress_bars()
    dataset = generate_default_dataset(
        SyntheticConfig(train_size=train_size, validation_size=validation_size, test_size=test_size, seed=seed)
    )
    rng = np.random.default_rng(seed)

    def token_ids(row: dict[str, Any]) -> dict[str, Any]:
        ids = rng.integers(len(SPECIAL_TOKENS), VOCABULARY_SIZE, row["text_length"])
        ids[0], ids[-1] = SPECIAL_TOKENS.index("[CLS]"), SPECIAL_TOKENS.index("[SEP]")
        return {"input_ids": ids.astype(np.int32)}

    export_mmsa_pickle(dataset.map(token_ids), path, MOSI_PADDED_LENGTHS)


def write_mosi_pickle(path: Path, sizes: tuple[int, int, int], seed: int = 0) -> Path:
    """One MOSI-shaped MMSA-layout pickle from the synthetic generator (written in a separate process)."""
    if not path.is_file():
        run_isolated(
            _write_pickle, path=str(path), train_size=sizes[0], validation_size=sizes[1], test_size=sizes[2], seed=seed
        )
    return path


def write_local_bert(folder: Path, layers: int, seed: int = 0) -> Path:
    """A randomly initialised BERT (width 768, ``layers`` layers) and its vocabulary, saved with ``save_pretrained``."""
    if (folder / "config.json").is_file():
        return folder
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocabulary = folder / "vocab.txt"
    words = [f"word{i}" for i in range(len(SPECIAL_TOKENS), VOCABULARY_SIZE)]
    vocabulary.write_text("\n".join([*SPECIAL_TOKENS, *words]) + "\n")
    BertTokenizer(str(vocabulary)).save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=VOCABULARY_SIZE,
        hidden_size=768,
        num_hidden_layers=layers,
        num_attention_heads=12,
        intermediate_size=3072,
    )
    BertModel(config).save_pretrained(folder)
    return folder


def train_mmsa(
    python: Path,
    pickle_path: Path,
    backbone: str,
    epochs: int,
    batch_size: int,
    seed: int,
    threads: int | None,
    bert: Path | None,
    log: Path,
    device: str = "cpu",
) -> dict[str, Any]:
    """Run ``mmsa_runner.py`` in the MMSA venv; its JSON result."""
    output = log.with_suffix(".json")
    command = [
        str(python),
        str(MMSA_RUNNER),
        "--pickle",
        str(pickle_path),
        "--model",
        backbone,
        "--epochs",
        str(epochs),
        "--batch-size",
        str(batch_size),
        "--seed",
        str(seed),
        "--output",
        str(output),
        "--device",
        device,
    ]
    if bert is not None:
        command += ["--bert-path", str(bert)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    with log.open("w") as stream:
        completed = subprocess.run(command, stdout=stream, stderr=subprocess.STDOUT, env=env)
    if completed.returncode != 0:
        tail = log.read_text()[-2000:]
        raise RuntimeError(f"MMSA {backbone} failed (exit {completed.returncode}); end of {log}:\n{tail}")
    return json.loads(output.read_text())


def train_msmix(
    pickle_path: str,
    backbone: str,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float,
    overrides: str,
    seed: int,
    threads: int | None,
    augmentation: str = "none",
    device: str = "cpu",
    data_path: str = "in_memory",
    bf16: bool = False,
) -> dict[str, Any]:
    """Import the pickle and train ``backbone`` with ``MSMixTrainer`` for ``epochs``; epoch times and test metrics.

    ``data_path``: ``in_memory`` (tensors prepared once, the default of ``trainer/run.py``) or
    ``arrow`` (memory-mapped rows collated per batch, the path before the in-memory one).
    ``bf16``: ``TrainingArguments.bf16`` (bf16 autocast, also on a CPU; weights and optimizer stay fp32).
    """
    import datasets
    import torch
    import transformers
    from datasets import DatasetDict
    from transformers import PrinterCallback, set_seed

    from data_processing.mmsa_pickle import import_mmsa_pickle
    from data_processing.schema import read_metadata
    from trainer.arguments import DataArguments, ModelArguments, MSMixTrainingArguments
    from trainer.in_memory import in_memory_splits
    from trainer.msmix_trainer import MSMixTrainer
    from trainer.training_run import build_collator, build_config, build_model

    if threads:
        torch.set_num_threads(threads)
    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    imported = import_mmsa_pickle(pickle_path, "mosi")
    metadata = read_metadata(imported)
    dataset = DatasetDict({name: split.with_format("torch") for name, split in imported.items()})
    limits = {"text": None, "audio": None, "vision": None}
    dataset = {**dataset, **in_memory_splits(dataset, limits, 4.0 if data_path == "in_memory" else 0.0)}
    model_args = ModelArguments(backbone=backbone, augmentation=augmentation, config_overrides=overrides)
    set_seed(seed)
    model = build_model(model_args, build_config(model_args, metadata))
    epoch_timer = EpochTimingCallback()
    with tempfile.TemporaryDirectory() as output_dir:
        args = MSMixTrainingArguments(
            output_dir=output_dir,
            num_train_epochs=epochs,
            per_device_train_batch_size=batch_size,
            per_device_eval_batch_size=batch_size,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            lr_scheduler_type="constant",
            warmup_steps=0,
            logging_strategy="epoch",
            early_stopping_patience=None,
            report_to="none",
            disable_tqdm=True,
            dataloader_num_workers=0,
            use_cpu=device == "cpu",
            bf16=bf16,
            seed=seed,
        )
        trainer = MSMixTrainer(
            model=model,
            args=args,
            data_collator=build_collator(DataArguments(), seed),
            train_dataset=dataset["train"],
            eval_dataset=dataset["validation"],
            callbacks=[epoch_timer],
        )
        trainer.remove_callback(PrinterCallback)
        with MemorySampler() as memory:
            train_output = trainer.train()
        test = trainer.evaluate(dataset["test"], metric_key_prefix="test")
    return {
        "framework": "msmix",
        "data_path": data_path,
        "model": backbone,
        "augmentation": augmentation,
        "parameters": model.num_parameters(),
        "batch_size": batch_size,
        "epochs": len(epoch_timer.epoch_seconds),
        "train_epoch_seconds": epoch_timer.epoch_seconds,
        "total_train_seconds": train_output.metrics["train_runtime"],
        "test_metrics": {key.removeprefix("test_"): value for key, value in test.items()},
        "peak_rss_mb": memory.peak_mb()["rss"],
        "torch_threads": torch.get_num_threads(),
        "bf16": bf16,
    }


def _metric_line(name: str, metrics: dict[str, float]) -> str:
    return f"    {name:6s} " + " ".join(f"{metric}={metrics.get(metric, float('nan')):.4f}" for metric in SHOWN_METRICS)


def compare(mmsa: dict[str, Any], msmix: dict[str, Any]) -> dict[str, Any]:
    """Median training-epoch times, their ratio and whether msmix's test metrics are at least as good."""
    mmsa_epoch = statistics.median(mmsa["train_epoch_seconds"])
    msmix_epoch = statistics.median(msmix["train_epoch_seconds"])
    a, b = mmsa["test_metrics"], msmix["test_metrics"]
    better = {m: (b[m] <= a[m] if m == "MAE" else b[m] >= a[m]) for m in SHOWN_METRICS if m in a and m in b}
    return {
        "mmsa_epoch_seconds": mmsa_epoch,
        "msmix_epoch_seconds": msmix_epoch,
        "epoch_ratio": msmix_epoch / mmsa_epoch,
        "time_target_met": msmix_epoch / mmsa_epoch <= EPOCH_RATIO_TARGET,
        "msmix_metric_at_least_as_good": better,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=list(MMSA_MOSI_SETTINGS), choices=list(MMSA_MOSI_SETTINGS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: MMSA's MOSI batch size per backbone")
    parser.add_argument("--train-size", type=int, default=MOSI_SIZES[0])
    parser.add_argument("--validation-size", type=int, default=MOSI_SIZES[1])
    parser.add_argument("--test-size", type=int, default=MOSI_SIZES[2])
    parser.add_argument("--seed", type=int, default=1111)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads for both frameworks")
    parser.add_argument("--bert-layers", type=int, default=2, help="layers of the local BERT that MISA fine-tunes")
    parser.add_argument(
        "--msmix-overrides",
        default=None,
        help="extra msmix config settings after MMSA's (e.g. 'attn_dropout=0.0'); reported as a variant",
    )
    parser.add_argument(
        "--msmix-bf16",
        action="store_true",
        help="msmix trains with bf16 autocast (--bf16 of trainer/run.py; on a CPU it pays where the CPU has "
        "bf16 instructions, e.g. avx512_bf16 or AMX); MMSA has no such option and stays fp32",
    )
    parser.add_argument(
        "--reuse-mmsa",
        action="store_true",
        help="reuse an MMSA result of the same backbone, data, epochs, batch and threads from --workdir",
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where both frameworks train")
    parser.add_argument("--msmix-data-paths", nargs="+", default=["arrow", "in_memory"], choices=["arrow", "in_memory"],
                        help="msmix's data paths to time (arrow = before the in-memory path; the last one is compared)")
    parser.add_argument("--msmix-only", action="store_true",
                        help="no MMSA (e.g. without its venv): msmix's epoch times per data path, side by side")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run msmix, MMSA, msmix, MMSA ... this many times per backbone; the ratio is the "
                        "median of the rounds' ratios, so a change of machine load hits both frameworks")
    parser.add_argument("--mmsa-venv", type=Path, default=DEFAULT_MMSA_VENV)
    parser.add_argument("--no-install", action="store_true", help="do not create a missing MMSA venv; print how")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "msmix-bench-vs-mmsa")
    parser.add_argument("--output", type=Path, default=None, help="also write all results as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    python = None if args.msmix_only else ensure_mmsa_venv(args.mmsa_venv, install=not args.no_install)
    args.workdir.mkdir(parents=True, exist_ok=True)
    sizes = (args.train_size, args.validation_size, args.test_size)
    pickle_path = write_mosi_pickle(args.workdir / f"mosi-{'-'.join(map(str, sizes))}.pkl", sizes)
    print(f"pickle: {pickle_path} (sizes {sizes}, padded lengths {MOSI_PADDED_LENGTHS})", flush=True)
    report: dict[str, Any] = {"pickle": str(pickle_path), "epochs": args.epochs, "backbones": {}}
    for backbone in args.backbones:
        settings = MMSA_MOSI_SETTINGS[backbone]
        batch_size = args.batch_size or settings["batch_size"]
        overrides, bert = settings["overrides"], None
        if backbone == "misa":
            bert = write_local_bert(args.workdir / f"bert-768-l{args.bert_layers}", args.bert_layers)
            overrides += f',text_encoder_name_or_path="{bert}"'
        if args.msmix_overrides:
            overrides += f",{args.msmix_overrides}"
        log = args.workdir / (f"mmsa-{backbone}-{pickle_path.stem}-e{args.epochs}-b{batch_size}-t{args.threads}"
                              f"-{args.device}.log")
        rounds = []
        for round_index in range(args.rounds):
            runs = {
                data_path: run_isolated(
                    train_msmix,
                    pickle_path=str(pickle_path),
                    backbone=backbone,
                    epochs=args.epochs,
                    batch_size=batch_size,
                    learning_rate=settings["learning_rate"],
                    weight_decay=settings["weight_decay"],
                    overrides=overrides,
                    seed=args.seed,
                    threads=args.threads,
                    device=args.device,
                    data_path=data_path,
                    bf16=args.msmix_bf16,
                )
                for data_path in args.msmix_data_paths
            }
            print(f"\n{backbone} round {round_index + 1}: msmix median epoch s, " + ", ".join(
                f"{path} {statistics.median(run['train_epoch_seconds']):.2f}" for path, run in runs.items())
                + f" (arrow = before the in-memory data path); load average {os.getloadavg()[0]:.2f}", flush=True)
            msmix = runs[args.msmix_data_paths[-1]]
            if python is None:
                rounds.append({"msmix": runs})
                continue
            if args.reuse_mmsa and log.with_suffix(".json").is_file():
                mmsa = json.loads(log.with_suffix(".json").read_text())
            else:
                mmsa = train_mmsa(
                    python, pickle_path, backbone, args.epochs, batch_size, args.seed, args.threads, bert, log,
                    args.device,
                )
            rounds.append({"mmsa": mmsa, "msmix": msmix, "msmix_data_paths": runs, "comparison": compare(mmsa, msmix),
                           "load_average_1min": os.getloadavg()[0]})
            print(f"{backbone} round {round_index + 1}: MMSA {rounds[-1]['comparison']['mmsa_epoch_seconds']:.2f} s, "
                  f"ratio {rounds[-1]['comparison']['epoch_ratio']:.2f}", flush=True)
        if python is None:
            report["backbones"][backbone] = {"rounds": rounds}
            continue
        ratios = [entry["comparison"]["epoch_ratio"] for entry in rounds]
        comparison = {**rounds[-1]["comparison"], "round_ratios": ratios, "epoch_ratio": statistics.median(ratios)}
        comparison["time_target_met"] = comparison["epoch_ratio"] <= EPOCH_RATIO_TARGET
        mmsa, msmix = rounds[-1]["mmsa"], rounds[-1]["msmix"]
        report["backbones"][backbone] = {"rounds": rounds, "comparison": comparison, "msmix_overrides": overrides}
        variant = f" (msmix variant: {args.msmix_overrides})" if args.msmix_overrides else ""
        variant += " (msmix in bf16 autocast)" if args.msmix_bf16 else ""
        print(
            f"\n{backbone}{variant}: batch {batch_size}, {args.epochs} epochs, params MMSA {mmsa['parameters']:,} / "
            f"msmix {msmix['parameters']:,}\n"
            f"  epoch time (last round): MMSA {comparison['mmsa_epoch_seconds']:.2f} s, "
            f"msmix {comparison['msmix_epoch_seconds']:.2f} s\n"
            f"  ratio per round {', '.join(f'{r:.2f}' for r in ratios)} -> median {comparison['epoch_ratio']:.2f} "
            f"(target <= {EPOCH_RATIO_TARGET}: {'met' if comparison['time_target_met'] else 'MISSED'})\n"
            f"  peak RSS: MMSA {mmsa['peak_rss_mb']:.0f} MB, msmix {msmix['peak_rss_mb']:.0f} MB\n"
            f"  test metrics:\n{_metric_line('MMSA', mmsa['test_metrics'])}\n"
            f"{_metric_line('msmix', msmix['test_metrics'])}",
            flush=True,
        )
    if args.output:
        args.output.write_text(json.dumps(report, indent=2, default=str))
    return report


if __name__ == "__main__":
    main()
