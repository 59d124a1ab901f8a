"""Face boxes per sampled frame: a detector, and a tracker that spares it on most frames.

A detector is any callable ``detector(image) -> list of (x, y, w, h)`` boxes in pixels of the RGB
image ``[H, W, 3]`` it is given. :class:`HaarFaceDetector` (OpenCV's frontal-face cascade, on a
downscaled grey copy) is the default and needs no download. To use your own detector, register a
factory under a name and set ``face_detector`` to that name in the :class:`ExtractionConfig`
(the name is stored with the dataset, so inference must register the same factory)::

    from modeling_msmix.face_tracking import register_face_detector

    register_face_detector("retina", lambda config: MyRetinaFace(threshold=0.9))
    config = ExtractionConfig(face_detector="retina", ...)

:class:`FaceTracker` runs the detector on the first frame of a clip, then every
``redetect_every`` sampled frames; in between it follows the last detected face by normalised
template matching around its previous box, and re-detects at once when the best match's
similarity falls under ``min_similarity`` (the crop has drifted off the face).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

import cv2
import numpy as np

HAAR_CASCADE = "haarcascade_frontalface_default.xml"
Box = tuple[int, int, int, int]
"""``(x, y, width, height)`` in pixels of the full-resolution frame."""


class FaceDetector(Protocol):
    """Boxes of the faces in an RGB image ``[H, W, 3]`` (uint8)."""

    def __call__(self, image: np.ndarray) -> Sequence[Box]: ...


def _grey(image: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    """Grey copy of ``image`` at most ``width`` pixels wide, and its scale to the original."""
    height, full_width = image.shape[:2]
    scale = min(1.0, width / full_width)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        grey = cv2.resize(grey, (round(full_width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return grey, scale


class HaarFaceDetector:
    """OpenCV's Haar frontal-face cascade, run on a grey copy at most ``detection_width`` pixels wide."""

    def __init__(self, min_size: int, detection_width: int) -> None:
        self.classifier = cv2.CascadeClassifier(cv2.data.haarcascades + HAAR_CASCADE)
        if self.classifier.empty():
            raise RuntimeError(
                f"OpenCV's {HAAR_CASCADE} could not be loaded; opencv-python-headless 4.x ships it (5.x does not)"
            )
        self.min_size = min_size
        self.detection_width = detection_width

    def __call__(self, image: np.ndarray) -> list[Box]:
        grey, scale = _grey(image, self.detection_width)
        smallest = max(1, round(self.min_size * scale))
        boxes = self.classifier.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest))
        return [tuple(int(round(v / scale)) for v in box) for box in boxes]


FACE_DETECTORS: dict[str, Callable[[Any], FaceDetector]] = {
    "haar": lambda config: HaarFaceDetector(config.face_min_size, config.face_detection_width),
}


def register_face_detector(name: str, factory: Callable[[Any], FaceDetector]) -> None:
    """Make ``ExtractionConfig(face_detector=name)`` build its detector with ``factory(config)``."""
    FACE_DETECTORS[name] = factory


def build_face_detector(config: Any) -> FaceDetector:
    """The detector ``config.face_detector`` names.

    Raises:
        ValueError: no detector is registered under that name.
    """
    if config.face_detector not in FACE_DETECTORS:
        raise ValueError(
            f"face_detector {config.face_detector!r} is not registered (known: {sorted(FACE_DETECTORS)}); "
            "call modeling_msmix.face_tracking.register_face_detector first"
        )
    return FACE_DETECTORS[config.face_detector](config)


class FaceTracker:
    """The largest face of each sampled frame of one clip, detected or tracked (see the module docstring).

    Call :meth:`reset` before each clip. :attr:`detections` counts the detector calls.
    """

    def __init__(
        self, detector: FaceDetector, redetect_every: int, min_similarity: float, track_width: int = 320
    ) -> None:
        if redetect_every < 1:
            raise ValueError(f"redetect_every must be >= 1, got {redetect_every}")
        self.detector = detector
        self.redetect_every = redetect_every
        self.min_similarity = min_similarity
        self.track_width = track_width
        self.detections = 0
        self.reset()

    def reset(self) -> None:
        """Forget the tracked face (a new clip starts)."""
        self._box: Box | None = None
        self._template: np.ndarray | None = None
        self._since_detection = 0

    def _detect(self, image: np.ndarray, grey: np.ndarray, scale: float) -> Box | None:
        self.detections += 1
        self._since_detection = 0
        boxes = list(self.detector(image))
        if not boxes:
            self._box = self._template = None
            return None
        x, y, w, h = max(boxes, key=lambda box: int(box[2]) * int(box[3]))
        self._box = (int(x), int(y), int(w), int(h))
        sx, sy, sw, sh = (round(v * scale) for v in self._box)
        self._template = grey[sy : sy + sh, sx : sx + sw].copy()
        return self._box

    def _track(self, grey: np.ndarray, scale: float) -> Box | None:
        """The box where the template matches best near the last box, or ``None`` if the match is poor."""
        template = self._template
        if template is None or min(template.shape) < 4:
            return None
        x, y, w, h = (round(v * scale) for v in self._box)
        height, width = grey.shape
        left, top = max(0, x - w // 2), max(0, y - h // 2)
        window = grey[top : min(height, y + h + h // 2), left : min(width, x + w + w // 2)]
        if window.shape[0] < template.shape[0] or window.shape[1] < template.shape[1]:
            return None
        scores = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(scores)
        if not best >= self.min_similarity:
            return None
        _, _, full_w, full_h = self._box
        self._box = (int(round((left + bx) / scale)), int(round((top + by) / scale)), full_w, full_h)
        return self._box

    def __call__(self, image: np.ndarray) -> Box | None:
        """The face box of the clip's next sampled frame (RGB ``[H, W, 3]``), or ``None``."""
        grey, scale = _grey(image, self.track_width)
        self._since_detection += 1
        if self._box is not None and self._since_detection < self.redetect_every:
            box = self._track(grey, scale)
            if box is not None:
                return box
        return self._detect(image, grey, scale)


def crop_face(image: np.ndarray, box: Box, margin: float) -> np.ndarray:
    """A copy of ``box`` grown by ``margin`` of its size on every side, clipped to the image."""
    height, width = image.shape[:2]
    x, y, w, h = box
    dx, dy = int(round(w * margin)), int(round(h * margin))
    return image[max(0, y - dy) : min(height, y + h + dy), max(0, x - dx) : min(width, x + w + dx)].copy()
