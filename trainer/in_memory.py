"""A fast data path for datasets that fit in memory: tensors prepared once, batches sliced from them.

Reading ragged ``Array2D`` rows from Arrow costs about half a millisecond per row, a large share
of a small model's step. ``InMemoryMSADataset`` reads a split once (vectorised over the Arrow
buffers), pads each modality to the split's longest (truncated) sequence and keeps the lengths;
the DataLoader asks it for a whole batch (``__getitems__``) and ``MSMixDataCollator`` turns that
``PreparedRows`` into exactly the tensors it would build from the Arrow rows (same padding,
masks, labels, tokens and ``mix_seed``), by slicing. The DataLoader pins the batches when
``dataloader_pin_memory`` is on (the default with CUDA). Splits larger than the memory budget
keep the memory-mapped Arrow path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import torch
from datasets import Dataset

from data_processing.schema import MODALITIES, TOKEN_COLUMNS, feature_column, length_column
from modeling_msmix.feature_schema import UNIMODAL_LABEL_COLUMNS, UNIMODAL_LABELS_KEY

BYTES_PER_GB = 1024**3


def _column_rows(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(row offsets [N + 1], flat values) of a list-of-lists (``Array2D``) or list (tokens) column."""
    array = column.combine_chunks()
    if isinstance(array, pa.ExtensionArray):
        array = array.storage
    offsets = np.asarray(array.offsets, dtype=np.int64)
    values = array.flatten()
    while isinstance(values, (pa.ListArray, pa.LargeListArray, pa.FixedSizeListArray)):
        values = values.flatten()
    return offsets - offsets[0], values.to_numpy(zero_copy_only=False)


def _pad_rows(offsets: np.ndarray, values: np.ndarray, used: np.ndarray, width: int, dim: int | None,
              dtype: np.dtype) -> np.ndarray:
    """Rows ``values[offsets[i] : offsets[i] + used[i]]`` zero-padded to ``width`` -> [N, width(, dim)]."""
    count = used.shape[0]
    padded = np.zeros((count, width) if dim is None else (count, width, dim), dtype=dtype)
    rows = np.repeat(np.arange(count), used)
    steps = np.arange(int(used.sum())) - np.repeat(np.cumsum(used) - used, used)
    source = np.repeat(offsets[:-1], used) + steps
    flat = values if dim is None else values.reshape(-1, dim)
    padded[rows, steps] = flat[source]
    return padded


def estimated_bytes(dataset: Dataset, limits: Mapping[str, int | None]) -> int:
    """Bytes of the padded float32 feature tensors of ``dataset`` with the collator's length limits."""
    total = 0
    for modality in MODALITIES:
        lengths = np.asarray(dataset.with_format("numpy")[length_column(modality)], dtype=np.int64)
        longest = int(lengths.max(initial=1))
        limit = limits.get(modality)
        width = max(min(longest, limit) if limit is not None else longest, 1)
        total += len(dataset) * width * dataset.features[feature_column(modality)].shape[1] * 4
    return total


@dataclass
class PreparedRows(Sequence[Mapping[str, Any]]):
    """The rows ``indices`` of an ``InMemoryMSADataset``, as the DataLoader hands them to the collator.

    As a sequence it yields light rows (``id`` and ``label``), enough for ``mix_seed``.
    """

    source: InMemoryMSADataset
    indices: list[int]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> dict[str, Any]:
        index = self.indices[position]
        return {"id": self.source.ids[index], "label": self.source.labels[index]}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[position] for position in range(len(self)))


class InMemoryMSADataset(torch.utils.data.Dataset):
    """One split's features padded per modality, with lengths, labels, ids and optional tokens.

    Args:
        dataset: a split in the msmix schema with an ``id`` column.
        max_lengths: the collator's ``max_<modality>_length`` per modality (``None``: no limit);
            ``max_lengths["text"]`` also caps the tokens.
    """

    def __init__(self, dataset: Dataset, max_lengths: Mapping[str, int | None]):
        if "id" not in dataset.column_names:
            raise ValueError("InMemoryMSADataset needs an 'id' column (the batches' mix_seed is derived from it)")
        table = dataset.with_format("arrow")[0: len(dataset)]
        self.ids: list[str] = [str(value) for value in table.column("id").to_pylist()]
        self.labels = torch.from_numpy(table.column("label").to_numpy().astype(np.float32))
        self.unimodal_labels: torch.Tensor | None = None
        if all(name in table.column_names for name in UNIMODAL_LABEL_COLUMNS):
            self.unimodal_labels = torch.from_numpy(np.stack(
                [table.column(name).to_numpy().astype(np.float32) for name in UNIMODAL_LABEL_COLUMNS], axis=1))
        self.features: dict[str, torch.Tensor] = {}
        self.lengths: dict[str, torch.Tensor] = {}
        for modality in MODALITIES:
            offsets, values = _column_rows(table.column(feature_column(modality)))
            dim = dataset.features[feature_column(modality)].shape[1]
            stored_lengths = table.column(length_column(modality)).to_numpy().astype(np.int64)
            used = np.minimum(np.diff(offsets), stored_lengths)
            if max_lengths.get(modality) is not None:
                used = np.minimum(used, max_lengths[modality])
            width = max(int(used.max(initial=0)), 1)
            self.features[modality] = torch.from_numpy(_pad_rows(offsets, values, used, width, dim, np.float32))
            self.lengths[modality] = torch.from_numpy(used)
        self.tokens: dict[str, torch.Tensor] = {}
        self.token_lengths: torch.Tensor | None = None
        for name in TOKEN_COLUMNS:
            if name in table.column_names:
                offsets, values = _column_rows(table.column(name))
                used = np.diff(offsets)
                if max_lengths.get("text") is not None:
                    used = np.minimum(used, max_lengths["text"])
                self.tokens[name] = torch.from_numpy(
                    _pad_rows(offsets, values, used, int(used.max(initial=0)), None, np.int64))
                self.token_lengths = torch.from_numpy(used)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> PreparedRows:
        return PreparedRows(self, [int(index)])

    def __getitems__(self, indices: list[int]) -> PreparedRows:
        return PreparedRows(self, [int(index) for index in indices])

    def collate(self, indices: list[int], max_lengths: Mapping[str, int | None], pad_to_max_length: bool,
                pad_token_id: int) -> dict[str, torch.Tensor]:
        """The batch of ``indices``: what ``MSMixDataCollator`` builds from the same Arrow rows (without ``mix_seed``).

        Sequences are cut to ``max_lengths`` and padded to the batch's longest, or to ``max_lengths``
        with ``pad_to_max_length``.
        """
        rows = torch.as_tensor(indices, dtype=torch.long)
        batch: dict[str, torch.Tensor] = {}
        for modality in MODALITIES:
            limit = max_lengths.get(modality)
            lengths = self.lengths[modality].index_select(0, rows)
            if limit is not None:
                lengths = lengths.clamp(max=limit)
            target = limit if pad_to_max_length else max(int(lengths.max()), 1)
            stored = self.features[modality]
            features = stored.index_select(0, rows)[:, :target]
            if features.shape[1] < target:
                features = torch.nn.functional.pad(features, (0, 0, 0, target - features.shape[1]))
            mask = torch.arange(target)[None, :] < lengths[:, None]
            mask[:, 0] = True
            batch[feature_column(modality)] = features.contiguous()
            batch[f"{modality}_mask"] = mask
        limit = max_lengths.get("text")
        for name, stored in self.tokens.items():
            lengths = self.token_lengths.index_select(0, rows)
            if limit is not None:
                lengths = lengths.clamp(max=limit)
            target = limit if pad_to_max_length else int(lengths.max())
            tokens = stored.index_select(0, rows)[:, :target]
            if tokens.shape[1] < target:
                tokens = torch.nn.functional.pad(tokens, (0, target - tokens.shape[1]))
            padding = pad_token_id if name == "input_ids" else 0
            if padding:
                tokens = tokens.masked_fill(torch.arange(tokens.shape[1])[None, :] >= lengths[:, None], padding)
            batch[name] = tokens.contiguous()
        batch["labels"] = self.labels.index_select(0, rows)
        if self.unimodal_labels is not None:
            batch[UNIMODAL_LABELS_KEY] = self.unimodal_labels.index_select(0, rows)
        return batch


def in_memory_splits(splits: Mapping[str, Dataset], max_lengths: Mapping[str, int | None],
                     max_gb: float) -> dict[str, InMemoryMSADataset]:
    """The splits whose padded tensors fit in ``max_gb`` together, prepared; the rest stay memory-mapped."""
    prepared, budget = {}, max_gb * BYTES_PER_GB
    for name, split in splits.items():
        if "id" not in split.column_names or len(split) == 0:
            continue
        size = estimated_bytes(split, max_lengths)
        if size <= budget:
            prepared[name] = InMemoryMSADataset(split, max_lengths)
            budget -= size
    return prepared
