"""Each loss part's gradient norm by parameter group: hand-computed on a toy model, logged by the trainer."""


import pytest
import torch
from torch import nn

import trainer_helpers as helpers
from data_processing.schema import read_metadata
from data_processing.synthetic import generate_default_dataset
from modeling_msmix import LMFConfig, LMFModel
from modeling_msmix.augmentations import resolve_augmentation
from trainer.gradient_shares import gradient_shares, loss_part_gradient_norms, parameter_groups
from trainer.msmix_trainer import MSMixTrainer


class Toy(nn.Module):
    """A shared weight w (two entries) and an augmentation with its own weight v."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([2.0, -1.0]))
        self.augmentation = nn.Linear(1, 1, bias=False)
        with torch.no_grad():
            self.augmentation.weight.fill_(3.0)


def test_norms_and_shares_by_hand():
    toy = Toy()
    x, y = torch.tensor([1.0, 2.0]), torch.tensor(1.0)
    v = toy.augmentation.weight.reshape(())
    task = (toy.w @ x - y) ** 2  # (2 - 2 - 1)^2 = 1; d/dw = 2 (w.x - y) x = [-2, -4]
    sal = v ** 2 * toy.w.sum()  # d/dw = v^2 [1, 1] = [9, 9]; d/dv = 2 v sum(w) = 6
    groups = parameter_groups(toy)
    assert [len(groups["shared"]), len(groups["sig"])] == [1, 1]
    norms = loss_part_gradient_norms({"task": task, "sal": sal, "fixed": torch.tensor(0.5)}, groups)
    expected = {"shared_task": 20 ** 0.5, "sig_task": 0.0, "shared_sal": 162 ** 0.5, "sig_sal": 6.0,
                "shared_fixed": 0.0, "sig_fixed": 0.0}
    assert {key: float(value) for key, value in norms.items()} == pytest.approx(expected)
    (task + sal).backward()  # the graph was kept for the step's own backward
    assert toy.w.grad.tolist() == [7.0, 5.0]
    shares = gradient_shares(norms)
    total = 20 ** 0.5 + 162 ** 0.5
    assert shares == pytest.approx({"shared_task": 20 ** 0.5 / total, "shared_sal": 162 ** 0.5 / total,
                                    "shared_fixed": 0.0, "sig_task": 0.0, "sig_sal": 1.0, "sig_fixed": 0.0})


def test_a_model_without_mixing_parameters_has_only_the_shared_group():
    assert list(parameter_groups(nn.Linear(2, 1))) == ["shared"]


def train_logged(tmp_path, augmentation: str, **changes):
    """12 steps of LMF on tiny data, logging every 4 steps."""
    data = generate_default_dataset(helpers.TINY_DATA).with_format("torch")
    base, settings = resolve_augmentation(augmentation)
    config = LMFConfig(augmentation=base.name, **settings)
    config.apply_dataset_metadata(read_metadata(data).to_dict())
    args = helpers.tiny_training_args(tmp_path / augmentation.replace(":", "_"), logging_steps=4, max_steps=12,
                                      per_device_train_batch_size=8, **changes)
    trainer = MSMixTrainer(model=LMFModel(config), args=args, train_dataset=data["train"])
    trainer.train()
    return [entry for entry in trainer.state.log_history if "loss" in entry]


def test_trainer_logs_norms_on_logged_steps_and_stop_gradient_keeps_sal_off_the_encoders(tmp_path):
    paper = train_logged(tmp_path, "msmix")
    assert len(paper) == 3
    for entry in paper:
        assert {"grad_norm_shared_task", "grad_norm_shared_mixed", "grad_norm_shared_sal", "grad_norm_sig_sal",
                "grad_share_shared_task"} <= set(entry)
        assert entry["grad_norm_sig_task"] == 0.0  # the task never reaches SIG
        assert entry["grad_norm_shared_sal"] > 0.0  # the paper lets SAL reach the encoders through SIG
        shares = [value for key, value in entry.items() if key.startswith("grad_share_shared_")]
        assert sum(shares) == pytest.approx(1.0)
    stopped = train_logged(tmp_path, "msmix:stop_gradient")
    for entry in stopped:
        assert entry["grad_norm_shared_sal"] == 0.0 and entry["grad_norm_sig_sal"] > 0.0
        assert entry["grad_norm_sig_mixed"] == 0.0  # detached ratios: the mixed loss trains no SIG
    assert not any("grad_norm_shared_task" in entry for entry in train_logged(tmp_path, "none"))
    off = train_logged(tmp_path, "msmix:no_sig", loss_gradient_norms=False)
    assert not any(key.startswith(("grad_norm_", "grad_share_")) for entry in off for key in entry)


def test_gradient_balance_command_prints_the_task_share_at_initialisation(tmp_path, capsys):
    from benchmarks.gradient_balance import main

    folder = helpers.save_tiny_dataset(tmp_path / "data")
    figures = main(["--dataset", str(folder), "--augmentations", "mixup", "msmix", "msmix:stop_gradient",
                    "--batch_size", "16"])
    assert figures["msmix:stop_gradient"]["shared_sal"] == 0.0 and figures["msmix"]["shared_sal"] > 0.0
    mixup = figures["mixup"]
    assert mixup["task_share"] == pytest.approx(mixup["shared_task"] / (mixup["shared_task"] + mixup["shared_mixed"]))
    assert f"| mixup | {mixup['shared_task']:.3g} | {mixup['shared_mixed']:.3g} | - | - | - | - |" in capsys.readouterr().out


def test_clipping_per_group_clips_the_shared_and_the_mixing_parameters_apart(tmp_path):
    data = generate_default_dataset(helpers.TINY_DATA).with_format("torch")
    config = LMFConfig(augmentation="msmix", sig_stop_gradient=True, ratio_stop_gradient=True)
    config.apply_dataset_metadata(read_metadata(data).to_dict())
    groups = parameter_groups(LMFModel(config))
    sizes = {name: sum(p.numel() for p in group) for name, group in groups.items()}

    def clip(per_group: bool) -> tuple[float, dict[str, float]]:
        model = LMFModel(config)
        args = helpers.tiny_training_args(tmp_path / str(per_group), max_grad_norm=1.0,
                                          clip_grad_norm_per_group=per_group)
        trainer = MSMixTrainer(model=model, args=args, train_dataset=data["train"])
        for name, group in parameter_groups(model).items():  # every entry 0.01 (shared) or 0.1 (SIG)
            for parameter in group:
                parameter.grad = torch.full_like(parameter, 0.01 if name == "shared" else 0.1)
        total = float(trainer._clip_grad_norm(model))
        norms = {name: float(torch.stack([p.grad.norm() for p in group]).norm())
                 for name, group in parameter_groups(model).items()}
        return total, norms

    shared, sig = 0.01 * sizes["shared"] ** 0.5, 0.1 * sizes["sig"] ** 0.5
    assert shared > 1.0 and sig > 1.0
    total, norms = clip(per_group=True)
    # the pre-clip norm, as Trainer reports (float32 sums over ~10^5 entries: relative error 2e-5)
    assert total == pytest.approx((shared ** 2 + sig ** 2) ** 0.5, rel=1e-4)
    assert norms == pytest.approx({"shared": 1.0, "sig": 1.0}, rel=1e-4)
    total, norms = clip(per_group=False)  # Trainer's global clip: SIG's gradient shrinks the shared one
    assert norms["shared"] == pytest.approx(shared / total, rel=1e-4) and norms["sig"] == pytest.approx(sig / total, rel=1e-4)
