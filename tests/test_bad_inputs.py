"""Bad and hostile inputs across the product: each one gets a clear error naming the input (file,
line, split, key or flag) or a recorded handling, nothing is written half, nothing changes in silence.

Numbered cases of issue 12: ``test_case1_*`` ... ``test_case7_*`` (case 6 lives in
``test_extraction.py``, case 7 in ``test_guards.py``, both beside the fixtures they need).
"""

from __future__ import annotations

import codecs
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import load_from_disk
from safetensors.torch import load_file

import trainer_helpers as helpers
from data_processing import extract, mmsa_pickle, npy_manifest
from data_processing.manifest import ManifestError, load_entries, read_manifest
from data_processing.mmsa_pickle import MMSAPickleError, import_mmsa_pickle
from data_processing.npy_manifest import import_npy_manifest
from data_processing.schema import attach_metadata, read_metadata
from modeling_msmix import BACKBONES, LMFModel
from trainer.collator import MSMixDataCollator
from trainer.run import main as run_main

FAST = ["--backbone", "lmf", "--config_overrides", helpers.TINY_LMF, "--num_train_epochs", "1",
        "--disable_tqdm", "true", "--use_cpu", "true", "--dataloader_pin_memory", "false", "--save_strategy", "no",
        "--eval_strategy", "no", "--load_best_model_at_end", "false"]
DIMS = {"text": 6, "audio": 3, "vision": 4}
MANIFEST_HEADER = "id,video,text,label,split\n"


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return helpers.save_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny")


@pytest.fixture(scope="module")
def saved_lmf(tmp_path_factory):
    config_class, model_class = BACKBONES["lmf"]
    config = config_class(text_dim=16, audio_dim=5, vision_dim=6, text_hidden_dim=8, text_out_dim=8,
                          audio_hidden_dim=4, vision_hidden_dim=4)
    folder = tmp_path_factory.mktemp("models") / "lmf"
    model_class(config).save_pretrained(folder)
    return folder


def run_error(arguments: list[str], tmp_path: Path) -> str:
    """The one-line error of ``trainer/run.py`` for ``arguments``; fails if the run does not stop."""
    with pytest.raises(SystemExit) as stopped:
        run_main([*FAST, "--output_dir", str(tmp_path / "out"), *arguments])
    return str(stopped.value)


def write_npy_manifest(folder: Path, rows=None, *, encoding="utf-8", bom=b"") -> Path:
    rng = np.random.default_rng(0)
    rows = rows or [("a", "train", 1.2), ("b", "train", -0.4), ("c", "valid", 0.0), ("d", "test", 2.0)]
    lines = ["id,split,label,text,text_features,audio_features,vision_features"]
    for index, (sample_id, split, label) in enumerate(rows):
        names = []
        for modality, dim in DIMS.items():
            np.save(folder / f"{sample_id}_{modality}.npy", rng.standard_normal((index + 2, dim)).astype(np.float32))
            names.append(f"{sample_id}_{modality}.npy")
        lines.append(f"{sample_id},{split},{label},words é {sample_id}," + ",".join(names))
    manifest = folder / "manifest.csv"
    manifest.write_bytes(bom + ("\r\n".join(lines) + "\r\n").encode(encoding))
    return manifest


def mmsa_content(count=(3, 2, 2)) -> dict:
    rng = np.random.default_rng(0)
    content = {}
    for key, size, offset in zip(("train", "valid", "test"), count, (0, 100, 200)):
        content[key] = {
            "id": np.array([f"clip_{offset + i}" for i in range(size)], dtype=object),
            "raw_text": np.array([f"words {i}" for i in range(size)], dtype=object),
            "text": rng.standard_normal((size, 4, 768)).astype(np.float32),
            "audio": rng.standard_normal((size, 5, 5)).astype(np.float32),
            "vision": rng.standard_normal((size, 6, 20)).astype(np.float32),
            "audio_lengths": [5] * size,
            "vision_lengths": [6] * size,
            "regression_labels": np.linspace(-2, 2, size).astype(np.float32),
        }
    return content


def write_pickle(path: Path, content) -> Path:
    path.write_bytes(pickle.dumps(content))
    return path


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


# ---------------------------------------------------------------- the numbered cases of issue 12


def test_case1_editing_an_npy_file_gives_new_features_even_into_a_new_folder(tmp_path):
    manifest = write_npy_manifest(tmp_path)
    first = import_npy_manifest(manifest)
    np.testing.assert_array_equal(first["train"].with_format("numpy")[0]["audio_features"], np.load(tmp_path / "a_audio.npy"))
    stat = manifest.stat()
    edited = np.full((2, DIMS["audio"]), 7.0, np.float32)
    np.save(tmp_path / "a_audio.npy", edited)
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the manifest itself is untouched
    npy_manifest.main(["--manifest", str(manifest), "--output_dir", str(tmp_path / "new")])
    np.testing.assert_array_equal(load_from_disk(str(tmp_path / "new"))["train"].with_format("numpy")[0]["audio_features"],
                                  edited)


def test_case2_unlabeled_extraction_output_is_refused_for_training(dataset_dir, tmp_path):
    dataset = load_from_disk(str(dataset_dir))
    metadata = read_metadata(dataset)
    metadata.notes = {"unlabeled": True, "label_note": "no labels in the manifest: every label is 0.0"}
    for split in dataset:
        dataset[split] = dataset[split].map(lambda row: {"label": 0.0})
    attach_metadata(dataset, metadata).save_to_disk(str(tmp_path / "unlabeled"))
    message = run_error(["--dataset", str(tmp_path / "unlabeled")], tmp_path)
    assert "--dataset: this dataset is unlabeled" in message and "no labels in the manifest" in message
    assert not (tmp_path / "out").exists()


def test_case3_negative_mmsa_lengths_are_refused_with_split_and_key(tmp_path):
    content = mmsa_content()
    content["valid"]["vision_lengths"] = [6, -2]
    with pytest.raises(MMSAPickleError, match=r"split 'validation'\['vision_lengths'\]: 1 length\(s\) below 0 "
                                              r"\(e.g. sample 1: -2\)"):
        import_mmsa_pickle(write_pickle(tmp_path / "data.pkl", content), "mosi")


def test_case4_sims_kind_on_data_labelled_in_minus3_3_is_refused(dataset_dir, tmp_path):
    message = run_error(["--dataset", str(dataset_dir), "--dataset_kind", "sims"], tmp_path)
    assert "--dataset_kind 'sims' expects labels in [-1, 1], but split 'train' has labels in [" in message
    assert not (tmp_path / "out").exists()


def test_case5_corrupted_safetensors_bytes_are_refused_naming_file_and_tensor(saved_lmf, tmp_path):
    assert all(torch.isfinite(value).all() for value in load_file(saved_lmf / "model.safetensors").values())
    folder = tmp_path / "corrupted"
    folder.mkdir()
    (folder / "config.json").write_bytes((saved_lmf / "config.json").read_bytes())
    raw = bytearray((saved_lmf / "model.safetensors").read_bytes())
    raw[-8:] = b"\xff" * 8  # NaN bytes in the last tensor, same size
    (folder / "model.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=rf"{folder} \(model.safetensors\): \d+ non-finite value\(s\) in '.*'"):
        LMFModel.from_pretrained(folder)


# ---------------------------------------------------------------- manifests (extraction input)


@pytest.mark.parametrize("encoding, bom", [("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
                                           ("utf-16-be", codecs.BOM_UTF16_BE)], ids=["utf8-bom", "utf16le", "utf16be"])
def test_manifests_saved_by_excel_or_as_utf16_are_read(tmp_path, encoding, bom):
    manifest = tmp_path / "clips.csv"
    manifest.write_bytes(bom + (MANIFEST_HEADER + "a,a.mp4,très bien,1.5,train\r\n").encode(encoding))
    (entry,) = read_manifest(manifest)
    assert (entry.id, entry.text, entry.label, entry.split) == ("a", "très bien", 1.5, "train")


@pytest.mark.parametrize(
    "content, message",
    [
        ((MANIFEST_HEADER + "a,a.mp4,x,1,train\n").encode("utf-16-le"), r"clips.csv:1: NUL bytes in the text \(UTF-16 without a BOM\?\)"),
        ((MANIFEST_HEADER + "a,a.mp4,très,1,train\n").encode("latin-1"), r"clips.csv:2: not UTF-8 text \(byte b'\\xe8'"),
        (MANIFEST_HEADER.encode(), r"clips.csv: no samples"),
        ((MANIFEST_HEADER + "a,a.mp4,x,1,train\na,b.mp4,y,2,test\n").encode(), r"duplicate id\(s\) \['a'\]"),
        ((MANIFEST_HEADER + "a,a.mp4,x,1,holdout\n").encode(), r"clips.csv:2: unknown split 'holdout'"),
        ((MANIFEST_HEADER + "a,a.mp4,x,high,train\n").encode(), r"clips.csv:2: label 'high' is not a number"),
        ((MANIFEST_HEADER + "a,a.mp4,x,nan,train\n").encode(), r"clips.csv:2: label 'nan' is not finite"),
        ((MANIFEST_HEADER + ",a.mp4,x,1,train\n").encode(), r"clips.csv:2: missing \['id'\]"),
        (b"id,video,label\na,a.mp4,1\n", r"clips.csv:2: missing 'text'"),
    ],
    ids=["utf16-no-bom", "latin1", "no-rows", "duplicate-id", "unknown-split", "label-text", "label-nan",
         "empty-id", "no-text-column"],
)
def test_bad_manifests_name_file_and_line(tmp_path, content, message):
    manifest = tmp_path / "clips.csv"
    manifest.write_bytes(content)
    with pytest.raises(ManifestError, match=message):
        read_manifest(manifest)


def test_bad_manifest_paths_and_jsonl(tmp_path):
    with pytest.raises(ManifestError, match=r"manifest .*missing.csv does not exist"):
        read_manifest(tmp_path / "missing.csv")
    (tmp_path / "clips.txt").write_text("id,video,text\n")
    with pytest.raises(ManifestError, match=r"clips.txt must end in .csv, .jsonl or .json"):
        read_manifest(tmp_path / "clips.txt")
    (tmp_path / "clips.jsonl").write_text('{"id": "a", "video": "a.mp4", "text": ""}\n{"id": "b", \n')
    with pytest.raises(ManifestError, match=r"clips.jsonl:2: not JSON"):
        read_manifest(tmp_path / "clips.jsonl")


def test_folder_convention_reads_excel_labels_and_bom_transcripts(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "a.mp4").write_bytes(b"")
    (tmp_path / "train" / "a.txt").write_bytes(codecs.BOM_UTF8 + "bonjour".encode())
    (tmp_path / "labels.csv").write_bytes(codecs.BOM_UTF8 + b"id,label\r\na,-1.5\r\n")
    (entry,) = load_entries(tmp_path)
    assert (entry.id, entry.text, entry.label, entry.split) == ("a", "bonjour", -1.5, "train")


# ---------------------------------------------------------------- .npy manifest import


def test_npy_manifest_with_bom_imports_the_same_as_without(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "excel").mkdir()
    plain = import_npy_manifest(write_npy_manifest(tmp_path / "plain"))
    excel = import_npy_manifest(write_npy_manifest(tmp_path / "excel", bom=codecs.BOM_UTF8))
    assert excel["train"]["id"] == plain["train"]["id"] == ["a", "b"]
    assert excel["train"]["text"] == ["words é a", "words é b"]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: np.save(d / "b_audio.npy", np.array([{"x": 1}], dtype=object)), r"manifest.csv:3: audio_features .*b_audio.npy: .*allow_pickle"),
        (lambda d: np.save(d / "b_audio.npy", np.zeros((2, 3, 1))), r"manifest.csv:3: audio_features .*expected a \[L, D\] array, got shape \(2, 3, 1\)"),
        (lambda d: np.save(d / "b_audio.npy", np.array([["a", "b", "c"]])), r"manifest.csv:3: audio_features .*expected numbers, got dtype <U1"),
        (lambda d: (d / "b_audio.npy").unlink(), r"manifest.csv:3: audio_features .*b_audio.npy: .*No such file"),
        (lambda d: np.save(d / "b_audio.npy", np.zeros((2, 5), np.float32)), r"manifest.csv:3: audio_features has dim 5, earlier samples have 3"),
        (lambda d: (d / "b_audio.npy").write_bytes(b"\x93NUMPY\x01\x00"), r"manifest.csv:3: audio_features .*b_audio.npy"),
        (lambda d: (d / "manifest.csv").write_bytes("id,split\na,train\n".encode("utf-16-le")), r"manifest.csv:1: NUL bytes"),
    ],
    ids=["object-array", "3d-array", "strings", "missing-file", "dim-change", "truncated-npy", "utf16-no-bom"],
)
def test_bad_npy_features_name_the_line_and_file(tmp_path, damage, message):
    manifest = write_npy_manifest(tmp_path)
    damage(tmp_path)
    with pytest.raises(ManifestError, match=message):
        import_npy_manifest(manifest)


# ---------------------------------------------------------------- MMSA pickles


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {Path(os.environ['MARKER'])}",))


def test_malicious_pickle_runs_nothing_and_names_the_class(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("MARKER", str(marker))
    content = mmsa_content()
    content["train"]["extra"] = _Payload()
    path = write_pickle(tmp_path / "evil.pkl", content)
    with pytest.raises(MMSAPickleError, match=rf"{path}: refusing to unpickle posix.system: an MMSA pickle holds only"):
        import_mmsa_pickle(path, "mosi")
    assert not marker.exists()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["train"].update(meta=__import__("collections").OrderedDict()), r"refusing to unpickle collections.OrderedDict"),
        (lambda c: c.update(test={k: v[:0] if k in ("text", "audio", "vision") else [] for k, v in c["test"].items()}), r"split 'test' has no samples"),
        (lambda c: c["valid"].update(id=np.array(["clip_0", "clip_101"], dtype=object)), r"id 'clip_0' occurs twice \(in split 'train' and split 'validation'\)"),
        (lambda c: c["train"].update(regression_labels=np.array([0.0, 4.5, 1.0], np.float32)), r"split 'train': 1 label value\(s\) outside \[-3.0, 3.0\]"),
        (lambda c: c.pop("valid"), r"missing split key\(s\) \['valid'\]"),
        (lambda c: c["test"].pop("audio"), r"split 'test': missing key 'audio'"),
        (lambda c: c["train"].update(audio_lengths=[5, 5]), r"split 'train'\['audio_lengths'\] has 2 entries for 3 samples"),
    ],
    ids=["other-class", "empty-split", "duplicate-id", "label-range", "missing-split", "missing-key", "length-count"],
)
def test_bad_mmsa_pickles_name_split_and_key(tmp_path, change, message):
    content = mmsa_content()
    change(content)
    with pytest.raises(MMSAPickleError, match=message):
        import_mmsa_pickle(write_pickle(tmp_path / "data.pkl", content), "mosi")


def test_truncated_and_non_dict_pickles(tmp_path):
    good = pickle.dumps(mmsa_content())
    (tmp_path / "cut.pkl").write_bytes(good[: len(good) // 2])
    with pytest.raises(MMSAPickleError, match=r"cut.pkl: not a readable pickle .*the file may be truncated"):
        import_mmsa_pickle(tmp_path / "cut.pkl", "mosi")
    with pytest.raises(MMSAPickleError, match=r"list.pkl: expected a dict with keys \['train', 'valid', 'test'\], got list"):
        import_mmsa_pickle(write_pickle(tmp_path / "list.pkl", [1, 2]), "mosi")


def test_a_killed_import_leaves_nothing_half_and_the_rerun_matches(tmp_path, monkeypatch):
    path = write_pickle(tmp_path / "data.pkl", mmsa_content())
    arguments = ["--path", str(path), "--dataset_kind", "mosi"]
    mmsa_pickle.main([*arguments, "--output_dir", str(tmp_path / "reference")])
    original = type(load_from_disk(str(tmp_path / "reference"))["train"]).save_to_disk
    calls = []

    def killed_after_the_first_split(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(load_from_disk(str(tmp_path / "reference"))["train"]), "save_to_disk", killed_after_the_first_split)
    with pytest.raises(KeyboardInterrupt):
        mmsa_pickle.main([*arguments, "--output_dir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()  # the half-written copy is beside it, never at the output
    monkeypatch.undo()
    mmsa_pickle.main([*arguments, "--output_dir", str(tmp_path / "out")])
    assert [p for p in tree(tmp_path) if ".partial-" in p] == []
    rerun, reference = load_from_disk(str(tmp_path / "out")), load_from_disk(str(tmp_path / "reference"))
    assert read_metadata(rerun) == read_metadata(reference)
    for split in reference:
        assert rerun[split].to_dict() == reference[split].to_dict()


# ---------------------------------------------------------------- extraction and import outputs


def test_unwritable_extraction_output_fails_before_any_work(tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    manifest = tmp_path / "clips.csv"
    manifest.write_text(MANIFEST_HEADER + "a,a.mp4,x,1,train\n")
    status = extract.main(["--manifest", str(manifest), "--output", str(tmp_path / "a_file" / "out"),
                           "--text_model", str(tmp_path / "no-model")])
    assert status == 1
    assert f"error: --output '{tmp_path / 'a_file' / 'out'}' cannot be written" in capsys.readouterr().err
    assert tree(tmp_path) == ["a_file", "clips.csv"]


def test_unwritable_report_path_fails_before_any_work(tmp_path, capsys):
    (tmp_path / "report_dir").mkdir()
    manifest = tmp_path / "clips.csv"
    manifest.write_text(MANIFEST_HEADER + "a,a.mp4,x,1,train\n")
    status = extract.main(["--manifest", str(manifest), "--output", str(tmp_path / "out"),
                           "--report", str(tmp_path / "report_dir")])
    assert status == 1
    assert f"error: --report '{tmp_path / 'report_dir'}' cannot be written" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_unwritable_import_output_fails_before_reading(tmp_path):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(SystemExit, match=r"npy_manifest: error: --output_dir '.*a_file/out' cannot be written"):
        npy_manifest.main(["--manifest", str(tmp_path / "missing.csv"), "--output_dir", str(tmp_path / "a_file" / "out")])


def test_cli_modules_run_without_the_runpy_warning(tmp_path):
    """runpy warns when ``data_processing.<cli>`` is already imported by the package: it must not be."""
    clis = ["data_processing.extract", "data_processing.mmsa_pickle", "data_processing.npy_manifest"]
    script = f"import sys, data_processing; print(sorted(set({clis!r}) & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr


# ---------------------------------------------------------------- training


def test_empty_saved_split_is_named(dataset_dir, tmp_path):
    dataset = load_from_disk(str(dataset_dir))
    dataset["test"] = dataset["test"].select([])
    dataset.save_to_disk(str(tmp_path / "empty_test"))
    message = run_error(["--dataset", str(tmp_path / "empty_test")], tmp_path)
    assert "split 'test' is empty" in message and "--dataset" in message


def test_constant_training_labels_are_refused(dataset_dir, tmp_path):
    dataset = load_from_disk(str(dataset_dir))
    dataset["train"] = dataset["train"].map(lambda row: {"label": 1.0})
    dataset.save_to_disk(str(tmp_path / "constant"))
    assert "--dataset: every label of split 'train' is 1; nothing can be learned" in run_error(
        ["--dataset", str(tmp_path / "constant")], tmp_path)


@pytest.mark.parametrize("flag", ["--dataset", "--model_name_or_path"])
def test_missing_local_paths_fail_at_once_without_hub_retries(tmp_path, flag):
    started = time.perf_counter()
    message = run_error([flag, "./no/such/folder"], tmp_path)
    assert f"{flag} './no/such/folder': no such file or folder" in message
    assert time.perf_counter() - started < 5


def test_model_folder_of_another_backbone_is_refused(dataset_dir, saved_lmf, tmp_path):
    message = run_error(["--dataset", str(dataset_dir), "--model_name_or_path", str(saved_lmf), "--backbone", "tfn",
                         "--config_overrides", "text_hidden_dim=8"], tmp_path)
    assert "its config.json describes a 'msmix_lmf' model, not --backbone 'tfn'" in message
    tfn = BACKBONES["tfn"][1]
    with pytest.raises(ValueError, match=rf"{saved_lmf}/config.json describes a 'msmix_lmf' model; TFNModel loads"):
        tfn.from_pretrained(saved_lmf)


@pytest.mark.parametrize("cut", [0.5, 0.0], ids=["truncated", "zero-bytes"])
def test_truncated_or_empty_weights_name_the_file(saved_lmf, dataset_dir, tmp_path, cut):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_bytes((saved_lmf / "config.json").read_bytes())
    raw = (saved_lmf / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(raw[: int(len(raw) * cut)])
    with pytest.raises(OSError, match=rf"{folder}: the weights file \(model.safetensors\) is unreadable, truncated or empty"):
        LMFModel.from_pretrained(folder)
    message = run_error(["--dataset", str(dataset_dir), "--model_name_or_path", str(folder)], tmp_path)
    assert f"--model_name_or_path '{folder}': {folder}: the weights file (model.safetensors) is unreadable" in message


def test_truncated_checkpoint_is_named_before_training(saved_lmf, dataset_dir, tmp_path):
    checkpoint = tmp_path / "checkpoint-4"
    checkpoint.mkdir()
    (checkpoint / "model.safetensors").write_bytes((saved_lmf / "model.safetensors").read_bytes()[:100])
    message = run_error(["--dataset", str(dataset_dir), "--resume_from_checkpoint", str(checkpoint)], tmp_path)
    assert f"--resume_from_checkpoint: {checkpoint / 'model.safetensors'} is unreadable, truncated or empty" in message
    assert not (tmp_path / "out").exists()


def test_checkpoint_state_with_inf_is_refused(saved_lmf):
    model = LMFModel.from_pretrained(saved_lmf)
    state = model.state_dict()
    name = next(key for key, value in state.items() if value.is_floating_point())
    state[name] = torch.full_like(state[name], float("inf"))
    before = {key: value.clone() for key, value in model.state_dict().items()}
    with pytest.raises(ValueError, match=rf"non-finite value\(s\) in '{name}'"):
        model.load_state_dict(state)
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())


def test_push_to_hub_offline_stops_before_training(dataset_dir, tmp_path):
    message = run_error(["--dataset", str(dataset_dir), "--push_to_hub", "true"], tmp_path)
    assert message == "run.py: error: --push_to_hub: HF_HUB_OFFLINE is set, so the Hub cannot be reached (nothing was trained)"
    assert not (tmp_path / "out").exists()


def test_push_to_hub_without_login_stops_before_training(dataset_dir, tmp_path, monkeypatch):
    import trainer.push_model

    monkeypatch.setattr(trainer.push_model.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(trainer.push_model, "get_token", lambda: None)
    message = run_error(["--dataset", str(dataset_dir), "--push_to_hub", "true"], tmp_path)
    assert "--push_to_hub: not logged in to the Hugging Face Hub: run `hf auth login` or pass --hub_token" in message
    assert not (tmp_path / "out").exists()


def test_a_failed_push_after_training_keeps_the_results(dataset_dir, tmp_path, monkeypatch):
    import trainer.push_model

    monkeypatch.setattr(trainer.push_model, "check_hub_access", lambda token=None: "someone")

    def failing_push(*args, **kwargs):
        raise ConnectionError("the network went away")

    monkeypatch.setattr(trainer.push_model, "push_trained_model", failing_push)
    message = run_error(["--dataset", str(dataset_dir), "--push_to_hub", "true", "--hub_model_id", "someone/x"], tmp_path)
    assert message == (f"run.py: error: --push_to_hub: the push failed (ConnectionError: the network went away); "
                       f"the results and models are kept in {tmp_path / 'out'}")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(results["test"]) >= {"MAE", "Corr"}
    assert (tmp_path / "out" / f"seed-{results['seeds'][0]}" / "model.safetensors").is_file()


def test_predict_names_a_missing_model_folder_at_once(tmp_path):
    from trainer.predict import main as predict_main

    (tmp_path / "a.txt").write_text("fine")
    started = time.perf_counter()
    with pytest.raises(SystemExit) as stopped:
        predict_main(["--model", "./no/such/model", "--videos", str(tmp_path / "a.mp4")])
    assert str(stopped.value) == ("trainer.predict: error: --model './no/such/model': no such folder "
                                  "(a local path; Hub ids are 'user/name')")
    assert time.perf_counter() - started < 5


# ---------------------------------------------------------------- the Hub


def test_dataset_card_commit_failure_says_what_is_on_the_hub(monkeypatch):
    from datasets import DatasetDict
    from huggingface_hub import HfApi

    import hub_cards.push

    class Pushed:
        oid = "abc123"

    monkeypatch.setattr(hub_cards.push.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(DatasetDict, "push_to_hub", lambda self, repo_id, **kwargs: Pushed())

    def refused(*args, **kwargs):
        raise RuntimeError("500 Server Error")

    monkeypatch.setattr(HfApi, "repo_info", refused)
    dataset = DatasetDict({"train": helpers.generate_default_dataset(helpers.TINY_DATA)["train"]})
    with pytest.raises(hub_cards.push.DatasetCardNotPushed, match=(
            r"dataset someone/data: the Parquet files are on the Hub \(commit abc123\) but the msmix card is not "
            r"\(RuntimeError: 500 Server Error\); load_dataset\('someone/data'\) lacks the msmix metadata until "
            r"push_dataset is run again")):
        hub_cards.push.push_dataset(dataset, "someone/data")


# ---------------------------------------------------------------- batches


@pytest.mark.parametrize(
    "rows, message",
    [
        ([], "MSMixDataCollator got an empty list of rows"),
        ([{"text_features": np.zeros(3), "audio_features": np.zeros((2, 1)), "vision_features": np.zeros((2, 1)),
           "label": 0.0}], r"text_features must be a \[length, dim\] array per row, got shape \(3,\)"),
        ([{m: np.zeros((2, d)) for m, d in (("text_features", 2), ("audio_features", 1), ("vision_features", 1))}
          | {"label": 0.0},
          {m: np.zeros((2, d)) for m, d in (("text_features", 3), ("audio_features", 1), ("vision_features", 1))}
          | {"label": 0.0}], r"text_features has different dims in one batch: \[2, 3\]"),
    ],
    ids=["no-rows", "1d-features", "mixed-dims"],
)
def test_bad_rows_are_named_by_the_collator(rows, message):
    with pytest.raises(ValueError, match=message):
        MSMixDataCollator()(rows)
