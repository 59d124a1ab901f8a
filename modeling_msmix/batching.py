"""Schema rows -> the padded tensors every msmix model's ``forward`` takes (training and inference).

Each modality is truncated to its maximum (if any), zero-padded to the batch maximum (or to the
maximum with ``pad_to_max_length``) and given a boolean mask (True = real step). A row whose
modality is missing (length 0) gets one zero step marked True, so every mask row has at least
one True. ``input_ids``/``attention_mask`` are padded when the rows carry them. The training
collator (``trainer.collator.MSMixDataCollator``) and :class:`~.processing_msmix.MSMixProcessor`
both pad with :func:`pad_rows`, so a clip reaches the model exactly as a training sample did.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from .feature_schema import MODALITIES, TOKEN_COLUMNS, feature_column, length_column


def pad_modality(
    rows: Sequence[Mapping[str, Any]], modality: str, limit: int | None = None, pad_to_max_length: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(features [B, L, D], mask [B, L])`` of ``modality`` (see the module docstring)."""
    sequences = []
    for row in rows:
        sequence = torch.as_tensor(np.asarray(row[feature_column(modality)], dtype=np.float32))
        if sequence.dim() != 2:
            raise ValueError(
                f"{feature_column(modality)} must be a [length, dim] array per row, got shape {tuple(sequence.shape)}"
            )
        stored = row.get(length_column(modality))
        length = sequence.shape[0] if stored is None else min(int(stored), sequence.shape[0])
        sequences.append(sequence[: length if limit is None else min(length, limit)])
    dims = {sequence.shape[1] for sequence in sequences}
    if len(dims) != 1:
        raise ValueError(f"{feature_column(modality)} has different dims in one batch: {sorted(dims)}")
    lengths = torch.tensor([sequence.shape[0] for sequence in sequences])
    target = limit if pad_to_max_length else max(int(lengths.max()), 1)
    padded = pad_sequence(sequences, batch_first=True)
    if padded.shape[1] < target:
        padded = torch.nn.functional.pad(padded, (0, 0, 0, target - padded.shape[1]))
    mask = torch.arange(target)[None, :] < lengths[:, None]
    mask[:, 0] = True
    return padded, mask


def pad_tokens(
    rows: Sequence[Mapping[str, Any]],
    name: str,
    limit: int | None = None,
    pad_to_max_length: bool = False,
    pad_token_id: int = 0,
) -> torch.Tensor:
    """The token column ``name`` (``input_ids`` or ``attention_mask``) right-padded to one length."""
    sequences = [torch.as_tensor(np.asarray(row[name], dtype=np.int64))[:limit] for row in rows]
    padding = pad_token_id if name == "input_ids" else 0
    padded = pad_sequence(sequences, batch_first=True, padding_value=padding)
    if pad_to_max_length and padded.shape[1] < limit:
        padded = torch.nn.functional.pad(padded, (0, limit - padded.shape[1]), value=padding)
    return padded


def pad_rows(
    rows: Sequence[Mapping[str, Any]],
    max_lengths: Mapping[str, int | None] | None = None,
    pad_to_max_length: bool = False,
    pad_token_id: int = 0,
) -> dict[str, torch.Tensor]:
    """Features, masks and (when present) token ids of ``rows`` as one batch.

    Args:
        rows: schema rows (``*_features`` [L, D] arrays, optional ``*_length``, ``input_ids``...).
        max_lengths: per modality, the most steps kept (``None``: no limit); the text limit also
            caps the token ids.
        pad_to_max_length: pad to ``max_lengths`` instead of the batch's own maxima.
        pad_token_id: padding value of ``input_ids``.
    """
    if not rows:
        raise ValueError("cannot pad an empty list of rows")
    max_lengths = dict(max_lengths or {})
    batch: dict[str, torch.Tensor] = {}
    for modality in MODALITIES:
        features, mask = pad_modality(rows, modality, max_lengths.get(modality), pad_to_max_length)
        batch[feature_column(modality)] = features
        batch[f"{modality}_mask"] = mask
    for name in TOKEN_COLUMNS:
        if name in rows[0]:
            batch[name] = pad_tokens(rows, name, max_lengths.get("text"), pad_to_max_length, pad_token_id)
    return batch
