"""The augmentation registry: one registration line adds an augmentation everywhere; unread options are refused."""


import pytest
import torch

import trainer_helpers as helpers
from data_processing.schema import MSAMetadata
from modeling_msmix import AUGMENTATIONS, LMFConfig, LMFModel, build_augmentation, register_augmentation
from modeling_msmix.augmentations import PAIR_MIXUP_OPTIONS
from modeling_msmix.mixing_base import MixingModule, MixResult, mix_pairs
from trainer.arguments import DataArguments, ModelArguments
from trainer.experiment import ExperimentArguments, ExperimentTrainingArguments, run_experiment
from trainer.training_run import RunArgumentError, build_config, check_model_arguments

METADATA = MSAMetadata(dataset_kind="mosi", label_min=-3.0, label_max=3.0, text_dim=8, audio_dim=5, vision_dim=6)
TINY_LMF = "text_hidden_dim=8,text_out_dim=8,audio_hidden_dim=4,vision_hidden_dim=4"


class HalfMix(MixingModule):
    """Averages each sample with the next one, scaled by ``half_strength``."""

    def __init__(self, num_mix=None, strength: float = 0.5):
        super().__init__(num_mix)
        self.strength = strength

    @classmethod
    def from_config(cls, config, state_dims):
        return cls(num_mix=config.num_mix, strength=config.half_strength)

    def forward(self, states, labels, draws):
        labels = labels.reshape(-1, 1)
        index1 = torch.arange(labels.shape[0])
        index2 = (index1 + 1) % labels.shape[0]
        lam = torch.full((labels.shape[0],), self.strength)
        return MixResult(mix_pairs(states, index1, index2, (lam, lam, lam)),
                         lam[:, None] * labels[index1] + (1 - lam[:, None]) * labels[index2], index1, index2, lam)


@pytest.fixture
def halfmix():
    register_augmentation("halfmix", HalfMix, ("num_mix", "mixed_loss_weight", "half_strength"), title="HalfMix",
                          defaults={"half_strength": 0.5})
    yield
    AUGMENTATIONS.pop("halfmix")


def test_one_registration_reaches_config_factory_and_cli(halfmix):
    config = LMFConfig(augmentation="halfmix", text_dim=8, vision_dim=6, text_hidden_dim=8, text_out_dim=8)
    assert config.half_strength == 0.5
    module = build_augmentation(config, (8, 32, 32))
    assert isinstance(module, HalfMix) and module.strength == 0.5
    check_model_arguments(ModelArguments("lmf", "halfmix"))
    built = build_config(ModelArguments("lmf", "halfmix", config_overrides=f"{TINY_LMF},half_strength=0.25"), METADATA)
    assert built.augmentation == "halfmix" and built.half_strength == 0.25
    assert LMFConfig.from_dict(built.to_dict()).half_strength == 0.25
    model = LMFModel(built).train()
    output = model(text_features=torch.randn(4, 3, 8), audio_features=torch.randn(4, 2, 5),
                   vision_features=torch.randn(4, 2, 6), labels=torch.tensor([1.0, -1.0, 2.0, 0.0]))
    assert output.loss_parts["mixed"] > 0
    with pytest.raises(RunArgumentError, match="half_strength"):
        build_config(ModelArguments("lmf", "mixup", config_overrides="half_strength=0.3"), METADATA)


def test_unknown_augmentation_lists_the_registered_ones(halfmix):
    with pytest.raises(RunArgumentError, match=r"'cutmix' is not one of .*'halfmix'.*'msmix:no_sal'"):
        check_model_arguments(ModelArguments("lmf", "cutmix"))
    with pytest.raises(ValueError, match="augmentation must be one of"):
        LMFConfig(augmentation="cutmix")


def test_registration_mistakes_are_refused():
    with pytest.raises(ValueError, match="may not contain ':'"):
        register_augmentation("mix:up", HalfMix)
    with pytest.raises(ValueError, match=r"defaults \['strength'\]"):
        register_augmentation("halfmix", HalfMix, PAIR_MIXUP_OPTIONS, defaults={"strength": 0.5})
    assert "halfmix" not in AUGMENTATIONS


@pytest.mark.parametrize(("augmentation", "override", "reader"), [
    ("mixup", "polarity_aware=true", "msmix"), ("none", "alpha=1.0", "mixup"), ("msmix", "advmixup_epsilon=0.2",
                                                                               "advmixup")])
def test_an_option_the_augmentation_does_not_read_is_refused_by_name(augmentation, override, reader):
    key = override.split("=")[0]
    with pytest.raises(RunArgumentError, match=rf"does not read \['{key}'\].*read only by \[.*'{reader}'"):
        build_config(ModelArguments("lmf", augmentation, config_overrides=override), METADATA)


def test_options_the_augmentation_reads_and_backbone_sizes_pass():
    config = build_config(ModelArguments("lmf", "msmix", config_overrides=f"{TINY_LMF},polarity_aware=true,alpha=1"),
                          METADATA)
    assert config.polarity_aware is True and config.alpha == 1 and config.text_hidden_dim == 8


def test_experiment_refuses_an_option_no_compared_augmentation_reads(tmp_path):
    dataset = helpers.save_tiny_dataset(tmp_path / "data")
    arguments = ExperimentArguments(backbones=["lmf"], augmentations=["none", "mixup"],
                                    config_overrides="threshold=0.3")
    training = ExperimentTrainingArguments(output_dir=str(tmp_path), report_to="none")
    with pytest.raises(RunArgumentError, match=r"does not read \['threshold'\]"):
        run_experiment(arguments, DataArguments(dataset=str(dataset)), training)
