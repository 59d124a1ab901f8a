"""The robustness protocols of MSA papers as batch perturbations, and a collator that applies one.

- ``fixed_missing``: each of the 6 proper subsets of {text, audio, vision} removed for every
  sample (the model sees what the collator gives a modality of length 0);
- ``random_modality_missing`` (p): each modality of each sample dropped with probability p,
  at least one kept;
- ``random_step_missing`` (r, LNLN's protocol): each step (token / frame) of every modality
  masked with probability r; a masked step is removed and the steps after it close up;
- ``feature_noise`` (SNR in dB): Gaussian noise on every real step of every modality, with a
  power ``10^(-SNR/10)`` times that sample's mean signal power in that modality.

Every draw comes from ``modeling_msmix.modality_masks`` (the code training's
``modality_dropout`` uses) with per-sample seeds made from the protocol seed and the sample id,
so a sample's perturbation never depends on the batch, the device or the number of processes.
The seeds do not depend on the rate either: a sample's masks at a higher rate contain those at
a lower one, and rate 0 leaves the batch unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from data_processing.schema import MODALITIES, feature_column
from modeling_msmix.modality_masks import (
    add_noise,
    drop_modalities,
    keep_steps,
    keep_tokens,
    random_modality_keep,
    random_step_keep,
    row_seeds,
    subset_keep,
)

from .collator import host_lengths

PROTOCOLS: tuple[str, ...] = ("fixed_missing", "random_modality_missing", "random_step_missing", "feature_noise")
PROTOCOL_TITLES: dict[str, str] = {
    "fixed_missing": "Fixed missing modalities",
    "random_modality_missing": "Random modality missing (probability p per modality, one always kept)",
    "random_step_missing": "Random step missing (LNLN: rate r per token / frame)",
    "feature_noise": "Gaussian feature noise (SNR in dB per sample and modality)",
}
MODALITY_LETTERS = ("T", "A", "V")
FIXED_SUBSETS: tuple[tuple[int, ...], ...] = ((0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
DEFAULT_MODALITY_RATES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
DEFAULT_STEP_RATES: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
DEFAULT_SNR_DB: tuple[float, ...] = (20.0, 10.0, 5.0, 0.0, -5.0)


def subset_label(removed: Sequence[int]) -> str:
    """``'A+V (T removed)'``: the modalities kept, then those removed."""
    kept = "+".join(MODALITY_LETTERS[m] for m in range(3) if m not in removed)
    return f"{kept} ({'+'.join(MODALITY_LETTERS[m] for m in removed)} removed)"


@dataclass(frozen=True)
class Perturbation:
    """One protocol at one level: ``protocol`` in ``PROTOCOLS`` or ``"clean"``.

    ``level`` is p, r or the SNR in dB; ``removed`` the modality indices of ``fixed_missing``.
    """

    protocol: str
    level: float | None = None
    removed: tuple[int, ...] = ()
    seed: int = 0

    @property
    def label(self) -> str:
        if self.protocol == "fixed_missing":
            return subset_label(self.removed)
        if self.protocol == "feature_noise":
            return f"{self.level:g} dB"
        return "clean" if self.level is None else f"{self.level:g}"

    def apply(self, batch: dict[str, Any], ids: Sequence[str]) -> dict[str, Any]:
        """The perturbed batch (a new dict; the input batch is not changed)."""
        if self.protocol == "clean":
            return batch
        batch = dict(batch)
        features = [batch[feature_column(m)] for m in MODALITIES]
        masks = [batch[f"{m}_mask"] for m in MODALITIES]
        attention_mask = batch.get("attention_mask")
        if self.protocol in ("fixed_missing", "random_modality_missing"):
            if self.protocol == "fixed_missing":
                keep = subset_keep(len(ids), self.removed)
            else:
                keep = random_modality_keep(row_seeds(self.seed, ids, "modality_missing"), float(self.level))
            features, masks, attention_mask = drop_modalities(features, masks, keep, attention_mask)
        elif self.protocol == "random_step_missing":
            seeds = row_seeds(self.seed, ids, "step_missing")
            for index in range(3):
                keep = random_step_keep(seeds, masks[index], float(self.level), index)
                features[index], masks[index] = keep_steps(features[index], masks[index], keep)
            if attention_mask is not None:
                keep = random_step_keep(seeds, attention_mask.bool(), float(self.level), 3)
                attention_mask = keep_tokens(attention_mask, keep)
        elif self.protocol == "feature_noise":
            seeds = row_seeds(self.seed, ids, "feature_noise")
            features = [add_noise(f, m, seeds, float(self.level), i) for i, (f, m) in enumerate(zip(features, masks))]
        else:
            raise ValueError(f"unknown protocol {self.protocol!r}; expected 'clean' or one of {PROTOCOLS}")
        for modality, feature, mask in zip(MODALITIES, features, masks):
            batch[feature_column(modality)] = feature
            batch[f"{modality}_mask"] = mask
        if attention_mask is not None:
            batch["attention_mask"] = attention_mask
        if "host_lengths" in batch:
            batch["host_lengths"] = host_lengths(batch)  # the collator's lengths predate the perturbation
        return batch


def protocol_perturbations(seed: int, modality_rates: Sequence[float] = DEFAULT_MODALITY_RATES,
                           step_rates: Sequence[float] = DEFAULT_STEP_RATES,
                           snr_db: Sequence[float] = DEFAULT_SNR_DB) -> dict[str, list[Perturbation]]:
    """Every protocol's perturbations, in table order."""
    return {
        "fixed_missing": [Perturbation("fixed_missing", removed=subset, seed=seed) for subset in FIXED_SUBSETS],
        "random_modality_missing": [Perturbation("random_modality_missing", float(p), seed=seed)
                                    for p in modality_rates],
        "random_step_missing": [Perturbation("random_step_missing", float(r), seed=seed) for r in step_rates],
        "feature_noise": [Perturbation("feature_noise", float(s), seed=seed) for s in snr_db],
    }


class PerturbingCollator:
    """Collate with ``base`` (an ``MSMixDataCollator``), then apply ``perturbation`` using the rows' ids."""

    def __init__(self, base, perturbation: Perturbation):
        self.base = base
        self.perturbation = perturbation

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        if rows and "id" not in rows[0]:
            raise ValueError("robustness protocols need the dataset's 'id' column (per-sample seeds come from it)")
        batch = self.base(rows)
        batch.pop("mix_seed", None)
        return self.perturbation.apply(batch, [str(row["id"]) for row in rows])
