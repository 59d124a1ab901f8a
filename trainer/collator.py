"""``MSMixDataCollator``: schema rows -> one padded batch of the model contract.

Each modality is truncated to its configured maximum, zero-padded to the batch maximum (or to
the configured maximum with ``pad_to_max_length``) and given a boolean mask (True = real step).
A row whose modality is missing (length 0) gets one zero step marked True, so every mask row
has at least one True. Padding is one ``pad_sequence`` call per modality (no Python loop over
frames). Rows of an ``InMemoryMSADataset`` (``PreparedRows``) give the same batch by slicing its
prepared tensors.

``mix_seed`` is a digest of the collator's ``seed``, the current ``epoch`` and the batch's
sample ids (labels and lengths when there are no ids). It depends on nothing else: the same
samples in the same epoch always get the same seed, in any process and whatever the number of
processes, and a resumed run draws the same mixing as an uninterrupted one. ``MSMixTrainer``
keeps ``epoch`` up to date. It is a plain Python int, so it stays on the host when the batch moves
to a GPU and seeding the mixing generator costs no device synchronisation.

``host_lengths`` ({modality: [int, ...]}) holds each row's real steps as Python ints, for the
same reason: packed LSTMs read them instead of copying lengths from the device.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from data_processing.schema import MODALITIES, TOKEN_COLUMNS, feature_column, length_column

from .in_memory import PreparedRows


def host_lengths(batch: Mapping[str, torch.Tensor]) -> dict[str, list[int]]:
    """Real steps per row of each modality (at least 1), as Python ints read from the CPU masks."""
    return {modality: batch[f"{modality}_mask"].sum(dim=1).tolist() for modality in MODALITIES}


@dataclass
class MSMixDataCollator:
    """Collate MSA schema rows into the batch every msmix model's ``forward`` takes.

    Args:
        max_text_length, max_audio_length, max_vision_length: truncate longer sequences to
            this many steps (``None``: no limit). ``max_text_length`` also caps ``input_ids``.
        pad_to_max_length: pad every batch to the configured maxima instead of the batch's own
            (needs all three maxima).
        seed: base of every batch's ``mix_seed``.
        epoch: the current training epoch, mixed into ``mix_seed``.
        pad_token_id: padding value of ``input_ids``.
        return_mix_seed: add the ``mix_seed`` entry.
    """

    max_text_length: int | None = None
    max_audio_length: int | None = None
    max_vision_length: int | None = None
    pad_to_max_length: bool = False
    seed: int = 0
    epoch: int = 0
    pad_token_id: int = 0
    return_mix_seed: bool = True

    def __post_init__(self) -> None:
        for modality in MODALITIES:
            limit = self.max_length(modality)
            if limit is not None and limit < 1:
                raise ValueError(f"max_{modality}_length must be at least 1, got {limit}")
            if self.pad_to_max_length and limit is None:
                raise ValueError(f"pad_to_max_length needs max_{modality}_length")

    def max_length(self, modality: str) -> int | None:
        """The configured maximum number of steps of ``modality``."""
        return getattr(self, f"max_{modality}_length")

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        if not rows:
            raise ValueError("MSMixDataCollator got an empty list of rows")
        if isinstance(rows, PreparedRows):
            batch = rows.source.collate(rows.indices, {m: self.max_length(m) for m in MODALITIES},
                                        self.pad_to_max_length, self.pad_token_id)
            batch["host_lengths"] = host_lengths(batch)
            if self.return_mix_seed:
                batch["mix_seed"] = self.mix_seed(rows)
            return batch
        batch: dict[str, torch.Tensor] = {}
        for modality in MODALITIES:
            features, mask = self._pad_modality(rows, modality)
            batch[feature_column(modality)] = features
            batch[f"{modality}_mask"] = mask
        batch["labels"] = torch.tensor([float(row["label"]) for row in rows], dtype=torch.float32)
        for name in TOKEN_COLUMNS:
            if name in rows[0]:
                batch[name] = self._pad_tokens(rows, name)
        batch["host_lengths"] = host_lengths(batch)
        if self.return_mix_seed:
            batch["mix_seed"] = self.mix_seed(rows)
        return batch

    def _pad_modality(self, rows: Sequence[Mapping[str, Any]], modality: str) -> tuple[torch.Tensor, torch.Tensor]:
        limit = self.max_length(modality)
        sequences = []
        for row in rows:
            sequence = torch.as_tensor(np.asarray(row[feature_column(modality)], dtype=np.float32))
            if sequence.dim() != 2:
                raise ValueError(
                    f"{feature_column(modality)} must be a [length, dim] array per row, "
                    f"got shape {tuple(sequence.shape)}"
                )
            stored = row.get(length_column(modality))
            length = sequence.shape[0] if stored is None else min(int(stored), sequence.shape[0])
            sequences.append(sequence[: length if limit is None else min(length, limit)])
        dims = {sequence.shape[1] for sequence in sequences}
        if len(dims) != 1:
            raise ValueError(f"{feature_column(modality)} has different dims in one batch: {sorted(dims)}")
        lengths = torch.tensor([sequence.shape[0] for sequence in sequences])
        target = limit if self.pad_to_max_length else max(int(lengths.max()), 1)
        padded = pad_sequence(sequences, batch_first=True)
        if padded.shape[1] < target:
            padded = torch.nn.functional.pad(padded, (0, 0, 0, target - padded.shape[1]))
        mask = torch.arange(target)[None, :] < lengths[:, None]
        mask[:, 0] = True
        return padded, mask

    def _pad_tokens(self, rows: Sequence[Mapping[str, Any]], name: str) -> torch.Tensor:
        limit = self.max_text_length
        sequences = [torch.as_tensor(np.asarray(row[name], dtype=np.int64))[:limit] for row in rows]
        padding = self.pad_token_id if name == "input_ids" else 0
        padded = pad_sequence(sequences, batch_first=True, padding_value=padding)
        if self.pad_to_max_length and padded.shape[1] < limit:
            padded = torch.nn.functional.pad(padded, (0, limit - padded.shape[1]), value=padding)
        return padded

    def mix_seed(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """The batch's mixing seed: a digest of ``seed``, ``epoch`` and the rows' ids, in [0, 2**63)."""
        digest = hashlib.blake2b(digest_size=8)
        digest.update(f"{self.seed}:{self.epoch}".encode())
        if "id" in rows[0]:
            digest.update("\0".join(str(row["id"]) for row in rows).encode())
        else:
            for row in rows:
                digest.update(np.asarray([float(row["label"])], dtype=np.float64).tobytes())
                digest.update(np.asarray([np.shape(row[feature_column(m)])[0] for m in MODALITIES]).tobytes())
        return int.from_bytes(digest.digest(), "little") >> 1
