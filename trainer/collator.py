"""``MSMixDataCollator``: schema rows -> one padded batch of the model contract.

Padding is :func:`modeling_msmix.batching.pad_rows`, shared with inference: each modality is
truncated to its configured maximum, zero-padded to the batch maximum (or to the configured
maximum with ``pad_to_max_length``) and given a boolean mask (True = real step). A row whose
modality is missing (length 0) gets one zero step marked True, so every mask row has at least
one True. The collator adds ``labels``, ``unimodal_labels`` [B, 3] when the rows carry
``label_text``/``label_audio``/``label_vision`` (CH-SIMS), and the batch's ``mix_seed``.

``mix_seed`` is a digest of the collator's ``seed``, its ``epoch`` and the batch's sample ids
(labels and lengths when there are no ids). It depends on nothing else: the same samples always
get the same seed, in any process and whatever the number of processes. ``MSMixTrainer`` does not
touch the collator (DataLoader workers hold copies of it); its main process combines each batch's
seed with the training epoch (:func:`epoch_mix_seed`), so mixing changes every epoch whatever the
DataLoader settings, and a resumed run draws the same mixing as an uninterrupted one. The seed is
a plain Python int, so it stays on the host when the batch moves to a GPU and seeding the mixing
generator costs no device synchronisation.

Rows of an ``InMemoryMSADataset`` (``PreparedRows``) give the same batch by slicing its prepared
tensors. ``host_lengths`` ({modality: [int, ...]}) holds each row's real steps as Python ints, for
the same reason as the seed: packed LSTMs read them instead of copying lengths from the device.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from data_processing.schema import MODALITIES, feature_column
from modeling_msmix.batching import pad_rows
from modeling_msmix.feature_schema import UNIMODAL_LABEL_COLUMNS, UNIMODAL_LABELS_KEY

from .in_memory import PreparedRows


def epoch_mix_seed(batch_seed: int, epoch: int) -> int:
    """The mixing seed of a batch whose collator gave ``batch_seed``, in training epoch ``epoch``; in [0, 2**63)."""
    digest = hashlib.blake2b(f"{int(batch_seed)}:{int(epoch)}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "little") >> 1



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
        max_lengths = {modality: self.max_length(modality) for modality in MODALITIES}
        if isinstance(rows, PreparedRows):
            batch = rows.source.collate(rows.indices, max_lengths, self.pad_to_max_length, self.pad_token_id)
        else:
            batch = pad_rows(rows, max_lengths, self.pad_to_max_length, self.pad_token_id)
            batch["labels"] = torch.tensor([float(row["label"]) for row in rows], dtype=torch.float32)
            if all(name in rows[0] for name in UNIMODAL_LABEL_COLUMNS):
                batch[UNIMODAL_LABELS_KEY] = torch.tensor(
                    [[float(row[name]) for name in UNIMODAL_LABEL_COLUMNS] for row in rows], dtype=torch.float32)
        batch["host_lengths"] = host_lengths(batch)
        if self.return_mix_seed:
            batch["mix_seed"] = self.mix_seed(rows)
        return batch

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
