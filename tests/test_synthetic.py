"""The built-in default dataset: deterministic, MOSI-shaped and learnable."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from data_processing.schema import MODALITIES, read_metadata, validate_dataset
from data_processing.synthetic import SyntheticConfig, generate_default_dataset

SMALL = dict(max_text_length=12, max_audio_length=40, max_vision_length=40, min_audio_length=10, min_vision_length=10)


def _pooled(split):
    data = split.with_format("numpy")
    blocks = [np.stack([seq.mean(0) for seq in data[f"{m}_features"][:]]) for m in MODALITIES]
    return blocks, data["label"][:]


def test_default_config_is_mosi_shaped():
    config = SyntheticConfig()
    assert (config.train_size, config.validation_size, config.test_size) == (1284, 229, 686)
    assert (config.text_dim, config.audio_dim, config.vision_dim) == (768, 5, 20)
    assert (config.max_text_length, config.max_audio_length, config.max_vision_length) == (50, 375, 500)


def test_same_seed_same_data_other_seed_other_data():
    config = SyntheticConfig(train_size=20, validation_size=5, test_size=5, seed=3, **SMALL)
    first = generate_default_dataset(config)["train"].with_format("numpy")[:]
    again = generate_default_dataset(SyntheticConfig(**vars(config)))["train"].with_format("numpy")[:]
    other = generate_default_dataset(SyntheticConfig(**{**vars(config), "seed": 4}))["train"].with_format("numpy")[:]
    np.testing.assert_array_equal(first["label"], again["label"])
    for a, b in zip(first["audio_features"], again["audio_features"]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first["label"], other["label"])


def test_shapes_metadata_and_label_grid():
    config = SyntheticConfig(train_size=30, validation_size=6, test_size=6, **SMALL)
    dataset = generate_default_dataset(config)
    metadata = validate_dataset(dataset)
    assert metadata == read_metadata(dataset["test"])
    assert metadata.dataset_kind == "mosi" and metadata.label_scale == 3.0
    train = dataset["train"].with_format("numpy")[:]
    assert all(seq.shape[1] == 768 and 8 <= seq.shape[0] <= 12 for seq in train["text_features"])
    assert all(len(seq) == n for seq, n in zip(train["vision_features"], train["vision_length"]))
    labels = train["label"]
    assert labels.min() >= -3 and labels.max() <= 3
    np.testing.assert_allclose(labels * 5, np.round(labels * 5), atol=1e-4)


def test_learnable_and_multimodal_beats_unimodal():
    config = SyntheticConfig(train_size=400, validation_size=2, test_size=200, seed=1, **SMALL)
    dataset = generate_default_dataset(config)
    (train_blocks, y), (test_blocks, y_test) = _pooled(dataset["train"]), _pooled(dataset["test"])
    mean_mae = np.abs(y.mean() - y_test).mean()

    def probe_mae(columns):
        model = Ridge(alpha=1.0).fit(np.concatenate([train_blocks[c] for c in columns], 1), y)
        return np.abs(model.predict(np.concatenate([test_blocks[c] for c in columns], 1)) - y_test).mean()

    fused = probe_mae([0, 1, 2])
    assert fused < 0.6 * mean_mae
    for single in range(3):
        assert fused < probe_mae([single]) - 0.05


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="min_audio_length <= max_audio_length"):
        SyntheticConfig(min_audio_length=50, max_audio_length=10)
    with pytest.raises(ValueError, match="test_size"):
        SyntheticConfig(test_size=0)
