"""MSMixDataCollator: padding, truncation, masks, labels, token ids and the per-batch mix seed."""

import numpy as np
import pytest
import torch

from data_processing.synthetic import SyntheticConfig, generate_default_dataset
from trainer.collator import MSMixDataCollator


def make_row(sample_id: str, text_len: int, audio_len: int, vision_len: int, label: float) -> dict:
    """A schema row whose feature values encode (row, step): value = base + step."""
    base = float(sample_id[-1]) * 100
    return {
        "id": sample_id,
        "text_features": (base + np.arange(text_len, dtype=np.float32)[:, None] + np.zeros(3, np.float32)),
        "audio_features": (base + np.arange(audio_len, dtype=np.float32)[:, None] + np.zeros(2, np.float32)),
        "vision_features": (base + np.arange(vision_len, dtype=np.float32)[:, None] + np.zeros(4, np.float32)),
        "text_length": text_len,
        "audio_length": audio_len,
        "vision_length": vision_len,
        "label": label,
    }


@pytest.fixture
def ragged_rows():
    return [make_row("s1", 2, 1, 5, 1.5), make_row("s2", 0, 3, 5, -0.4), make_row("s3", 4, 2, 5, 0.0)]


def test_pads_to_batch_max_and_masks_real_steps(ragged_rows):
    batch = MSMixDataCollator()(ragged_rows)
    assert batch["text_features"].shape == (3, 4, 3)
    assert batch["audio_features"].shape == (3, 3, 2)
    assert batch["vision_features"].shape == (3, 5, 4)
    assert batch["text_mask"].tolist() == [
        [True, True, False, False],
        [True, False, False, False],  # missing text: one zero step, marked real
        [True, True, True, True],
    ]
    assert batch["audio_mask"].tolist() == [[True, False, False], [True, True, True], [True, True, False]]
    assert batch["vision_mask"].all()
    assert batch["text_mask"].dtype == torch.bool
    text = batch["text_features"]
    assert text[0, :, 0].tolist() == [100.0, 101.0, 0.0, 0.0]
    assert text[1].abs().sum() == 0
    assert text[2, :, 2].tolist() == [300.0, 301.0, 302.0, 303.0]
    assert batch["audio_features"][1, :, 1].tolist() == [200.0, 201.0, 202.0]
    assert batch["labels"].dtype == torch.float32
    assert batch["labels"].tolist() == pytest.approx([1.5, -0.4, 0.0])


def test_truncates_and_pads_to_configured_max(ragged_rows):
    collator = MSMixDataCollator(max_text_length=3, max_audio_length=6, max_vision_length=2, pad_to_max_length=True)
    batch = collator(ragged_rows)
    assert batch["text_features"].shape == (3, 3, 3)
    assert batch["audio_features"].shape == (3, 6, 2)
    assert batch["vision_features"].shape == (3, 2, 4)
    assert batch["text_mask"].sum(dim=1).tolist() == [2, 1, 3]
    assert batch["audio_mask"].sum(dim=1).tolist() == [1, 3, 2]
    assert batch["text_features"][2, :, 0].tolist() == [300.0, 301.0, 302.0]
    assert batch["vision_features"][0, :, 0].tolist() == [100.0, 101.0]


def test_length_column_shorter_than_stored_array_wins(ragged_rows):
    ragged_rows[0]["vision_length"] = 0
    batch = MSMixDataCollator()(ragged_rows)
    assert batch["vision_mask"][0].tolist() == [True, False, False, False, False]
    assert batch["vision_features"][0].abs().sum() == 0


def test_token_ids_padded_with_pad_token(ragged_rows):
    for row, ids in zip(ragged_rows, ([101, 7, 102], [101, 102], [101, 5, 6, 7, 102])):
        row["input_ids"] = ids
        row["attention_mask"] = [1] * len(ids)
    batch = MSMixDataCollator(max_text_length=4, pad_token_id=9)(ragged_rows)
    assert batch["input_ids"].dtype == torch.int64
    assert batch["input_ids"].tolist() == [[101, 7, 102, 9], [101, 102, 9, 9], [101, 5, 6, 7]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]]


def test_mix_seed_depends_on_seed_epoch_and_samples_only(ragged_rows):
    seed = MSMixDataCollator(seed=3)(ragged_rows)["mix_seed"]
    assert type(seed) is int and 0 <= seed < 2**63  # a host int: no device sync when seeding the mixing
    assert MSMixDataCollator(seed=3)(list(ragged_rows))["mix_seed"] == seed
    assert MSMixDataCollator(seed=4)(ragged_rows)["mix_seed"] != seed
    assert MSMixDataCollator(seed=3, epoch=1)(ragged_rows)["mix_seed"] != seed
    assert MSMixDataCollator(seed=3)(ragged_rows[:2])["mix_seed"] != seed
    without_ids = [{k: v for k, v in row.items() if k != "id"} for row in ragged_rows]
    assert MSMixDataCollator(seed=3)(without_ids)["mix_seed"] == MSMixDataCollator(seed=3)(without_ids)["mix_seed"]
    assert "mix_seed" not in MSMixDataCollator(return_mix_seed=False)(ragged_rows)


def test_collates_torch_formatted_dataset_rows():
    config = SyntheticConfig(
        train_size=6, validation_size=1, test_size=1, text_dim=8, max_text_length=6, max_audio_length=9,
        max_vision_length=7, min_text_length=2, min_audio_length=3, min_vision_length=2,
    )
    split = generate_default_dataset(config)["train"].with_format("torch")
    rows = split.__getitems__(list(range(6)))
    batch = MSMixDataCollator()(rows)
    lengths = torch.stack([row["text_length"] for row in rows])
    assert batch["text_features"].shape == (6, int(lengths.max()), 8)
    assert batch["text_mask"].sum(dim=1).tolist() == lengths.tolist()
    assert torch.equal(batch["text_features"][0, : lengths[0]], rows[0]["text_features"])
    assert torch.allclose(batch["labels"], torch.stack([row["label"] for row in rows]))


def test_bad_input_fails_with_a_clear_message(ragged_rows):
    ragged_rows[1]["audio_features"] = np.zeros((3, 7), np.float32)
    with pytest.raises(ValueError, match="audio_features has different dims"):
        MSMixDataCollator()(ragged_rows)
    with pytest.raises(ValueError, match="pad_to_max_length needs max_audio_length"):
        MSMixDataCollator(max_text_length=4, pad_to_max_length=True)
    with pytest.raises(ValueError, match="max_vision_length must be at least 1"):
        MSMixDataCollator(max_vision_length=0)
