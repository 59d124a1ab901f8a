"""What every built-in profile shares: the shape of a dataset, fixed random directions and one schema row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

VOCABULARY_SIZE = 500


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


def unit_vector(rng: np.random.Generator, dim: int) -> np.ndarray:
    """A random direction of norm 1 in ``dim`` dimensions."""
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
