"""MS-Mix's options beyond SPEC section 4: the per-sample SAL target, the SASS quantile threshold, unimodal labels."""

import json

import pytest
import torch

from data_processing.schema import read_metadata
from data_processing.synthetic import SyntheticConfig, generate_default_dataset
from modeling_msmix import LMFConfig, LMFModel
from modeling_msmix.augmentations import PER_SAMPLE_SAL, augmentation_of
from modeling_msmix.mixing_base import RandomDraws
from modeling_msmix.mixing_msmix import MSMix, PartnerSelector, intensity_target_loss
from trainer.collator import MSMixDataCollator
from trainer.in_memory import InMemoryMSADataset

INTENSITIES = torch.tensor([[3.0, 1.5, -0.3], [-1.5, 0.0, 0.6], [0.75, -3.0, 0.0]])
LABELS = torch.tensor([2.0, -1.0, 0.5])


def test_per_sample_target_by_hand_in_label_units():
    # MOSI (R = 3): |I| is already in label units. Text errors |3-2|, |1.5-1|, |.75-.5| -> mean 0.5833;
    # audio |1.5-2|, |0-1|, |3-.5| -> 1.3333; vision |.3-2|, |.6-1|, |0-.5| -> 0.8667.
    targets = LABELS[:, None].expand(-1, 3)
    expected = (1 + 0.5 + 0.25) / 3 + (0.5 + 1 + 2.5) / 3 + (1.7 + 0.4 + 0.5) / 3
    assert intensity_target_loss(INTENSITIES, targets, 3.0).item() == pytest.approx(expected, rel=1e-6)
    # SIMS (R = 1): |I| / 3 against |y| in [0, 1].
    sims = intensity_target_loss(INTENSITIES, targets / 3, 1.0)
    assert sims.item() == pytest.approx(expected / 3, rel=1e-6)
    assert intensity_target_loss(LABELS[:, None].repeat(1, 3), targets, 3.0).item() == pytest.approx(0.0, abs=1e-7)


def test_per_sample_target_over_present_samples_only():
    targets = LABELS[:, None].expand(-1, 3)
    present = torch.tensor([[True, False, True], [True, False, True], [False, False, True]])
    text = (1 + 0.5) / 2  # rows 0 and 1
    vision = (1.7 + 0.4 + 0.5) / 3
    loss = intensity_target_loss(INTENSITIES, targets, 3.0, present)
    assert loss.item() == pytest.approx(text + 0.0 + vision, rel=1e-6)  # no sample has audio: it adds 0


def test_per_sample_sal_uses_unimodal_labels_when_given():
    torch.manual_seed(0)
    states = (torch.randn(4, 6), torch.randn(4, 3), torch.randn(4, 2, 5))
    labels = torch.tensor([2.0, -1.0, 0.5, 1.0])
    unimodal = torch.tensor([[2.0, 0.0, 1.0], [-1.0, -2.0, 0.0], [0.5, 1.0, -1.0], [1.0, 1.0, 1.0]])
    module = MSMix((6, 3, 5), sal_target="per_sample")
    draws = RandomDraws(torch.Generator().manual_seed(1), torch.device("cpu"))
    result = module(states, labels, draws, unimodal_labels=unimodal)
    expected = intensity_target_loss(result.intensities, unimodal, 3.0)
    assert result.extra_loss.item() == pytest.approx(expected.item(), rel=1e-6)
    draws = RandomDraws(torch.Generator().manual_seed(1), torch.device("cpu"))
    without = module(states, labels, draws)
    broadcast = intensity_target_loss(without.intensities, labels[:, None].expand(-1, 3), 3.0)
    assert without.extra_loss.item() == pytest.approx(broadcast.item(), rel=1e-6)
    assert without.extra_loss.item() != pytest.approx(result.extra_loss.item(), rel=1e-3)


def test_quantile_threshold_keeps_the_top_share_of_pairs():
    similarity = torch.tensor([[0.0, 0.9, 0.2, 0.3], [0.5, 0.0, 0.41, 0.8], [0.4, 0.1, 0.0, 0.6],
                               [0.7, 0.05, 0.95, 0.0]])
    selector = PartnerSelector(threshold=0.4, threshold_quantile=0.25)
    threshold = selector.batch_threshold(similarity)
    # 12 off-diagonal values; torch.quantile(0.75) interpolates between the 9th and 10th sorted (0.7, 0.8).
    assert float(threshold) == pytest.approx(0.725, abs=1e-6)
    candidates, _ = selector.pools(similarity, torch.zeros(4), count=2)
    assert sorted(map(tuple, candidates.nonzero().tolist())) == [(0, 1), (1, 3), (3, 2)]
    assert PartnerSelector(threshold=0.4).batch_threshold(similarity) == 0.4


def test_quantile_statistics_report_the_batch_threshold():
    torch.manual_seed(3)
    states = (torch.randn(16, 6), torch.randn(16, 3), torch.randn(16, 5))
    module = MSMix((6, 3, 5), threshold_quantile=0.1)
    result = module(states, torch.randn(16), RandomDraws(torch.Generator().manual_seed(0), torch.device("cpu")))
    # 240 ordered pairs, each similarity twice (S is symmetric): the 0.9 quantile falls between the
    # 108th and 109th of the 120 distinct values, so exactly the top 12 (24 ordered pairs) lie above it.
    assert float(result.statistics["sass_above_threshold"]) == pytest.approx(24 / 240, abs=1e-6)
    assert {float(result.statistics[f"bound_share_{m}"]) for m in ("text", "audio", "vision")} <= {0.0}


@pytest.mark.parametrize(("changes", "message"), [
    ({"sal_target": "softmax"}, "sal_target must be one of"),
    ({"sass_threshold_quantile": 0.0}, r"sass_threshold_quantile must be None or lie in \(0, 1\]"),
    ({"sass_threshold_quantile": 1.5}, r"sass_threshold_quantile must be None or lie in \(0, 1\]"),
    ({"reference_mode": True, "sal_target": "per_sample"}, "reference_mode reproduces the reference arithmetic"),
    ({"reference_mode": True, "sal_target": "batch_softmax", "sass_threshold_quantile": 0.1},
     "reference_mode reproduces the reference arithmetic"),
])
def test_bad_options_fail_naming_the_setting(changes, message):
    with pytest.raises(ValueError, match=message):
        LMFModel(LMFConfig(augmentation="msmix", **changes))


def test_options_round_trip_through_save_pretrained(tmp_path):
    config = LMFConfig(augmentation="msmix", sal_target="per_sample", sass_threshold_quantile=0.2)
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert (saved["sal_target"], saved["sass_threshold_quantile"]) == ("per_sample", 0.2)
    loaded = LMFConfig.from_pretrained(tmp_path)
    assert (loaded.sal_target, loaded.sass_threshold_quantile) == ("per_sample", 0.2)
    module = LMFModel(loaded).augmentation
    assert (module.sal_target, module.selector.threshold_quantile) == ("per_sample", 0.2)


def test_a_config_saved_before_the_options_keeps_the_spec_arithmetic(tmp_path):
    LMFConfig(augmentation="msmix").save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    for key in ("sal_target", "sig_ratio_weights", "sass_threshold_quantile", "sig_stop_gradient",
                "ratio_stop_gradient"):
        del saved[key]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    old = LMFConfig.from_pretrained(tmp_path)
    assert (old.sal_target, old.sig_ratio_weights, old.sass_threshold_quantile, old.sal_loss_weight) == (
        "batch_softmax", "batch_minmax", None, 500.0)
    assert (old.sig_stop_gradient, old.ratio_stop_gradient) == (False, False)


def test_a_config_saved_with_the_former_default_keeps_its_arithmetic(tmp_path):
    # Saved when `msmix` meant per-sample SAL: the options are in config.json, the stop-gradient ones are not.
    LMFConfig(augmentation="msmix", **PER_SAMPLE_SAL).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["sig_stop_gradient"], saved["ratio_stop_gradient"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    old = LMFConfig.from_pretrained(tmp_path)
    assert (old.sal_target, old.sig_ratio_weights, old.sass_threshold_quantile, old.sal_loss_weight) == (
        "per_sample", "intensity_scale", 0.1, 1.0)
    assert (old.sig_stop_gradient, old.ratio_stop_gradient) == (False, False)
    assert augmentation_of(old) == "msmix:per_sample_sal"


def sims_like_tiny():
    config = SyntheticConfig(train_size=12, validation_size=4, test_size=4, text_dim=8, audio_dim=3, vision_dim=4,
                             max_text_length=5, max_audio_length=6, max_vision_length=5, min_text_length=2,
                             min_audio_length=2, min_vision_length=2)
    dataset = generate_default_dataset(config)
    train = dataset["train"]
    values = torch.linspace(-1, 1, len(train) * 3).reshape(-1, 3).tolist()
    for index, name in enumerate(("label_text", "label_audio", "label_vision")):
        train = train.add_column(name, [row[index] for row in values])
    return train, torch.tensor(values)


def test_collator_and_in_memory_rows_carry_the_unimodal_labels():
    train, values = sims_like_tiny()
    collator = MSMixDataCollator()
    rows = [train[i] for i in range(5)]
    batch = collator(rows)
    torch.testing.assert_close(batch["unimodal_labels"], values[:5], rtol=0, atol=1e-7)  # float32 storage
    prepared = InMemoryMSADataset(train, {"text": None, "audio": None, "vision": None})
    sliced = collator(prepared.__getitems__(list(range(5))))
    assert torch.equal(sliced["unimodal_labels"], batch["unimodal_labels"])
    assert "unimodal_labels" not in collator([generate_default_dataset(SyntheticConfig(
        train_size=4, validation_size=2, test_size=2))["train"][0]])


def test_model_refuses_unimodal_labels_of_the_wrong_shape():
    train, _ = sims_like_tiny()
    config = LMFConfig(augmentation="msmix", sal_target="per_sample", text_hidden_dim=4, text_out_dim=4,
                       audio_hidden_dim=2, vision_hidden_dim=2)
    config.apply_dataset_metadata(read_metadata(train).to_dict())
    batch = MSMixDataCollator()([train[i] for i in range(4)])
    batch["unimodal_labels"] = batch["unimodal_labels"][:, :2]
    with pytest.raises(ValueError, match=r"unimodal_labels must be \[B, 3\] = \[4, 3\]"):
        LMFModel(config).train()(**batch)
