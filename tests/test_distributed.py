"""Two CPU processes (gloo DDP) through ``accelerate launch``: different data per rank, one saved model equal to rank 0's.

The test launches this same file; its ``__main__`` part wraps trainer/run.py's ``main`` and
records, per rank, the training sample ids each rank collated, every ``save_pretrained`` call
that wrote files, and a digest of the rank's final in-memory weights.
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import trainer_helpers as helpers

REPO = Path(__file__).resolve().parents[1]
ACCELERATE_CONFIG = REPO / "trainer" / "accelerate_configs" / "two_processes.yaml"


def weights_digest(tensors) -> str:
    """A digest of named tensors (order-independent)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(tensors[name].detach().cpu().numpy()).tobytes())
    return digest.hexdigest()


def _record_rank(record_dir: Path, argv: list[str]) -> None:
    from accelerate import PartialState

    from modeling_msmix import MSAPreTrainedModel
    from trainer.collator import MSMixDataCollator
    from trainer.msmix_trainer import MSMixTrainer
    from trainer.run import main

    record = {"batches": [], "writes": [], "final": {}}

    collate = MSMixDataCollator.__call__
    save_pretrained = MSAPreTrainedModel.save_pretrained
    save_model = MSMixTrainer.save_model

    def recording_collate(self, rows):
        record["batches"].append([str(row["id"]) for row in rows])
        return collate(self, rows)

    def recording_save_pretrained(self, save_directory, *args, is_main_process=True, **kwargs):
        if is_main_process:
            record["writes"].append(str(save_directory))
        return save_pretrained(self, save_directory, *args, is_main_process=is_main_process, **kwargs)

    def recording_save_model(self, output_dir=None, _internal_call=False):
        if not _internal_call:
            record["final"][str(output_dir or self.args.output_dir)] = weights_digest(self.model.state_dict())
        return save_model(self, output_dir, _internal_call)

    MSMixDataCollator.__call__ = recording_collate
    MSAPreTrainedModel.save_pretrained = recording_save_pretrained
    MSMixTrainer.save_model = recording_save_model
    main(argv)
    state = PartialState()  # initialised by TrainingArguments (a bare PartialState() first would not see the CPU flag)
    if state.num_processes != 2:
        sys.exit(f"expected 2 processes, got {state.num_processes}")
    record.update(rank=state.process_index, world_size=state.num_processes)
    (record_dir / f"rank{state.process_index}.json").write_text(json.dumps(record))


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return helpers.save_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny"), helpers.TINY_LMF


def test_two_cpu_processes_train_on_different_data_and_save_once(dataset_dir, tmp_path):
    from safetensors.torch import load_file

    folder, tiny_lmf = dataset_dir
    output_dir, record_dir = tmp_path / "run", tmp_path / "records"
    record_dir.mkdir()
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1", "MSMIX_RECORD_DIR": str(record_dir)}
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ACCELERATE_CONFIG),
        "--main_process_port", "29581", __file__,
        "--dataset", str(folder), "--output_dir", str(output_dir), "--backbone", "lmf",
        "--config_overrides", tiny_lmf, "--per_device_train_batch_size", "16", "--num_train_epochs", "2",
        "--learning_rate", "1e-2", "--disable_tqdm", "true", "--dataloader_pin_memory", "false",
        "--logging_steps", "2",
    ]
    finished = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert finished.returncode == 0, finished.stderr[-4000:]

    ranks = [json.loads((record_dir / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    train_batches = [[b for b in r["batches"] if b[0].startswith("train_")] for r in ranks]
    assert len(train_batches[0]) == len(train_batches[1]) == 4  # 64 samples / (2 ranks x 16) x 2 epochs
    epoch_one = [set(sum(batches[:2], [])) for batches in train_batches]
    assert len(epoch_one[0]) == len(epoch_one[1]) == 32
    assert epoch_one[0].isdisjoint(epoch_one[1])
    assert epoch_one[0] | epoch_one[1] == {f"train_{i:05d}" for i in range(64)}

    seed_dir = str(output_dir / "seed-42")
    assert ranks[1]["writes"] == []
    assert ranks[0]["writes"].count(seed_dir) == 1
    saved = load_file(Path(seed_dir) / "model.safetensors")
    assert weights_digest(saved) == ranks[0]["final"][seed_dir] == ranks[1]["final"][seed_dir]
    assert (output_dir / "results.json").is_file()
    assert "msmix results" in finished.stdout and finished.stdout.count("msmix results") == 1
    # The loss parts' gradient norms of the logged steps (steps 2 and 4), taken on both ranks and averaged.
    logs = [entry for entry in json.loads((Path(seed_dir) / "trainer_state.json").read_text())["log_history"]
            if "loss" in entry]
    assert [entry["step"] for entry in logs if "grad_norm_shared_task" in entry] == [2, 4]
    assert all(entry["grad_norm_shared_sal"] > 0 and entry["grad_norm_sig_task"] == 0 for entry in logs)


if __name__ == "__main__":
    _record_rank(Path(os.environ["MSMIX_RECORD_DIR"]), sys.argv[1:])
