"""MS-Mix's health check: the findings by hand, the summary, the warnings of a saturating run, the model card."""

import importlib.util
import logging
from pathlib import Path

import pytest

from data_processing.schema import read_metadata
from data_processing.synthetic import MOSILikeConfig, generate_default_dataset
from trainer.model_card import build_model_card
from modeling_msmix import LMFConfig, LMFModel
from trainer.msmix_health import MSMixHealthCallback, health_findings, health_summary, summary_line
from trainer.msmix_trainer import MSMixTrainer

_spec = importlib.util.spec_from_file_location("trainer_helpers", Path(__file__).with_name("trainer_helpers.py"))
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

HEALTHY = {"msmix_bound_share_text": 0.0, "msmix_bound_share_audio": 0.1, "msmix_bound_share_vision": 0.5,
           "msmix_intensity_spread_text": 1.2, "msmix_intensity_spread_audio": 0.05,
           "msmix_intensity_spread_vision": 0.4, "msmix_sass_above_threshold": 0.9}


def test_findings_by_hand():
    assert health_findings(HEALTHY, step=3) == []  # every figure sits exactly at its limit, which is allowed
    sick = {**HEALTHY, "msmix_bound_share_text": 0.97, "msmix_intensity_spread_audio": 0.004,
            "msmix_sass_above_threshold": 0.93}
    findings = health_findings(sick, step=40)
    assert [(f.key, f.figure, f.step) for f in findings] == [
        ("at_bound:text", 0.97, 40), ("collapsed:audio", 0.004, 40), ("random_partners", 0.93, 40)]
    messages = [f.message() for f in findings]
    assert "text SIG is at the tanh bound for 97 % of the batch" in messages[0]
    assert "audio SIG's |I| collapsed to 0.004" in messages[1]
    assert "SASS passes 93 % of the pairs" in messages[2] and "acting like random Mixup" in messages[2]
    assert health_findings({"loss": 1.0}, step=1) == []
    # With intensity-scale ratios near-equal intensities mix at 1/2: a small spread is no problem there.
    assert [f.key for f in health_findings(sick, step=40, ratio_weights="intensity_scale")] == [
        "at_bound:text", "random_partners"]


def test_summary_means_and_counts():
    history = [{**HEALTHY, "step": 10, "loss": 1.0},
               {**HEALTHY, "msmix_bound_share_text": 1.0, "msmix_sass_above_threshold": 0.95, "step": 20},
               {"eval_MAE": 0.9, "step": 20}]
    summary = health_summary(history)
    assert summary["logs"] == 2
    assert summary["bound_share"]["text"] == pytest.approx(0.5)
    assert summary["intensity_spread"]["audio"] == pytest.approx(0.05)
    assert summary["sass_above_threshold"] == pytest.approx(0.925)
    assert summary["flagged"] == {"at_bound:text": 1, "random_partners": 1}
    assert summary_line(summary) == "MS-Mix health over 2 training logs: at_bound text in 1, random_partners in 1"
    assert health_summary([{"loss": 1.0}]) is None


def train_few_steps(tmp_path, **settings):
    """40 steps of a default-size LMF + MS-Mix on a small MOSI-like dataset (lr 1e-3, batch 64)."""
    data = generate_default_dataset(MOSILikeConfig(train_size=256, validation_size=16, test_size=16, train_speakers=12,
                                                   validation_speakers=2, test_speakers=2)).with_format("torch")
    config = LMFConfig(augmentation="msmix", **settings)
    config.apply_dataset_metadata(read_metadata(data).to_dict())
    args = helpers.tiny_training_args(tmp_path / "run", logging_steps=4, num_train_epochs=10, learning_rate=1e-3,
                                      per_device_train_batch_size=64)
    trainer = MSMixTrainer(model=LMFModel(config), args=args, train_dataset=data["train"])
    trainer.train()
    health = next(c for c in trainer.callback_handler.callbacks if isinstance(c, MSMixHealthCallback))
    return trainer, health


def test_paper_setting_saturates_and_is_warned_about(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="trainer.msmix_health"):
        trainer, health = train_few_steps(tmp_path, sal_target="batch_softmax", sig_ratio_weights="batch_minmax",
                                          sass_threshold_quantile=None, sal_weight=500.0)
    keys = {finding.key for finding in health.findings}
    assert "at_bound:text" in keys, health.findings
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert sum("text SIG is at the tanh bound" in message for message in warnings) == 1  # once per problem
    assert any(message.startswith("MS-Mix health over 10 training logs: at_bound text in") for message in warnings)
    card = str(build_model_card(trainer.model.config, mixing_health=health_summary(trainer.state.log_history)))
    assert "## MS-Mix health during training" in card
    assert "Flagged logs: at_bound text" in card


def test_default_setting_stays_healthy_and_silent(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="trainer.msmix_health"):
        trainer, health = train_few_steps(tmp_path)
    assert health.findings == []
    assert not [r for r in caplog.records if r.name == "trainer.msmix_health" and r.levelno >= logging.WARNING]
    summary = health_summary(trainer.state.log_history, trainer.model.config.sig_ratio_weights)
    assert "No log was flagged." in str(build_model_card(trainer.model.config, mixing_health=summary))


def test_health_check_can_be_turned_off(tmp_path):
    data = generate_default_dataset(helpers.TINY_DATA).with_format("torch")
    config = LMFConfig(augmentation="msmix")
    config.apply_dataset_metadata(read_metadata(data).to_dict())
    args = helpers.tiny_training_args(tmp_path / "run", msmix_health_check=False)
    trainer = MSMixTrainer(model=LMFModel(config), args=args, train_dataset=data["train"])
    assert not any(isinstance(c, MSMixHealthCallback) for c in trainer.callback_handler.callbacks)
    none_config = LMFConfig(augmentation="none")
    none_config.apply_dataset_metadata(read_metadata(data).to_dict())
    plain = MSMixTrainer(model=LMFModel(none_config), args=helpers.tiny_training_args(tmp_path / "none"),
                         train_dataset=data["train"])
    assert not any(isinstance(c, MSMixHealthCallback) for c in plain.callback_handler.callbacks)
