"""Frame-level face features: OpenCV Haar-cascade face detection, margin crop, ViT encoding.

Per sampled frame the largest detected face is cropped with a margin and encoded to one
vector. A frame without a face is counted and handled by the configured fallback:
``whole_frame`` encodes the whole frame, ``skip`` drops it, ``zero`` puts a zero vector in
its place (so the sequence keeps one step per sampled frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from transformers import AutoImageProcessor, AutoModel

HAAR_CASCADE = "haarcascade_frontalface_default.xml"


class FaceCropper:
    """Largest frontal face of a frame, grown by ``margin`` on each side, or ``None``.

    Detection runs on a grey copy at most ``detection_width`` pixels wide (the cascade's cost
    grows with the pixel count); the crop is taken from the full-resolution frame.
    """

    def __init__(self, margin: float, min_size: int, detection_width: int) -> None:
        self.classifier = cv2.CascadeClassifier(cv2.data.haarcascades + HAAR_CASCADE)
        if self.classifier.empty():
            raise RuntimeError(
                f"OpenCV's {HAAR_CASCADE} could not be loaded; opencv-python-headless 4.x ships it (5.x does not)"
            )
        self.margin = margin
        self.min_size = min_size
        self.detection_width = detection_width

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        """The face crop of an RGB frame ``[H, W, 3]``."""
        height, width = frame.shape[:2]
        scale = min(1.0, self.detection_width / width)
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            gray = cv2.resize(gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        smallest = max(1, round(self.min_size * scale))
        boxes = self.classifier.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest))
        if len(boxes) == 0:
            return None
        x, y, w, h = (int(round(v / scale)) for v in max(boxes, key=lambda box: int(box[2]) * int(box[3])))
        dx, dy = int(round(w * self.margin)), int(round(h * self.margin))
        return frame[max(0, y - dy) : min(height, y + h + dy), max(0, x - dx) : min(width, x + w + dx)]


@dataclass
class VisionFeatures:
    """Features ``[Lv, D]`` of a clip's sampled frames and how many frames had no face.

    ``face_crops`` holds, per sampled frame, its face crop or (no face) the whole frame;
    ``face_found`` says which.
    """

    features: np.ndarray
    frames_without_face: int
    frames_sampled: int
    face_crops: list[np.ndarray] = field(default_factory=list)
    face_found: list[bool] = field(default_factory=list)


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


def encode_faces(
    frames: list[np.ndarray], cropper: FaceCropper, encoder: VisionEncoder, fallback: str
) -> VisionFeatures:
    """Crop the face of every frame and encode the crops, applying ``fallback`` to frames without one."""
    crops = [cropper(frame) for frame in frames]
    missing = sum(crop is None for crop in crops)
    shown = [c if c is not None else f for c, f in zip(crops, frames)]
    face_found = [crop is not None for crop in crops]
    if fallback == "whole_frame":
        return VisionFeatures(encoder.encode(shown), missing, len(frames), shown, face_found)
    found = encoder.encode([crop for crop in crops if crop is not None])
    if fallback == "skip":
        return VisionFeatures(found, missing, len(frames), shown, face_found)
    features = np.zeros((len(frames), encoder.dim), np.float32)
    features[[i for i, crop in enumerate(crops) if crop is not None]] = found
    return VisionFeatures(features, missing, len(frames), shown, face_found)
