"""The dataset schema: round trips, metadata, validation errors."""

import numpy as np
import pytest
from datasets import DatasetDict, load_from_disk

from data_processing.schema import (
    MSAMetadata,
    attach_metadata,
    clean_non_finite,
    msa_features,
    read_metadata,
    rows_to_dataset,
    validate_dataset,
)

METADATA = MSAMetadata(
    dataset_kind="sims",
    label_min=-1.0,
    label_max=1.0,
    text_dim=4,
    audio_dim=3,
    vision_dim=2,
    extractors={"text": "bert-base-chinese@abc"},
    extraction={"audio": {"sampling_rate": 16000}},
)


def _rows(count):
    rng = np.random.default_rng(0)
    for i in range(count):
        lt, la, lv = 2 + i, 3 + i, i  # vision length 0 for the first sample: a missing modality
        yield {
            "id": f"s{i}",
            "text": f"utterance {i}",
            "text_features": rng.standard_normal((lt, 4)).astype(np.float32),
            "audio_features": rng.standard_normal((la, 3)).astype(np.float32),
            "vision_features": rng.standard_normal((lv, 2)).astype(np.float32),
            "text_length": lt,
            "audio_length": la,
            "vision_length": lv,
            "label": 0.1 * i,
            "label_text": -0.1 * i,
            "label_audio": 0.0,
            "label_vision": 0.2,
        }


def _dataset(sizes=(3, 2, 2)):
    features = msa_features(METADATA, unimodal_labels=True)
    splits = {
        name: rows_to_dataset(_rows, features, name, {"test": "schema", "size": size}, count=size)
        for name, size in zip(("train", "validation", "test"), sizes)
    }
    return attach_metadata(DatasetDict(splits), METADATA)


def test_round_trip_through_save_to_disk_keeps_values_lengths_and_metadata(tmp_path):
    dataset = _dataset()
    dataset.save_to_disk(tmp_path / "ds")
    loaded = load_from_disk(tmp_path / "ds")
    assert read_metadata(loaded) == METADATA
    assert validate_dataset(loaded) == METADATA
    expected = list(_rows(3))
    train = loaded["train"].with_format("torch")
    for i, row in enumerate(expected):
        got = train[i]
        for column in ("text_features", "audio_features", "vision_features"):
            assert got[column].shape == row[column].shape
            np.testing.assert_array_equal(got[column].numpy(), row[column])
        assert got["vision_length"].item() == row["vision_length"]
        assert got["label_text"].item() == pytest.approx(row["label_text"])
    assert train[0]["vision_features"].shape == (0, 2)


def test_torch_batches_are_lists_of_ragged_tensors():
    batch = _dataset()["train"].with_format("torch")[0:3]
    assert [t.shape[0] for t in batch["audio_features"]] == [3, 4, 5]


def test_metadata_properties_and_dict_round_trip():
    assert METADATA.label_scale == 1.0
    assert METADATA.feature_dims == {"text": 4, "audio": 3, "vision": 2}
    assert MSAMetadata.from_dict(METADATA.to_dict()) == METADATA
    with pytest.raises(ValueError, match="unknown MSAMetadata keys"):
        MSAMetadata.from_dict({**METADATA.to_dict(), "colour": "red"})
    with pytest.raises(ValueError, match="dataset_kind"):
        MSAMetadata("iemocap", -3, 3, 1, 1, 1)
    with pytest.raises(ValueError, match="label_min"):
        MSAMetadata("mosi", 3, -3, 1, 1, 1)
    with pytest.raises(ValueError, match="audio_dim"):
        MSAMetadata("mosi", -3, 3, 1, 0, 1)


def test_validation_names_the_problem():
    dataset = _dataset()
    without_test = DatasetDict({k: v for k, v in dataset.items() if k != "test"})
    with pytest.raises(ValueError, match=r"lacks split\(s\) \['test'\]"):
        validate_dataset(without_test, METADATA)
    empty = DatasetDict({**dataset, "validation": dataset["validation"].select([])})
    with pytest.raises(ValueError, match="split 'validation' is empty"):
        validate_dataset(empty, METADATA)
    other_dims = MSAMetadata.from_dict({**METADATA.to_dict(), "vision_dim": 7})
    with pytest.raises(ValueError, match="vision_features has dim 2, metadata says 7"):
        validate_dataset(dataset, other_dims)
    no_label = DatasetDict({k: v.remove_columns("label") for k, v in dataset.items()})
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['label'\]"):
        validate_dataset(no_label, METADATA)


def test_dataset_without_metadata_is_refused_clearly():
    dataset = _dataset()
    for split in dataset.values():
        split.info.description = "some other dataset"
    with pytest.raises(ValueError, match="carries no msmix metadata"):
        read_metadata(dataset)


def test_clean_non_finite_counts_and_zeroes():
    array = np.array([[1.0, -np.inf], [np.nan, 2.0]], dtype=np.float32)
    cleaned, count = clean_non_finite(array)
    assert count == 2
    np.testing.assert_array_equal(cleaned, [[1.0, 0.0], [0.0, 2.0]])
    assert cleaned.dtype == np.float32
