"""The ``mosi_mislabeled`` profile: ``mosi_reliability`` whose training and validation labels are partly wrong.

In a small annotated corpus some clips carry another clip's annotation (a row attached to the wrong
video, a rating entered for the neighbouring clip). This profile is the ``mosi_reliability`` profile
(per-sample modality reliability, module ``reliability``) with exactly that error, in the splits a
researcher labels and selects with, and not in the test split, which stands for a carefully checked
benchmark:

- the data are ``mosi_reliability``'s at the same seed, byte for byte, but for the labels below;
- after a ``train`` or ``validation`` split is drawn, each of its rows is chosen with probability
  ``p_mislabeled``, and the chosen rows' labels are permuted among themselves, so a chosen row carries
  the label of another chosen clip of the same split and the split's label distribution is unchanged.
  These draws come from a second stream, ``numpy.random.default_rng([seed, 1])``, so they leave the
  profile's own stream (and so every feature) as it is;
- the ``test`` split is ``mosi_reliability``'s, with every label correct.

It was built as the study's **positive control** (``results/msmix_study/PROTOCOL.md``): Mixup is known
to resist memorising wrong labels (Zhang et al., ICLR 2018, the corrupted-label experiments). Calibrated
with no augmentation, vanilla Mixup and Manifold Mixup only (``results/msmix_study/CALIBRATION.md``),
neither candidate share (0.3, 0.5) showed a Mixup gain with LMF at 128 or 321 training rows; the
default ``p_mislabeled = 0.5`` is the one the protocol names for that case.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .reliability import ReliabilityConfig, ReliabilityGenerator

MISLABELED_SPLITS: tuple[str, ...] = ("train", "validation")


@dataclass
class MislabeledConfig(ReliabilityConfig):
    """``ReliabilityConfig`` plus the share of training and validation rows whose labels are permuted."""

    p_mislabeled: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.p_mislabeled <= 1.0:
            raise ValueError(f"p_mislabeled must lie in [0, 1], got {self.p_mislabeled}")


class MislabeledGenerator(ReliabilityGenerator):
    """The reliability generator that permutes the labels of a random share of train and validation rows."""

    config: MislabeledConfig

    def __init__(self, config: MislabeledConfig) -> None:
        super().__init__(config)
        self.label_rng = np.random.default_rng([config.seed, 1])

    def split(self, split_name: str, size: int) -> list[dict]:
        rows = super().split(split_name, size)
        if split_name not in MISLABELED_SPLITS:
            return rows
        chosen = (self.label_rng.random(size) < self.config.p_mislabeled).nonzero()[0]
        labels = [rows[index]["label"] for index in chosen]
        for index, source in zip(chosen, self.label_rng.permutation(len(chosen))):
            rows[index]["label"] = labels[source]
        return rows
