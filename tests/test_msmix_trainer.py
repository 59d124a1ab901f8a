"""MSMixTrainer: logged loss parts, no mixing in evaluation, MSA metrics, learning, resuming."""


import numpy as np
import pytest
import torch

import trainer_helpers as helpers
from trainer.arguments import DataArguments, ModelArguments
from trainer.metrics import compute_msa_metrics
from trainer.msmix_trainer import MSMixTrainer
from trainer.training_run import build_collator, build_config, build_model, load_training_data


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = helpers.save_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny")
    return load_training_data(DataArguments(dataset=str(folder)))


def make_trainer(data, output_dir, augmentation="msmix", seed=7, **changes):
    model_args = ModelArguments(backbone="lmf", augmentation=augmentation, config_overrides=helpers.TINY_LMF)
    torch.manual_seed(seed)
    model = build_model(model_args, build_config(model_args, data.metadata))
    args = helpers.tiny_training_args(output_dir, seed=seed, **changes)
    return MSMixTrainer(
        model=model,
        args=args,
        data_collator=build_collator(DataArguments(), seed),
        train_dataset=data.dataset["train"],
        eval_dataset=data.dataset["validation"],
    )


def training_logs(trainer):
    return [entry for entry in trainer.state.log_history if "loss" in entry]


@pytest.mark.parametrize("accumulation", [1, 2])
def test_logged_loss_is_the_sum_of_logged_parts(data, tmp_path, accumulation):
    trainer = make_trainer(data, tmp_path, gradient_accumulation_steps=accumulation, logging_steps=2)
    trainer.train()
    logs = training_logs(trainer)
    assert len(logs) == 4 // accumulation
    for entry in logs:
        parts = {key: value for key, value in entry.items() if key.startswith("loss_")}
        assert set(parts) == {"loss_task", "loss_mixed", "loss_sal"}
        assert all(value > 0 for value in parts.values())
        assert entry["loss"] == pytest.approx(sum(parts.values()), rel=1e-5)


def test_compute_loss_returns_the_model_loss_and_accumulates_its_parts(data, tmp_path):
    trainer = make_trainer(data, tmp_path)
    batch = trainer.data_collator(data.dataset["train"].__getitems__(list(range(16))))
    trainer.model.train()
    loss, outputs = trainer.compute_loss(trainer.model, batch, return_outputs=True)
    assert loss is outputs.loss
    logged = trainer._pop_loss_parts()
    parts = {key: value for key, value in logged.items() if key.startswith("loss_")}
    assert parts == pytest.approx({f"loss_{k}": v.item() for k, v in outputs.loss_parts.items()})
    assert sum(parts.values()) == pytest.approx(loss.item(), rel=1e-6)
    statistics = {key: value for key, value in logged.items() if not key.startswith("loss_")}
    assert statistics == pytest.approx({f"msmix_{k}": v.item() for k, v in outputs.mix_statistics.items()})
    assert trainer._pop_loss_parts() == {}


def test_evaluation_and_prediction_never_mix(data, tmp_path):
    trainer = make_trainer(data, tmp_path)
    first = trainer.predict(data.dataset["test"])
    second = trainer.predict(data.dataset["test"])
    assert first.predictions.shape == (24, 1)
    np.testing.assert_array_equal(first.predictions, second.predictions)
    batch = trainer.data_collator(data.dataset["test"].__getitems__(list(range(24))))
    trainer.model.eval()
    with torch.no_grad():
        direct = trainer.model(**batch)
    np.testing.assert_allclose(first.predictions, direct.logits.numpy(), rtol=1e-5, atol=1e-6)
    assert first.metrics["test_loss"] == pytest.approx(direct.loss.item(), rel=1e-5)
    assert set(direct.loss_parts) == {"task"}
    expected = compute_msa_metrics(first.predictions, data.labels("test"), "mosi")
    for name, value in expected.items():
        assert first.metrics[f"test_{name}"] == pytest.approx(value, nan_ok=True)


def test_short_training_lowers_the_validation_loss(data, tmp_path):
    trainer = make_trainer(data, tmp_path, augmentation="none", num_train_epochs=12, learning_rate=2e-2)
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    after = trainer.evaluate()["eval_loss"]
    assert after < 0.8 * before


def test_resuming_from_a_checkpoint_continues_the_same_run(data, tmp_path):
    settings = dict(num_train_epochs=2, save_strategy="steps", save_steps=3, save_total_limit=None)
    uninterrupted = make_trainer(data, tmp_path / "full", **settings)
    uninterrupted.train()
    assert (tmp_path / "full" / "checkpoint-3").is_dir()

    resumed = make_trainer(data, tmp_path / "resumed", seed=7, **settings)
    resumed.train(resume_from_checkpoint=str(tmp_path / "full" / "checkpoint-3"))
    assert resumed.state.global_step == uninterrupted.state.global_step == 8
    for name, value in uninterrupted.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=1e-6, atol=1e-7, msg=name)
    assert training_logs(resumed)[-1]["loss"] == pytest.approx(training_logs(uninterrupted)[-1]["loss"], rel=1e-6)
