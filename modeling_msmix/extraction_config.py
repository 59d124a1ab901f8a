"""Every setting of the raw-media feature extractor, stored in a dataset's metadata.

An :class:`ExtractionConfig` is what ``MSAMetadata.extraction`` holds: the models (with the
revisions that were actually loaded), frame and sample rates, face-crop settings and
fallbacks. ``ExtractionConfig.from_dict(read_metadata(ds).extraction)`` rebuilds it, and
:func:`data_processing.extract.extract_sample` with it turns a new video into exactly the
features the dataset holds. Run-time choices that do not change the features (device,
number of processes, cache folder) are not part of it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .feature_schema import dataclass_from_dict

FACE_FALLBACKS: tuple[str, ...] = ("whole_frame", "skip", "zero")
MODEL_FIELDS: dict[str, str] = {"text": "text_model", "audio": "audio_model", "vision": "vision_model"}
VISION_POOLINGS: tuple[str, ...] = ("cls", "mean")


@dataclass
class ExtractionConfig:
    """Models and settings that decide the extracted features (see the module docstring)."""

    text_model: str = field(
        default="bert-base-uncased",
        metadata={"help": "Hub id or local folder of a BERT-like encoder (AutoTokenizer + AutoModel)"},
    )
    text_revision: str | None = field(default=None, metadata={"help": "Hub revision of the text model"})
    text_max_length: int | None = field(
        default=None,
        metadata={
            "help": "maximum tokens per transcript (default: the model's limit); longer ones are truncated and counted"
        },
    )
    audio_model: str = field(
        default="facebook/wav2vec2-base",
        metadata={"help": "Hub id or local folder of a wav2vec2-family model (AutoFeatureExtractor + AutoModel)"},
    )
    audio_revision: str | None = field(default=None, metadata={"help": "Hub revision of the audio model"})
    audio_chunk_seconds: float = field(
        default=20.0,
        metadata={
            "help": "audio is encoded in chunks of at most this many seconds, then concatenated (never truncated)"
        },
    )
    audio_frame_rate: float | None = field(
        default=None,
        metadata={
            "help": "mean-pool audio frames to this many per second (default: the model's own rate, 50 for wav2vec2)"
        },
    )
    vision_model: str = field(
        default="google/vit-base-patch16-224-in21k",
        metadata={"help": "Hub id or local folder of a ViT-like image model (AutoImageProcessor + AutoModel)"},
    )
    vision_revision: str | None = field(default=None, metadata={"help": "Hub revision of the vision model"})
    vision_fps: float = field(default=5.0, metadata={"help": "video frames sampled per second"})
    vision_pooling: str = field(
        default="cls", metadata={"help": f"frame vector from the image model's last hidden state: {VISION_POOLINGS}"}
    )
    face_margin: float = field(
        default=0.2, metadata={"help": "face box grown by this fraction of its size on every side before cropping"}
    )
    face_min_size: int = field(default=20, metadata={"help": "smallest face (pixels) the Haar cascade looks for"})
    face_detection_width: int = field(
        default=320, metadata={"help": "faces are detected on a copy of the frame at most this wide (speed)"}
    )
    face_detector: str = field(
        default="haar",
        metadata={
            "help": "face detector: 'haar' (OpenCV's cascade, no download) or a name registered with "
            "modeling_msmix.face_tracking.register_face_detector"
        },
    )
    face_redetect_every: int = field(
        default=5,
        metadata={
            "help": "run the detector on every k-th sampled frame and track the face in between (1: detect on every "
            "frame, no tracking); a drifting track re-detects at once"
        },
    )
    face_track_min_similarity: float = field(
        default=0.6,
        metadata={"help": "a tracked face whose template match falls under this similarity (-1..1) is re-detected"},
    )
    face_fallback: str = field(
        default="whole_frame",
        metadata={
            "help": f"frames without a face: {FACE_FALLBACKS} (encode the whole frame, drop it, or a zero vector)"
        },
    )
    frame_batch_size: int = field(
        default=32, metadata={"help": "frames per image-model forward pass (memory holds at most three such batches)"}
    )
    dataset_kind: str = field(default="custom", metadata={"help": "mosi, mosei, sims or custom (decides the metrics)"})
    label_min: float | None = field(default=None, metadata={"help": "label range minimum (default: the kind's range)"})
    label_max: float | None = field(default=None, metadata={"help": "label range maximum (default: the kind's range)"})

    def __post_init__(self) -> None:
        if self.face_fallback not in FACE_FALLBACKS:
            raise ValueError(f"face_fallback must be one of {FACE_FALLBACKS}, got {self.face_fallback!r}")
        if self.vision_pooling not in VISION_POOLINGS:
            raise ValueError(f"vision_pooling must be one of {VISION_POOLINGS}, got {self.vision_pooling!r}")
        positive = {"vision_fps": self.vision_fps, "audio_chunk_seconds": self.audio_chunk_seconds}
        if self.audio_frame_rate is not None:
            positive["audio_frame_rate"] = self.audio_frame_rate
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        if self.face_redetect_every < 1:
            raise ValueError(f"face_redetect_every must be >= 1, got {self.face_redetect_every!r}")
        if not -1 <= self.face_track_min_similarity <= 1:
            raise ValueError(f"face_track_min_similarity must be in [-1, 1], got {self.face_track_min_similarity!r}")
        if self.face_margin < 0:
            raise ValueError(f"face_margin must be >= 0, got {self.face_margin!r}")
        if self.text_max_length is not None and self.text_max_length < 2:
            raise ValueError(
                f"text_max_length must be at least 2 (room for [CLS] and [SEP]), got {self.text_max_length}"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (what ``MSAMetadata.extraction`` stores)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "ExtractionConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error (they mean a newer or foreign format)."""
        return dataclass_from_dict(cls, values, "extraction settings")

    def fingerprint(self) -> str:
        """A short hash of every setting: two configs with the same fingerprint give the same features."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def local_models(self) -> dict[str, str]:
        """Per modality, the extractor given as a local folder (an absolute path, or a folder that exists here)."""
        found = {}
        for modality, name in MODEL_FIELDS.items():
            value = getattr(self, name)
            if Path(value).is_absolute() or Path(value).exists():
                found[modality] = value
        return found

    def with_resolved_paths(self) -> "ExtractionConfig":
        """This config with every local extractor folder made absolute, so it loads from any working directory."""
        resolved = {MODEL_FIELDS[m]: str(Path(path).resolve()) for m, path in self.local_models().items()}
        return dataclasses.replace(self, **resolved)
