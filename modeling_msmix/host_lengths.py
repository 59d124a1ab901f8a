"""Sequence lengths known on the host, so that packed LSTMs need no device-to-host copy.

``pack_padded_sequence`` needs the lengths on the CPU; computing them from a GPU mask makes the
host wait for the device once per LSTM call. The collator already knows them: it passes
``host_lengths`` ({modality: [int, ...]}) with the batch, the model's forward registers them for
its masks with ``known_lengths``, and ``mask_lengths`` returns them (or, for a mask it does not
know, computes them from the mask as before).
"""

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Sequence

import torch

_REGISTERED: ContextVar[dict[int, torch.Tensor]] = ContextVar("msmix_host_lengths", default={})


@contextmanager
def known_lengths(masks: Sequence[torch.Tensor], lengths: Sequence[Sequence[int] | None]) -> Iterator[None]:
    """Within the block, ``mask_lengths(masks[i])`` is ``max(lengths[i], 1)`` without touching the device."""
    registered = dict(_REGISTERED.get())
    for mask, values in zip(masks, lengths):
        if values is not None and len(values) == mask.shape[0]:
            registered[id(mask)] = torch.as_tensor(values, dtype=torch.int64).clamp(min=1, max=mask.shape[1])
    token = _REGISTERED.set(registered)
    try:
        yield
    finally:
        _REGISTERED.reset(token)


def mask_lengths(mask: torch.Tensor) -> torch.Tensor:
    """The number of real steps per row of ``mask`` [B, T] (at least 1), as a CPU int64 tensor."""
    known = _REGISTERED.get().get(id(mask))
    if known is not None:
        return known
    return mask.sum(dim=1).clamp_min(1).cpu()
