"""MSAConfig: round trips through save_pretrained/JSON, metadata, label scale and validation errors."""

import json

import pytest
import torch
from torch import nn

from data_processing.schema import MSAMetadata
from modeling_msmix import MSAConfig, MSAModelOutput, MSAPreTrainedModel


class TinyConfig(MSAConfig):
    model_type = "msmix_test_tiny"
    hidden: int = 4


class TinyModel(MSAPreTrainedModel):
    config_class = TinyConfig

    def __init__(self, config: TinyConfig):
        super().__init__(config)
        self.proj = nn.ModuleList(nn.Linear(d, config.hidden) for d in config.feature_dims)
        self.head = nn.Linear(3 * config.hidden, 1)
        self.setup_augmentation((config.hidden,) * 3)
        self.post_init()

    def encode(self, text_features, audio_features, vision_features, text_mask, audio_mask, vision_mask,
               input_ids=None, attention_mask=None):
        return tuple(p(x.mean(1)) for p, x in zip(self.proj, (text_features, audio_features, vision_features)))

    def fuse(self, z_t, z_a, z_v):
        return self.head(torch.cat([z_t, z_a, z_v], dim=-1)), None


CHANGED = {
    "hidden": 7, "text_dim": 12, "audio_dim": 33, "vision_dim": 709, "label_min": -1.0, "label_max": 1.0,
    "dataset_kind": "sims", "loss_type": "mse", "augmentation": "powmix", "alpha": 0.5, "threshold": 0.25,
    "num_mix": 9, "mixed_loss_weight": 0.3, "sal_weight": 100.0, "polarity_aware": True, "reference_mode": True,
    "sig_num_heads": 2, "advmixup_epsilon": 0.05,
    "dataset_metadata": {"extractors": {"audio": "librosa"}, "extraction": {"sample_rate": 16000}},
}


def test_defaults_are_the_papers_ms_mix():
    config = TinyConfig()
    assert (config.text_dim, config.audio_dim, config.vision_dim) == (768, 5, 20)
    assert (config.augmentation, config.alpha, config.threshold, config.num_mix) == ("msmix", 2.0, 0.4, None)
    assert (config.mixed_loss_weight, config.sal_weight, config.sal_loss_weight) == (0.7, None, 500.0)  # 1000 * 0.5
    assert (config.sal_target, config.sig_ratio_weights, config.sass_threshold_quantile) == (
        "batch_softmax", "batch_minmax", None)
    assert (config.sig_stop_gradient, config.ratio_stop_gradient, config.use_sass, config.use_sig) == (
        False, False, True, True)
    assert TinyConfig(sal_target="per_sample").sal_loss_weight == 1.0
    assert TinyConfig(sal_weight=20).sal_loss_weight == 20.0
    assert not config.polarity_aware and not config.reference_mode and config.label_scale == 3.0


def test_save_pretrained_round_trip(tmp_path):
    config = TinyConfig(**CHANGED)
    config.save_pretrained(tmp_path)
    loaded = TinyConfig.from_pretrained(tmp_path)
    for key, value in CHANGED.items():
        assert getattr(loaded, key) == value, key
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "msmix_test_tiny"


def test_json_string_round_trip():
    config = TinyConfig(**CHANGED)
    loaded = TinyConfig.from_dict(json.loads(config.to_json_string()))
    assert loaded.to_dict() == config.to_dict()
    assert json.loads(TinyConfig(num_mix=3).to_json_string(use_diff=True))["num_mix"] == 3


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("augmentation", "cutmix", "augmentation must be one of"),
        ("dataset_kind", "iemocap", "dataset_kind must be one of"),
        ("loss_type", "huber", "loss_type must be one of"),
        ("text_dim", 0, "text_dim must be a positive integer"),
        ("vision_dim", 2.5, "vision_dim must be a positive integer"),
        ("alpha", 0.0, "alpha must be positive"),
        ("threshold", 1.5, r"threshold must lie in \[0, 1\]"),
        ("num_mix", 0, "num_mix must be a positive integer or None"),
        ("sal_weight", -1.0, "sal_weight must be non-negative"),
        ("mixed_loss_weight", -0.1, "mixed_loss_weight must be non-negative"),
        ("dataset_metadata", "mosi", "dataset_metadata must be a dict or None"),
        ("label_max", -3.0, r"label_min \(-3.0\) must be below label_max"),
    ],
)
def test_invalid_values_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        TinyConfig(**{field: value})


def sims_metadata() -> dict:
    return MSAMetadata(dataset_kind="sims", label_min=-1.0, label_max=1.0, text_dim=768, audio_dim=33,
                       vision_dim=709, extractors={"audio": "librosa"}, source="test").to_dict()


def test_dataset_metadata_sets_dims_labels_and_kind():
    metadata = sims_metadata()
    config = TinyConfig.from_dataset_metadata(metadata, hidden=3)
    assert config.feature_dims == (768, 33, 709) and config.hidden == 3
    assert (config.label_min, config.label_max, config.dataset_kind) == (-1.0, 1.0, "sims")
    assert config.dataset_metadata == metadata and config.label_scale == 1.0
    config.reference_mode = True
    assert config.label_scale == 3.0
    with pytest.raises(ValueError, match="lacks the keys"):
        TinyConfig().apply_dataset_metadata({"dataset_kind": "mosi"})
    with pytest.raises(ValueError, match="dataset_kind must be one of"):
        TinyConfig().apply_dataset_metadata({**metadata, "dataset_kind": "other"})


def test_evaluation_keeps_only_the_logits():
    output = MSAModelOutput(loss=torch.tensor(1.0), logits=torch.zeros(2, 1), loss_parts={"task": torch.tensor(1.0)},
                            intensities=torch.zeros(2, 3), text_state=torch.zeros(2, 4), audio_state=torch.zeros(2, 4),
                            vision_state=torch.zeros(2, 4))
    ignored = TinyConfig().keys_to_ignore_at_inference + ["loss"]
    assert [key for key in output.keys() if key not in ignored] == ["logits"]


def test_model_round_trip_keeps_augmentation_and_sig_weights(tmp_path):
    torch.manual_seed(0)
    model = TinyModel(TinyConfig(text_dim=6, audio_dim=5, vision_dim=3)).eval()
    model.save_pretrained(tmp_path)
    loaded = TinyModel.from_pretrained(tmp_path).eval()
    inputs = {"text_features": torch.randn(3, 2, 6), "audio_features": torch.randn(3, 4, 5),
              "vision_features": torch.randn(3, 1, 3)}
    before, after = model(**inputs), loaded(**inputs)
    torch.testing.assert_close(after.logits, before.logits)
    torch.testing.assert_close(after.intensities, before.intensities)
    assert type(loaded.augmentation).__name__ == "MSMix"


def test_a_backbone_that_skips_setup_augmentation_fails_clearly():
    class Forgetful(TinyModel):
        def setup_augmentation(self, state_dims):
            """Deliberately does nothing."""

    with pytest.raises(RuntimeError, match="must call self.setup_augmentation"):
        Forgetful(TinyConfig())
