"""Decoding media: audio with librosa or the ``imageio-ffmpeg`` binary (video: :mod:`.frame_stream`).

Every problem with an input file is a :class:`MediaError` whose ``code`` names the kind of
problem (``missing_file``, ``empty_file``, ``unreadable_video``, ``unreadable_audio``,
``no_audio_track``), so the pipeline can record it per sample instead of crashing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import librosa
import numpy as np

from .feature_schema import AUDIO_EXTENSIONS


class MediaError(Exception):
    """An input file cannot be used; ``code`` names the problem, the message says which file and why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_file(path: str | Path) -> Path:
    """Raise :class:`MediaError` if ``path`` is missing or empty; return it as a ``Path``."""
    path = Path(path)
    if not path.is_file():
        raise MediaError("missing_file", f"{path} does not exist")
    if path.stat().st_size == 0:
        raise MediaError("empty_file", f"{path} is empty (0 bytes)")
    return path


def _ffmpeg_audio(path: Path, sampling_rate: int) -> np.ndarray:
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-nostdin",
        "-v",
        "error",
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-vn",
        "-ac",
        "1",
        "-ar",
        str(sampling_rate),
        "-f",
        "f32le",
        "pipe:1",
    ]
    result = subprocess.run(command, capture_output=True, check=False)
    message = result.stderr.decode(errors="replace").strip()
    if result.returncode != 0:
        if "matches no streams" in message:
            raise MediaError("no_audio_track", f"{path} has no audio track")
        raise MediaError("unreadable_audio", f"{path}: ffmpeg cannot decode its audio ({message[-300:]})")
    return np.frombuffer(result.stdout, dtype=np.float32).copy()


def read_audio(path: str | Path, sampling_rate: int) -> np.ndarray:
    """Mono float32 waveform of ``path`` resampled to ``sampling_rate``.

    Audio files (``.wav``, ``.flac``, ...) are read with librosa; any other container (a video)
    goes through the ffmpeg binary that ``imageio-ffmpeg`` ships, which also resamples.

    Raises:
        MediaError: the file is missing or empty, cannot be decoded, or has no audio track.
    """
    path = check_file(path)
    if path.suffix.lower() in AUDIO_EXTENSIONS:
        try:
            waveform, _ = librosa.load(str(path), sr=sampling_rate, mono=True)
        except Exception as error:  # librosa raises several unrelated types for undecodable files
            raise MediaError("unreadable_audio", f"{path}: librosa cannot decode it ({error})") from None
        return waveform.astype(np.float32, copy=False)
    return _ffmpeg_audio(path, sampling_rate)
