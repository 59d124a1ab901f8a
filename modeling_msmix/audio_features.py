"""Frame-level audio features from a wav2vec2-family model, chunked for long clips, optionally pooled.

A waveform longer than ``chunk_seconds`` is cut into chunks whose length is a multiple of
the model's hop (320 samples for wav2vec2), each chunk is normalised by the feature extractor
and encoded on its own, and the frames are concatenated: nothing is truncated. A last chunk
shorter than the model's receptive field joins the chunk before it. With ``frame_rate`` set,
consecutive frames are mean-pooled into bins of ``1 / frame_rate`` seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import AutoFeatureExtractor, AutoModel, PretrainedConfig


class AudioTooShortError(ValueError):
    """The waveform is shorter than the model's receptive field: no frame can be computed."""


def pool_frames(frames: np.ndarray, native_rate: float, frame_rate: float) -> np.ndarray:
    """Mean of the frames that fall into each ``1 / frame_rate`` second bin (frame n at time n / native_rate)."""
    bins = np.floor(np.arange(len(frames)) / native_rate * frame_rate + 1e-9).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
    counts = np.diff(np.r_[starts, len(frames)])
    return (np.add.reduceat(frames, starts, axis=0) / counts[:, None]).astype(np.float32)


@dataclass(frozen=True)
class AudioGeometry:
    """How a model sees a waveform: input rate, hop and receptive field (samples), frames per second."""

    sampling_rate: int
    hop: int
    receptive_field: int

    @property
    def native_rate(self) -> float:
        """Frames per second the model produces."""
        return self.sampling_rate / self.hop


def audio_geometry(feature_extractor: Any, model_config: PretrainedConfig, frame_rate: float | None) -> AudioGeometry:
    """Read the geometry from a feature extractor and model config, checking the settings against it.

    Raises:
        ValueError: the feature extractor names no ``sampling_rate`` (audio cannot be resampled
            for it), or ``frame_rate`` exceeds the model's own frame rate.
    """
    rate = getattr(feature_extractor, "sampling_rate", None)
    if not rate:
        raise ValueError(
            f"{type(feature_extractor).__name__} names no sampling_rate; cannot resample audio for its model"
        )
    strides = list(getattr(model_config, "conv_stride", [1]))
    kernels = list(getattr(model_config, "conv_kernel", [1]))
    geometry = AudioGeometry(
        sampling_rate=int(rate),
        hop=int(np.prod(strides)),
        receptive_field=1 + sum((k - 1) * int(np.prod(strides[:i])) for i, k in enumerate(kernels)),
    )
    if frame_rate is not None and frame_rate > geometry.native_rate:
        raise ValueError(
            f"audio_frame_rate {frame_rate:g} exceeds the audio model's own frame rate {geometry.native_rate:g}"
        )
    return geometry


class AudioEncoder:
    """``AutoFeatureExtractor`` + ``AutoModel`` of ``name_or_path``, loaded once, run in eval mode."""

    def __init__(
        self,
        name_or_path: str,
        revision: str | None,
        chunk_seconds: float,
        frame_rate: float | None,
        device: torch.device,
    ) -> None:
        self.feature_extractor = AutoFeatureExtractor.from_pretrained(name_or_path, revision=revision)
        self.model = AutoModel.from_pretrained(name_or_path, revision=revision).eval().to(device)
        self.device = device
        geometry = audio_geometry(self.feature_extractor, self.model.config, frame_rate)
        self.sampling_rate, self.hop, self.receptive_field = (
            geometry.sampling_rate,
            geometry.hop,
            geometry.receptive_field,
        )
        self.native_rate = geometry.native_rate
        self.frame_rate = frame_rate
        self.chunk_samples = max(self.hop, int(round(chunk_seconds * self.sampling_rate / self.hop)) * self.hop)
        self.chunk_samples = max(self.chunk_samples, math.ceil(self.receptive_field / self.hop) * self.hop)

    @property
    def dim(self) -> int:
        """Feature dimension D."""
        return int(self.model.config.hidden_size)

    def chunks(self, waveform: np.ndarray) -> list[np.ndarray]:
        """``waveform`` cut as described in the module docstring."""
        if len(waveform) < self.receptive_field:
            raise AudioTooShortError(
                f"audio of {len(waveform)} samples is shorter than the model's receptive field ({self.receptive_field})"
            )
        pieces = [waveform[start : start + self.chunk_samples] for start in range(0, len(waveform), self.chunk_samples)]
        if len(pieces) > 1 and len(pieces[-1]) < self.receptive_field:
            pieces[-2:] = [np.concatenate(pieces[-2:])]
        return pieces

    @torch.inference_mode()
    def __call__(self, waveform: np.ndarray) -> np.ndarray:
        """Features ``[La, D]`` of a mono waveform at :attr:`sampling_rate`."""
        outputs = []
        for piece in self.chunks(waveform):
            inputs = self.feature_extractor(piece, sampling_rate=self.sampling_rate, return_tensors="pt")
            hidden = self.model(**{k: v.to(self.device) for k, v in inputs.items()}).last_hidden_state[0]
            outputs.append(hidden.float().cpu().numpy())
        frames = np.concatenate(outputs)
        if self.frame_rate is not None:
            frames = pool_frames(frames, self.native_rate, self.frame_rate)
        return frames
