"""Frame-level face features: face box per sampled frame (detected or tracked), margin crop, ViT encoding.

Frames arrive one at a time from :class:`~.frame_stream.VideoStream`; each gets its face box from
:class:`~.face_tracking.FaceTracker`, and only the crop (a copy) is kept until ``batch_size``
crops are gathered and encoded together, so memory is bounded by the batch, not by the clip.
Decoding and cropping run one batch ahead of the encoder in a background thread.
A frame without a face is counted and handled by the configured fallback: ``whole_frame``
encodes the whole frame, ``skip`` drops it, ``zero`` puts a zero vector in its place (so the
sequence keeps one step per sampled frame).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from transformers import AutoImageProcessor, AutoModel

from .face_tracking import Box, FaceTracker, build_face_detector, crop_face
from .frame_stream import SampledFrame
from .prefetch import prefetch


class FaceCropper:
    """The face crop of each sampled frame of a clip: :class:`FaceTracker` boxes grown by ``margin``."""

    def __init__(self, tracker: FaceTracker, margin: float) -> None:
        self.tracker = tracker
        self.margin = margin

    @classmethod
    def from_config(cls, config: Any) -> "FaceCropper":
        """Detector, tracking and margin from an :class:`~.extraction_config.ExtractionConfig`."""
        tracker = FaceTracker(
            build_face_detector(config),
            config.face_redetect_every,
            config.face_track_min_similarity,
            config.face_detection_width,
        )
        return cls(tracker, config.face_margin)

    def reset(self) -> None:
        """A new clip starts: forget the tracked face."""
        self.tracker.reset()

    def __call__(self, image: np.ndarray) -> tuple[Box | None, np.ndarray | None]:
        """Face box and crop (a copy) of the clip's next RGB frame ``[H, W, 3]``; ``(None, None)`` without a face."""
        box = self.tracker(image)
        return (box, crop_face(image, box, self.margin)) if box is not None else (None, None)


@dataclass
class VisionFeatures:
    """Features ``[Lv, D]`` of a clip's sampled frames, with what was seen per sampled frame.

    ``times`` (seconds), ``boxes`` (``None``: no face) and, when asked for, ``face_crops`` (the
    face crop, or the whole frame where no face was found) have one entry per sampled frame;
    ``seconds`` splits the time into decode, detect and encode.
    """

    features: np.ndarray
    frames_without_face: int
    frames_sampled: int
    times: list[float] = field(default_factory=list)
    boxes: list[Box | None] = field(default_factory=list)
    face_crops: list[np.ndarray] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def face_found(self) -> list[bool]:
        """Whether a face was found in each sampled frame."""
        return [box is not None for box in self.boxes]

    @property
    def face_hit_rate(self) -> float:
        """Share of sampled frames where a face was found (0 for a clip without frames)."""
        return 1 - self.frames_without_face / self.frames_sampled if self.frames_sampled else 0.0


class VisionEncoder:
    """``AutoImageProcessor`` + ``AutoModel`` of ``name_or_path``, loaded once, run in eval mode."""

    def __init__(
        self,
        name_or_path: str,
        revision: str | None,
        pooling: str,
        batch_size: int,
        device: torch.device,
    ) -> None:
        self.processor = AutoImageProcessor.from_pretrained(name_or_path, revision=revision)
        self.model = AutoModel.from_pretrained(name_or_path, revision=revision).eval().to(device)
        self.device = device
        self.pooling = pooling
        self.batch_size = batch_size

    @property
    def dim(self) -> int:
        """Feature dimension D."""
        return int(self.model.config.hidden_size)

    @torch.inference_mode()
    def encode(self, images: list[np.ndarray]) -> np.ndarray:
        """One vector per RGB image (CLS token or mean of the last hidden state): ``[N, D]``."""
        outputs = [np.zeros((0, self.dim), np.float32)]
        for start in range(0, len(images), self.batch_size):
            inputs = self.processor(images=images[start : start + self.batch_size], return_tensors="pt")
            hidden = self.model(pixel_values=inputs["pixel_values"].to(self.device)).last_hidden_state
            pooled = hidden[:, 0] if self.pooling == "cls" else hidden.mean(dim=1)
            outputs.append(pooled.float().cpu().numpy())
        return np.concatenate(outputs)


def _face_batches(
    frames: Iterable[SampledFrame],
    cropper: FaceCropper,
    fallback: str,
    batch_size: int,
    seen: VisionFeatures,
    keep_crops: bool,
) -> Iterator[list[np.ndarray]]:
    """Decode and crop frame by frame, recording what was seen; yield the images to encode, ``batch_size`` at a time."""
    batch: list[np.ndarray] = []
    iterator = iter(frames)
    while True:
        start = time.perf_counter()
        frame = next(iterator, None)
        seen.seconds["decode"] += time.perf_counter() - start
        if frame is None:
            break
        start = time.perf_counter()
        box, crop = cropper(frame.image)
        seen.seconds["detect"] += time.perf_counter() - start
        seen.times.append(frame.time)
        seen.boxes.append(box)
        if keep_crops:
            seen.face_crops.append(crop if crop is not None else frame.image)
        image = crop if crop is not None or fallback != "whole_frame" else frame.image
        if image is not None:
            batch.append(image)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def encode_faces(
    frames: Iterable[SampledFrame],
    cropper: FaceCropper,
    encoder: VisionEncoder,
    fallback: str,
    keep_crops: bool = False,
) -> VisionFeatures:
    """Crop the face of every frame as it arrives and encode the crops ``encoder.batch_size`` at a time.

    Decoding and cropping run in a background thread at most one batch ahead of the encoder
    (:func:`~.prefetch.prefetch`), so at most three batches of images are alive at once.
    ``fallback`` applies to frames without a face (see the module docstring). With ``keep_crops``
    every sampled frame's face crop (or whole frame, without a face) is returned too: previews only,
    this holds the clip's frames.
    """
    cropper.reset()
    seen = VisionFeatures(
        np.zeros((0, encoder.dim), np.float32),
        0,
        0,
        seconds={"decode": 0.0, "detect": 0.0, "encode": 0.0},
    )
    encoded = [seen.features]
    for batch in prefetch(_face_batches(frames, cropper, fallback, encoder.batch_size, seen, keep_crops)):
        start = time.perf_counter()
        encoded.append(encoder.encode(batch))
        seen.seconds["encode"] += time.perf_counter() - start
    found = np.concatenate(encoded)
    seen.frames_sampled = len(seen.times)
    seen.frames_without_face = sum(box is None for box in seen.boxes)
    if fallback == "zero":
        seen.features = np.zeros((seen.frames_sampled, encoder.dim), np.float32)
        seen.features[[i for i, box in enumerate(seen.boxes) if box is not None]] = found
    else:
        seen.features = found
    return seen
