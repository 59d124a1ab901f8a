"""MS-Mix's health check: the findings by hand, the summary, the warnings of a saturating run, the model card."""

import logging

import pytest

import trainer_helpers as helpers
from data_processing.schema import read_metadata
from data_processing.synthetic import MOSILikeConfig, generate_default_dataset
from modeling_msmix import LMFConfig, LMFModel
from modeling_msmix.augmentations import RECOMMENDED_MSMIX, resolve_augmentation
from trainer.model_card import build_model_card
from trainer.msmix_health import (
    TASK_SHARE_FLOOR,
    TRAIN_MEAN_EVALUATIONS,
    MSMixHealthCallback,
    health_findings,
    health_summary,
    not_learning_finding,
    summary_line,
)
from trainer.msmix_trainer import MSMixTrainer

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
        trainer, health = train_few_steps(tmp_path)  # `msmix` is the paper's setting
    keys = {finding.key for finding in health.findings}
    assert {"at_bound:text", "task_starved"} <= keys, health.findings
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert sum("text SIG is at the tanh bound" in message for message in warnings) == 1  # once per problem
    starved = [message for message in warnings if "of the gradient norm on the shared parameters" in message]
    assert len(starved) == 1 and f"--augmentation {RECOMMENDED_MSMIX}" in starved[0]
    assert any(message.startswith("MS-Mix health over 10 training logs: at_bound text in") for message in warnings)
    summary = health_summary(trainer.state.log_history)
    assert summary["flagged"]["task_starved"] >= 3
    card = str(build_model_card(trainer.model.config, mixing_health=summary))
    assert "## MS-Mix health during training" in card
    assert "Flagged logs: at_bound text" in card
    assert f"| task | {100 * summary['gradient_shares']['shared_task']:.1f} % |" in card


def test_recommended_setting_stays_healthy_and_silent(tmp_path, caplog):
    settings = resolve_augmentation(RECOMMENDED_MSMIX)[1]
    with caplog.at_level(logging.WARNING, logger="trainer.msmix_health"):
        trainer, health = train_few_steps(tmp_path, **settings)
    assert health.findings == []
    assert not [r for r in caplog.records if r.name == "trainer.msmix_health" and r.levelno >= logging.WARNING]
    summary = health_summary(trainer.state.log_history, trainer.model.config.sig_ratio_weights)
    assert summary["gradient_norms"]["shared_sal"] == 0.0  # SAL cannot reach the encoders and the fusion
    assert summary["gradient_shares"]["shared_task"] >= TASK_SHARE_FLOOR
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


def evaluation_log(number: int, mae: float, train_mean: float = 1.0) -> dict:
    return {"eval_MAE": mae, "eval_train_mean_MAE": train_mean, "step": 10 * number, "epoch": float(number)}


def test_not_learning_is_found_evaluations_after_the_warm_up_by_hand():
    n = TRAIN_MEAN_EVALUATIONS
    falling_sal = [{"loss": 2.0, "loss_sal": 1.0, "step": 5}, {"loss": 1.9, "loss_sal": 0.95, "step": 10 * n - 5}]
    stuck = [evaluation_log(k, 0.98) for k in range(1, n + 1)]  # 2 % below the train-mean level: not left (margin 3 %)
    finding = not_learning_finding(falling_sal + stuck)
    assert (finding.key, finding.figure, finding.step) == ("not_learning", 0.98, 10 * n)
    assert finding.details == {"train_mean_MAE": 1.0, "part": "sal", "first": 1.0, "last": 0.95}
    message = finding.message()
    assert "best 0.980; predicting the training mean gives 1.000" in message and "loss_sal fell from 1 to 0.95" in message
    assert not_learning_finding(falling_sal + stuck[:-1]) is None  # too early to tell
    left = stuck[:3] + [evaluation_log(4, 0.969)] + stuck[4:]  # 3.1 % below once: it has left
    assert not_learning_finding(falling_sal + left) is None
    flat_sal = [{"loss_sal": 1.0, "step": 5}, {"loss_sal": 0.951, "step": 45}]  # fell by 4.9 % only
    assert not_learning_finding(flat_sal + stuck) is None
    no_sal = [{"loss_mixed": 0.8, "step": 5}, {"loss_mixed": 0.5, "step": 45}]  # the mixed loss stands in for SAL
    assert not_learning_finding(no_sal + stuck).details["part"] == "mixed"
    assert health_summary([{**HEALTHY, "step": 5}, *falling_sal, *stuck])["flagged"] == {"not_learning": 1}
    # Counted from the end of the warm-up (the highest logged learning rate, here at step 25, or given).
    warm = [{"learning_rate": 0.5, "step": 15}, {"learning_rate": 1.0, "step": 25}, {"learning_rate": 0.9, "step": 35}]
    assert not_learning_finding(warm + falling_sal + stuck) is None
    later = [evaluation_log(k, 0.98) for k in range(1, n + 3)]
    assert not_learning_finding(warm + falling_sal + later).step == 10 * (n + 2)
    assert not_learning_finding(falling_sal + later, warmup_steps=10).step == 10 * (n + 1)


def test_task_starved_counts_logs_below_the_floor():
    history = [{**HEALTHY, "step": 10, "grad_share_shared_task": 0.05, "grad_share_shared_sal": 0.95},
               {**HEALTHY, "step": 20, "grad_share_shared_task": 0.1, "grad_share_shared_sal": 0.9}]
    summary = health_summary(history)
    assert summary["flagged"] == {"task_starved": 1}  # 10 % is the floor itself, allowed
    assert summary["gradient_shares"] == {"shared_task": pytest.approx(0.075), "shared_sal": pytest.approx(0.925)}
