"""Importing a CSV manifest of per-sample .npy features."""

import csv

import numpy as np
import pytest

from data_processing.npy_manifest import ManifestError, import_npy_manifest
from data_processing.schema import read_metadata

DIMS = {"text": 6, "audio": 3, "vision": 4}


def _write_manifest(folder, rows=None, *, dims=DIMS):
    rng = np.random.default_rng(0)
    rows = rows or [("a", "train", 1.2), ("b", "train", -0.4), ("c", "valid", 0.0), ("d", "test", 2.0)]
    entries = []
    for index, (sample_id, split, label) in enumerate(rows):
        entry = {"id": sample_id, "split": split, "label": label, "text": f"words of {sample_id}"}
        for modality, dim in dims.items():
            path = folder / f"{sample_id}_{modality}.npy"
            np.save(path, rng.standard_normal((index + 2, dim)).astype(np.float32))
            entry[f"{modality}_features"] = path.name
        entries.append(entry)
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(entries[0]))
        writer.writeheader()
        writer.writerows(entries)
    return manifest


def test_manifest_import_keeps_arrays_and_infers_dims(tmp_path):
    manifest = _write_manifest(tmp_path)
    np.save(tmp_path / "b_audio.npy", np.array([[1.0, np.inf, 2.0], [0.0, 1.0, np.nan], [1, 1, 1]], dtype=np.float32))
    dataset = import_npy_manifest(manifest)
    assert {k: v.num_rows for k, v in dataset.items()} == {"train": 2, "validation": 1, "test": 1}
    row = dataset["train"].with_format("numpy")[1]
    assert row["id"] == "b" and row["label"] == pytest.approx(-0.4) and row["audio_length"] == 3
    np.testing.assert_array_equal(row["audio_features"], [[1, 0, 2], [0, 1, 0], [1, 1, 1]])
    np.testing.assert_array_equal(row["text_features"], np.load(tmp_path / "b_text.npy"))
    metadata = read_metadata(dataset)
    assert metadata.feature_dims == DIMS and metadata.dataset_kind == "custom"
    assert metadata.notes["non_finite_replaced_by_zero"] == {"text": 0, "audio": 2, "vision": 0}


def test_every_problem_is_reported_with_its_line(tmp_path):
    manifest = _write_manifest(
        tmp_path, [("a", "train", 1.0), ("b", "train", 7.0), ("c", "dev", 0.0), ("d", "holdout", 0.0)]
    )
    (tmp_path / "a_vision.npy").unlink()
    np.save(tmp_path / "c_text.npy", np.zeros((3, 9), dtype=np.float32))
    with pytest.raises(ManifestError) as error:
        import_npy_manifest(manifest)
    message = str(error.value)
    assert "manifest.csv:2: vision_features" in message and "a_vision.npy" in message
    assert "manifest.csv:3: label 7.0 outside [-3.0, 3.0]" in message
    assert "manifest.csv:4: text_features has dim 9, earlier samples have 6" in message
    assert "manifest.csv:5: split 'holdout'" in message
    assert "split 'test' has no samples" in message


def test_missing_columns_and_pickled_arrays_are_refused(tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("id,split,label\na,train,0\n")
    with pytest.raises(ManifestError, match=r"missing column\(s\) \['text_features'"):
        import_npy_manifest(manifest)
    manifest = _write_manifest(tmp_path)
    np.save(tmp_path / "a_text.npy", np.array([{"not": "numbers"}], dtype=object), allow_pickle=True)
    with pytest.raises(ManifestError, match="a_text.npy"):
        import_npy_manifest(manifest)
