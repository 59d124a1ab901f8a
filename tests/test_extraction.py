"""Feature extraction from raw clips: manifest, media, encoders, pipeline, resume, report, CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

import extraction_fixtures as fixtures
from data_processing.extract import build_dataset, main
from data_processing.extraction_cache import folder_digest
from data_processing.loading import load_msa_dataset
from data_processing.manifest import ManifestEntry, ManifestError, assign_splits, load_entries, read_manifest
from data_processing.schema import read_metadata, validate_dataset
from modeling_msmix import processing_msmix, sample_extractor
from modeling_msmix.audio_features import AudioEncoder, AudioTooShortError, pool_frames
from modeling_msmix.extraction_config import ExtractionConfig
from modeling_msmix.face_tracking import FaceTracker, HaarFaceDetector
from modeling_msmix.frame_stream import SampledFrame, read_video_frames
from modeling_msmix.media import MediaError, read_audio
from modeling_msmix.sample_extractor import ExtractionError, SampleExtractor, extract_sample
from modeling_msmix.vision_features import FaceCropper, VisionEncoder, encode_faces

ROOT = Path(__file__).resolve().parents[1]
CLIP_SECONDS = 1.5
VIDEO_FPS = 10
VISION_FPS = 5.0


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    return fixtures.build_tiny_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def config(tiny_models) -> ExtractionConfig:
    return ExtractionConfig(
        text_model=tiny_models["text"],
        audio_model=tiny_models["audio"],
        vision_model=tiny_models["vision"],
        vision_fps=VISION_FPS,
    )


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    corrupt = folder / "corrupt.mp4"
    corrupt.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)))
    (folder / "empty.mp4").write_bytes(b"")
    return {
        "talking": fixtures.write_talking_clip(folder, "talking", CLIP_SECONDS, seed=1),
        "talking2": fixtures.write_talking_clip(folder, "talking2", CLIP_SECONDS, seed=2),
        "no_face": fixtures.write_talking_clip(folder, "no_face", CLIP_SECONDS, face=False, seed=3),
        "silent": fixtures.write_face_video(folder / "silent.avi", CLIP_SECONDS),
        "voice": fixtures.write_wav(folder / "voice.wav", CLIP_SECONDS, sampling_rate=22050, seed=4),
        "corrupt": corrupt,
        "empty": folder / "empty.mp4",
        "folder": folder,
    }


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=sorted({key for row in rows for key in row}))
        writer.writeheader()
        writer.writerows(rows)
    return path


def six_clip_rows(media: dict[str, Path]) -> list[dict]:
    return [
        {
            "id": "talk1",
            "video": media["talking"].name,
            "text": "i really love this movie",
            "label": 2.4,
            "split": "train",
        },
        {
            "id": "talk2",
            "video": media["talking2"].name,
            "text": "the ending felt slow",
            "label": -1.2,
            "split": "train",
        },
        {
            "id": "dubbed",
            "video": media["silent"].name,
            "audio": media["voice"].name,
            "text": "good music",
            "label": 1.0,
            "split": "valid",
        },
        {"id": "noface", "video": media["no_face"].name, "text": "not bad at all", "label": 0.6, "split": "test"},
        {"id": "noaudio", "video": media["silent"].name, "text": "terrible acting", "label": -2.8, "split": "train"},
        {"id": "broken", "video": media["corrupt"].name, "text": "it was great fun", "label": 3.0, "split": "train"},
    ]


def cli_args(manifest: Path, output: Path, tiny_models: dict[str, str], *extra: str) -> list[str]:
    return [
        "--manifest",
        str(manifest),
        "--output",
        str(output),
        "--text_model",
        tiny_models["text"],
        "--audio_model",
        tiny_models["audio"],
        "--vision_model",
        tiny_models["vision"],
        "--vision_fps",
        str(VISION_FPS),
        "--device",
        "cpu",
        *extra,
    ]


def expected_audio_frames(seconds: float) -> int:
    """wav2vec2 frames of the tiny model (kernels 10/8/8, strides 5/8/8) for ``seconds`` at 8 kHz."""
    length = int(seconds * fixtures.AUDIO_MODEL_RATE)
    for kernel, stride in ((10, 5), (8, 8), (8, 8)):
        length = (length - kernel) // stride + 1
    return length


def test_six_clips_end_to_end_then_resume_without_model_work(media, tiny_models, tmp_path, monkeypatch):
    manifest = write_csv(media["folder"] / "six.csv", six_clip_rows(media))
    output = tmp_path / "dataset"
    assert main(cli_args(manifest, output, tiny_models)) == 0

    dataset = load_msa_dataset(str(output))
    assert {name: split.num_rows for name, split in dataset.items()} == {"train": 3, "validation": 1, "test": 1}
    report = json.loads((output / "extraction_report.json").read_text())
    errors = [issue for issue in report["issues"] if issue["severity"] == "error"]
    assert [(e["id"], e["code"]) for e in errors] == [("broken", "unreadable_video")]
    warnings = {(w["id"], w["code"]) for w in report["issues"] if w["severity"] == "warning"}
    assert warnings == {("noface", "no_face"), ("noaudio", "no_audio_track")}
    assert report["summary"]["extracted"] == 5 and report["summary"]["from_cache"] == 0

    metadata = read_metadata(dataset)
    assert metadata.feature_dims == {
        "text": fixtures.TEXT_DIM,
        "audio": fixtures.AUDIO_DIM,
        "vision": fixtures.VISION_DIM,
    }
    assert metadata.extractors["text"] == f"{tiny_models['text']}@local-sha256:{folder_digest(tiny_models['text'])}"
    assert (
        ExtractionConfig.from_dict(metadata.extraction).fingerprint()
        == ExtractionConfig(
            text_model=tiny_models["text"],
            audio_model=tiny_models["audio"],
            vision_model=tiny_models["vision"],
            vision_fps=VISION_FPS,
        ).fingerprint()
    )
    assert metadata.notes["errors"] == 1 and metadata.notes["unlabeled"] is False

    rows = {row["id"]: row for split in dataset.values() for row in split.with_format("numpy")}
    audio_frames = expected_audio_frames(CLIP_SECONDS)
    sampled_frames = int(np.ceil(CLIP_SECONDS * VISION_FPS))
    for sample_id, row in rows.items():
        assert row["text_features"].shape == (len(row["input_ids"]), fixtures.TEXT_DIM)
        assert row["vision_features"].shape == (sampled_frames, fixtures.VISION_DIM) == (row["vision_length"], 16)
        expected = 0 if sample_id == "noaudio" else audio_frames
        assert (
            abs(row["audio_features"].shape[0] - expected) <= 2
            and row["audio_length"] == row["audio_features"].shape[0]
        )
    assert rows["noaudio"]["audio_length"] == 0
    assert rows["talk1"]["label"] == pytest.approx(2.4) and rows["noaudio"]["label"] == pytest.approx(-2.8)
    assert report["samples"]["noface"]["frames_without_face"] == sampled_frames
    assert report["samples"]["talk1"]["frames_without_face"] < sampled_frames

    def no_models(*args, **kwargs):
        raise AssertionError("a resumed run must not load any model")

    monkeypatch.setattr(processing_msmix, "load_sample_extractor", no_models)
    assert main(cli_args(manifest, output, tiny_models)) == 0
    again = load_msa_dataset(str(output))
    assert json.loads((output / "extraction_report.json").read_text())["summary"]["from_cache"] == 6
    np.testing.assert_array_equal(
        np.asarray(again["train"].with_format("numpy")[0]["audio_features"]),
        np.asarray(dataset["train"].with_format("numpy")[0]["audio_features"]),
    )

    inferred = extract_sample(
        str(media["talking"]), "i really love this movie", config=metadata.extraction, device="cpu", sample_id="talk1"
    )
    for column in ("text_features", "audio_features", "vision_features"):
        np.testing.assert_allclose(inferred[column], rows["talk1"][column], atol=1e-5)


def test_interrupted_run_resumes_where_it_stopped(media, config, tmp_path, monkeypatch):
    entries = [
        ManifestEntry(id=f"clip{i}", video=str(media["talking"]), text=f"good music {i}", label=0.5, split=split)
        for i, split in enumerate(["train", "train", "validation", "test"])
    ]
    calls: list[str] = []
    original = SampleExtractor.extract

    def counting(self, sample_id, *args, **kwargs):
        if len(calls) == 2 and interrupt:
            raise KeyboardInterrupt
        calls.append(sample_id)
        return original(self, sample_id, *args, **kwargs)

    monkeypatch.setattr(SampleExtractor, "extract", counting)
    interrupt = True
    with pytest.raises(KeyboardInterrupt):
        build_dataset(entries, config, cache_dir=tmp_path / "cache", device="cpu", batch_size=1)
    assert calls == ["clip0", "clip1"] and len(list((tmp_path / "cache").glob("*.npz"))) == 2
    interrupt = False
    dataset, report = build_dataset(entries, config, cache_dir=tmp_path / "cache", device="cpu", batch_size=1)
    assert calls == ["clip0", "clip1", "clip2", "clip3"]
    assert report.from_cache == 2 and sum(split.num_rows for split in dataset.values()) == 4
    validate_dataset(dataset)


def test_two_worker_processes_give_the_same_features(media, config, tiny_models, tmp_path, one_thread_subprocess_env):
    """``--num_proc 2``: ``datasets.map`` forks two workers, and each sets ``cpu_count // 2`` torch threads.

    The CLI runs in a fresh process started with OMP_NUM_THREADS=1 (its own process runs no torch work
    before the map). Forked from this pytest process instead, whose OpenMP pool has run with the caller's
    thread count, a worker that asks for more than one thread hangs in its first parallel region
    (OMP_NUM_THREADS=2 on a machine with 4 or more cores).
    """
    rows = [
        {"id": f"clip{i}", "video": str(media["talking"]), "text": "i really love this movie", "label": 1.0,
         "split": split}
        for i, split in enumerate(["train", "validation", "test", "train"])
    ]
    single, _ = build_dataset([ManifestEntry(**row) for row in rows], config, cache_dir=tmp_path / "one", device="cpu")
    manifest, output = write_csv(tmp_path / "clips.csv", rows), tmp_path / "double"
    command = [sys.executable, "-m", "data_processing.extract",
               *cli_args(manifest, output, tiny_models, "--cache_dir", str(tmp_path / "two"), "--num_proc", "2",
                         "--batch_size", "2")]
    done = subprocess.run(command, cwd=ROOT, env=one_thread_subprocess_env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads((output / "extraction_report.json").read_text())
    assert report["summary"]["from_cache"] == 0 and len(list((tmp_path / "two").glob("*.npz"))) == 4
    double = load_msa_dataset(str(output))
    for column in ("text_features", "audio_features", "vision_features"):
        np.testing.assert_allclose(
            double["train"].with_format("numpy")[1][column], single["train"].with_format("numpy")[1][column],
            atol=1e-5, err_msg=f"{column}: the workers run on cpu_count // 2 threads, this process on the caller's "
            "count; float32 sums differ in the last bits with the thread count, another clip or frame by far more",
        )


def test_strict_fails_on_any_record_and_saves_only_the_report(media, tiny_models, tmp_path, capsys):
    manifest = write_csv(
        tmp_path / "m.csv",
        [
            {"id": "a", "video": str(media["talking"]), "text": "good", "label": 1, "split": "train"},
            {"id": "b", "video": str(media["silent"]), "text": "bad", "label": -1, "split": "test"},
        ],
    )
    output = tmp_path / "out"
    assert main(cli_args(manifest, output, tiny_models, "--strict")) == 1
    assert "--strict" in capsys.readouterr().err
    assert not (output / "dataset_dict.json").exists()
    assert json.loads((output / "extraction_report.json").read_text())["issues"][0]["code"] == "no_audio_track"


def test_label_rules_unlabeled_manifest_and_label_errors(media, config, tmp_path):
    unlabeled = [
        ManifestEntry(id=f"u{i}", video=str(media["talking"]), text="good", split=s)
        for i, s in enumerate(["train", "validation", "test"])
    ]
    dataset, report = build_dataset(unlabeled, config, cache_dir=tmp_path / "cache", device="cpu")
    assert read_metadata(dataset).notes["unlabeled"] is True and not report.issues
    assert all(label == 0.0 for split in dataset.values() for label in split["label"])

    labelled = [
        ManifestEntry(id="ok", video=str(media["talking"]), text="good", label=1.5, split="train"),
        ManifestEntry(id="none", video=str(media["talking"]), text="good", split="train"),
        ManifestEntry(id="big", video=str(media["talking"]), text="good", label=3.5, split="train"),
    ]
    dataset, report = build_dataset(labelled, config, cache_dir=tmp_path / "cache", device="cpu")
    assert {(i.id, i.code) for i in report.errors} == {("none", "missing_label"), ("big", "label_out_of_range")}
    assert dataset["train"]["id"] == ["ok"]


def test_bad_files_are_clear_media_errors(media, tmp_path):
    for path, code in (
        (tmp_path / "nowhere.mp4", "missing_file"),
        (media["empty"], "empty_file"),
        (media["corrupt"], "unreadable_video"),
    ):
        with pytest.raises(MediaError) as caught:
            read_video_frames(path, 5)
        assert caught.value.code == code and str(path) in str(caught.value)
    with pytest.raises(MediaError, match="no audio track") as caught:
        read_audio(media["silent"], 8000)
    assert caught.value.code == "no_audio_track"
    with pytest.raises(MediaError) as caught:
        read_audio(media["corrupt"].with_suffix(".wav").with_name("bad.wav"), 8000)
    assert caught.value.code == "missing_file"


def test_sample_level_errors_and_warnings(media, config, tmp_path):
    extractor = sample_extractor.load_sample_extractor(config, torch.device("cpu"))
    missing_audio = extractor.extract("x", str(media["talking"]), "good", str(tmp_path / "gone.wav"))
    assert missing_audio.columns is None and [i.code for i in missing_audio.issues] == ["missing_file"]
    empty_text = extractor.extract("y", str(media["talking"]), "   ")
    assert [i.code for i in empty_text.issues] == ["empty_transcript"]
    assert empty_text.columns["text_length"] == 0 and empty_text.columns["text_features"].shape == (
        0,
        fixtures.TEXT_DIM,
    )
    with pytest.raises(ExtractionError, match="missing_file"):
        extract_sample(str(tmp_path / "gone.mp4"), "good", config=config, device="cpu")
    short = ExtractionConfig.from_dict({**config.to_dict(), "text_max_length": 4})
    truncated = sample_extractor.load_sample_extractor(short, torch.device("cpu")).extract(
        "z", str(media["talking"]), "i really love this movie"
    )
    assert [i.code for i in truncated.issues] == ["text_truncated"] and truncated.columns["text_length"] == 4
    assert truncated.issues[0].message == "transcript cut to 4 tokens: 3 of its 7 dropped"


def test_audio_is_resampled_to_the_model_rate(media):
    waveform = read_audio(media["voice"], 8000)
    assert len(waveform) == int(CLIP_SECONDS * 8000)
    from_video = read_audio(media["talking"], 16000)
    assert abs(len(from_video) - CLIP_SECONDS * 16000) < 0.05 * 16000


def test_audio_chunks_cover_the_whole_clip_and_pool(tiny_models):
    encoder = AudioEncoder(tiny_models["audio"], None, chunk_seconds=1.0, frame_rate=None, device=torch.device("cpu"))
    assert (encoder.hop, encoder.receptive_field, encoder.native_rate) == (320, 325, 25.0)
    waveform = fixtures.speech_like(5.0, 8000)
    assert [len(c) for c in encoder.chunks(waveform)] == [8000] * 5
    assert encoder(waveform).shape == (5 * expected_audio_frames(1.0), fixtures.AUDIO_DIM)
    assert [len(c) for c in encoder.chunks(waveform[:8100])] == [8100]
    with pytest.raises(AudioTooShortError):
        encoder(waveform[:300])
    frames = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    np.testing.assert_allclose(pool_frames(frames, native_rate=10, frame_rate=5)[:, 0], [0.5, 2.5, 4.5, 6.5, 8.5])
    pooled = AudioEncoder(tiny_models["audio"], None, chunk_seconds=1.0, frame_rate=5.0, device=torch.device("cpu"))
    assert pooled(waveform).shape == (5 * expected_audio_frames(1.0) // 5, fixtures.AUDIO_DIM)


def test_settings_the_models_cannot_take_fail_before_any_work(media, tiny_models, tmp_path, capsys):
    manifest = write_csv(tmp_path / "m.csv", [{"id": "a", "video": str(media["talking"]), "text": "good"}])
    assert main(cli_args(manifest, tmp_path / "out", tiny_models, "--audio_frame_rate", "40")) == 1
    assert "exceeds the audio model's own frame rate 25" in capsys.readouterr().err
    assert main(cli_args(tmp_path / "absent.csv", tmp_path / "out", tiny_models)) == 1
    assert "absent.csv does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out-extraction-cache").exists()


def haar_cropper(detection_width: int = 320, redetect_every: int = 1) -> FaceCropper:
    detector = HaarFaceDetector(min_size=20, detection_width=detection_width)
    return FaceCropper(FaceTracker(detector, redetect_every, 0.6, detection_width), margin=0.2)


def test_face_crop_and_fallbacks(media, tiny_models):
    frames = read_video_frames(media["talking"], VISION_FPS).frames
    wall = read_video_frames(media["no_face"], VISION_FPS).frames[0]
    cropper = haar_cropper()
    _, crop = cropper(frames[0])
    assert crop is not None and 30 <= crop.shape[0] <= 60 and crop.shape[0] == crop.shape[1]
    large = cv2.resize(frames[0], None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    _, large_crop = haar_cropper(detection_width=176)(large)
    assert large_crop is not None and abs(large_crop.shape[0] - 4 * crop.shape[0]) <= 8
    assert cropper(wall) == (None, None)
    encoder = VisionEncoder(tiny_models["vision"], None, "cls", 2, torch.device("cpu"))
    mixed = [SampledFrame(0.0, frames[0]), SampledFrame(0.2, wall), SampledFrame(0.4, frames[2])]
    whole = encode_faces(mixed, cropper, encoder, "whole_frame")
    skipped = encode_faces(mixed, cropper, encoder, "skip")
    zeroed = encode_faces(mixed, cropper, encoder, "zero", keep_crops=True)
    assert whole.frames_without_face == skipped.frames_without_face == zeroed.frames_without_face == 1
    assert whole.features.shape == (3, 16) and skipped.features.shape == (2, 16) and zeroed.features.shape == (3, 16)
    assert not zeroed.features[1].any() and np.abs(whole.features[1]).sum() > 0
    np.testing.assert_allclose(zeroed.features[[0, 2]], skipped.features, atol=1e-6)
    assert zeroed.times == [0.0, 0.2, 0.4] and zeroed.face_found == [True, False, True]
    assert zeroed.face_crops[1] is wall and zeroed.face_crops[0].shape == crop.shape


def test_minilm_text_features_are_its_hidden_states_and_carry_meaning():
    from modeling_msmix.text_features import TextEncoder

    path = fixtures.minilm_path()
    encoder = TextEncoder(path, None, None, torch.device("cpu"))
    sentence = "i really love this movie"
    encoded = encoder(sentence)
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    with torch.no_grad():
        expected = model(**tokenizer(sentence, return_tensors="pt")).last_hidden_state[0].numpy()
    assert encoded.features.shape == (len(encoded.input_ids), 384)
    np.testing.assert_allclose(encoded.features, expected, atol=1e-5)

    def embedding(text: str) -> np.ndarray:
        vector = encoder(text).features.mean(axis=0)
        return vector / np.linalg.norm(vector)

    close = embedding("i really like this film") @ embedding(sentence)
    far = embedding("the stock market fell sharply on tuesday") @ embedding(sentence)
    assert close > far + 0.2


def test_manifest_formats_splits_and_folder_convention(media, tmp_path):
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps(row)
            for row in [
                {"id": "a", "video": "clips/a.mp4", "text": "hi", "label": 1.5, "split": "dev"},
                {"id": "b", "video": "/abs/b.mp4", "text": "", "audio": "b.wav"},
            ]
        )
    )
    entries = read_manifest(jsonl)
    assert entries[0] == ManifestEntry("a", str(tmp_path / "clips/a.mp4"), "hi", None, 1.5, "validation")
    assert entries[1].video == "/abs/b.mp4" and entries[1].audio == str(tmp_path / "b.wav") and entries[1].label is None
    for rows, message in (
        ([{"id": "a", "video": "v", "text": "t", "split": "holdout"}], "unknown split"),
        ([{"id": "a", "video": "v", "text": "t", "label": "high"}], "not a number"),
        ([{"id": "a", "video": "v", "text": "t"}, {"id": "a", "video": "w", "text": "t"}], "duplicate"),
        ([{"id": "a", "text": "t"}], "missing"),
    ):
        with pytest.raises(ManifestError, match=message):
            read_manifest(write_csv(tmp_path / "bad.csv", rows))

    pending = [ManifestEntry(f"s{i}", "v", "t") for i in range(10)]
    assigned = assign_splits(pending)
    sizes = {s: sum(e.split == s for e in assigned) for s in ("train", "validation", "test")}
    assert sizes == {"train": 8, "validation": 1, "test": 1}
    assert [e.split for e in assign_splits(pending)] == [e.split for e in assigned]
    assert {s for e in assign_splits(pending[:3]) for s in [e.split]} == {"train", "validation", "test"}

    root = tmp_path / "folder"
    (root / "train").mkdir(parents=True)
    (root / "test").mkdir()
    for split, name in (("train", "one"), ("test", "two")):
        (root / split / f"{name}.avi").write_bytes(media["silent"].read_bytes())
        (root / split / f"{name}.txt").write_text(f"transcript {name}\n")
    (root / "train" / "one.wav").write_bytes(media["voice"].read_bytes())
    (root / "labels.csv").write_text("id,label\none,1.5\ntwo,-0.5\n")
    found = {e.id: e for e in load_entries(root)}
    assert found["one"] == ManifestEntry(
        "one", str(root / "train/one.avi"), "transcript one", str(root / "train/one.wav"), 1.5, "train"
    )
    assert found["two"].split == "test" and found["two"].audio is None and found["two"].label == -0.5


def test_extraction_config_round_trip_and_validation(config):
    assert ExtractionConfig.from_dict(config.to_dict()) == config
    assert ExtractionConfig.from_dict({**config.to_dict(), "vision_fps": 2.0}).fingerprint() != config.fingerprint()
    with pytest.raises(ValueError, match="unknown extraction settings"):
        ExtractionConfig.from_dict({"frame_rate": 3})
    with pytest.raises(ValueError, match="face_fallback"):
        ExtractionConfig(face_fallback="blur")
    with pytest.raises(ValueError, match="vision_fps"):
        ExtractionConfig(vision_fps=0)


def _copy_models(tiny_models: dict[str, str], folder: Path) -> dict[str, str]:
    import shutil

    return {modality: shutil.copytree(path, folder / Path(path).name) for modality, path in tiny_models.items()}


def _three_entries(media) -> list[ManifestEntry]:
    return [ManifestEntry(id=f"clip{i}", video=str(media["talking"]), text="good music", label=0.5, split=split)
            for i, split in enumerate(["train", "validation", "test"])]


def test_case6_changed_weights_in_a_local_model_folder_invalidate_the_cache(media, tiny_models, tmp_path):
    models = _copy_models(tiny_models, tmp_path / "models")
    config = ExtractionConfig(text_model=str(models["text"]), audio_model=str(models["audio"]),
                              vision_model=str(models["vision"]), vision_fps=VISION_FPS)
    first, _ = build_dataset(_three_entries(media), config, cache_dir=tmp_path / "cache", device="cpu")
    model = AutoModel.from_pretrained(models["text"])
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.5)
    model.save_pretrained(models["text"])
    second, report = build_dataset(_three_entries(media), config, cache_dir=tmp_path / "cache", device="cpu")
    assert report.from_cache == 0
    assert not np.allclose(first["train"].with_format("numpy")[0]["text_features"],
                           second["train"].with_format("numpy")[0]["text_features"])
    np.testing.assert_array_equal(first["train"].with_format("numpy")[0]["audio_features"],
                                  second["train"].with_format("numpy")[0]["audio_features"])
    assert read_metadata(first).extractors["text"] != read_metadata(second).extractors["text"]


def test_guard_the_cache_key_covers_text_model(media, config, tmp_path):
    other_text = fixtures.minilm_path()
    first, _ = build_dataset(_three_entries(media), config, cache_dir=tmp_path / "cache", device="cpu")
    changed = ExtractionConfig.from_dict({**config.to_dict(), "text_model": other_text})
    second, report = build_dataset(_three_entries(media), changed, cache_dir=tmp_path / "cache", device="cpu")
    assert report.from_cache == 0
    assert first["train"].features["text_features"].shape[1] == fixtures.TEXT_DIM
    assert second["train"].features["text_features"].shape[1] == 384
    assert second["train"].with_format("numpy")[0]["text_features"].shape[1] == 384


def test_an_edited_transcript_is_extracted_again_not_read_from_the_cache(media, config, tmp_path):
    """Issue 29: the per-sample cache key must cover the transcript, or an edited transcript gets stale text features."""
    entries = _three_entries(media)
    first, _ = build_dataset(entries, config, cache_dir=tmp_path / "cache", device="cpu")
    edited = [ManifestEntry(id="clip0", video=str(media["talking"]), text="awful noise", label=0.5, split="train"),
              *entries[1:]]
    second, report = build_dataset(edited, config, cache_dir=tmp_path / "cache", device="cpu")
    assert report.from_cache == 2  # clip1 and clip2 are unchanged
    before, after = first["train"].with_format("numpy")[0], second["train"].with_format("numpy")[0]
    assert (before["id"], after["id"], after["text"]) == ("clip0", "clip0", "awful noise")
    assert not np.array_equal(before["text_features"], after["text_features"])
    np.testing.assert_array_equal(before["audio_features"], after["audio_features"])
