"""The "clean" profile of the built-in dataset: deterministic, easily learnable, MOSI-shaped.

``generate_default_dataset`` (below) picks the profile; its default, the MOSI-like profile, is
``synthetic_mosi_like.py``. The clean profile is kept for fast unit tests (``SyntheticConfig``).

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

The feature dims, lengths and split sizes are MOSI's by default (1284 / 229 / 686) and are all
arguments. The same seed always gives the same dataset, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from datasets import DatasetDict

from .schema import MSAMetadata, attach_metadata, msa_features, rows_to_dataset

GENERATOR_VERSION = "msmix-synthetic-1"
VOCABULARY_SIZE = 500
SENTIMENT_WORD_RATE = 1 / 3
SIGNAL_GAIN = 0.5
FRAME_NOISE = 0.5
SARCASM_CUE = 1.0
DEFAULT_PROFILE = "mosi_like"


@dataclass
class SyntheticShape:
    """Split sizes, feature dims, sequence lengths and seed shared by every profile (MOSI's by default).

    The class attributes say what a profile's labels are: the dataset kind (metric set), the
    label range ``[-label_max, label_max]`` and whether rows carry unimodal labels.
    """

    dataset_kind: ClassVar[str] = "mosi"
    label_max: ClassVar[float] = 3.0
    unimodal_labels: ClassVar[bool] = False

    train_size: int = 1284
    validation_size: int = 229
    test_size: int = 686
    text_dim: int = 768
    audio_dim: int = 5
    vision_dim: int = 20
    max_text_length: int = 50
    max_audio_length: int = 375
    max_vision_length: int = 500
    min_text_length: int = 8
    min_audio_length: int = 50
    min_vision_length: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        for modality in ("text", "audio", "vision"):
            low = getattr(self, f"min_{modality}_length")
            high = getattr(self, f"max_{modality}_length")
            if not 1 <= low <= high:
                raise ValueError(f"need 1 <= min_{modality}_length <= max_{modality}_length, got {low} and {high}")
        for name in ("train_size", "validation_size", "test_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass
class SyntheticConfig(SyntheticShape):
    """The "clean" profile: sizes and dims of ``SyntheticShape`` and the noise levels above."""

    label_std: float = 1.5
    text_noise: float = 0.5
    audio_noise: float = 1.0
    vision_noise: float = 0.8
    p_uninformative: float = 0.1
    p_sarcasm: float = 0.15


def _unit(rng: np.random.Generator, dim: int) -> np.ndarray:
    vector = rng.standard_normal(dim)
    return vector / np.linalg.norm(vector)


def schema_row(sample_id: str, transcript: str, text: np.ndarray, audio: np.ndarray, vision: np.ndarray,
               label: float) -> dict:
    """One row of the msmix schema from a sample's [L_m, D_m] features (lengths taken from them)."""
    return {
        "id": sample_id,
        "text": transcript,
        "text_features": text.astype(np.float32),
        "audio_features": audio.astype(np.float32),
        "vision_features": vision.astype(np.float32),
        "text_length": len(text),
        "audio_length": len(audio),
        "vision_length": len(vision),
        "label": np.float32(label),
    }


class _Generator:
    """Holds the fixed directions and vocabulary; draws splits from one random stream."""

    def __init__(self, config: SyntheticConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.u_text = _unit(self.rng, config.text_dim)
        self.u_audio = _unit(self.rng, config.audio_dim)
        self.u_vision = _unit(self.rng, config.vision_dim)
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
                schema_row(f"{split_name}_{i:05d}",
                           f"synthetic utterance {i} ({'sarcastic' if sarcastic[i] else 'plain'})",
                           text, audio, vision, labels[i])
            )
        return rows


def _yield_rows(rows: list[dict]):
    yield from rows


def generate_default_dataset(config: SyntheticShape | None = None, profile: str | None = None) -> DatasetDict:
    """Generate a built-in dataset: the profile ``config`` belongs to, or ``profile``'s defaults.

    ``profile`` is one of ``synthetic_profiles.PROFILES``: ``"mosi_like"`` (the default:
    speaker-disjoint, noisy, calibrated against MOSI, see ``synthetic_mosi_like``), ``"clean"``
    (this module's docstring: easy, fast to learn), ``"mosi_reliability"`` and ``"sims_like"``
    (per-sample modality reliability, see ``synthetic_reliability``). A config's class names its
    profile (``SyntheticConfig`` is the clean one).
    """
    from .synthetic_profiles import PROFILES, profile_of

    if config is None:
        profile = profile or DEFAULT_PROFILE
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
        config = PROFILES[profile][0]()
    chosen = profile_of(config)
    if chosen is None or (profile is not None and profile != chosen):
        raise ValueError(f"config {type(config).__name__} does not match profile {profile!r}")
    generator = PROFILES[chosen][1](config)
    return splits_to_dataset(config, chosen, generator.split)


def splits_to_dataset(config: SyntheticShape, profile: str, split_rows) -> DatasetDict:
    """The three splits ``split_rows(name, size)`` draws, in order, as a ``DatasetDict`` with metadata."""
    metadata = MSAMetadata(
        dataset_kind=config.dataset_kind,
        label_min=-config.label_max,
        label_max=config.label_max,
        text_dim=config.text_dim,
        audio_dim=config.audio_dim,
        vision_dim=config.vision_dim,
        extractors={m: f"msmix synthetic generator ({profile} profile)" for m in ("text", "audio", "vision")},
        normalization={m: "none (unit-scale Gaussian directions plus noise)" for m in ("text", "audio", "vision")},
        source=f"data_processing.synthetic.generate_default_dataset(profile={profile!r}, seed={config.seed})",
        notes={"profile": profile, "generator_config": vars(config).copy()},
    )
    features = msa_features(metadata, unimodal_labels=config.unimodal_labels)
    sizes = {"train": config.train_size, "validation": config.validation_size, "test": config.test_size}
    source_key = {"generator": GENERATOR_VERSION, "profile": profile, **vars(config)}
    dataset = DatasetDict()
    for name, size in sizes.items():
        dataset[name] = rows_to_dataset(_yield_rows, features, name, source_key, rows=split_rows(name, size))
    return attach_metadata(dataset, metadata)
