"""Inputs that used to give a wrong result in silence are refused with a message naming the input.

A checkpoint whose config describes another backbone than its weights, a processor config with
a negative length limit, a model evaluated on data of another kind, a second run into a folder
that holds a run, and an edited transcript that reused stale text features. Also: training
works from any folder, not only the checkout root.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import load_from_disk
from transformers import AutoProcessor

import extraction_fixtures as fixtures
import fresh_process
import trainer_helpers as helpers
from data_processing.extract import build_dataset
from data_processing.manifest import load_entries
from data_processing.schema import attach_metadata, read_metadata
from modeling_msmix import BACKBONES, MSMixProcessor
from modeling_msmix.extraction_config import ExtractionConfig
from trainer.output_dir_guard import LOCK_FILE, OutputDirError, claim_output_dir
from trainer.robustness import main as robustness_main
from trainer.run import main as train_main

HERE = Path(__file__).parent
REPO = HERE.parent


DIMS = {"text_dim": 16, "audio_dim": 5, "vision_dim": 6}
FAST = ["--backbone", "lmf", "--config_overrides", helpers.TINY_LMF, "--per_device_train_batch_size", "16",
        "--num_train_epochs", "1", "--disable_tqdm", "true", "--use_cpu", "true", "--dataloader_pin_memory", "false"]

# Loads each model folder with AutoModel (remote code only) and prints what happened, as JSON.
AUTO_MODEL_CLIENT = """
import json, os, sys
sys.path.extend(sys.argv[1].split(os.pathsep))
from transformers import AutoModel
outcomes = {}
for folder in sys.argv[2:]:
    try:
        model = AutoModel.from_pretrained(folder, trust_remote_code=True)
        outcomes[os.path.basename(folder)] = {"class": type(model).__module__}
    except ValueError as error:
        outcomes[os.path.basename(folder)] = {"error": str(error)}
print(json.dumps(outcomes))
"""


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> Path:
    """``lmf`` and ``tfn`` saved normally; ``lmf_as_tfn``: LMF weights under TFN's config.json and code."""
    root = tmp_path_factory.mktemp("checkpoints")
    for name in ("lmf", "tfn"):
        config_class, model_class = BACKBONES[name]
        torch.manual_seed(0)
        model_class(config_class(**DIMS, **helpers.TINY_BACKBONES[name])).save_pretrained(root / name)
    shutil.copytree(root / "lmf", root / "lmf_as_tfn")
    for file in (root / "tfn").iterdir():
        if file.suffix in (".json", ".py"):
            shutil.copy(file, root / "lmf_as_tfn" / file.name)
    return root


def test_weights_of_another_backbone_are_refused_through_the_class(checkpoints):
    folder = checkpoints / "lmf_as_tfn"
    with pytest.raises(ValueError, match="weights do not fit the TFNModel") as refused:
        BACKBONES["tfn"][1].from_pretrained(folder)
    assert str(folder) in str(refused.value)
    assert "post_fusion.1.weight" in str(refused.value) and "fusion.factors.0" in str(refused.value)
    with pytest.raises(ValueError, match="weights do not fit"):
        BACKBONES["tfn"][1].from_pretrained(folder, config=BACKBONES["tfn"][0].from_pretrained(folder))


def test_weights_of_another_backbone_are_refused_by_the_remote_code(checkpoints, tmp_path):
    client = tmp_path / "auto_model_client.py"
    client.write_text(AUTO_MODEL_CLIENT)
    outcomes = fresh_process.run_without_msmix(client, str(checkpoints / "lmf_as_tfn"), str(checkpoints / "tfn"),
                                               cwd=tmp_path, env={**os.environ, "HF_HOME": str(tmp_path / "hf")})
    assert outcomes["tfn"]["class"].startswith("transformers_modules.")
    error = outcomes["lmf_as_tfn"]["error"]
    assert str(checkpoints / "lmf_as_tfn") in error and "weights do not fit the TFNModel" in error
    assert "key(s) missing from the weights" in error and "key(s) in the weights but not in the model" in error


def test_a_checkpoint_that_fits_loads_and_a_new_augmentation_starts_its_module_afresh(checkpoints, tmp_path):
    config_class, model_class = BACKBONES["lmf"]
    model, info = model_class.from_pretrained(checkpoints / "lmf", output_loading_info=True)
    assert info["missing_keys"] == set() and info["unexpected_keys"] == set()
    plain = config_class(**DIMS, **helpers.TINY_BACKBONES["lmf"], augmentation="none")
    model_class(plain).save_pretrained(tmp_path / "plain")
    with_msmix = config_class.from_pretrained(tmp_path / "plain")
    with_msmix.augmentation = "msmix"
    assert type(model_class.from_pretrained(tmp_path / "plain", config=with_msmix).augmentation).__name__ == "MSMix"


@pytest.mark.parametrize("field, value", [("max_audio_length", -5), ("max_vision_length", 0),
                                          ("max_text_length", 2.5), ("pad_token_id", -1)])
def test_a_bad_processor_config_is_refused_on_load_naming_field_and_file(tmp_path, field, value):
    MSMixProcessor(extraction=ExtractionConfig(), max_audio_length=4).save_pretrained(tmp_path)
    config_file = tmp_path / "processor_config.json"
    settings = json.loads(config_file.read_text())
    settings[field] = value
    config_file.write_text(json.dumps(settings))
    for load in (MSMixProcessor.from_pretrained, lambda folder: AutoProcessor.from_pretrained(folder, trust_remote_code=True)):
        with pytest.raises(ValueError, match=f"{config_file}: {field} must be") as refused:
            load(tmp_path)
        assert repr(value) in str(refused.value)
    with pytest.raises(ValueError, match=f"^{field} must be"):
        MSMixProcessor(extraction=ExtractionConfig(), **{field: value})


@pytest.fixture(scope="module")
def robustness_data(tmp_path_factory):
    """A tiny MOSI-kind dataset, the same relabelled as SIMS-kind ([-1, 1]) and a model trained on MOSI-kind data."""
    root = tmp_path_factory.mktemp("robustness")
    mosi = helpers.save_tiny_dataset(root / "mosi")
    dataset = load_from_disk(str(mosi))
    metadata = read_metadata(dataset)
    sims = dataset.map(lambda row: {"label": float(np.clip(row["label"] / 3.0, -1.0, 1.0))})
    attach_metadata(sims, dataclasses.replace(metadata, dataset_kind="sims", label_min=-1.0, label_max=1.0))
    sims.save_to_disk(str(root / "sims"))
    config_class, model_class = BACKBONES["lmf"]
    model_class(config_class.from_dataset_metadata(metadata.to_dict(), **helpers.TINY_BACKBONES["lmf"])).save_pretrained(
        root / "model")
    other_dims = {**metadata.to_dict(), "text_dim": 9}
    model_class(config_class.from_dataset_metadata(other_dims, **helpers.TINY_BACKBONES["lmf"])).save_pretrained(
        root / "model_text9")
    return root


def test_robustness_refuses_a_dataset_of_another_kind_naming_model_and_dataset(robustness_data, tmp_path):
    model, sims = str(robustness_data / "model"), str(robustness_data / "sims")
    with pytest.raises(SystemExit) as refused:
        robustness_main(["--model", model, "--dataset", sims, "--output_dir", str(tmp_path)])
    message = str(refused.value)
    assert f"--model {model!r} does not fit --dataset {sims!r}" in message
    assert "dataset kind: the model's is 'mosi', the dataset's 'sims'" in message
    assert "label range: the model's is [-3, 3], the dataset's [-1, 1]" in message
    assert not list(tmp_path.iterdir())
    with pytest.raises(SystemExit) as refused:  # naming the metric set does not make [-1, 1] labels fit
        robustness_main(["--model", model, "--dataset", sims, "--dataset_kind", "sims", "--output_dir", str(tmp_path)])
    assert "label range" in str(refused.value) and "dataset kind" not in str(refused.value)


def test_robustness_refuses_other_feature_dims_before_any_forward_pass(robustness_data, tmp_path):
    model, mosi = str(robustness_data / "model_text9"), str(robustness_data / "mosi")
    with pytest.raises(SystemExit, match=r"--model .* does not fit --dataset .*feature dims: the model's are "
                                         r"\{'text_dim': 9, 'audio_dim': 5, 'vision_dim': 6\}, the dataset's "
                                         r"\{'text_dim': 16"):
        robustness_main(["--model", model, "--dataset", mosi, "--output_dir", str(tmp_path)])


def test_training_runs_from_any_folder_with_a_recipe_named_as_in_the_docs(tmp_path):
    """``python -m trainer.run`` from a folder outside the checkout, on the built-in data at a small size."""
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-m", "trainer.run", "trainer/recipes/mosi/lmf.yaml", "--dataset", "default",
         "--max_train_samples", "32", "--max_eval_samples", "16", "--max_predict_samples", "16", "--seeds", "1111",
         "--output_dir", "run", *FAST],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["dataset"] == "default" and results["seeds"] == [1111]
    assert results["runs"][0]["steps"] == 2  # 32 samples, batches of 16, one epoch
    args = torch.load(tmp_path / "run" / "seed-1111" / "training_args.bin", weights_only=False)
    assert args.learning_rate == pytest.approx(1e-4)  # from the recipe installed with the trainer package
    assert not (tmp_path / "run" / LOCK_FILE).exists()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, Path]:
    """(dataset folder, output folder of one finished tiny run)."""
    root = tmp_path_factory.mktemp("guard")
    data = helpers.save_tiny_dataset(root / "data")
    train_main(["--dataset", str(data), "--output_dir", str(root / "run"), *FAST])
    return data, root / "run"


def test_a_second_run_into_a_finished_runs_folder_is_refused_unless_told(finished_run):
    data, output_dir = finished_run
    before = (output_dir / "results.json").read_text()
    with pytest.raises(SystemExit) as refused:
        train_main(["--dataset", str(data), "--output_dir", str(output_dir), *FAST, "--seed", "7"])
    assert f"--output_dir {str(output_dir)!r} already holds another run's files (results.json, results.md, " \
           "seed-42)" in str(refused.value)
    assert "--overwrite_output_dir" in str(refused.value)
    assert (output_dir / "results.json").read_text() == before
    results = train_main(["--dataset", str(data), "--output_dir", str(output_dir), *FAST, "--seed", "7",
                          "--overwrite_output_dir"])
    assert results["seeds"] == [7] and json.loads((output_dir / "results.json").read_text())["seeds"] == [7]
    assert not (output_dir / LOCK_FILE).exists()


def test_a_folder_held_by_a_live_run_is_refused_and_a_dead_runs_lock_is_taken_over(tmp_path, caplog):
    (tmp_path / "out").mkdir()
    with claim_output_dir(tmp_path / "out"):
        assert (tmp_path / "out" / LOCK_FILE).read_text().split()[0] == str(os.getpid())
        with pytest.raises(OutputDirError, match=rf"is being written by another run \(PID {os.getpid()} "):
            with claim_output_dir(tmp_path / "out", overwrite=True):
                pass
    assert not (tmp_path / "out" / LOCK_FILE).exists()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "out" / LOCK_FILE).write_text(f"{dead.pid} {socket.gethostname()}\n")
    with claim_output_dir(tmp_path / "out") as folder:
        assert (folder / LOCK_FILE).read_text().split()[0] == str(os.getpid())
    assert f"taking over the lock of PID {dead.pid}, which no longer runs" in caplog.text
    assert not (tmp_path / "out" / LOCK_FILE).exists()
    (tmp_path / "out" / LOCK_FILE).write_text("")  # created, its PID not written yet
    with pytest.raises(OutputDirError, match="which names no process"):
        with claim_output_dir(tmp_path / "out"):
            pass


def test_an_edited_transcript_gives_fresh_text_features(tmp_path):
    models = fixtures.build_tiny_models(tmp_path / "models")
    config = ExtractionConfig(text_model=models["text"], audio_model=models["audio"], vision_model=models["vision"],
                              vision_fps=2.0)
    (tmp_path / "media").mkdir()
    clip = fixtures.write_talking_clip(tmp_path / "media", "clip", 1.5, seed=1)
    folder = tmp_path / "clips"
    for split in ("train", "valid", "test"):
        (folder / split).mkdir(parents=True)
        shutil.copy(clip, folder / split / f"{split}_clip{clip.suffix}")
        (folder / split / f"{split}_clip.txt").write_text("i really love this movie\n")

    def extract():
        dataset, report = build_dataset(load_entries(folder), config, cache_dir=tmp_path / "cache", device="cpu")
        return dataset["train"].with_format("numpy")[0], report

    first, _ = extract()
    (folder / "train" / "train_clip.txt").write_text("terrible acting\n")
    edited, report = extract()
    assert report.from_cache == 2  # the two clips whose transcript did not change
    assert edited["text"] == "terrible acting" and first["text"] == "i really love this movie"
    assert edited["text_features"].shape != first["text_features"].shape or not np.allclose(
        edited["text_features"], first["text_features"])
    np.testing.assert_array_equal(edited["audio_features"], first["audio_features"])
