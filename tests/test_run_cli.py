"""trainer/run.py: bad arguments stop before training, several seeds give mean ± std, results files."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import load_from_disk
from safetensors.torch import load_file

import trainer_helpers as helpers
from data_processing.schema import read_metadata
from modeling_msmix import LMFConfig, LMFModel
from trainer.experiment import main as experiment_main
from trainer.run import main

FAST = [
    "--backbone", "lmf", "--config_overrides", helpers.TINY_LMF, "--per_device_train_batch_size", "16",
    "--num_train_epochs", "3", "--learning_rate", "1e-2", "--disable_tqdm", "true", "--use_cpu", "true",
    "--dataloader_pin_memory", "false",
]


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return helpers.save_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny")


@pytest.fixture(scope="module")
def empty_validation_dir(dataset_dir, tmp_path_factory):
    dataset = load_from_disk(str(dataset_dir))
    dataset["validation"] = dataset["validation"].select([])
    folder = tmp_path_factory.mktemp("data") / "empty_validation"
    dataset.save_to_disk(str(folder), num_shards={"train": 1, "validation": 1, "test": 1})
    return folder


@pytest.fixture(scope="module")
def other_dims_model(tmp_path_factory):
    config = LMFConfig(text_dim=9, audio_dim=5, vision_dim=6, text_hidden_dim=4, text_out_dim=4,
                       audio_hidden_dim=2, vision_hidden_dim=2)
    folder = tmp_path_factory.mktemp("models") / "lmf_text9"
    LMFModel(config).save_pretrained(folder)
    return folder


@pytest.mark.parametrize(
    "arguments, flag",
    [
        (["--backbone", "bert"], "--backbone 'bert'"),
        (["--augmentation", "cutmix"], "--augmentation 'cutmix'"),
        (["--config_overrides", "text_dim=7"], "--config_overrides sets {'text_dim': 7}"),
        (["--config_overrides", "no_such_setting=1"], "--config_overrides"),
        (["--max_train_samples", "0"], "--max_train_samples must be at least 1"),
        (["--dataset_kind", "iemocap"], "--dataset_kind 'iemocap'"),
        (["--max_audio_length", "0"], "--max_*_length"),
        (["--dataset", "/no/such/folder"], "--dataset '/no/such/folder'"),
        (["--model_name_or_path", "/no/such/model"], "--model_name_or_path '/no/such/model'"),
    ],
)
def test_bad_arguments_stop_before_training(dataset_dir, tmp_path, arguments, flag):
    argv = ["--dataset", str(dataset_dir), "--output_dir", str(tmp_path / "out"), *FAST[2:], *arguments]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert str(stop.value).startswith("run.py: error: ")
    assert flag in str(stop.value)
    assert not (tmp_path / "out").exists()


def test_empty_split_and_mismatching_checkpoint_are_named(empty_validation_dir, dataset_dir, other_dims_model, tmp_path):
    with pytest.raises(SystemExit, match=r"--dataset .*split 'validation' is empty"):
        main(["--dataset", str(empty_validation_dir), "--output_dir", str(tmp_path / "a"), *FAST])
    with pytest.raises(SystemExit, match=r"--model_name_or_path .* expects feature dims \{'text_dim': 9"):
        main(["--dataset", str(dataset_dir), "--model_name_or_path", str(other_dims_model),
              "--output_dir", str(tmp_path / "b"), *FAST])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_two_seeds_write_mean_and_std_and_the_best_models(dataset_dir, tmp_path):
    results = main(["--dataset", str(dataset_dir), "--output_dir", str(tmp_path / "{backbone}-{augmentation}"),
                    "--augmentation", "mixup", "--seeds", "3", "4", *FAST])
    output_dir = tmp_path / "lmf-mixup"
    written = json.loads((output_dir / "results.json").read_text())
    assert written["seeds"] == [3, 4]
    environment = written["run_environment"]
    assert environment["torch_num_threads"] == torch.get_num_threads()
    assert environment["OMP_NUM_THREADS"] == os.environ.get("OMP_NUM_THREADS")
    assert environment["deterministic_algorithms"] is False and environment["torch"] == torch.__version__
    for split in ("validation", "test"):
        for name in ("loss", "MAE", "Corr", "Has0_acc_2", "Mult_acc_7"):
            values = [run[split][name] for run in written["runs"]]
            assert written[split][name]["values"] == pytest.approx(values)
            assert written[split][name]["mean"] == pytest.approx(np.mean(values))
            assert written[split][name]["std"] == pytest.approx(np.std(values, ddof=1))
    table = (output_dir / "results.md").read_text()
    assert "| lmf + mixup, test |" in table and " ± " in table
    assert results["test"]["MAE"]["mean"] == pytest.approx(written["test"]["MAE"]["mean"])

    metadata = read_metadata(load_from_disk(str(dataset_dir)))
    for seed, run in zip((3, 4), written["runs"]):
        seed_dir = output_dir / f"seed-{seed}"
        config = json.loads((seed_dir / "config.json").read_text())
        assert (config["text_dim"], config["audio_dim"], config["vision_dim"]) == (16, 5, 6)
        assert config["dataset_metadata"] == json.loads(json.dumps(metadata.to_dict()))
        assert config["augmentation"] == "mixup"
        provenance = json.loads((seed_dir / "provenance.json").read_text())
        assert provenance == run["provenance"] and provenance["command"] == sys.argv
        assert provenance["started"] <= provenance["finished"] and provenance["finished"].endswith("+00:00")
        state = json.loads((seed_dir / "trainer_state.json").read_text())
        eval_losses = [entry["eval_loss"] for entry in state["log_history"] if "eval_loss" in entry]
        assert len(eval_losses) == 3
        assert state["best_metric"] == pytest.approx(min(eval_losses))
        assert run["validation"]["loss"] == pytest.approx(min(eval_losses), rel=1e-5)
        best = load_file(Path(state["best_model_checkpoint"]) / "model.safetensors")
        saved = load_file(seed_dir / "model.safetensors")
        assert all(np.array_equal(best[name].numpy(), saved[name].numpy()) for name in saved)


def test_experiment_writes_one_table_over_settings_and_seeds(dataset_dir, tmp_path):
    common = ["--dataset", str(dataset_dir), "--backbones", "lmf", "--config_overrides", helpers.TINY_LMF,
              "--per_device_train_batch_size", "16", "--num_train_epochs", "1", "--use_cpu", "true",
              "--dataloader_pin_memory", "false", "--logging_steps", "1"]
    with pytest.raises(SystemExit, match="--augmentation 'cutmix'"):
        experiment_main([*common, "--augmentations", "none", "cutmix", "--output_dir", str(tmp_path / "bad")])
    assert not (tmp_path / "bad").exists()

    results = experiment_main([*common, "--augmentations", "none", "msmix", "--seeds", "5", "6",
                               "--output_dir", str(tmp_path / "exp")])
    assert set(results["test"]) == {"lmf + none", "lmf + msmix"}
    assert [len(runs) for runs in results["runs"].values()] == [2, 2]
    none, msmix = results["test"]["lmf + none"], results["test"]["lmf + msmix"]
    gain = results["gains_over_none"]["lmf + msmix - none"]["MAE"]["mean"]
    assert gain == pytest.approx(msmix["MAE"]["mean"] - none["MAE"]["mean"])
    for name in ("lmf-none", "lmf-msmix"):
        assert all((tmp_path / "exp" / name / f"seed-{seed}" / "model.safetensors").is_file() for seed in (5, 6))
    table = (tmp_path / "exp" / "results.md").read_text()
    for row in ("| lmf + none |", "| lmf + msmix |", "| predict the training mean |", "| lmf + msmix - none |"):
        assert row in table
    assert results["run_environment"]["torch_num_threads"] == torch.get_num_threads()
    paired = results["paired_vs_none"]["lmf + msmix - none"]["MAE"]
    assert paired["n"] == 2 and paired["mean"] == pytest.approx(gain)  # same seeds: the paired mean is the gain
    assert "| lmf + msmix | " in table.split("Paired by seed")[1]
    assert results["wall_seconds"] >= sum(run["wall_seconds"] for runs in results["runs"].values() for run in runs)
    assert f"Wall time: {results['wall_seconds'] / 60:.1f} minutes for 4 runs (4 trained, 0 read back)." in table

    (tmp_path / "exp" / "lmf-msmix" / "seed-6" / "test_results.json").unlink()
    again = experiment_main([*common, "--augmentations", "none", "msmix", "--seeds", "5", "6",
                             "--output_dir", str(tmp_path / "exp"), "--reuse_finished_runs", "true"])
    assert again["test"]["lmf + none"] == none
    assert [run["wall_seconds"] is None for run in again["runs"]["lmf + msmix"]] == [True, False]
    assert "minutes for 4 runs (1 trained, 3 read back)." in (tmp_path / "exp" / "results.md").read_text()
    assert again["runs"]["lmf + msmix"][1]["test"] == pytest.approx(results["runs"]["lmf + msmix"][1]["test"])
    assert again["runs"]["lmf + msmix"][0]["provenance"] == results["runs"]["lmf + msmix"][0]["provenance"]
    health = results["runs"]["lmf + msmix"][0]["msmix_health"]
    assert health["logs"] > 0 and again["runs"]["lmf + msmix"][0]["msmix_health"] == health  # read back, the same
    assert "msmix_health" not in again["runs"]["lmf + none"][0]
    assert again["runs"]["lmf + msmix"][1]["provenance"]["started"] >= results["runs"]["lmf + msmix"][1]["provenance"][
        "finished"]  # trained again


def test_push_to_hub_hands_the_best_seed_to_the_hub_code(dataset_dir, tmp_path, monkeypatch):
    import trainer.push_model

    calls = []
    monkeypatch.setattr(trainer.push_model, "check_hub_access", lambda token=None: "someone")
    monkeypatch.setattr(trainer.push_model, "push_trained_model",
                        lambda model, repo_id, **kwargs: calls.append((model, repo_id, kwargs)) or _Commit())
    results = main(["--dataset", str(dataset_dir), "--output_dir", str(tmp_path / "out"), *FAST,
                    "--num_train_epochs", "1", "--seeds", "1", "2", "--push_to_hub", "true",
                    "--hub_model_id", "someone/tiny-lmf"])
    assert len(calls) == 1
    model, repo_id, kwargs = calls[0]
    assert repo_id == "someone/tiny-lmf"
    assert isinstance(model, LMFModel)
    assert kwargs["results"]["test"]["MAE"]["n"] == 2
    best = results["best_seed"]
    assert best["validation"]["loss"] == min(run["validation"]["loss"] for run in results["runs"])
    saved = load_file(Path(best["output_dir"]) / "model.safetensors")
    assert all(np.array_equal(value.numpy(), saved[name].numpy()) for name, value in model.state_dict().items())


class _Commit:
    commit_url = "https://huggingface.co/someone/tiny-lmf/commit/0"
