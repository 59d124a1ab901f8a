"""Missing modalities, missing steps and feature noise on a padded batch: one code path for training and evaluation.

Training's ``modality_dropout`` and the robustness protocols (``trainer/robustness.py``) both
call these functions, so a model is trained on exactly the kind of input it is tested on.

Conventions (those of ``MSMixDataCollator``):

- **missing modality**: the features are all zero and the mask holds only the first step. That
  is what the collator gives a modality of length 0 (missing at extraction time), and
  ``drop_modality`` gives a dropped one the same: zero features, mask ``[True, False, ...]``
  (the padded length of the batch is kept, so ``pad_to_max_length`` shapes stay static).
  ``modality_present`` tells the two apart from a real modality: a modality is present when one of its real steps is non-zero.
- **missing steps** (LNLN's random missing): a masked step is removed from its sequence and
  the steps after it close up, so every mask stays a prefix mask (as packed LSTMs and
  ``last_real_step`` require); a row that loses every step becomes a missing modality.
- **noise**: Gaussian noise on the real steps at a signal-to-noise ratio in dB, relative to
  the mean power of that sample's modality; a missing modality stays missing.

Randomness is per sample and per modality: each row has its own integer seed (``row_seeds``),
and a CPU ``torch.Generator`` seeded with it draws that row's numbers. A sample's mask therefore
depends only on its seed, never on its batch-mates, the batch size, the device or the number of
processes. Training derives the row seeds from the batch's ``mix_seed``, evaluation from a
protocol seed and the sample ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch

MODALITY_COUNT = 3


def row_seeds(base_seed: int, keys: Sequence[object], salt: str = "") -> list[int]:
    """One 63-bit seed per key: a digest of ``base_seed``, ``salt`` and the key (a sample id or row index)."""
    seeds = []
    for key in keys:
        digest = hashlib.blake2b(f"{int(base_seed)}:{salt}:{key}".encode(), digest_size=8).digest()
        seeds.append(int.from_bytes(digest, "little") >> 1)
    return seeds


def _generator(seed: int, modality: int) -> torch.Generator:
    generator = torch.Generator()
    generator.manual_seed((int(seed) + 0x9E3779B1 * (modality + 1)) % (2**63))
    return generator


def modality_present(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Bool [B]: the rows of ``features`` [B, L, D] with a non-zero value on a real step of ``mask`` [B, L]."""
    return (features.ne(0).any(dim=-1) & mask).any(dim=1)


def random_modality_keep(seeds: Sequence[int], probability: float) -> torch.Tensor:
    """Bool [B, 3]: each modality of each row kept unless a uniform draw falls below ``probability``.

    At least one modality is always kept: when all three fall below, the one with the largest
    draw stays.
    """
    if not 0.0 <= probability < 1.0:
        raise ValueError(f"the modality missing probability must lie in [0, 1), got {probability!r}")
    draws = torch.stack([torch.rand(MODALITY_COUNT, generator=_generator(seed, MODALITY_COUNT)) for seed in seeds])
    keep = draws >= probability
    none_kept = ~keep.any(dim=1)
    keep[none_kept, draws[none_kept].argmax(dim=1)] = True
    return keep


def subset_keep(batch_size: int, removed: Sequence[int]) -> torch.Tensor:
    """Bool [B, 3]: every modality kept except the indices in ``removed`` (0 text, 1 audio, 2 vision)."""
    keep = torch.ones(batch_size, MODALITY_COUNT, dtype=torch.bool)
    keep[:, list(removed)] = False
    return keep


def drop_modality(features: torch.Tensor, mask: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Make the rows with ``keep`` [B] False a missing modality (zero features, first step only)."""
    keep = keep.to(mask.device)
    features = features * keep[:, None, None].to(features.dtype)
    mask = mask & keep[:, None]
    mask[:, 0] = True
    return features, mask


def drop_modalities(features: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], keep: torch.Tensor,
                    attention_mask: torch.Tensor | None = None):
    """``drop_modality`` on each of the three modalities with ``keep`` [B, 3]; text also on ``attention_mask``.

    Returns ``(features, masks, attention_mask)`` (tuples of three, ``attention_mask`` ``None`` if not given).
    """
    dropped = [drop_modality(feature, mask, keep[:, index])
               for index, (feature, mask) in enumerate(zip(features, masks))]
    if attention_mask is not None:
        attention_mask = drop_tokens(attention_mask, keep[:, 0])
    return tuple(f for f, _ in dropped), tuple(m for _, m in dropped), attention_mask


def drop_tokens(attention_mask: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The text encoder's ``attention_mask`` with dropped rows reduced to their first ([CLS]) token."""
    keep = keep.to(attention_mask.device)
    dropped = attention_mask * keep[:, None].to(attention_mask.dtype)
    dropped[:, 0] = attention_mask[:, 0]
    return dropped


def random_step_keep(seeds: Sequence[int], mask: torch.Tensor, rate: float, modality: int) -> torch.Tensor:
    """Bool [B, L]: each real step of ``mask`` kept unless its uniform draw falls below ``rate``.

    A row draws exactly as many numbers as it has real steps, so its mask does not depend on
    the padding of its batch.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"the step missing rate must lie in [0, 1], got {rate!r}")
    keep = torch.zeros(mask.shape, dtype=torch.bool)
    lengths = mask.sum(dim=1).tolist()
    for row, (seed, length) in enumerate(zip(seeds, lengths)):
        keep[row, :length] = torch.rand(length, generator=_generator(seed, modality)) >= rate
    return keep.to(mask.device) & mask


def keep_steps(features: torch.Tensor, mask: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Remove the real steps with ``keep`` False and close up the rest; a row left empty becomes missing."""
    keep = keep & mask
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
    gathered = features.gather(1, order.unsqueeze(-1).expand_as(features))
    counts = keep.sum(dim=1)
    new_mask = torch.arange(mask.shape[1], device=mask.device)[None, :] < counts[:, None]
    gathered = gathered * new_mask.unsqueeze(-1).to(gathered.dtype)
    new_mask[:, 0] = True
    return gathered, new_mask


def keep_tokens(attention_mask: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The text encoder's ``attention_mask`` without the tokens whose ``keep`` is False (the first token stays)."""
    masked = attention_mask * keep.to(attention_mask.device, attention_mask.dtype)
    masked[:, 0] = attention_mask[:, 0]
    return masked


def add_noise(features: torch.Tensor, mask: torch.Tensor, seeds: Sequence[int], snr_db: float,
              modality: int) -> torch.Tensor:
    """``features`` plus Gaussian noise on the real steps at ``snr_db`` dB below each row's mean signal power."""
    noisy = features.clone()
    lengths = mask.sum(dim=1).tolist()
    scale = 10.0 ** (-float(snr_db) / 10.0)
    for row, (seed, length) in enumerate(zip(seeds, lengths)):
        power = float(features[row, :length].double().pow(2).mean())  # per row: independent of the batch's padding
        if power == 0.0:
            continue
        noise = torch.randn((length, features.shape[2]), generator=_generator(seed, modality))
        noisy[row, :length] += (noise * (power * scale) ** 0.5).to(features.device, features.dtype)
    return noisy
