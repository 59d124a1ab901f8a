"""The per-sample-reliability profiles (MOSI-like and SIMS-like): deterministic, readable by SIG, calibrated.

Ranges are those of the calibration in ``data_processing/synthetic/reliability.py`` (ridge probe
of ``benchmarks/probe_synthetic.py``, data seeds 0-2); no backbone is trained here.
"""

import hashlib

import numpy as np
import pytest

from benchmarks.probe_synthetic import PROBE_INPUTS, pooled_splits, probe
from data_processing.loading import load_msa_dataset
from data_processing.schema import read_metadata, validate_dataset
from data_processing.synthetic import (
    PROFILES,
    MOSILikeConfig,
    ReliabilityConfig,
    SIMSLikeConfig,
    SyntheticConfig,
    generate_default_dataset,
)
from data_processing.synthetic.reliability import CARRIERS, ReliabilityGenerator
from data_processing.synthetic.save import main as save_profile

SMALL = dict(train_size=40, validation_size=12, test_size=12, train_speakers=5, validation_speakers=2,
             test_speakers=3, text_dim=16, vision_dim=12, max_audio_length=12, max_vision_length=12,
             min_audio_length=4, min_vision_length=4)
MOSI_LIKE_TRAIN_LABELS_SHA256 = "2afeb7a0c382893e"
"""First 16 hex digits of the sha256 of the default MOSI-like train labels (float32 bytes) and ids.

Labels are means of rounded ratings, so their bytes depend only on the random stream: a change
here means the default data (and every study run on it) changed."""
MOSI_LIKE_TRAIN_TRANSCRIPTS_SHA256 = "2c7ff11a93053ed5"
"""The same for the default MOSI-like train transcripts (UTF-8, one a line): they name the sample only."""
CARRIER_OR_FLIP_SHARES: dict[str, dict[str, float]] = {
    "clean": {"p_sarcasm": 1.0},
    "mosi_like": {"p_contradictory": 1.0},
    "mosi_reliability": {"p_audio_carrier": 0.5, "p_vision_carrier": 0.5, "p_misleading_words": 1.0,
                         "p_contradictory": 1.0},
    "mosi_mislabeled": {"p_audio_carrier": 0.5, "p_vision_carrier": 0.5, "p_misleading_words": 1.0,
                        "p_contradictory": 1.0},
    "sims_like": {"p_audio_carrier": 0.5, "p_vision_carrier": 0.5, "p_misleading_words": 1.0, "p_contradictory": 1.0},
}
"""Per profile: settings that change which modality carries the sentiment, or flip the words, in most samples."""


def probe_figures(config) -> dict[str, dict[str, dict[str, float]]]:
    pooled = pooled_splits(config)
    return {name: probe(pooled, columns, config.dataset_kind, config.label_max)
            for name, columns in PROBE_INPUTS.items()}


@pytest.fixture(scope="module")
def reliability_figures():
    return probe_figures(ReliabilityConfig())


@pytest.fixture(scope="module")
def sims_figures():
    return probe_figures(SIMSLikeConfig())


def test_the_mosi_like_default_data_is_unchanged():
    config = MOSILikeConfig()
    rows = PROFILES["mosi_like"][1](config).split("train", config.train_size)
    labels = np.array([row["label"] for row in rows], dtype=np.float32)
    ids, transcripts = [row["id"] for row in rows], [row["text"] for row in rows]
    digest = hashlib.sha256(labels.tobytes() + "\n".join(ids).encode()).hexdigest()
    assert digest[:16] == MOSI_LIKE_TRAIN_LABELS_SHA256
    assert hashlib.sha256("\n".join(transcripts).encode()).hexdigest()[:16] == MOSI_LIKE_TRAIN_TRANSCRIPTS_SHA256


@pytest.mark.parametrize("profile", sorted(set(PROFILES) - {"tweets"}))  # tweets' transcripts are the real tweets
def test_transcripts_do_not_depend_on_the_carrier_or_a_flip_of_the_words(profile):
    config_class = PROFILES[profile][0]
    small = {key: value for key, value in SMALL.items() if config_class is not SyntheticConfig or "speakers" not in key}
    usual = generate_default_dataset(config_class(seed=2, **small))
    changed = generate_default_dataset(config_class(seed=2, **small, **CARRIER_OR_FLIP_SHARES[profile]))
    for split in ("train", "validation", "test"):
        a, b = usual[split].with_format("numpy")[:], changed[split].with_format("numpy")[:]
        assert list(a["id"]) == list(b["id"]) and list(a["text"]) == list(b["text"])
        assert len(set(a["text"])) == len(a["text"])  # each names its sample
        assert not all(np.array_equal(x, y) for x, y in zip(a["text_features"], b["text_features"]))
    words = {word for text in usual["train"]["text"] for word in text.split()}
    assert words <= {"synthetic", "utterance", "of", "speaker"} | {word for word in words if word.isdigit()}


@pytest.mark.parametrize("config_class", [ReliabilityConfig, SIMSLikeConfig])
def test_same_seed_same_data_other_seed_other_data(config_class):
    first = generate_default_dataset(config_class(seed=3, **SMALL))
    again = generate_default_dataset(config_class(seed=3, **SMALL))
    other = generate_default_dataset(config_class(seed=4, **SMALL))
    validate_dataset(first)
    for split in ("train", "test"):
        a, b = first[split].with_format("numpy")[:], again[split].with_format("numpy")[:]
        assert list(a["id"]) == list(b["id"]) and list(a["text"]) == list(b["text"])
        np.testing.assert_array_equal(a["label"], b["label"])
        for x, y in zip(a["audio_features"], b["audio_features"]):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(first["train"]["label"], other["train"]["label"])


def test_profiles_are_loaded_by_name_with_their_label_range():
    reliability = read_metadata(generate_default_dataset(ReliabilityConfig(**SMALL)))
    assert (reliability.dataset_kind, reliability.label_min, reliability.label_max) == ("mosi", -3.0, 3.0)
    sims = generate_default_dataset(SIMSLikeConfig(**SMALL))
    metadata = read_metadata(sims)
    assert (metadata.dataset_kind, metadata.label_min, metadata.label_max) == ("sims", -1.0, 1.0)
    assert "sims_like" in metadata.extractors["text"]
    with pytest.raises(ValueError, match="does not match profile 'mosi_reliability'"):
        generate_default_dataset(SIMSLikeConfig(**SMALL), profile="mosi_reliability")
    with pytest.raises(ValueError, match="p_audio_carrier \\+ p_vision_carrier <= 1"):
        ReliabilityConfig(p_audio_carrier=0.6, p_vision_carrier=0.5)


def test_sims_like_has_ch_sims_shapes_and_unimodal_labels():
    config = SIMSLikeConfig()
    assert (config.train_size, config.validation_size, config.test_size) == (1368, 456, 457)
    assert (config.text_dim, config.audio_dim, config.vision_dim) == (768, 33, 709)
    train = generate_default_dataset(SIMSLikeConfig(**SMALL, seed=1))["train"].with_format("numpy")[:]
    for column in ("label", "label_text", "label_audio", "label_vision"):
        values = train[column]
        assert values.min() >= -1 and values.max() <= 1
        np.testing.assert_allclose(values * 5, np.round(values * 5), atol=1e-5)  # mean of 5 ratings -1/0/1
    draws = ReliabilityGenerator(SIMSLikeConfig(**SMALL, seed=1)).evidence(np.full(400, 0.6))
    voice = draws.carrier == CARRIERS.index("audio")
    assert voice.any() and (~voice).any()
    # A flat voice expresses a tenth of the sentiment, so its label is nearer 0 than the voice that carries it.
    label_audio = draws.extra_columns["label_audio"]
    assert np.abs(label_audio[~voice]).mean() < np.abs(label_audio[voice]).mean() - 0.3


def test_the_carriers_and_misleading_words_come_in_the_configured_shares():
    config = ReliabilityConfig(**SMALL)
    latent = np.random.default_rng(0).normal(0.0, 1.5, 4000)
    draws = ReliabilityGenerator(config).evidence(latent)
    shares = np.bincount(draws.carrier, minlength=3) / len(latent)
    np.testing.assert_allclose(shares, [0.6, config.p_audio_carrier, config.p_vision_carrier], atol=0.03)
    words_elsewhere = draws.carrier != CARRIERS.index("text")
    assert abs(draws.misleading[words_elsewhere].mean() - config.p_misleading_words) < 0.03
    assert not draws.contradictory[words_elsewhere].any()
    # Words that do not carry read -s when misleading, else 0 (plus quiet noise of sd quiet_text_noise).
    text = draws.evidence["text"]
    misleading, neutral = words_elsewhere & draws.misleading, words_elsewhere & ~draws.misleading
    assert np.corrcoef(text[misleading], latent[misleading])[0, 1] < -0.9
    assert np.std(text[neutral]) == pytest.approx(config.quiet_text_noise, rel=0.1)


def test_sig_can_read_audio_and_vision_here_and_not_in_the_mosi_like_profile(reliability_figures):
    # r of |probe prediction| with |y| (data seed 0): 0.05 / 0.07 on the MOSI-like profile, 0.20 / 0.18 here.
    mosi_like = probe_figures(MOSILikeConfig())
    for modality in ("audio", "vision"):
        assert mosi_like[modality]["test"]["intensity_r"] <= 0.12
        assert reliability_figures[modality]["test"]["intensity_r"] >= 0.15


def test_reliability_profile_lands_in_mosi_band(reliability_figures):
    fused = reliability_figures["all"]["test"]
    assert 0.85 <= fused["MAE"] <= 1.05 and 0.55 <= fused["Corr"] <= 0.75 and 0.74 <= fused["Has0_acc_2"] <= 0.84
    for single in ("text", "audio", "vision"):
        assert reliability_figures[single]["test"]["Corr"] < fused["Corr"] - 0.05


def test_sims_like_lands_in_ch_sims_band(sims_figures):
    fused = sims_figures["all"]["test"]
    assert 0.38 <= fused["MAE"] <= 0.5 and 0.5 <= fused["Corr"] <= 0.7 and 0.72 <= fused["Mult_acc_2"] <= 0.84


def test_a_profile_is_saved_at_a_seed_and_trained_from_the_folder(tmp_path, capsys):
    save_profile(["--profile", "sims_like", "--seed", "2", "--output_dir", str(tmp_path / "sims")])
    assert "sims_like profile, data seed 2" in capsys.readouterr().out
    loaded = load_msa_dataset(str(tmp_path / "sims"))
    assert read_metadata(loaded).dataset_kind == "sims" and loaded["train"].num_rows == 1368
    assert {"label_text", "label_audio", "label_vision"} <= set(loaded["train"].column_names)
    with pytest.raises(SystemExit, match="--profile must be one of"):
        save_profile(["--profile", "mosei_like", "--output_dir", str(tmp_path / "x")])
