"""The in-memory data path gives exactly the batches of the Arrow path, and stays off for data over its budget."""


import numpy as np
import pytest
import torch
from datasets import List, Value, load_from_disk

import trainer_helpers as helpers
from modeling_msmix import LMFModel
from trainer.arguments import DataArguments, ModelArguments
from trainer.collator import MSMixDataCollator
from trainer.in_memory import InMemoryMSADataset, in_memory_splits
from trainer.msmix_trainer import MSMixTrainer
from trainer.training_run import build_config, load_training_data


def _with_tokens_and_missing_modalities(row, index):
    """Ragged tokens, a missing audio stream (length 0) on every 5th row, a length shorter than the vision array."""
    row["input_ids"] = list(range(1, 2 + index % 7))
    row["attention_mask"] = [1] * (1 + index % 7)
    if index % 5 == 0:
        row["audio_length"] = 0
    if index % 4 == 1:
        row["vision_length"] = max(int(row["vision_length"]) - 2, 0)
    return row


@pytest.fixture(scope="module")
def train_split(tmp_path_factory):
    folder = helpers.save_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny")
    dataset = load_from_disk(str(folder))["train"]
    features = dataset.features.copy()
    features.update(input_ids=List(Value("int32")), attention_mask=List(Value("int8")))
    changed = dataset.map(_with_tokens_and_missing_modalities, with_indices=True, features=features)
    return changed.select(range(3, 60)).with_format("torch")


def assert_same_batch(expected, actual):
    assert list(expected) == list(actual)
    for key, value in expected.items():
        if isinstance(value, torch.Tensor):
            assert value.dtype == actual[key].dtype and value.shape == actual[key].shape, key
            assert torch.equal(value, actual[key]), key
        else:
            assert value == actual[key], key


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"max_text_length": 3, "max_audio_length": 4, "max_vision_length": 5, "pad_token_id": 9},
        {"max_text_length": 6, "max_audio_length": 20, "max_vision_length": 7, "pad_to_max_length": True},
    ],
)
def test_prepared_batches_equal_the_arrow_batches(train_split, settings):
    collator = MSMixDataCollator(seed=3, epoch=2, **settings)
    limits = {m: settings.get(f"max_{m}_length") for m in ("text", "audio", "vision")}
    prepared = InMemoryMSADataset(train_split, limits)
    generator = np.random.default_rng(0)
    batches = [[0], [5, 10, 15], list(range(len(train_split)))] + [
        sorted(generator.choice(len(train_split), 16, replace=False).tolist()) for _ in range(4)]
    for indices in batches:
        assert_same_batch(collator(train_split.__getitems__(indices)), collator(prepared.__getitems__(indices)))


def test_the_trainer_reads_the_same_batches_both_ways(tmp_path):
    folder = helpers.save_tiny_dataset(tmp_path / "tiny")
    data = load_training_data(DataArguments(dataset=str(folder)))
    assert set(data.in_memory) == {"train", "validation", "test"}
    config = build_config(ModelArguments(backbone="lmf", config_overrides=helpers.TINY_LMF), data.metadata)
    args = helpers.tiny_training_args(tmp_path / "run")
    loaders = [MSMixTrainer(model=LMFModel(config), args=args, train_dataset=dataset).get_train_dataloader()
               for dataset in (data.dataset["train"], data.model_input("train"))]
    arrow, fast = (list(loader) for loader in loaders)
    assert len(arrow) == len(fast) == 4
    for expected, actual in zip(arrow, fast):
        assert_same_batch(expected, actual)


def test_data_over_the_budget_stays_memory_mapped(train_split):
    limits = {"text": None, "audio": None, "vision": None}
    assert set(in_memory_splits({"train": train_split}, limits, max_gb=1.0)) == {"train"}
    assert in_memory_splits({"train": train_split}, limits, max_gb=1e-6) == {}
    assert in_memory_splits({"train": train_split}, limits, max_gb=0) == {}


def test_rows_without_ids_are_refused(train_split):
    with pytest.raises(ValueError, match="needs an 'id' column"):
        InMemoryMSADataset(train_split.remove_columns("id"), {})
