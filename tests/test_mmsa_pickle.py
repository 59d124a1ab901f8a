"""Importing MMSA-layout feature pickles (MOSI, MOSEI, SIMS) and exporting back."""

import pickle

import numpy as np
import pytest

from data_processing.mmsa_pickle import MMSAPickleError, export_mmsa_pickle, import_mmsa_pickle
from data_processing.schema import read_metadata

LAYOUTS = {  # kind: (audio dim, vision dim, padded lengths t/a/v, label bound)
    "mosi": (5, 20, (6, 9, 8), 3.0),
    "mosei": (74, 35, (6, 9, 8), 3.0),
    "sims": (33, 709, (5, 7, 4), 1.0),
}


def _split(kind, count, seed):
    audio_dim, vision_dim, (lt, la, lv), bound = LAYOUTS[kind]
    rng = np.random.default_rng(seed)
    text_lengths = rng.integers(2, lt + 1, count)
    text_bert = np.zeros((count, 3, lt), dtype=np.float32)
    text_bert[:, 0] = rng.integers(100, 2000, (count, lt))
    text_bert[:, 1] = np.arange(lt)[None] < text_lengths[:, None]
    split = {
        "raw_text": np.array([f"words {i}" for i in range(count)], dtype=object),
        "id": np.array([f"vid_{seed}${i}" for i in range(count)], dtype=object),
        "text": rng.standard_normal((count, lt, 768)).astype(np.float32),
        "text_bert": text_bert,
        "audio": rng.standard_normal((count, la, audio_dim)).astype(np.float32),
        "vision": rng.standard_normal((count, lv, vision_dim)).astype(np.float32),
        "audio_lengths": list(rng.integers(1, la + 1, count)),
        "vision_lengths": list(rng.integers(1, lv + 1, count)),
        "regression_labels": np.round(rng.uniform(-bound, bound, count), 1).astype(np.float32),
        "classification_labels": np.zeros(count),
        "annotations": np.array(["Neutral"] * count, dtype=object),
    }
    if kind == "sims":
        for suffix in "TAV":
            split[f"regression_labels_{suffix}"] = np.round(rng.uniform(-1, 1, count), 1).astype(np.float32)
    return split


def _content(kind):
    return {"train": _split(kind, 5, 1), "valid": _split(kind, 3, 2), "test": _split(kind, 4, 3)}


def _write(path, content):
    with open(path, "wb") as handle:
        pickle.dump(content, handle)
    return path


@pytest.mark.parametrize("kind", sorted(LAYOUTS))
def test_import_keeps_values_at_true_lengths(tmp_path, kind):
    content = _content(kind)
    content["train"]["audio"][0, 0, :2] = -np.inf  # the public files carry -inf in audio
    content["train"]["vision"][1, 0, 0] = np.nan
    dataset = import_mmsa_pickle(_write(tmp_path / "data.pkl", content), kind)
    assert {name: split.num_rows for name, split in dataset.items()} == {"train": 5, "validation": 3, "test": 4}
    raw = content["train"]
    train = dataset["train"].with_format("numpy")
    for i in range(5):
        row = train[i]
        lt, la, lv = int(raw["text_bert"][i, 1].sum()), int(raw["audio_lengths"][i]), int(raw["vision_lengths"][i])
        assert (row["text_length"], row["audio_length"], row["vision_length"]) == (lt, la, lv)
        np.testing.assert_array_equal(row["text_features"], raw["text"][i, :lt])
        np.testing.assert_array_equal(row["input_ids"], raw["text_bert"][i, 0, :lt])
        np.testing.assert_array_equal(row["audio_features"], np.nan_to_num(raw["audio"][i, :la], neginf=0.0))
        assert row["label"] == pytest.approx(raw["regression_labels"][i])
        assert row["id"] == raw["id"][i] and row["text"] == raw["raw_text"][i]
    assert train[0]["audio_features"][0, :2].tolist() == [0.0, 0.0]
    metadata = read_metadata(dataset)
    assert metadata.dataset_kind == kind
    assert metadata.label_scale == LAYOUTS[kind][3]
    assert metadata.feature_dims == {"text": 768, "audio": LAYOUTS[kind][0], "vision": LAYOUTS[kind][1]}
    assert metadata.notes["non_finite_replaced_by_zero"]["train"] == {"text": 0, "audio": 2, "vision": 1}
    assert "non_standard_dims" not in metadata.notes
    if kind == "sims":
        assert dataset["test"]["label_vision"] == pytest.approx(content["test"]["regression_labels_V"].tolist())
    else:
        assert "label_text" not in dataset["train"].column_names


def test_lengths_beyond_the_padding_are_clamped_and_counted(tmp_path):
    content = _content("mosi")
    content["valid"]["vision_lengths"][0] = 99
    dataset = import_mmsa_pickle(_write(tmp_path / "data.pkl", content), "mosi")
    assert dataset["validation"][0]["vision_length"] == 8
    assert read_metadata(dataset).notes["lengths_clamped_to_padded_length"]["validation"] == {"audio": 0, "vision": 1}


def _broken(change):
    content = _content("mosi")
    change(content)
    return content


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.pop("valid"), r"missing split key\(s\) \['valid'\]"),
        (lambda c: c["test"].pop("vision"), "split 'test': missing key 'vision'"),
        (lambda c: c["train"].update(audio=np.zeros((5, 9))), r"\['audio'\] must have 3 dims"),
        (lambda c: c["train"].update(vision=np.zeros((4, 8, 20))), "'vision' has 4 samples, 'text' has 5"),
        (lambda c: c["train"].update(text_bert=np.zeros((5, 3, 7))), r"text_bert'\] must have shape \(5, 3, 6\)"),
        (lambda c: c["test"]["regression_labels"].__setitem__(2, 3.5), "1 label value"),
        (lambda c: c["test"]["regression_labels"].__setitem__(0, np.nan), "not finite"),
        (lambda c: c["valid"].update(audio=np.zeros((3, 9, 6))), "audio dim 6 differs from train's 5"),
        (lambda c: c["train"].update(regression_labels=np.zeros(3)), "one value per sample"),
    ],
)
def test_malformed_files_fail_with_a_message_naming_split_and_key(tmp_path, change, message):
    with pytest.raises(MMSAPickleError, match=message):
        import_mmsa_pickle(_write(tmp_path / "bad.pkl", _broken(change)), "mosi")


def test_sims_labels_outside_minus_one_one_are_refused(tmp_path):
    content = _content("sims")
    content["train"]["regression_labels_A"][1] = -1.4
    with pytest.raises(MMSAPickleError, match="label_audio value"):
        import_mmsa_pickle(_write(tmp_path / "sims.pkl", content), "sims")


def test_truncated_file_and_wrong_top_level_are_refused(tmp_path):
    path = _write(tmp_path / "full.pkl", _content("mosi"))
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(MMSAPickleError, match="truncated"):
        import_mmsa_pickle(truncated, "mosi")
    with pytest.raises(MMSAPickleError, match="expected a dict"):
        import_mmsa_pickle(_write(tmp_path / "list.pkl", [1, 2]), "mosi")
    with pytest.raises(ValueError, match="dataset_kind"):
        import_mmsa_pickle(path, "iemocap")


def test_non_standard_dims_are_recorded(tmp_path):
    dataset = import_mmsa_pickle(_write(tmp_path / "mosei_as_mosi.pkl", _content("mosei")), "mosi")
    assert "differ from the usual mosi layout" in read_metadata(dataset).notes["non_standard_dims"]


def test_export_then_import_is_lossless(tmp_path):
    original = import_mmsa_pickle(_write(tmp_path / "in.pkl", _content("sims")), "sims")
    export_mmsa_pickle(original, tmp_path / "out.pkl", padded_lengths=(5, 7, 4))
    again = import_mmsa_pickle(tmp_path / "out.pkl", "sims")
    for name in ("train", "validation", "test"):
        a, b = original[name].with_format("numpy")[:], again[name].with_format("numpy")[:]
        assert list(a) == list(b)
        for column in ("audio_features", "vision_features", "text_features", "input_ids"):
            for x, y in zip(a[column], b[column]):
                np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(a["label_text"], b["label_text"])
