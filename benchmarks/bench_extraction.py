"""Extraction throughput and peak memory on 10-second clips (CPU unless ``--device`` says otherwise).

    python benchmarks/bench_extraction.py [--clips 8] [--seconds 10] [--num_proc 1] [--device cpu]

Builds talking-face clips with a speech-like audio track (see ``tests/extraction_fixtures.py``)
and extracts them twice per setting, each setting in a fresh process so that its peak resident
memory is its own: ``tiny`` (tiny random BERT, wav2vec2 and ViT) and ``minilm`` (the pretrained
all-MiniLM-L6-v2 text encoder with the tiny audio and vision models). The first run does the
model work (model loading included); the second is served from the per-sample cache.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

_FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "extraction_fixtures.py"


def _fixtures():
    spec = importlib.util.spec_from_file_location("extraction_fixtures", _FIXTURES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _measure(setting: dict, folder: str, clips: list[str], num_proc: int | None, device: str, queue) -> None:
    from data_processing.extract import build_dataset
    from data_processing.manifest import ManifestEntry
    from modeling_msmix.extraction_config import ExtractionConfig

    entries = [
        ManifestEntry(
            id=Path(c).stem, video=c, text="i really love this movie but the ending felt slow", label=1.0, split="train"
        )
        for c in clips
    ]
    config = ExtractionConfig(**setting)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    timings = []
    for _ in range(2):
        start = time.perf_counter()
        dataset, report = build_dataset(
            entries, config, cache_dir=Path(folder) / "cache", num_proc=num_proc, device=device, batch_size=4
        )
        timings.append(time.perf_counter() - start)
    assert dataset["train"].num_rows == len(clips) and not report.errors, report.summary()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stages = _stage_seconds(config, clips[0], device)
    if num_proc and num_proc > 1:
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    queue.put(
        {
            "timings": timings,
            "peak_mib": peak / 1024,
            "after_imports_mib": baseline / 1024,
            "frames": {m: dataset["train"][0][f"{m}_length"] for m in ("text", "audio", "vision")},
            "stages": stages,
        }
    )


def _stage_seconds(config, clip: str, device: str) -> dict[str, float]:
    """Seconds each step takes on one clip (models already loaded)."""
    from modeling_msmix.media import read_audio, read_video_frames
    from modeling_msmix.sample_extractor import load_sample_extractor, resolve_device

    extractor = load_sample_extractor(config, resolve_device(device))
    steps = {
        "decode video": lambda: read_video_frames(clip, config.vision_fps),
        "decode audio": lambda: read_audio(clip, extractor.audio.sampling_rate),
    }
    frames = read_video_frames(clip, config.vision_fps).frames
    steps["face detection"] = lambda: [extractor.cropper(frame) for frame in frames]
    steps["image model"] = lambda: extractor.vision.encode(frames)
    waveform = read_audio(clip, extractor.audio.sampling_rate)
    steps["audio model"] = lambda: extractor.audio(waveform)
    steps["text model"] = lambda: extractor.text("i really love this movie but the ending felt slow")
    seconds = {}
    for name, step in steps.items():
        start = time.perf_counter()
        step()
        seconds[name] = time.perf_counter() - start
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--num_proc", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    fixtures = _fixtures()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        models = fixtures.build_tiny_models(folder / "models")
        clips = [str(fixtures.write_talking_clip(folder, f"clip{i}", args.seconds, seed=i)) for i in range(args.clips)]
        settings = {
            "tiny": {"text_model": models["text"], "audio_model": models["audio"], "vision_model": models["vision"]},
            "minilm": {
                "text_model": fixtures.minilm_path(),
                "audio_model": models["audio"],
                "vision_model": models["vision"],
            },
        }
        print(
            f"{args.clips} clips of {args.seconds:g} s (176x144 video at 10 fps, speech-like AAC audio), "
            f"device {args.device}, num_proc {args.num_proc or 1}"
        )
        context = multiprocessing.get_context("spawn")
        for name, setting in settings.items():
            queue = context.Queue()
            process = context.Process(
                target=_measure, args=(setting, str(folder / name), clips, args.num_proc, args.device, queue)
            )
            process.start()
            result = queue.get()
            process.join()
            cold, cached = result["timings"]
            print(
                f"{name:>7}: {args.clips / cold:6.2f} clips/s extracting ({cold:.1f} s, model loading included), "
                f"{args.clips / cached:7.1f} clips/s from cache; peak RSS {result['peak_mib']:.0f} MiB "
                f"({result['after_imports_mib']:.0f} MiB after imports); lengths t/a/v {result['frames']}"
            )
            print("         one clip: " + ", ".join(f"{k} {v:.3f} s" for k, v in result["stages"].items()))


if __name__ == "__main__":
    main()
