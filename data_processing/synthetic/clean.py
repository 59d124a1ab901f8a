"""The "clean" profile of the built-in dataset: deterministic, easily learnable, MOSI-shaped.

``--dataset default:clean``; the default built-in profile is the MOSI-like one (``mosi_like.py``).
The clean profile is kept for fast unit tests (``SyntheticConfig``).

How one sample is generated (all draws from ``numpy.random.default_rng(seed)``, splits drawn
one after another in the order train, validation, test):

1. **Label.** ``y = clip(round(N(0, 1.5^2) * 5) / 5, -3, 3)``: multiples of 0.2 like MOSI's
   averaged annotations, so ``y == 0`` occurs (about 10 % of samples).
2. **Per-modality evidence.** Each modality m carries its own noisy reading of the label,
   ``e_m = y + N(0, s_m^2)`` with noise levels ``s_text = 0.5``, ``s_audio = 1.0``,
   ``s_vision = 0.8``. Fusing the three readings beats any single one.
3. **Unreliable modalities.** With probability ``p_uninformative = 0.1`` one modality, chosen
   uniformly, is uninformative (``e_m`` is replaced by fresh ``N(0, 1.5^2)`` noise). Independently,
   with probability ``p_sarcasm = 0.15`` the text is contradictory (sarcasm): ``e_text = -e_text``,
   and the vision stream carries a visible cue for it (below). Only a model that reads text *and*
   vision together can undo the flip, so multimodal models beat unimodal ones.
4. **Features.** Fixed random unit directions ``u_m`` (one per modality, drawn first) carry the
   evidence:

   - text ``[Lt, 768]``, ``Lt ~ U{8..50}``: every token is a random "word" from a fixed
     vocabulary of 500 Gaussian embeddings (scale 1/sqrt(768)); about a third of the tokens are
     sentiment words, to which ``0.5 * e_text * u_text`` is added.
   - audio ``[La, 5]``, ``La ~ U{50..375}``: ``0.5 * e_audio * u_audio * env(t) + N(0, 0.5^2)``
     with a smooth random loudness envelope ``env(t)`` in [0.5, 1.5].
   - vision ``[Lv, 20]``, ``Lv ~ U{50..500}``: ``0.5 * e_vision * u_vision + N(0, 0.5^2)``, plus the
     sarcasm cue ``1.0 * c`` on a fixed unit direction ``c`` (orthogonal to ``u_vision``) in every
     frame of a sarcastic sample.

The transcript is ``synthetic utterance <i>``: it says nothing of the sentiment or of sarcasm.

The feature dims, lengths and split sizes are MOSI's by default (1284 / 229 / 686) and are all
arguments. The same seed always gives the same dataset, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .shape import VOCABULARY_SIZE, SyntheticShape, schema_row, unit_vector

SENTIMENT_WORD_RATE = 1 / 3
SIGNAL_GAIN = 0.5
FRAME_NOISE = 0.5
SARCASM_CUE = 1.0


@dataclass
class SyntheticConfig(SyntheticShape):
    """The "clean" profile: sizes and dims of ``SyntheticShape`` and the noise levels above."""

    label_std: float = 1.5
    text_noise: float = 0.5
    audio_noise: float = 1.0
    vision_noise: float = 0.8
    p_uninformative: float = 0.1
    p_sarcasm: float = 0.15


class CleanGenerator:
    """Holds the fixed directions and vocabulary; draws splits from one random stream."""

    def __init__(self, config: SyntheticConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.u_text = unit_vector(self.rng, config.text_dim)
        self.u_audio = unit_vector(self.rng, config.audio_dim)
        self.u_vision = unit_vector(self.rng, config.vision_dim)
        cue = self.rng.standard_normal(config.vision_dim)
        cue -= cue @ self.u_vision * self.u_vision
        self.cue = cue / np.linalg.norm(cue)
        self.vocabulary = self.rng.standard_normal((VOCABULARY_SIZE, config.text_dim)) / np.sqrt(config.text_dim)

    def split(self, split_name: str, size: int) -> list[dict]:
        c, rng = self.config, self.rng
        labels = np.clip(np.round(rng.normal(0.0, c.label_std, size) * 5) / 5, -3.0, 3.0)
        evidence = {
            "text": labels + rng.normal(0.0, c.text_noise, size),
            "audio": labels + rng.normal(0.0, c.audio_noise, size),
            "vision": labels + rng.normal(0.0, c.vision_noise, size),
        }
        uninformative = rng.random(size) < c.p_uninformative
        which = rng.integers(0, 3, size)
        replacement = rng.normal(0.0, c.label_std, size)
        for index, modality in enumerate(("text", "audio", "vision")):
            hit = uninformative & (which == index)
            evidence[modality] = np.where(hit, replacement, evidence[modality])
        sarcastic = rng.random(size) < c.p_sarcasm
        evidence["text"] = np.where(sarcastic, -evidence["text"], evidence["text"])

        rows = []
        for i in range(size):
            lt = int(rng.integers(c.min_text_length, c.max_text_length + 1))
            la = int(rng.integers(c.min_audio_length, c.max_audio_length + 1))
            lv = int(rng.integers(c.min_vision_length, c.max_vision_length + 1))
            words = rng.integers(0, VOCABULARY_SIZE, lt)
            text = self.vocabulary[words].copy()
            sentiment_words = rng.random(lt) < SENTIMENT_WORD_RATE
            text[sentiment_words] += SIGNAL_GAIN * evidence["text"][i] * self.u_text
            phase, speed = rng.uniform(0, 2 * np.pi), rng.uniform(0.01, 0.05)
            envelope = 1.0 + 0.5 * np.sin(phase + speed * np.arange(la))[:, None]
            audio = SIGNAL_GAIN * evidence["audio"][i] * self.u_audio * envelope
            audio += rng.normal(0.0, FRAME_NOISE, (la, c.audio_dim))
            vision = np.broadcast_to(SIGNAL_GAIN * evidence["vision"][i] * self.u_vision, (lv, c.vision_dim)).copy()
            vision += rng.normal(0.0, FRAME_NOISE, (lv, c.vision_dim))
            if sarcastic[i]:
                vision += SARCASM_CUE * self.cue
            rows.append(
                schema_row(f"{split_name}_{i:05d}", f"synthetic utterance {i}", text, audio, vision, labels[i])
            )
        return rows
