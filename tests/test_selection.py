"""Best-model selection does not depend on the number of processes: 1 vs 2 CPU processes pick the same epoch.

Both runs see the same 32 samples per optimizer step (one process with batch 32; two with 16
each, whose gradients DDP averages), without augmentation or dropout, so they follow nearly the
same trajectory (only the BatchNorm statistics of 16 vs 32 rows differ). The default selection
metric, the MAE of the validation predictions gathered from all processes, then stays within a
fraction of a percent per epoch and selects the same checkpoint.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import trainer_helpers as helpers
from trainer.run import main as run_main

REPO = Path(__file__).resolve().parents[1]
ACCELERATE_CONFIG = REPO / "trainer" / "accelerate_configs" / "two_processes.yaml"

COMMON = [
    "--backbone", "lmf", "--augmentation", "none", "--num_train_epochs", "4", "--learning_rate", "3e-2",
    "--config_overrides", helpers.TINY_LMF + ",text_dropout=0,audio_dropout=0,vision_dropout=0",
    "--disable_tqdm", "true", "--dataloader_pin_memory", "false", "--early_stopping_patience", "0",
    "--save_total_limit", "4", "--seed", "5",
]


def epoch_history(output_dir: Path) -> tuple[list[float], str]:
    """(validation MAE per epoch, the best checkpoint's folder name) of a finished seed folder."""
    state = json.loads((output_dir / "seed-5" / "trainer_state.json").read_text())
    maes = [entry["eval_MAE"] for entry in state["log_history"] if "eval_MAE" in entry]
    return maes, Path(state["best_model_checkpoint"]).name


def test_one_and_two_processes_select_the_same_epoch(tmp_path):
    dataset = helpers.save_tiny_dataset(tmp_path / "tiny")
    one, two = tmp_path / "one", tmp_path / "two"
    run_main(["--dataset", str(dataset), "--output_dir", str(one), "--per_device_train_batch_size", "32",
              "--use_cpu", "true", *COMMON])
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ACCELERATE_CONFIG),
               "--main_process_port", "29583", str(REPO / "trainer" / "run.py"), "--dataset", str(dataset),
               "--output_dir", str(two), "--per_device_train_batch_size", "16", *COMMON]
    finished = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert finished.returncode == 0, finished.stderr[-4000:]

    maes_one, best_one = epoch_history(one)
    maes_two, best_two = epoch_history(two)
    assert len(maes_one) == len(maes_two) == 4
    np.testing.assert_allclose(maes_two, maes_one, rtol=1e-2)
    assert len(set(np.round(maes_one, 3))) == 4  # distinct epochs: the choice is a real one
    assert best_one == best_two == f"checkpoint-{2 * (int(np.argmin(maes_one)) + 1)}"
