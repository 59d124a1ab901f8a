"""C-Mixup's partner kernel by hand, its draws and its config option; the partners' label distance it and MS-Mix log."""

import math

import pytest
import torch

from modeling_msmix import LMFConfig, build_augmentation
from modeling_msmix.mixing_base import RandomDraws, label_distance_statistics
from modeling_msmix.mixing_cmixup import CMixup, draw_partners, partner_probabilities
from modeling_msmix.mixing_msmix import MSMix


def states(batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return tuple(torch.randn(batch_size, dim, generator=generator) for dim in (4, 3, 2))


def test_partner_probabilities_follow_the_gaussian_kernel_by_hand():
    probabilities = partner_probabilities(torch.tensor([[0.0], [1.0], [3.0]]), bandwidth=1.0)
    # row 0: exp(-1/2) for y=1, exp(-9/2) for y=3; row 1: exp(-1/2), exp(-2); row 2: exp(-9/2), exp(-2)
    expected = torch.tensor([
        [0.0, math.exp(-0.5), math.exp(-4.5)],
        [math.exp(-0.5), 0.0, math.exp(-2.0)],
        [math.exp(-4.5), math.exp(-2.0), 0.0],
    ], dtype=torch.float64)
    torch.testing.assert_close(probabilities, expected / expected.sum(dim=1, keepdim=True))
    wide = partner_probabilities(torch.tensor([0.0, 1.0, 3.0]), bandwidth=2.0)  # 2 h^2 = 8
    assert wide[0, 1] / wide[0, 2] == pytest.approx(math.exp(-1 / 8 + 9 / 8))


def test_far_labels_never_underflow_and_the_diagonal_stays_zero():
    probabilities = partner_probabilities(torch.tensor([0.0, 100.0, 250.0]), bandwidth=0.01)
    torch.testing.assert_close(probabilities, torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
                                                           dtype=torch.float64))
    with pytest.raises(ValueError, match="at least 2 samples"):
        partner_probabilities(torch.tensor([1.0]), 1.0)


def test_drawn_partners_match_the_kernel_and_are_never_the_sample_itself():
    labels = torch.tensor([0.0, 0.5, 1.5, -1.0])
    probabilities = partner_probabilities(labels, bandwidth=1.0)
    draws = RandomDraws(torch.Generator().manual_seed(7), torch.device("cpu"))
    count = 40_000
    for row in range(4):
        partners = draw_partners(probabilities, torch.full((count,), row), draws)
        assert not (partners == row).any()
        frequencies = torch.bincount(partners, minlength=4).double() / count
        tolerance = 5 * (probabilities[row] * (1 - probabilities[row]) / count).sqrt() + 1e-12
        assert ((frequencies - probabilities[row]).abs() <= tolerance).all(), (row, frequencies, probabilities[row])


def test_cmixup_is_reproducible_from_its_generator_and_mixes_like_mixup():
    module = CMixup(alpha=2.0, bandwidth=0.5)
    labels = torch.tensor([[2.0], [-1.0], [0.5], [-2.5], [1.5], [-0.5]])
    batch = states(6)

    def mix(seed):
        return module(batch, labels, RandomDraws(torch.Generator().manual_seed(seed), torch.device("cpu")))

    first, again, other = mix(3), mix(3), mix(4)
    torch.testing.assert_close(first.index2, again.index2)
    torch.testing.assert_close(first.label_lambda, again.label_lambda)
    assert not torch.equal(first.index2, other.index2) or not torch.equal(first.label_lambda, other.label_lambda)
    assert first.index1.tolist() == [0, 1, 2, 3, 4, 5] and not (first.index1 == first.index2).any()
    lam = first.label_lambda
    assert torch.all(lam == lam[0])  # one Beta draw per batch, as vanilla Mixup
    torch.testing.assert_close(first.mixed_states[0], lam[0] * batch[0] + (1 - lam[0]) * batch[0][first.index2])
    torch.testing.assert_close(first.mixed_labels, lam[0] * labels + (1 - lam[0]) * labels[first.index2])
    assert first.statistics == label_distance_statistics(labels, first.index1, first.index2)


def test_bandwidth_is_a_config_setting_that_round_trips_and_is_checked():
    config = LMFConfig(augmentation="cmixup", cmixup_bandwidth=0.25)
    restored = LMFConfig.from_dict(config.to_dict())
    module = build_augmentation(restored, (8, 4, 4))
    assert isinstance(module, CMixup) and module.bandwidth == 0.25 and module.alpha == config.alpha
    assert LMFConfig(augmentation="cmixup").cmixup_bandwidth == 1.0
    for bad in (0, -1.0, True, "wide"):
        with pytest.raises(ValueError, match=f"cmixup_bandwidth must be a number > 0, got {bad!r}"):
            LMFConfig(augmentation="cmixup", cmixup_bandwidth=bad)


def test_label_distances_by_hand():
    labels = torch.tensor([[0.0], [1.0], [3.0]])
    statistics = label_distance_statistics(labels, torch.tensor([0, 1, 2]), torch.tensor([1, 0, 1]))
    # pairs |0-1|, |1-0|, |3-1| = 1, 1, 2; all ordered pairs: 1, 3, 2 twice each over 6
    assert {name: float(value) for name, value in statistics.items()} == pytest.approx(
        {"pair_label_distance": 4 / 3, "batch_label_distance": 2.0})


def test_msmix_logs_its_partners_label_distance():
    module = MSMix((4, 3, 2), num_heads=1)
    labels = torch.tensor([[2.0], [-1.0], [0.5], [-2.5], [1.5]])
    result = module(states(5), labels, RandomDraws(torch.Generator().manual_seed(1), torch.device("cpu")))
    expected = label_distance_statistics(labels, result.index1, result.index2)
    assert {k: result.statistics[k] for k in expected} == expected
    assert float(expected["batch_label_distance"]) == pytest.approx(
        sum(abs(a - b) for a in labels.flatten().tolist() for b in labels.flatten().tolist()) / 20)
