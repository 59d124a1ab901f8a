"""Tests that catch one-line changes which used to leave the whole suite green.

Each test names the change it guards against: polarity-aware SASS with a label of exactly 0,
``label_scale`` not reaching MS-Mix, ``sal_weight`` or ``mixed_loss_weight`` ignored, and mixing
seeds that repeat across epochs of a real ``MSMixTrainer`` run (also with persistent DataLoader
workers). The extraction cache key ignoring ``text_model`` is guarded in ``test_extraction.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import trainer_helpers as helpers
from data_processing.synthetic import SyntheticConfig, generate_default_dataset
from modeling_msmix import BACKBONES
from modeling_msmix.augmentations import PER_SAMPLE_SAL
from modeling_msmix.mixing_base import RandomDraws
from modeling_msmix.mixing_msmix import MSMix, PartnerSelector, same_polarity
from trainer.collator import MSMixDataCollator, epoch_mix_seed
from trainer.msmix_trainer import MSMixTrainer

SIMS_METADATA = {"dataset_kind": "sims", "label_min": -1.0, "label_max": 1.0,
                 "text_dim": 12, "audio_dim": 5, "vision_dim": 7}


def _tiny_tfn(**settings):
    config_class, model_class = BACKBONES["tfn"]
    config = config_class(text_hidden_dim=8, text_out_dim=8, audio_hidden_dim=4, vision_hidden_dim=4,
                          post_fusion_dim=8, augmentation="msmix", **settings)
    config.apply_dataset_metadata(SIMS_METADATA)
    torch.manual_seed(0)
    return model_class(config).train()


def _batch(size=6, seed=3):
    generator = torch.Generator().manual_seed(seed)
    batch = {f"{name}_features": torch.randn(size, length, dim, generator=generator)
             for name, (length, dim) in {"text": (4, 12), "audio": (5, 5), "vision": (3, 7)}.items()}
    batch["labels"] = torch.tensor([0.9, -0.8, 0.4, -0.3, 0.7, -0.6])[:size]
    return batch


def test_label_zero_counts_as_positive_in_polarity_aware_sass():
    labels = torch.tensor([0.0, 0.5, -0.5, 0.0])
    np.testing.assert_array_equal(same_polarity(labels).numpy(), [[1, 1, 0, 1], [1, 1, 0, 1], [0, 0, 1, 0],
                                                                   [1, 1, 0, 1]])
    selector = PartnerSelector(threshold=0.0, polarity_aware=True)
    similarity = torch.full((4, 4), 0.9).fill_diagonal_(0.0)
    index1, index2 = selector.select(similarity, labels, 8, RandomDraws(torch.Generator().manual_seed(0),
                                                                        torch.device("cpu")))
    pairs = set(zip(index1.tolist(), index2.tolist()))
    assert pairs and all((labels[i] >= 0) == (labels[j] >= 0) for i, j in pairs)
    assert (0, 3) in pairs or (3, 0) in pairs or (0, 1) in pairs  # the zeros pair with the positives


def test_sal_uses_the_label_scale_of_a_sims_config():
    model = _tiny_tfn(sal_weight=1.0)
    assert isinstance(model.augmentation, MSMix) and model.augmentation.label_scale == 1.0
    output = model(**_batch(), mix_seed=5)
    intensities = output.intensities.detach().double().numpy()
    labels = _batch()["labels"].double().numpy()

    def distribution(values):  # softmax over the batch of |u| / R with R = 1, plus 1e-8
        exp = np.exp(np.abs(values) / 1.0)
        return exp / exp.sum() + 1e-8

    target = distribution(labels)
    expected = sum((target * (np.log(target) - np.log(distribution(column)))).sum() / len(labels)
                   for column in intensities.T)
    assert output.loss_parts["sal"].item() == pytest.approx(expected, rel=1e-4)


def test_per_sample_sal_compares_intensities_in_sims_label_units():
    model = _tiny_tfn(**PER_SAMPLE_SAL)  # the per-sample target, weight 1
    output = model(**_batch(), mix_seed=5)
    intensities = output.intensities.detach().double().numpy()
    labels = _batch()["labels"].double().numpy()
    # |I| in (0, 3) is read on the SIMS scale as |I| / 3 against |y| in [0, 1].
    expected = sum(np.abs(np.abs(column) / 3.0 - np.abs(labels)).mean() for column in intensities.T)
    assert output.loss_parts["sal"].item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("part, setting", [("sal", "sal_weight"), ("mixed", "mixed_loss_weight")])
def test_loss_parts_scale_linearly_with_their_weights(part, setting):
    light, heavy = _tiny_tfn(**{setting: 1.0}), _tiny_tfn(**{setting: 2.5})
    heavy.load_state_dict(light.state_dict())
    parts = []
    for model in (light, heavy):
        torch.manual_seed(1)  # the same dropout masks
        parts.append(model(**_batch(), mix_seed=11).loss_parts)
    assert parts[0][part].item() > 0
    assert parts[1][part].item() == pytest.approx(2.5 * parts[0][part].item(), rel=1e-5)
    assert parts[1]["task"].item() == pytest.approx(parts[0]["task"].item())


@pytest.mark.parametrize("loader", [{}, {"dataloader_num_workers": 1, "dataloader_persistent_workers": True,
                                         "dataloader_prefetch_factor": 2}], ids=["in-process", "persistent-worker"])
def test_mix_seeds_change_every_epoch_of_a_real_trainer_run(tmp_path, loader):
    data = generate_default_dataset(SyntheticConfig(**{**vars(helpers.TINY_DATA), "train_size": 4}))
    config_class, model_class = BACKBONES["lmf"]
    config = config_class.from_dataset_metadata(
        {"dataset_kind": "mosi", "label_min": -3.0, "label_max": 3.0, "text_dim": 16, "audio_dim": 5, "vision_dim": 6},
        text_hidden_dim=8, text_out_dim=8, audio_hidden_dim=4, vision_hidden_dim=4)
    model = model_class(config)
    seen = []
    original = model.forward

    def recording_forward(*args, mix_seed=None, **kwargs):
        if model.training:
            seen.append(mix_seed)
        return original(*args, mix_seed=mix_seed, **kwargs)

    model.forward = recording_forward
    args = helpers.tiny_training_args(tmp_path, per_device_train_batch_size=1, num_train_epochs=3,
                                      remove_unused_columns=False, **loader)
    collator = MSMixDataCollator(seed=args.seed)
    MSMixTrainer(model=model, args=args, data_collator=collator, train_dataset=data["train"].with_format("torch")).train()
    per_epoch = [set(seen[epoch * 4:(epoch + 1) * 4]) for epoch in range(3)]
    assert all(len(seeds) == 4 for seeds in per_epoch)
    assert not per_epoch[0] & per_epoch[1] and not per_epoch[1] & per_epoch[2] and not per_epoch[0] & per_epoch[2]
    batch_seeds = {collator.mix_seed([row]) for row in data["train"]}
    assert per_epoch == [{epoch_mix_seed(seed, epoch) for seed in batch_seeds} for epoch in range(3)]
