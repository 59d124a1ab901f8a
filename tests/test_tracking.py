"""Tracking: the loss parts and the MS-Mix statistics of every logging step reach TensorBoard's event files."""

import json

import numpy as np
import pytest
from datasets import load_from_disk
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import trainer_helpers as helpers
from data_processing.schema import read_metadata
from modeling_msmix import LMFConfig, LMFModel
from trainer.msmix_trainer import MSMixTrainer

STATISTICS = ("ratio_text", "ratio_audio", "ratio_vision", "sass_above_threshold",
              "intensity_text", "intensity_audio", "intensity_vision", "pair_label_distance", "batch_label_distance")


def test_loss_parts_and_msmix_statistics_reach_tensorboard(tmp_path):
    dataset = load_from_disk(str(helpers.save_tiny_dataset(tmp_path / "tiny"))).with_format("torch")
    config = LMFConfig(augmentation="msmix")
    config.apply_dataset_metadata(read_metadata(dataset).to_dict())
    for setting in helpers.TINY_LMF.split(","):
        name, value = setting.split("=")
        setattr(config, name, int(value))
    args = helpers.tiny_training_args(tmp_path / "run", report_to=["tensorboard"], logging_steps=2)
    trainer = MSMixTrainer(model=LMFModel(config), args=args, train_dataset=dataset["train"])
    trainer.train()
    trainer.callback_handler.call_event("on_train_end", args, trainer.state, trainer.control)

    events = EventAccumulator(str(next((tmp_path / "run").rglob("events.out.tfevents.*")).parent))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    expected = {f"train/loss_{part}" for part in ("task", "mixed", "sal")} | {f"train/msmix_{s}" for s in STATISTICS}
    assert expected <= tags, sorted(expected - tags)

    logged = [entry for entry in trainer.state.log_history if "msmix_ratio_text" in entry]
    assert len(logged) == 4  # 8 steps (64 rows, batch 16, 2 epochs), logged every 2
    for name in STATISTICS:
        scalars = events.Scalars(f"train/msmix_{name}")
        assert [s.step for s in scalars] == [entry["step"] for entry in logged]
        np.testing.assert_allclose([s.value for s in scalars], [entry[f"msmix_{name}"] for entry in logged], rtol=1e-6)
    for entry in logged:
        for modality in ("text", "audio", "vision"):
            assert 0.0 < entry[f"msmix_ratio_{modality}"] < 1.0
            assert -3.0 < entry[f"msmix_intensity_{modality}"] < 3.0
        assert 0.0 <= entry["msmix_sass_above_threshold"] <= 1.0
        parts = entry["loss_task"] + entry["loss_mixed"] + entry["loss_sal"]
        assert abs(parts - entry["loss"]) < 1e-3 * max(1.0, entry["loss"])
    assert json.loads(json.dumps(trainer.state.log_history))  # plain floats, storable in trainer_state.json


def test_mixing_statistics_by_hand():
    import torch

    from modeling_msmix.mixing_msmix import mixing_statistics

    similarity = torch.tensor([[0.0, 0.9, 0.2], [0.5, 0.0, 0.41], [0.4, 0.1, 0.0]])
    lambdas = (torch.tensor([0.2, 0.4]), torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0]))
    intensities = torch.tensor([[1.0, -2.0, 0.0], [2.0, 0.0, 0.5], [-2.95, 1.0, -0.5]])
    computed = mixing_statistics(similarity, 0.4, lambdas, intensities)
    statistics = {name: float(value) for name, value in computed.items()}
    assert statistics == pytest.approx({
        "sass_above_threshold": 3 / 6,  # 0.9, 0.5, 0.41 exceed 0.4 (0.4 itself does not); the diagonal never counts
        "ratio_text": 0.3, "ratio_audio": 0.5, "ratio_vision": 0.5,
        "intensity_text": 0.05 / 3, "intensity_audio": -1 / 3, "intensity_vision": 0.0,
        "bound_share_text": 1 / 3, "bound_share_audio": 0.0, "bound_share_vision": 0.0,  # only |-2.95| >= 2.9
        "intensity_spread_text": 1.95, "intensity_spread_audio": 2.0, "intensity_spread_vision": 0.5,
    })
    present = torch.tensor([[True, False, True], [True, True, True], [True, True, False]])
    masked = {name: float(value) for name, value in
              mixing_statistics(None, 0.4, lambdas, intensities, present).items()}
    assert "sass_above_threshold" not in masked
    assert masked["intensity_spread_audio"] == pytest.approx(1.0)  # rows 1 and 2 only: |0| and |1|
    assert masked["intensity_spread_vision"] == pytest.approx(0.5)  # rows 0 and 1 only
    assert masked["bound_share_text"] == pytest.approx(1 / 3)
