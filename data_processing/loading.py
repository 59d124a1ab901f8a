"""Load an MSA dataset from wherever it lives: the built-in generator, a local folder or the Hub."""

from __future__ import annotations

import json
from pathlib import Path

from datasets import DatasetDict, load_dataset, load_from_disk

from .schema import validate_dataset
from .synthetic import generate_default_dataset

DEFAULT_DATASET = "default"
PROFILE_SEPARATOR = ":"


def load_msa_dataset(name_or_path: str = DEFAULT_DATASET, config_name: str | None = None) -> DatasetDict:
    """Load and validate an MSA ``DatasetDict``.

    Args:
        name_or_path: ``"default"`` for the built-in generated dataset (its MOSI-like profile;
            ``"default:clean"`` or ``"default:mosi_like"`` name a profile), a folder written by
            ``DatasetDict.save_to_disk``, or anything ``datasets.load_dataset`` accepts
            (a Hub id or a local data folder).
        config_name: the ``load_dataset`` configuration name, if any.

    Raises:
        ValueError: the dataset does not follow the schema (the message says what is wrong).
    """
    name, separator, profile = name_or_path.partition(PROFILE_SEPARATOR)
    if name == DEFAULT_DATASET:
        dataset = generate_default_dataset(profile=profile if separator else None)
    elif (Path(name_or_path) / "dataset_dict.json").is_file():
        _check_saved_splits(Path(name_or_path))
        dataset = load_from_disk(name_or_path)
    else:
        dataset = load_dataset(name_or_path, config_name)
    validate_dataset(dataset)
    return dataset


def _check_saved_splits(folder: Path) -> None:
    """Name an empty split of a ``save_to_disk`` folder (``load_from_disk`` fails on it with an IndexError)."""
    for split in json.loads((folder / "dataset_dict.json").read_text())["splits"]:
        state = folder / split / "state.json"
        if state.is_file() and not json.loads(state.read_text()).get("_data_files"):
            raise ValueError(f"split {split!r} is empty ({folder / split} holds no data files)")
