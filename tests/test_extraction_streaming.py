"""Streaming extraction: true frame times on VFR video, bounded memory, face tracking, sharded runs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import load_from_disk

import extraction_fixtures as fixtures
from data_processing.error_report import ExtractionReport
from data_processing.extract import build_dataset
from data_processing.manifest import ManifestEntry
from data_processing.sharding import DONE_MARKER, Shard
from modeling_msmix import frame_stream
from modeling_msmix.extraction_config import ExtractionConfig
from modeling_msmix.face_tracking import FACE_DETECTORS, FaceTracker, HaarFaceDetector, register_face_detector
from modeling_msmix.feature_schema import WARNING, Issue
from modeling_msmix.frame_stream import VideoStream, read_video_frames
from modeling_msmix.sample_extractor import SampleExtractor
from modeling_msmix.vision_features import FaceCropper

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    return fixtures.build_tiny_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def config(tiny_models) -> ExtractionConfig:
    return ExtractionConfig(
        text_model=tiny_models["text"], audio_model=tiny_models["audio"], vision_model=tiny_models["vision"]
    )


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("clips")
    return [fixtures.write_talking_clip(folder, f"talk{i}", 1.0 + 0.2 * i, seed=i) for i in range(4)]


def test_vfr_video_is_sampled_evenly_at_its_true_times(tmp_path):
    true_times = fixtures.write_vfr_clip(tmp_path / "vfr.mkv", ((3.0, 30.0), (3.0, 10.0)))
    video = read_video_frames(tmp_path / "vfr.mkv", 5.0)
    assert video.frame_count == len(true_times) == 120
    np.testing.assert_allclose(video.timestamps, np.arange(30) * 0.2, atol=1e-3)
    for time, image in zip(video.timestamps, video.frames):  # each image is the frame shown at its time
        level = int(round(image[4:28, 4:28].mean()))
        distance = abs(level - fixtures.time_level(time))
        assert min(distance, 256 - distance) <= 4, (time, level)  # a frame earlier or later: 8.5


def test_frames_are_never_all_held(config, tmp_path, monkeypatch):
    """Only a few batches of frames are alive at once, whatever the clip's length (whole-frame fallback)."""
    alive: list[weakref.ref] = []
    most_alive = [0]
    original = VideoStream.__iter__

    def counting(self):
        for frame in original(self):
            alive.append(weakref.ref(frame.image))
            most_alive[0] = max(most_alive[0], sum(ref() is not None for ref in alive))
            yield frame

    monkeypatch.setattr(VideoStream, "__iter__", counting)
    small_batches = ExtractionConfig.from_dict({**config.to_dict(), "vision_fps": 10.0, "frame_batch_size": 2})
    wall = fixtures.write_talking_clip(tmp_path, "wall", 2.0, face=False)  # every frame falls back to the whole frame
    outcome = SampleExtractor(small_batches, torch.device("cpu")).extract("wall", str(wall), "good music")
    sampled = outcome.stats["frames_sampled"]
    assert sampled == len(alive) == outcome.columns["vision_length"] == 20
    assert most_alive[0] <= 3 * 2 + 1 < sampled  # batches: being built, queued, being encoded; one decoding


def test_details_for_previews(clips, config):
    outcome = SampleExtractor(config, torch.device("cpu")).extract("a", str(clips[0]), "good", keep_details=True)
    details, stats = outcome.details, outcome.stats
    assert details["frame_times"] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8]) and stats["frames_sampled"] == 5
    assert details["face_found"] == [True] * 5 and stats["face_hit_rate"] == 1.0
    assert [crop.shape[2] for crop in details["face_crops"]] == [3] * 5
    assert details["sampling_rate"] == fixtures.AUDIO_MODEL_RATE and abs(len(details["waveform"]) - 8000) < 400
    assert set(stats["seconds"]) == {"decode", "detect", "encode"} and stats["face_detections"] == 1
    assert SampleExtractor(config, torch.device("cpu")).extract("a", str(clips[0]), "good").details is None


def test_tracking_spares_the_detector_and_keeps_the_face(clips):
    frames = read_video_frames(clips[3], 10.0).frames
    detected = FaceTracker(HaarFaceDetector(20, 320), redetect_every=1, min_similarity=0.6)
    tracked = FaceTracker(HaarFaceDetector(20, 320), redetect_every=5, min_similarity=0.6)
    every, some = [detected(f) for f in frames], [tracked(f) for f in frames]
    assert detected.detections == len(frames) and tracked.detections <= len(frames) // 2
    assert sum(b is not None for b in some) >= sum(b is not None for b in every) >= len(frames) - 1
    for (x, y, w, h), (tx, ty, _, _) in [(a, b) for a, b in zip(every, some) if a and b]:
        assert abs(x - tx) <= w // 4 and abs(y - ty) <= h // 4
    before = tracked.detections
    assert tracked(np.full_like(frames[0], 128)) is None and tracked.detections == before + 1  # drift: re-detect


def test_own_detector_hook_and_unknown_name(config):
    register_face_detector("fixed-box", lambda cfg: lambda image: [(10, 20, 40, 40)])
    try:
        own = ExtractionConfig.from_dict({**config.to_dict(), "face_detector": "fixed-box", "face_margin": 0.25})
        box, crop = FaceCropper.from_config(own)(np.zeros((144, 176, 3), np.uint8))
        assert box == (10, 20, 40, 40) and crop.shape == (60, 60, 3)
    finally:
        del FACE_DETECTORS["fixed-box"]
    with pytest.raises(ValueError, match="'nobody' is not registered"):
        FaceCropper.from_config(ExtractionConfig.from_dict({**config.to_dict(), "face_detector": "nobody"}))


def test_summary_names_low_face_clips_truncations_and_fallbacks():
    report = ExtractionReport(total=3, split_sizes={"train": 3})
    report.sample_stats = {
        "a": {"frames_sampled": 10, "frames_without_face": 4, "text_tokens_cut": 0},
        "b": {"frames_sampled": 10, "frames_without_face": 0, "text_tokens_cut": 7},
        "c": {"frames_sampled": 10, "frames_without_face": 10, "text_tokens_cut": 0},
    }
    report.issues = [Issue("c", WARNING, "no_face", "none"), Issue("b", WARNING, "text_truncated", "cut")]
    summary = report.summary(min_face_hit_rate=0.8)
    assert "face-hit rate under 80%: 2 clip(s): a 60% (4 of 10 frames without a face), c 0%" in summary
    assert "truncated transcripts: 1 clip(s): b (7 tokens cut)" in summary
    assert "fallbacks: no_face 1, frames without a face (face_fallback) 14" in summary


def _entries(clips: list[Path]) -> list[ManifestEntry]:
    splits = ["train", "train", "validation", "test", "train"]
    return [
        ManifestEntry(id=f"clip{i}", video=str(clips[i % len(clips)]), text=f"good music {i}", label=0.5, split=split)
        for i, split in enumerate(splits)
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_sharded_run_resumes_a_killed_shard_and_equals_one_process(clips, config, tmp_path, monkeypatch,
                                                                              one_torch_thread,
                                                                              one_thread_subprocess_env):
    """Bit for bit: the in-process runs use one thread like the shards (other thread counts pick other
    kernels, whose float32 sums differ in the last bit)."""
    entries = _entries(clips)
    single, _ = build_dataset(entries, config, cache_dir=tmp_path / "single", device="cpu")
    manifest = tmp_path / "clips.jsonl"
    manifest.write_text("".join(json.dumps(e.__dict__) + "\n" for e in entries))
    output, cache = tmp_path / "sharded", tmp_path / "sharded-cache"
    calls: list[str] = []
    original = SampleExtractor.extract

    def killed_after_one(self, sample_id, *args, **kwargs):
        if calls:
            raise KeyboardInterrupt
        calls.append(sample_id)
        return original(self, sample_id, *args, **kwargs)

    monkeypatch.setattr(SampleExtractor, "extract", killed_after_one)
    with pytest.raises(KeyboardInterrupt):  # shard 1 of 2 (clip2, clip3, clip4) dies after clip2
        build_dataset(
            entries, config, cache_dir=cache, device="cpu", batch_size=1, shard=Shard(index=1, count=2)
        )
    assert calls == ["clip2"] and not list(cache.glob(f"shards/*/{DONE_MARKER}"))
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
        "--master_port", str(_free_port()), "-m", "data_processing.extract", "--manifest", str(manifest),
        "--output", str(output), "--cache_dir", str(cache), "--device", "cpu", "--batch_size", "1",
        "--text_model", config.text_model, "--audio_model", config.audio_model, "--vision_model", config.vision_model,
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=one_thread_subprocess_env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    markers = [json.loads(path.read_text()) for path in sorted(cache.glob(f"shards/*/{DONE_MARKER}"))]
    assert [(m["index"], m["count"], m["samples"]) for m in markers] == [(0, 2, 2), (1, 2, 3)]
    assert markers[0]["pid"] != markers[1]["pid"] and all(m["seconds"] > 0 for m in markers)
    report = json.loads((output / "extraction_report.json").read_text())
    assert report["summary"]["from_cache"] == 1  # the killed shard's finished sample
    sharded = load_from_disk(str(output))
    assert list(sharded) == list(single)
    for split in single:
        assert sharded[split]["id"] == single[split]["id"]
        for column in ("text_features", "audio_features", "vision_features"):
            for ours, theirs in zip(sharded[split][column], single[split][column]):
                np.testing.assert_array_equal(np.asarray(ours, np.float32), np.asarray(theirs, np.float32))


def test_stream_refuses_a_bad_rate(clips):
    with pytest.raises(ValueError, match="fps must be positive"):
        frame_stream.VideoStream(clips[0], 0)
