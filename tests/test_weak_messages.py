"""Inputs that used to end in a library traceback, Hub retries or misleading advice (issue 29, "weak"):
each now ends at once in one line naming the input, or is recorded."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from datasets import DatasetDict

import extraction_fixtures as fixtures
import hub_cards.push
import trainer_helpers as helpers
from data_processing import extract, mmsa_pickle, model_sources
from data_processing.mmsa_pickle import import_mmsa_pickle
from data_processing.schema import read_metadata
from modeling_msmix import BACKBONES
from trainer.experiment import main as experiment_main
from trainer.predict import main as predict_main
from trainer.run import main as run_main

FAST = ["--backbone", "lmf", "--config_overrides", helpers.TINY_LMF, "--num_train_epochs", "1",
        "--disable_tqdm", "true", "--use_cpu", "true", "--dataloader_pin_memory", "false", "--save_strategy", "no",
        "--eval_strategy", "no", "--load_best_model_at_end", "false"]
MANIFEST = "id,video,text,label,split\na,a.mp4,x,1,train\n"


@pytest.fixture
def offline(monkeypatch):
    """The Hub as in a sandbox: HF_HUB_OFFLINE set, nothing cached."""
    monkeypatch.setattr(model_sources.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_cards.push.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return helpers.save_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny")


@pytest.fixture(scope="module")
def tiny_extractors(tmp_path_factory):
    return fixtures.build_tiny_models(tmp_path_factory.mktemp("extractors"))


@pytest.fixture(scope="module")
def model_folders(tmp_path_factory):
    """An msmix LMF folder, the same without ``auto_map``, and a BERT folder."""
    from transformers import BertConfig, BertModel

    root = tmp_path_factory.mktemp("models")
    config_class, model_class = BACKBONES["lmf"]
    model_class(config_class(text_dim=16, audio_dim=5, vision_dim=6, text_hidden_dim=8, text_out_dim=8,
                             audio_hidden_dim=4, vision_hidden_dim=4)).save_pretrained(root / "lmf")
    shutil.copytree(root / "lmf", root / "lmf-no-auto-map")
    config = json.loads((root / "lmf" / "config.json").read_text())
    assert "AutoModel" in config.pop("auto_map")
    (root / "lmf-no-auto-map" / "config.json").write_text(json.dumps(config))
    BertModel(BertConfig(vocab_size=16, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=8)).save_pretrained(root / "bert")
    return root


def stop_message(main, argv: list[str]) -> str:
    """The message ``main(argv)`` exits with; fails unless it exits with one line."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    message = str(stopped.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# ---------------------------------------------------------------- extraction's models


def extraction_error(tmp_path: Path, capsys, *flags: str) -> str:
    manifest = tmp_path / "clips.csv"
    manifest.write_text(MANIFEST)
    capsys.readouterr()
    started = time.perf_counter()
    assert extract.main(["--manifest", str(manifest), "--output", str(tmp_path / "out"), *flags]) == 1
    assert time.perf_counter() - started < 5
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and not (tmp_path / "out").exists()
    return error


def test_default_extractors_without_the_hub_name_the_flag_at_once(tmp_path, capsys, offline):
    error = extraction_error(tmp_path, capsys)
    assert error == ("data_processing.extract: error: --text_model 'bert-base-uncased': not a local folder, and not "
                     "in the Hugging Face cache while HF_HUB_OFFLINE is set; pass a local folder written by "
                     "save_pretrained instead")


def test_an_unreachable_hub_is_asked_once_and_named(tmp_path, capsys, monkeypatch, tiny_extractors):
    models = tiny_extractors
    calls = []

    def unreachable(url, timeout):
        calls.append(url)
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    monkeypatch.setattr(model_sources, "get_hf_file_metadata", unreachable)
    monkeypatch.setattr(model_sources.constants, "HF_HUB_OFFLINE", False)
    error = extraction_error(tmp_path, capsys, "--text_model", models["text"], "--vision_model", models["vision"])
    assert error.startswith("data_processing.extract: error: --audio_model 'facebook/wav2vec2-base': not a local "
                            "folder, and the Hub at ")
    assert error.endswith("cannot give it (ConnectError: [Errno -2] Name or service not known); pass a local folder "
                          "written by save_pretrained instead")
    assert len(calls) == 1 and calls[0].endswith("facebook/wav2vec2-base/resolve/main/config.json")


def test_missing_or_unloadable_extractor_folders_name_the_flag(tmp_path, capsys, tiny_extractors):
    models = tiny_extractors
    error = extraction_error(tmp_path, capsys, "--text_model", models["text"], "--audio_model", "models/wav2vec2/v1")
    assert error == ("data_processing.extract: error: --audio_model 'models/wav2vec2/v1': no such folder (a local "
                     "path; Hub ids are 'user/name')")
    (tmp_path / "empty").mkdir()
    error = extraction_error(tmp_path, capsys, "--text_model", models["text"], "--audio_model", models["audio"],
                             "--vision_model", str(tmp_path / "empty"))
    assert error.startswith(f"data_processing.extract: error: --vision_model '{tmp_path / 'empty'}' cannot be "
                            "loaded: ")
    assert "config.json" in error


# ---------------------------------------------------------------- trainer.predict's model


def test_predict_refuses_a_missing_folder_an_unreachable_id_and_other_models(tmp_path, model_folders, offline):
    (tmp_path / "a.txt").write_text("fine")
    video = str(tmp_path / "a.mp4")
    started = time.perf_counter()
    cases = {
        "runs/lmf/seed-1111": "no such folder (a local path; Hub ids are 'user/name')",
        "someone/lmf-msmix": "not a local folder, and not in the Hugging Face cache while HF_HUB_OFFLINE is set",
        str(model_folders / "bert"): "not an msmix model: its config.json has model_type 'bert', not one of "
                                     f"{sorted(config.model_type for config, _ in BACKBONES.values())}",
    }
    for model, reason in cases.items():
        message = stop_message(predict_main, ["--model", model, "--videos", video])
        assert message.startswith(f"trainer.predict: error: --model {model!r}: {reason}")
    no_code = str(model_folders / "lmf-no-auto-map")
    message = stop_message(predict_main, ["--model", no_code, "--videos", video, "--trust_remote_code", "true"])
    assert message == (f"trainer.predict: error: --model {no_code!r}: its config.json has no auto_map, so the model "
                       "carries no msmix remote code to trust: leave --trust_remote_code out to run the installed "
                       "msmix, or save the model again with msmix (save_pretrained then writes the code and auto_map)")
    message = stop_message(predict_main, ["--model", str(model_folders / "lmf"), "--videos", video,
                                          "--asr_model", "openai/whisper-tiny"])
    assert message.startswith("trainer.predict: error: --asr_model 'openai/whisper-tiny': not a local folder")
    assert time.perf_counter() - started < 5


def test_an_msmix_folder_passes_the_model_checks(model_folders):
    model_sources.check_msmix_model("--model", str(model_folders / "lmf"), trust_remote_code=True)
    model_sources.check_msmix_model("--model", str(model_folders / "lmf-no-auto-map"))


# ---------------------------------------------------------------- one line from every CLI


def test_the_bad_input_guides_missing_pickle_ends_in_one_line(tmp_path):
    message = stop_message(mmsa_pickle.main, ["--path", "MOSI/missing.pkl", "--dataset_kind", "mosi",
                                              "--output_dir", str(tmp_path / "none")])
    assert message == "data_processing.mmsa_pickle: error: --path 'MOSI/missing.pkl': no such file"
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(b"\x80\x04not a pickle")
    message = stop_message(mmsa_pickle.main, ["--path", str(broken), "--dataset_kind", "mosi",
                                              "--output_dir", str(tmp_path / "none")])
    assert message.startswith(f"data_processing.mmsa_pickle: error: {broken}: not a readable pickle")
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("main, command", [(run_main, "run.py"), (experiment_main, "trainer.experiment")])
def test_a_repeated_seed_is_refused_naming_it(tmp_path, main, command):
    flags = FAST if main is run_main else ["--backbones", "lmf", "--augmentations", "none", "--use_cpu", "true"]
    message = stop_message(main, [*flags, "--output_dir", str(tmp_path / "out"), "--seeds", "1111", "1112", "1111"])
    assert message == (f"{command}: error: --seeds 1111 1112 1111: 1111 given more than once (identical runs would "
                       "report a std of 0); give distinct seeds")
    assert not (tmp_path / "out").exists()


def test_a_bad_backbone_size_in_the_overrides_names_the_field(dataset_dir, tmp_path):
    message = stop_message(run_main, [*FAST, "--output_dir", str(tmp_path / "out"), "--dataset", str(dataset_dir),
                                      "--config_overrides", "rank=-3"])
    assert message == "run.py: error: --config_overrides / --augmentation: rank must be a positive integer, got -3"


@pytest.mark.parametrize("backbone, field, value, message", [
    ("tfn", "post_fusion_dim", 0, "post_fusion_dim must be a positive integer, got 0"),
    ("tfn", "text_dropout", 1.0, "text_dropout must lie in [0, 1), got 1.0"),
    ("lmf", "rank", 2.5, "rank must be a positive integer, got 2.5"),
    ("mult", "num_layers", True, "num_layers must be a positive integer, got True"),
    ("mult", "attn_dropout", -0.1, "attn_dropout must lie in [0, 1), got -0.1"),
    ("misa", "recon_weight", -1, "recon_weight must be non-negative, got -1"),
    ("misa", "hidden_dim", 127, "hidden_dim (127) must be divisible by fusion_num_heads (2)"),
    ("almt", "num_tokens", -8, "num_tokens must be a positive integer, got -8"),
    ("almt", "dropout", "0.1", "dropout must lie in [0, 1), got '0.1'"),
    ("glomo", "text_experts", 0, "text_experts must be a positive integer, got 0"),
    ("glomo", "gate_dropout", 1.5, "gate_dropout must lie in [0, 1), got 1.5"),
    ("glomo", "top_k", 4, "top_k (4) must lie between 1 and text_experts (3)"),
])
def test_backbone_settings_are_checked_at_creation_and_after_a_change(backbone, field, value, message):
    config_class, _ = BACKBONES[backbone]
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        config_class(**{field: value})
    config = config_class()
    setattr(config, field, value)  # as --config_overrides does
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        config.check_msa_settings()


def test_every_listed_field_is_a_field_of_its_config():
    for config_class, _ in BACKBONES.values():
        config = config_class()
        for kind in ("positive_int_fields", "probability_fields", "non_negative_fields"):
            assert all(hasattr(config, name) for name in config.declared_fields(kind))
        assert "positive_int_fields" not in config.to_dict()


# ---------------------------------------------------------------- resuming


def test_resuming_without_a_checkpoint_names_the_folder(dataset_dir, tmp_path):
    out = tmp_path / "out"
    message = stop_message(run_main, [*FAST, "--output_dir", str(out), "--dataset", str(dataset_dir),
                                      "--seed", "7", "--resume_from_checkpoint", "last"])
    assert message == (f"run.py: error: --resume_from_checkpoint last: {out / 'seed-7'} holds no checkpoint-* folder "
                       "to resume from (leave the flag out to train from the start)")
    (tmp_path / "not-a-checkpoint").mkdir()
    message = stop_message(run_main, [*FAST, "--output_dir", str(out), "--dataset", str(dataset_dir),
                                      "--resume_from_checkpoint", str(tmp_path / "not-a-checkpoint")])
    assert message.startswith(f"run.py: error: --resume_from_checkpoint '{tmp_path / 'not-a-checkpoint'}' is not a "
                              "checkpoint: it has no trainer_state.json")


# ---------------------------------------------------------------- push_dataset


def test_push_dataset_offline_or_unreachable_says_so_in_one_line(monkeypatch, offline):
    dataset = DatasetDict({"train": helpers.generate_default_dataset(helpers.TINY_DATA)["train"]})
    with pytest.raises(hub_cards.push.DatasetNotPushed, match=r"^dataset someone/data: HF_HUB_OFFLINE is set, so the "
                                                            r"Hub cannot be reached; nothing was pushed$"):
        hub_cards.push.push_dataset(dataset, "someone/data")
    monkeypatch.setattr(hub_cards.push.constants, "HF_HUB_OFFLINE", False)

    def unreachable(self, repo_id, **kwargs):
        raise httpx.ConnectError("[Errno -2] Name or service not known\nmore detail")

    monkeypatch.setattr(DatasetDict, "push_to_hub", unreachable)
    with pytest.raises(hub_cards.push.DatasetNotPushed) as failed:
        hub_cards.push.push_dataset(dataset, "someone/data")
    assert str(failed.value).startswith("dataset someone/data: pushing the Parquet files to the Hub at ")
    assert str(failed.value).endswith("failed, nothing was committed (ConnectError: [Errno -2] Name or service not "
                                      "known)")


# ---------------------------------------------------------------- MMSA text masks


def mmsa_with_masks(masks: dict[str, np.ndarray]) -> dict:
    rng = np.random.default_rng(0)
    content = {}
    for offset, (key, mask) in enumerate(masks.items()):
        size, length = mask.shape
        content[key] = {
            "id": np.array([f"{key}_{i}" for i in range(size)], dtype=object),
            "text": rng.standard_normal((size, length, 768)).astype(np.float32),
            "text_bert": np.stack([np.ones_like(mask), mask, np.zeros_like(mask)], axis=1).astype(np.float32),
            "audio": rng.standard_normal((size, 3, 5)).astype(np.float32),
            "vision": rng.standard_normal((size, 3, 20)).astype(np.float32),
            "regression_labels": np.linspace(-2, 2, size).astype(np.float32) + offset / 10,
        }
    return content


def test_all_zero_text_masks_are_read_at_the_padded_length_and_noted(tmp_path, capsys):
    masks = {"train": np.zeros((3, 4)), "valid": np.array([[1, 1, 0, 0], [0, 0, 0, 0]]), "test": np.ones((2, 4))}
    path = tmp_path / "masks.pkl"
    path.write_bytes(pickle.dumps(mmsa_with_masks(masks)))
    dataset = import_mmsa_pickle(path, "mosi")
    assert dataset["train"]["text_length"] == [4, 4, 4]
    assert dataset["validation"]["text_length"] == [2, 0] and dataset["test"]["text_length"] == [4, 4]
    assert "input_ids" not in dataset["test"].column_names  # train's token ids were unusable: none are kept
    notes = read_metadata(dataset).notes
    assert notes["text_mask_all_zero_read_at_padded_length"] == ["train"]
    assert notes["text_length_0_from_empty_mask"] == {"train": 0, "validation": 1, "test": 0}
    err = capsys.readouterr().err
    assert "train: every text_bert attention mask is zero: text read at its padded length 4, token ids left out" in err
    assert "validation: 1 sample(s) with an all-zero text_bert attention mask keep text_length 0" in err
