"""The MOSI-like profile of the built-in dataset: deterministic, speaker-disjoint, MOSI's label shape, text first.

The ranges are those documented in ``data_processing/synthetic/mosi_like.py`` (measured with the
ridge probe of ``benchmarks/probe_synthetic.py`` on seeds 0-3); no backbone is trained here.
"""

import numpy as np
import pytest

from benchmarks.probe_synthetic import label_histogram, pooled_splits, probe
from data_processing.loading import load_msa_dataset
from data_processing.schema import validate_dataset
from data_processing.synthetic import MOSILikeConfig, SyntheticConfig, generate_default_dataset

SMALL = dict(train_size=40, validation_size=12, test_size=12, train_speakers=5, validation_speakers=2,
             test_speakers=3, text_dim=16, max_audio_length=12, max_vision_length=12, min_audio_length=4,
             min_vision_length=4)


def speaker(sample_id: str) -> str:
    return sample_id.split("_")[1]


@pytest.fixture(scope="module")
def pooled():
    """The default MOSI-like splits as time averages (what the probe reads), drawn without writing Arrow files."""
    return pooled_splits(MOSILikeConfig())


def test_same_seed_same_data_other_seed_other_data():
    first = generate_default_dataset(MOSILikeConfig(seed=5, **SMALL))
    again = generate_default_dataset(MOSILikeConfig(seed=5, **SMALL))
    other = generate_default_dataset(MOSILikeConfig(seed=6, **SMALL))
    validate_dataset(first)
    for split in ("train", "test"):
        a, b = first[split].with_format("numpy")[:], again[split].with_format("numpy")[:]
        np.testing.assert_array_equal(a["label"], b["label"])
        assert list(a["id"]) == list(b["id"])
        for x, y in zip(a["text_features"], b["text_features"]):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(first["train"]["label"], other["train"]["label"])


def test_profiles_are_chosen_by_config_or_name():
    assert generate_default_dataset(MOSILikeConfig(**SMALL))["train"].info.description.count("mosi_like") >= 1
    clean = generate_default_dataset(SyntheticConfig(train_size=4, validation_size=2, test_size=2, text_dim=8,
                                                     max_audio_length=8, max_vision_length=8, min_audio_length=2,
                                                     min_vision_length=2))
    assert "clean" in clean["train"].info.description
    with pytest.raises(ValueError, match="profile must be one of"):
        generate_default_dataset(profile="mosei_like")
    with pytest.raises(ValueError, match="does not match profile 'clean'"):
        generate_default_dataset(MOSILikeConfig(**SMALL), profile="clean")
    with pytest.raises(ValueError, match="test_speakers <= test_size"):
        MOSILikeConfig(test_size=3, test_speakers=4)
    with pytest.raises(ValueError, match="--dataset|profile must be one of"):
        load_msa_dataset("default:noisy")


def test_default_shapes_are_mosi_and_splits_share_no_speaker(pooled):
    config = MOSILikeConfig()
    assert (config.train_size, config.validation_size, config.test_size) == (1284, 229, 686)
    assert (config.text_dim, config.audio_dim, config.vision_dim) == (768, 5, 20)
    speakers = {split: {speaker(i) for i in pooled[split][2]} for split in ("train", "validation", "test")}
    assert [len(s) for s in speakers.values()] == [52, 10, 31]
    assert not speakers["train"] & speakers["test"] and not speakers["train"] & speakers["validation"]
    assert not speakers["validation"] & speakers["test"]


def test_labels_are_annotator_means_with_mosi_shape(pooled):
    labels = pooled["train"][1]
    assert labels.min() >= -3 and labels.max() <= 3
    np.testing.assert_allclose(labels * 5, np.round(labels * 5), atol=1e-4)
    shares = label_histogram(labels)  # rounded to -3 .. 3
    assert 0.03 <= shares[0] <= 0.08 and 0.03 <= shares[6] <= 0.08
    assert 0.14 <= shares[3] <= 0.25
    assert all(0.12 <= share <= 0.25 for share in shares[1:6])
    assert 1.45 <= labels.std() <= 1.7


def test_text_is_the_most_informative_modality_and_fusion_lands_near_mosi(pooled):
    figures = {name: probe(pooled, columns) for name, columns in
               {"text": (0,), "audio": (1,), "vision": (2,), "all": (0, 1, 2)}.items()}
    assert 0.5 <= figures["text"]["test"]["Corr"] <= 0.75
    for weak in ("audio", "vision"):
        assert 0.2 <= figures[weak]["test"]["Corr"] <= 0.45
        assert figures["text"]["test"]["Corr"] > figures[weak]["test"]["Corr"] + 0.15
    assert 0.85 <= figures["all"]["test"]["MAE"] <= 1.05
    assert 0.55 <= figures["all"]["test"]["Corr"] <= 0.72
