"""A clip with a face in only part of its frames gets the same warning from extraction and inference:
``data_processing.extract``'s summary, the ``multimodal-sentiment`` pipeline, ``trainer.predict``,
the processor's details and the demo's warning list all read ``modeling_msmix.clip_warnings``."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skimage_data

import extraction_fixtures as fixtures
import test_pipeline as pipeline_tests
from data_processing.error_report import ExtractionReport
from data_processing.extract import main as extract_main
from demo import views
from modeling_msmix.clip_warnings import MIN_FACE_HIT_RATE, clip_warnings, face_hits, low_face_hit_rate_warning
from modeling_msmix.feature_schema import WARNING, Issue
from trainer.predict import load_sentiment_pipeline
from trainer.predict import main as predict_main

TRANSCRIPT = "i really love this movie"


def write_half_face_video(path: Path, seconds: float = 2.0, fps: int = 10) -> Path:
    """An MJPG ``.avi``: a textured wall for the first half, the astronaut's face for the second."""
    width, height = fixtures.FRAME_SIZE
    face = cv2.resize(cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR), (128, 128))
    wall = cv2.resize(cv2.cvtColor(skimage_data.brick(), cv2.COLOR_GRAY2BGR), (128, 128))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    count = int(seconds * fps)
    for index in range(count):
        canvas = np.full((height, width, 3), 128, np.uint8)
        canvas[8:136, 24:152] = wall if index < count // 2 else face
        writer.write(canvas)
    writer.release()
    return path


setup = pipeline_tests.setup  # tiny extractors and a tiny TFN saved with their extraction settings


@pytest.fixture(scope="module")
def clip_setup(setup):
    video = write_half_face_video(setup["root"] / "half.avi")
    video.with_suffix(".txt").write_text(TRANSCRIPT)  # the transcript trainer.predict finds beside the video
    return {**setup, "video": str(video)}


def test_the_rule_flags_a_partial_face_hit_rate_once():
    partial = {"frames_sampled": 25, "frames_without_face": 12}
    assert face_hits(partial) == "52% (12 of 25 frames without a face)"
    assert low_face_hit_rate_warning(partial) == ("[low_face_hit_rate] face-hit rate 52% (12 of 25 frames without a "
                                                  "face), under 80%; those frames used the face_fallback")
    assert low_face_hit_rate_warning({"frames_sampled": 10, "frames_without_face": 2}) is None  # 80 % is enough
    assert low_face_hit_rate_warning({"frames_sampled": 10, "frames_without_face": 2}, 0.9) is not None
    no_face = Issue("c", WARNING, "no_face", "no face in any of 10 sampled frames; fallback 'whole_frame'")
    assert clip_warnings([no_face], {"frames_sampled": 10, "frames_without_face": 10}) == [
        "[no_face] no face in any of 10 sampled frames; fallback 'whole_frame'"]  # said once, by the issue
    assert clip_warnings([], {}) == []
    report = ExtractionReport(sample_stats={"c": partial}, total=1)
    assert f"face-hit rate under {MIN_FACE_HIT_RATE:.0%}: 1 clip(s): c {face_hits(partial)}" in report.summary()


def test_extraction_pipeline_predict_and_demo_warn_alike(clip_setup, capsys, tmp_path):
    extractors = clip_setup["extractors"]
    manifest = f"id,video,text,label,split\nhalf,{clip_setup['video']},{TRANSCRIPT},1,train\n"
    (tmp_path / "clips.csv").write_text(manifest)
    capsys.readouterr()
    assert extract_main(["--manifest", str(tmp_path / "clips.csv"), "--output", str(tmp_path / "data"),
                         "--text_model", extractors["text"], "--audio_model", extractors["audio"],
                         "--vision_model", extractors["vision"], "--vision_fps", "5", "--device", "cpu"]) == 0
    summary = capsys.readouterr().out
    stats = json.loads((tmp_path / "data" / "extraction_report.json").read_text())["samples"]["half"]
    assert 0 < stats["frames_without_face"] < stats["frames_sampled"]
    assert f"face-hit rate under 80%: 1 clip(s): half {face_hits(stats)}" in summary
    expected = low_face_hit_rate_warning(stats)
    assert expected is not None and face_hits(stats) in expected

    analyse = load_sentiment_pipeline(clip_setup["model"], device="cpu")
    result = analyse(clip_setup["video"], transcript=TRANSCRIPT, return_details=True)
    assert expected in result["warnings"] and expected in result["details"]["warnings"]
    batch = analyse.processor(clip_setup["video"], TRANSCRIPT, return_details=True, device="cpu")
    assert expected in batch["details"][0]["warnings"]
    assert f"- {expected}" in views.warnings_markdown(result["warnings"])

    output = tmp_path / "predictions.jsonl"
    assert predict_main(["--model", clip_setup["model"], "--videos", clip_setup["video"], "--output",
                         str(output)]) == 0
    assert expected in json.loads(output.read_text())["warnings"]
