"""The paper's ablations: MS-Mix without SASS, without SIG, without SAL (SPEC section 4 parts switched off)."""

import pytest
import torch

from data_processing.schema import MSAMetadata
from trainer.model_card import build_model_card
from modeling_msmix import LMFConfig, LMFModel, augmentation_of
from modeling_msmix.mixing_base import RandomDraws
from modeling_msmix.mixing_baselines import random_pairs
from modeling_msmix.mixing_msmix import MSMix, modality_similarity, normalise_similarity
from trainer.arguments import ModelArguments
from trainer.training_run import RunArgumentError, build_config

METADATA = MSAMetadata(dataset_kind="mosi", label_min=-3.0, label_max=3.0, text_dim=8, audio_dim=5, vision_dim=6)
TINY_LMF = "text_hidden_dim=8,text_out_dim=8,audio_hidden_dim=4,vision_hidden_dim=4"


def states(seed: int = 0, batch: int = 6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 8, generator=generator), torch.randn(batch, 4, generator=generator),
            torch.randn(batch, 3, 4, generator=generator))


LABELS = torch.tensor([2.0, -1.0, 0.5, -2.5, 1.5, -0.5])


def draws(seed: int) -> RandomDraws:
    return RandomDraws(torch.Generator().manual_seed(seed), torch.device("cpu"))


def test_no_sig_mixes_every_modality_and_the_label_with_the_beta_draw():
    torch.manual_seed(0)
    mix = MSMix((8, 4, 4), use_sig=False)
    z = states()
    result = mix(z, LABELS, draws(3))
    replay = draws(3)
    similarity = normalise_similarity(modality_similarity(z))
    index1, index2 = mix.selector.select(similarity, LABELS.reshape(-1, 1), 6, replay)
    base = replay.beta(2.0, 6)
    torch.testing.assert_close(result.index1, index1)
    torch.testing.assert_close(result.label_lambda, base)
    for state, mixed in zip(z, result.mixed_states):
        weight = base.reshape(-1, *([1] * (state.dim() - 1)))
        torch.testing.assert_close(mixed, weight * state[index1] + (1 - weight) * state[index2])
    assert result.extra_loss > 0  # SAL still trains SIG's predictors


def test_full_msmix_ratios_differ_per_modality_but_no_sig_shares_one():
    torch.manual_seed(0)
    full = MSMix((8, 4, 4))
    result = full(states(), LABELS, draws(3))
    text_ratio = (result.mixed_states[0] - states()[0][result.index2])[:, 0] / (
        states()[0][result.index1] - states()[0][result.index2])[:, 0]
    assert not torch.allclose(text_ratio, result.label_lambda, atol=1e-3)


def test_no_sass_partners_are_the_random_draw_whatever_the_similarity():
    torch.manual_seed(0)
    mix = MSMix((8, 4, 4), use_sass=False)
    expected = random_pairs(6, 6, draws(7))
    for seed in (0, 1):  # other states, other similarities, same partners
        result = mix(states(seed), LABELS, draws(7))
        torch.testing.assert_close(result.index1, expected[0])
        torch.testing.assert_close(result.index2, expected[1])
        assert bool((result.index1 != result.index2).all())
    sass = MSMix((8, 4, 4))(states(0), LABELS, draws(7))
    assert not torch.equal(sass.index2, expected[1])


def test_switches_that_cannot_combine_are_refused():
    with pytest.raises(ValueError, match="polarity_aware.*use_sass"):
        MSMix((8, 4, 4), use_sass=False, polarity_aware=True)
    with pytest.raises(ValueError, match="reference_mode"):
        MSMix((8, 4, 4), use_sig=False, reference_mode=True)


@pytest.mark.parametrize(("name", "field", "value"), [
    ("msmix:no_sass", "use_sass", False), ("msmix:no_sig", "use_sig", False), ("msmix:no_sal", "sal_weight", 0.0)])
def test_variant_names_set_the_switch_on_an_msmix_config(name, field, value):
    config = build_config(ModelArguments("lmf", name, config_overrides=TINY_LMF), METADATA)
    assert config.augmentation == "msmix" and getattr(config, field) == value
    assert LMFConfig.from_dict(config.to_dict()).to_dict()[field] == value
    assert augmentation_of(config) == name


def test_no_sal_gives_a_zero_sal_part_and_msmix_a_positive_one():
    batch = {"text_features": torch.randn(6, 3, 8), "audio_features": torch.randn(6, 4, 5),
             "vision_features": torch.randn(6, 2, 6), "labels": LABELS}
    parts = {}
    for name in ("msmix", "msmix:no_sal"):
        torch.manual_seed(0)
        model = LMFModel(build_config(ModelArguments("lmf", name, config_overrides=TINY_LMF), METADATA)).train()
        parts[name] = model(**batch, mix_seed=torch.tensor(2)).loss_parts
    assert parts["msmix"]["sal"] > 0
    assert parts["msmix:no_sal"]["sal"] == 0
    assert parts["msmix:no_sal"]["mixed"] > 0


def test_an_override_that_contradicts_the_variant_is_refused():
    with pytest.raises(RunArgumentError, match="sal_weight"):
        build_config(ModelArguments("lmf", "msmix:no_sal", config_overrides="sal_weight=100"), METADATA)


def test_model_card_names_the_ablation():
    config = build_config(ModelArguments("lmf", "msmix:no_sal", config_overrides=TINY_LMF), METADATA)
    assert "MS-Mix without SAL (sal_weight=0)" in str(build_model_card(config))
    full = build_config(ModelArguments("lmf", "msmix", config_overrides=TINY_LMF), METADATA)
    assert "MS-Mix without" not in str(build_model_card(full)) and "MS-Mix" in str(build_model_card(full))
