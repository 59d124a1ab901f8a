"""The study's diagnostics: SIG's intensities (benchmarks/sig_diagnostics.py) and the course of training (fit_gap)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from datasets import load_from_disk

import trainer_helpers as helpers
from benchmarks.fit_gap import training_course
from benchmarks.sig_diagnostics import batch_figures, logged_statistics, main
from data_processing.synthetic import SIMSLikeConfig, generate_default_dataset
from modeling_msmix import LMFConfig, LMFModel
from modeling_msmix.feature_schema import UNIMODAL_LABELS_KEY
from modeling_msmix.mixing_msmix import SIG_BOUND_LEVEL, MSMix
from trainer.collator import MSMixDataCollator


def test_intensities_equal_to_label_magnitudes_give_zero_kl_and_constant_ones_give_the_uniform_kl():
    labels = np.array([-3.0, -1.5, 0.0, 0.5, 2.0, 3.0], dtype=np.float32)
    minmax = MSMix((2, 2, 2), ratio_weights="batch_minmax")
    aligned = batch_figures(np.abs(labels), labels, batch_size=6, label_scale=3.0, rng=np.random.default_rng(0),
                            mixing=minmax)
    assert aligned["SAL_KL"] == pytest.approx(0.0, abs=1e-6)
    target = np.exp(np.abs(labels) / 3) / np.exp(np.abs(labels) / 3).sum()
    uniform_kl = float(np.sum(target * np.log(target * 6))) / 6  # batchmean divides the sum by B
    assert aligned["SAL_KL_constant"] == pytest.approx(uniform_kl, rel=1e-4)
    assert aligned["mean_abs_lam_adapt_minus_half"] > 0.1

    constant = batch_figures(np.full(6, -2.95, dtype=np.float32), labels, batch_size=6, label_scale=3.0,
                             rng=np.random.default_rng(0), mixing=minmax)
    assert constant["SAL_KL"] == pytest.approx(uniform_kl, rel=1e-4)
    # w = 0 for every sample: lam_adapt = 1e-8 / 2e-8, 1/2 up to float32 rounding of the two constants
    assert constant["mean_abs_lam_adapt_minus_half"] == pytest.approx(0.0, abs=1e-7)
    # Intensity-scale weights: lam_adapt = |I1| / (|I1| + |I2|); equal intensities mix at exactly 1/2.
    scaled = batch_figures(np.full(6, -2.95, dtype=np.float32), labels, batch_size=6, label_scale=3.0,
                           rng=np.random.default_rng(0), mixing=MSMix((2, 2, 2), ratio_weights="intensity_scale"))
    assert scaled["mean_abs_lam_adapt_minus_half"] == pytest.approx(0.0, abs=1e-7)


def test_figures_of_a_saved_msmix_model_come_from_its_own_intensities(tmp_path):
    data_dir = helpers.save_tiny_dataset(tmp_path / "data")
    config = LMFConfig(**helpers.TINY_BACKBONES["lmf"], text_dim=16, audio_dim=5, vision_dim=6, augmentation="msmix")
    torch.manual_seed(0)
    LMFModel(config).save_pretrained(tmp_path / "model")
    figures = main(["--model", str(tmp_path / "model"), "--dataset", str(data_dir), "--batch_size", "8"])

    model = LMFModel.from_pretrained(tmp_path / "model").eval()
    test = load_from_disk(str(data_dir))["test"].with_format("torch")
    batch = MSMixDataCollator(return_mix_seed=False)([test[i] for i in range(len(test))])
    labels = batch.pop("labels").reshape(-1).abs().numpy()
    with torch.no_grad():
        intensities = model(**batch).intensities.numpy()
    for name, column in zip(("text", "audio", "vision"), intensities.T):
        assert figures[name]["mean"] == pytest.approx(float(column.mean()), abs=1e-5)
        assert figures[name]["saturated_share"] == pytest.approx(float((np.abs(column) >= SIG_BOUND_LEVEL).mean()))
        assert figures[name]["pearson_abs_y"] == pytest.approx(float(np.corrcoef(np.abs(column), labels)[0, 1]),
                                                               abs=1e-4)
    assert figures["logged_during_training"] is None  # saved without a trainer_state.json


def test_unimodal_labels_give_each_modality_its_own_correlation(tmp_path):
    data = generate_default_dataset(SIMSLikeConfig(train_size=24, validation_size=8, test_size=40, train_speakers=3,
                                                   validation_speakers=2, test_speakers=4, text_dim=16, vision_dim=6,
                                                   max_audio_length=8, max_vision_length=8, min_audio_length=2,
                                                   min_vision_length=2))
    data.save_to_disk(tmp_path / "sims")
    config = LMFConfig(**helpers.TINY_BACKBONES["lmf"], text_dim=16, audio_dim=33, vision_dim=6, augmentation="msmix",
                       label_min=-1.0, label_max=1.0)
    torch.manual_seed(0)
    LMFModel(config).save_pretrained(tmp_path / "model")
    figures = main(["--model", str(tmp_path / "model"), "--dataset", str(tmp_path / "sims"), "--batch_size", "8"])

    model = LMFModel.from_pretrained(tmp_path / "model").eval()
    test = data["test"].with_format("torch")
    batch = MSMixDataCollator(return_mix_seed=False)([test[i] for i in range(len(test))])
    batch.pop("labels")
    own = batch.pop(UNIMODAL_LABELS_KEY).abs().numpy()
    with torch.no_grad():
        intensities = model(**batch).intensities.numpy()
    for index, name in enumerate(("text", "audio", "vision")):
        expected = float(np.corrcoef(np.abs(intensities[:, index]), own[:, index])[0, 1])
        assert figures[name]["pearson_abs_y_own"] == pytest.approx(expected, abs=1e-4)
        assert figures[name]["pearson_abs_y_own"] != pytest.approx(figures[name]["pearson_abs_y"], abs=1e-6)


def test_logged_mixing_statistics_are_averaged_over_the_steps_that_logged_them(tmp_path):
    history = [{"loss": 1.0, "msmix_sass_above_threshold": 0.9, "msmix_ratio_text": 0.4},
               {"loss": 0.8, "msmix_sass_above_threshold": 0.7}, {"eval_MAE": 0.9}]
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    assert logged_statistics(str(tmp_path)) == pytest.approx({"msmix_ratio_text": 0.4,
                                                              "msmix_sass_above_threshold": 0.8})


def test_a_model_without_msmix_is_refused_by_name(tmp_path):
    config = LMFConfig(**helpers.TINY_BACKBONES["lmf"], text_dim=16, audio_dim=5, vision_dim=6, augmentation="mixup")
    LMFModel(config).save_pretrained(tmp_path / "mixup")
    with pytest.raises(SystemExit, match="augmentation 'mixup'"):
        main(["--model", str(tmp_path / "mixup"), "--dataset", str(tmp_path / "unused")])


def test_course_of_training_reads_the_last_epoch_and_the_best_one(tmp_path):
    assert training_course(str(tmp_path)) is None
    history = [{"loss": 1.2, "epoch": 0.5}, {"loss": 1.0, "epoch": 1.0}, {"eval_MAE": 0.95, "epoch": 1.0},
               {"loss": 0.7, "epoch": 1.5}, {"loss": 0.5, "epoch": 2.0}, {"eval_MAE": 0.90, "epoch": 2.0},
               {"loss": 0.4, "epoch": 2.5}, {"loss": 0.2, "epoch": 3.0}, {"eval_MAE": 0.97, "epoch": 3.0}]
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    assert training_course(str(tmp_path)) == {"best_epoch": 2.0, "last_epoch": 3.0, "last_epoch_training_loss": 0.3,
                                              "last_epoch_validation_MAE": 0.97}
