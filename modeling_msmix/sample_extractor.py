"""One clip -> one row of schema columns; shared by the dataset pipeline and inference on new videos.

:func:`extract_sample` is the public per-file call::

    config = ExtractionConfig.from_dict(read_metadata(dataset).extraction)
    row = extract_sample("clip.mp4", "what was said", config=config)
    row["text_features"], row["audio_features"], row["vision_features"]  # [L, D] float32 arrays

Models are loaded once per process and per (settings, device) and kept for later calls. A clip
is streamed: its audio track decodes in a background thread while the video's sampled frames are
decoded, face-cropped and encoded ``frame_batch_size`` at a time, so memory stays flat with the
clip's length and resolution (see :mod:`.frame_stream` and :mod:`.vision_features`).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import torch

from .audio_features import AudioEncoder, AudioTooShortError
from .extraction_config import ExtractionConfig
from .feature_schema import ERROR, MODALITIES, WARNING, Issue, feature_column, length_column
from .frame_stream import VideoStream
from .media import MediaError, read_audio
from .text_features import TextEncoder
from .vision_features import FaceCropper, VisionEncoder, encode_faces

logger = logging.getLogger(__name__)


class ExtractionError(RuntimeError):
    """A clip could not be turned into features (the message says why)."""


@dataclass
class SampleOutcome:
    """The schema columns of one clip (``None`` after an error), its issues and statistics.

    ``stats`` holds ``frames_sampled``, ``frames_without_face``, ``face_hit_rate``, ``face_detections``
    (detector calls; the other frames were tracked), ``text_tokens_cut``, ``audio_seconds``,
    ``video_fps`` and ``seconds`` (decode / detect / encode).

    ``details`` (only when asked for, never cached) holds what inference shows about the clip:
    ``face_crops`` (per sampled frame, its face crop or the whole frame), ``face_found``,
    ``face_boxes`` (``(x, y, w, h)`` or ``None``), ``frame_times`` (seconds), ``waveform`` (mono
    float32, empty without audio) and ``sampling_rate``.
    """

    columns: dict[str, Any] | None
    issues: list[Issue] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] | None = None


def resolve_device(device: str = "auto", rank: int | None = None) -> torch.device:
    """``auto`` -> a GPU when there is one (worker ``rank`` takes GPU ``rank % count``), else the CPU."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device(f"cuda:{(rank or 0) % torch.cuda.device_count()}")
    return torch.device("cpu")


class SampleExtractor:
    """The three encoders and the face cropper of one :class:`ExtractionConfig`, on one device."""

    def __init__(self, config: ExtractionConfig, device: torch.device) -> None:
        self.config = config
        self.text = TextEncoder(config.text_model, config.text_revision, config.text_max_length, device)
        self.audio = AudioEncoder(
            config.audio_model, config.audio_revision, config.audio_chunk_seconds, config.audio_frame_rate, device
        )
        self.vision = VisionEncoder(
            config.vision_model, config.vision_revision, config.vision_pooling, config.frame_batch_size, device
        )
        self.cropper = FaceCropper.from_config(config)

    @property
    def dims(self) -> dict[str, int]:
        """Feature dimension per modality."""
        return {"text": self.text.dim, "audio": self.audio.dim, "vision": self.vision.dim}

    def extract(
        self, sample_id: str, video: str, text: str, audio: str | None = None, keep_details: bool = False
    ) -> SampleOutcome:
        """Features of one clip; input problems become issues (see :mod:`data_processing.error_report`).

        ``keep_details`` fills :attr:`SampleOutcome.details` (face crops, frame times, waveform).
        """
        issues: list[Issue] = []
        try:
            stream = VideoStream(video, self.config.vision_fps)
        except MediaError as error:
            return SampleOutcome(None, [Issue(sample_id, ERROR, error.code, str(error))])
        detections = self.cropper.tracker.detections
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audio-decode") as audio_decoder:
            pending_audio = audio_decoder.submit(read_audio, audio or video, self.audio.sampling_rate)
            try:
                vision = encode_faces(stream, self.cropper, self.vision, self.config.face_fallback, keep_details)
            except MediaError as error:
                return SampleOutcome(None, [Issue(sample_id, ERROR, error.code, str(error))])
        waveform = None
        try:
            waveform = pending_audio.result()
        except MediaError as error:
            if error.code != "no_audio_track":
                return SampleOutcome(None, [Issue(sample_id, ERROR, error.code, str(error))])
            issues.append(Issue(sample_id, WARNING, error.code, f"{error}; audio left empty (audio_length 0)"))
        start = time.perf_counter()
        if not text.strip():
            issues.append(
                Issue(sample_id, WARNING, "empty_transcript", "empty transcript; text left empty (text_length 0)")
            )
        encoded_text = self.text(text)
        if encoded_text.truncated:
            issues.append(
                Issue(
                    sample_id,
                    WARNING,
                    "text_truncated",
                    f"transcript cut to {self.text.max_length} tokens: {encoded_text.tokens_cut} of its "
                    f"{self.text.max_length + encoded_text.tokens_cut} dropped",
                )
            )
        audio_features = np.zeros((0, self.audio.dim), np.float32)
        if waveform is not None:
            try:
                audio_features = self.audio(waveform)
            except AudioTooShortError as error:
                issues.append(
                    Issue(sample_id, WARNING, "audio_too_short", f"{error}; audio left empty (audio_length 0)")
                )
        vision.seconds["encode"] += time.perf_counter() - start
        if vision.frames_without_face == vision.frames_sampled:
            issues.append(
                Issue(
                    sample_id,
                    WARNING,
                    "no_face",
                    f"no face in any of {vision.frames_sampled} sampled frames; fallback {self.config.face_fallback!r}",
                )
            )
        features = {"text": encoded_text.features, "audio": audio_features, "vision": vision.features}
        columns: dict[str, Any] = {"id": sample_id, "text": text}
        for modality in MODALITIES:
            columns[feature_column(modality)] = features[modality].astype(np.float32, copy=False)
            columns[length_column(modality)] = int(len(features[modality]))
        columns["input_ids"] = encoded_text.input_ids
        columns["attention_mask"] = encoded_text.attention_mask
        stats = {
            "frames_sampled": vision.frames_sampled,
            "frames_without_face": vision.frames_without_face,
            "face_hit_rate": round(vision.face_hit_rate, 4),
            "face_detections": self.cropper.tracker.detections - detections,
            "text_tokens_cut": encoded_text.tokens_cut,
            "audio_seconds": 0.0 if waveform is None else round(len(waveform) / self.audio.sampling_rate, 3),
            "video_fps": stream.native_fps,
            "seconds": {stage: round(value, 4) for stage, value in vision.seconds.items()},
        }
        details = None
        if keep_details:
            details = {
                "face_crops": vision.face_crops,
                "face_found": vision.face_found,
                "face_boxes": vision.boxes,
                "frame_times": vision.times,
                "waveform": np.zeros(0, np.float32) if waveform is None else waveform.astype(np.float32, copy=False),
                "sampling_rate": int(self.audio.sampling_rate),
            }
        return SampleOutcome(columns, issues, stats, details)


_EXTRACTORS: dict[tuple[str, str, str], SampleExtractor] = {}


def load_sample_extractor(config: ExtractionConfig, device: torch.device, models_key: str = "") -> SampleExtractor:
    """The process's :class:`SampleExtractor` for ``config`` on ``device`` (models load on first use only;
    ``models_key`` tells apart local model folders whose files changed)."""
    key = (config.fingerprint(), models_key, str(device))
    if key not in _EXTRACTORS:
        _EXTRACTORS[key] = SampleExtractor(config, device)
    return _EXTRACTORS[key]


def extract_sample(
    video_path: str,
    transcript: str,
    audio_path: str | None = None,
    *,
    config: ExtractionConfig | Mapping[str, Any] | None = None,
    device: str = "auto",
    sample_id: str = "sample",
) -> dict[str, Any]:
    """Schema columns (``*_features``, ``*_length``, ``input_ids``, ``attention_mask``, ``id``, ``text``) of one clip.

    Args:
        video_path: the video file; its audio track is used unless ``audio_path`` is given.
        transcript: what is said in the clip.
        audio_path: a separate audio file.
        config: the settings, e.g. ``read_metadata(dataset).extraction`` of the dataset a model was trained on.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``...

    Raises:
        ExtractionError: the clip cannot be used (missing or unreadable file). Warnings (no
            face, no audio track, empty transcript) are logged and the modality is left empty.
    """
    if not isinstance(config, ExtractionConfig):
        config = ExtractionConfig.from_dict(config or {})
    outcome = load_sample_extractor(config, resolve_device(device)).extract(
        sample_id, video_path, transcript, audio_path
    )
    if outcome.columns is None:
        raise ExtractionError("; ".join(f"[{i.code}] {i.message}" for i in outcome.issues))
    for issue in outcome.issues:
        logger.warning("%s: [%s] %s", issue.id, issue.code, issue.message)
    return outcome.columns
