"""Built-in profiles where the modality that carries the sentiment changes from sample to sample.

``--dataset default:mosi_reliability`` is the MOSI-like profile (``mosi_like.py``:
speakers, annotators, MOSI's shapes) with **per-sample modality reliability**: in some samples
the voice or the face carries the sentiment while the words are neutral or say the opposite,
as in real recordings. ``--dataset default:sims_like`` is the same mechanism at CH-SIMS's
shapes and label range [-1, 1], with CH-SIMS's **unimodal labels** (``label_text``,
``label_audio``, ``label_vision``: each modality rated on its own).

In the MOSI-like profile every sample's audio and vision carry one noise level, so nothing in a
sample says how much its voice or face can be trusted and MS-Mix's intensity predictor (SIG) has
nothing to read there (the best r of any function of their evidence with |y| was 0.09). Here a
modality that carries the sentiment is *expressive*: its reading is strong and accurate; one that
does not is *flat*: a weak, scaled-down reading. So the size of a modality's reading says how
reliable it is for that sample, which is what SIG is meant to learn.

How one sample's evidence is drawn (after the MOSI-like profile's speakers, latent sentiment ``s``
and label; all from the same ``numpy.random.default_rng(seed)`` stream):

1. **Carrier.** ``audio`` with probability ``p_audio_carrier``, ``vision`` with
   ``p_vision_carrier``, otherwise ``text``.
2. **What each modality expresses** (``s_m``). The carrier expresses ``s``. Text that does not
   carry says nothing (``0``) or, with probability ``p_misleading_words``, the opposite (``-s``).
   A flat voice or face expresses ``flat_gain * s``. Text that carries is flipped, as in the
   MOSI-like profile, with probability ``p_contradictory`` (sarcasm, with the vision cue).
3. **Evidence.** The carrier reads ``s + N(0, carrier_noise^2)``; text that carries reads
   ``s_text + N(0, text_noise^2)``, text that does not ``s_text + N(0, quiet_text_noise^2)``; a
   flat voice or face is the MOSI-like profile's weak non-verbal reading scaled down,
   ``flat_gain * (s + n + N(0, audio_noise^2))`` with the shared ``n ~ N(0, nonverbal_noise^2)``
   (``vision_noise`` for the face). Features are then built from the evidence exactly as in the
   MOSI-like profile.
4. **Unimodal labels** (SIMS-like only): each modality's ``s_m`` rated by the annotators as the
   label is (three levels -1/0/1 per annotator, their mean), so ``label_m`` differs from ``label``
   where the modality is flat, neutral or misleading, as CH-SIMS's unimodal labels do.

The transcript is the MOSI-like profile's (``synthetic utterance <i> of speaker <s>``): nothing in a
row but its features and labels says which modality carries the sentiment.

**Calibration** (no augmentation only; no augmentation result was looked at), with the ridge
probe on time-averaged features (``python -m benchmarks.probe_synthetic --profile
mosi_reliability``), data seeds 0-2, test split, and one LMF run per profile (long recipe, seed
1111, data seed 0); the whole record is ``results/msmix_mechanism_study/CALIBRATION.md``:

=================  ===========================  ==================================  =====================
profile            probe, fused (MAE / Corr)    LMF, no augmentation                audio / vision
                                                (MAE / Corr / binary accuracy)      ``intensity_r``
=================  ===========================  ==================================  =====================
mosi_reliability   0.95-1.03 / 0.58-0.64        0.918 / 0.668 / Has0 Acc-2 76.2 %   0.13-0.25 / 0.15-0.20
sims_like          0.40-0.45 / 0.59-0.67        0.429 / 0.638 / Mult_acc_2 70.2 %   0.15-0.20 / 0.12-0.17
mosi_like          0.92-0.99 / 0.61-0.66        (module ``mosi_like``)              0.05-0.12 / 0.07-0.10
=================  ===========================  ==================================  =====================

``intensity_r`` is the test Pearson r of |ridge prediction from that modality| with |y|.
``tests/test_synthetic_reliability.py`` holds the ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .mosi_like import EvidenceDraws, MOSILikeConfig, MOSILikeGenerator

CARRIERS: tuple[str, ...] = ("text", "audio", "vision")


@dataclass
class ReliabilityConfig(MOSILikeConfig):
    """The MOSI-like profile plus per-sample modality reliability (module docstring, steps 1-3)."""

    p_audio_carrier: float = 0.2
    p_vision_carrier: float = 0.2
    p_misleading_words: float = 0.2
    carrier_noise: float = 0.6
    quiet_text_noise: float = 0.4
    flat_gain: float = 0.1
    audio_style: float = 0.25
    vision_style: float = 0.25

    def __post_init__(self) -> None:
        super().__post_init__()
        shares = (self.p_audio_carrier, self.p_vision_carrier, self.p_misleading_words)
        if not all(0.0 <= share <= 1.0 for share in shares) or self.p_audio_carrier + self.p_vision_carrier > 1.0:
            raise ValueError("p_audio_carrier, p_vision_carrier and p_misleading_words must lie in [0, 1] and "
                             f"p_audio_carrier + p_vision_carrier <= 1, got {shares}")


@dataclass
class SIMSLikeConfig(ReliabilityConfig):
    """CH-SIMS's sizes, dims, lengths and label range [-1, 1], with unimodal labels (module docstring, step 4).

    Sentiment and noise levels are in label units, so about a third of the MOSI-like ones (set with
    the probe, see the calibration), and ``signal_gain`` is 3 times as large so that the features
    carry a signal of the same size as on the MOSI scale.
    """

    dataset_kind: ClassVar[str] = "sims"
    label_max: ClassVar[float] = 1.0
    unimodal_labels: ClassVar[bool] = True

    train_size: int = 1368
    validation_size: int = 456
    test_size: int = 457
    audio_dim: int = 33
    vision_dim: int = 709
    max_text_length: int = 39
    max_audio_length: int = 400
    max_vision_length: int = 55
    min_vision_length: int = 10
    train_speakers: int = 36
    validation_speakers: int = 12
    test_speakers: int = 12
    rating_noise: float = 0.3
    sentiment_mode: float = 0.55
    sentiment_spread: float = 0.35
    speaker_bias: float = 0.13
    text_noise: float = 0.45
    nonverbal_noise: float = 1.17
    audio_noise: float = 0.67
    vision_noise: float = 0.67
    signal_gain: float = 1.5
    carrier_noise: float = 0.35
    quiet_text_noise: float = 0.13


@dataclass
class ReliabilityDraws(EvidenceDraws):
    """The evidence draws plus each sample's carrier (an index into ``CARRIERS``) and whether words
    that do not carry say the opposite."""

    carrier: np.ndarray = field(kw_only=True)
    misleading: np.ndarray = field(kw_only=True)


class ReliabilityGenerator(MOSILikeGenerator):
    """The MOSI-like generator whose evidence step draws a carrier modality per sample."""

    config: ReliabilityConfig

    def evidence(self, latent: np.ndarray) -> ReliabilityDraws:
        c, rng, size = self.config, self.rng, len(latent)
        carrier = rng.choice(len(CARRIERS), size=size,
                             p=[1.0 - c.p_audio_carrier - c.p_vision_carrier, c.p_audio_carrier, c.p_vision_carrier])
        misleading = rng.random(size) < c.p_misleading_words
        contradictory = (carrier == 0) & (rng.random(size) < c.p_contradictory)
        words = np.where(carrier == 0, np.where(contradictory, -latent, latent), np.where(misleading, -latent, 0.0))
        expressed = {
            "text": words,
            "audio": np.where(carrier == 1, latent, c.flat_gain * latent),
            "vision": np.where(carrier == 2, latent, c.flat_gain * latent),
        }
        nonverbal = rng.normal(0.0, c.nonverbal_noise, size)
        carried = latent + rng.normal(0.0, c.carrier_noise, size)
        evidence = {"text": words + rng.normal(0.0, 1.0, size) * np.where(carrier == 0, c.text_noise, c.quiet_text_noise)}
        for index, modality in ((1, "audio"), (2, "vision")):
            own = rng.normal(0.0, getattr(c, f"{modality}_noise"), size)
            evidence[modality] = np.where(carrier == index, carried, c.flat_gain * (latent + nonverbal + own))
        extra = {}
        if c.unimodal_labels:
            extra = {f"label_{m}": self.rate(expressed[m]) for m in CARRIERS}
        return ReliabilityDraws(evidence, contradictory, extra, carrier=carrier, misleading=misleading)
