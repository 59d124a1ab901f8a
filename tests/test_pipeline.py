"""``MSMixProcessor``, the ``multimodal-sentiment`` pipeline and ``python -m trainer.predict`` on real
(generated) videos with tiny local extractor models: same features as the dataset extractor, same
numbers as the model (also in batches), 7-class labels, per-modality intensities (None for a missing
modality), settings that round-trip through ``save_pretrained``, clear errors."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import (
    AutoProcessor,
    PreTrainedModel,
    Wav2Vec2Config,
    Wav2Vec2CTCTokenizer,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
    pipeline,
)

import extraction_fixtures as fixtures
import fresh_process
from data_processing.extract import main as extract_main
from modeling_msmix import BACKBONES, MSMixProcessor
from modeling_msmix.extraction_config import ExtractionConfig
from modeling_msmix.pipeline_msmix import TASK, MissingTranscriptError, MultimodalSentimentPipeline, sentiment_label
from modeling_msmix.processing_msmix import ClipError, LocalExtractorError
from modeling_msmix.sample_extractor import extract_sample
from modeling_msmix.text_io import read_text
from trainer.collator import MSMixDataCollator
from trainer.predict import load_sentiment_pipeline
from trainer.predict import main as predict_main
from trainer.push_model import push_trained_model
from trainer.run import main as train_main

HERE = Path(__file__).parent

DIMS = {"text_dim": fixtures.TEXT_DIM, "audio_dim": fixtures.AUDIO_DIM, "vision_dim": fixtures.VISION_DIM}
SMALL_TFN = {"text_hidden_dim": 8, "text_out_dim": 8, "audio_hidden_dim": 4, "vision_hidden_dim": 4,
             "post_fusion_dim": 8}


def save_model(folder: Path, extraction: dict, kind: str = "mosi", augmentation: str = "msmix",
               dims: dict | None = None) -> str:
    dims = dims or DIMS
    config_class, model_class = BACKBONES["tfn"]
    config = config_class(augmentation=augmentation, **SMALL_TFN)
    low = -1.0 if kind == "sims" else -3.0
    config.apply_dataset_metadata({"dataset_kind": kind, "label_min": low, "label_max": -low, **dims,
                                   "extraction": extraction, "source": "test"})
    torch.manual_seed(0)
    model_class(config).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    models = fixtures.build_tiny_models(root / "extractors")
    extraction = ExtractionConfig(text_model=models["text"], audio_model=models["audio"],
                                  vision_model=models["vision"], vision_fps=5.0).to_dict()
    return {
        "root": root,
        "extractors": models,
        "extraction": extraction,
        "model": save_model(root / "model", extraction),
        "clip": fixtures.write_talking_clip(root, "talk", 1.5, seed=1),
        "clip2": fixtures.write_talking_clip(root, "talk2", 1.0, seed=2),
    }


@pytest.fixture(scope="module")
def analyse(setup):
    return load_sentiment_pipeline(setup["model"], device="cpu")


@pytest.mark.parametrize(("score", "scale", "label"), [
    (2.6, 3.0, "strongly positive"), (9.0, 3.0, "strongly positive"), (1.5, 3.0, "positive"),
    (0.5, 3.0, "neutral"), (-0.51, 3.0, "weakly negative"), (-2.5, 3.0, "negative"), (-3.4, 3.0, "strongly negative"),
    (0.5, 1.0, "positive"), (-0.2, 1.0, "weakly negative"), (0.1, 1.0, "neutral"), (-1.2, 1.0, "strongly negative"),
])
def test_sentiment_label_rounds_the_rescaled_clipped_score(score, scale, label):
    assert sentiment_label(score, scale) == label


def test_pipeline_gives_the_models_numbers_on_the_dataset_extractors_features(setup, analyse):
    assert isinstance(pipeline(TASK, model=setup["model"], device="cpu"), MultimodalSentimentPipeline)
    result = analyse({"video": str(setup["clip"]), "transcript": "i really love this movie", "id": "c1"})
    row = extract_sample(str(setup["clip"]), "i really love this movie", config=setup["extraction"], device="cpu")
    batch = MSMixDataCollator(return_mix_seed=False)([{**row, "label": 0.0}])
    batch.pop("labels")
    with torch.no_grad():
        expected = analyse.model(**batch)
    assert set(result) == {"sentiment", "label", "intensities", "warnings"} and result["warnings"] == []
    assert result["sentiment"] == float(expected.logits[0, 0])
    assert result["label"] == sentiment_label(result["sentiment"], 3.0)
    assert list(result["intensities"]) == ["text", "audio", "vision"]
    np.testing.assert_array_equal(list(result["intensities"].values()), expected.intensities[0].numpy())
    assert all(-3.0 <= value <= 3.0 for value in result["intensities"].values())
    assert analyse(str(setup["clip"]), transcript="i really love this movie") == result


def test_processor_batch_is_the_collators_and_batched_pipeline_equals_one_by_one(setup, analyse):
    videos, texts = [str(setup["clip"]), str(setup["clip2"])], ["i really love this movie", "terrible acting"]
    processor = analyse.processor
    batch = processor(videos, texts, device="cpu")
    rows = [extract_sample(v, t, config=setup["extraction"], device="cpu") for v, t in zip(videos, texts)]
    expected = MSMixDataCollator(return_mix_seed=False)([{**row, "label": 0.0} for row in rows])
    # host_lengths only spare training a device-to-host copy; the model reads the masks without them
    assert set(batch) == set(expected) - {"labels", "host_lengths"}
    for name, tensor in batch.items():
        torch.testing.assert_close(tensor, expected[name], rtol=0, atol=0)
    assert batch["audio_features"].shape[1] > batch["audio_mask"][1].sum()  # the shorter clip is padded
    with torch.no_grad():
        logits = analyse.model(**batch).logits[:, 0]
    requests = [{"video": v, "transcript": t} for v, t in zip(videos, texts)]
    together = analyse(requests, batch_size=2)
    alone = [analyse(request) for request in requests]
    for pair, single, value in zip(together, alone, logits.tolist()):
        assert pair["sentiment"] == pytest.approx(single["sentiment"], abs=1e-6)
        assert pair["sentiment"] == pytest.approx(value, abs=1e-6)
        assert pair["intensities"] == pytest.approx(single["intensities"], abs=1e-6)


def test_details_show_crops_faces_times_and_waveform(setup, analyse):
    batch = analyse.processor(str(setup["clip"]), "i really love this movie", return_details=True, device="cpu")
    (details,) = batch.pop("details")
    frames = batch["vision_features"].shape[1]
    assert frames == 8 and details["frame_times"] == pytest.approx([0.2 * i for i in range(8)])
    assert len(details["face_crops"]) == len(details["face_found"]) == frames and any(details["face_found"])
    assert all(crop.dtype == np.uint8 and crop.ndim == 3 and crop.shape[2] == 3 for crop in details["face_crops"])
    found = details["face_crops"][details["face_found"].index(True)]
    assert found.shape[0] < fixtures.FRAME_SIZE[1]  # a crop, not the whole frame
    assert details["sampling_rate"] == fixtures.AUDIO_MODEL_RATE and details["waveform"].dtype == np.float32
    assert len(details["waveform"]) == pytest.approx(1.5 * fixtures.AUDIO_MODEL_RATE, rel=0.05)  # AAC pads a little
    assert details["warnings"] == []
    result = analyse(str(setup["clip"]), transcript="i really love this movie", return_details=True)
    assert result["details"]["frame_times"] == details["frame_times"]


def test_a_missing_modality_has_no_intensity_and_unreadable_media_name_the_file(setup, analyse):
    silent = fixtures.write_face_video(setup["root"] / "silent.avi", 1.0)
    result = analyse(str(silent), transcript="")
    assert result["intensities"]["audio"] is None and result["intensities"]["text"] is None
    assert isinstance(result["intensities"]["vision"], float)
    assert [w.split("]")[0] for w in result["warnings"]] == ["[no_audio_track", "[empty_transcript"]
    broken = setup["root"] / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    for call in (lambda: analyse.processor(str(broken), "hello", device="cpu"),
                 lambda: analyse(str(broken), transcript="hello")):
        with pytest.raises(ValueError, match="broken.mp4") as error:
            call()
        assert isinstance(error.value, ClipError) and error.value.code == "unreadable_video"


def test_many_files_in_order_with_a_bad_one_reported(setup, analyse):
    results = analyse([str(setup["clip"]), str(setup["root"] / "missing.mp4"), str(setup["clip2"])],
                      transcript="good music", on_error="report", batch_size=2)
    assert results[1]["sentiment"] is None and results[1]["error"].startswith("[missing_file]")
    assert "missing.mp4" in results[1]["error"]
    assert results[0]["sentiment"] != results[2]["sentiment"]
    assert results[0] == analyse(str(setup["clip"]), transcript="good music")
    with pytest.raises(MissingTranscriptError, match="no transcript"):
        analyse(str(setup["clip"]))
    with pytest.raises(TypeError, match="unknown arguments \\['transcripts'\\]"):
        analyse(str(setup["clip"]), transcripts="typo")


def test_models_without_extraction_settings_or_with_other_dims_are_refused(setup):
    no_settings = load_sentiment_pipeline(save_model(setup["root"] / "no_settings", {}), device="cpu")
    with pytest.raises(ValueError, match=r"no dataset_metadata\['extraction'\].*source: test"):
        no_settings(str(setup["clip"]), transcript="hello")
    other_dims = {**DIMS, "audio_dim": 5}
    mismatched = load_sentiment_pipeline(save_model(setup["root"] / "dims", setup["extraction"], dims=other_dims),
                                         device="cpu")
    with pytest.raises(ValueError, match="feature dims .*'audio': 24.* model expects .*'audio': 5"):
        mismatched(str(setup["clip"]), transcript="hello")


def test_sims_model_without_msmix_scales_the_label_and_has_no_intensities(setup):
    sims = load_sentiment_pipeline(save_model(setup["root"] / "sims", setup["extraction"], kind="sims",
                                              augmentation="none"), device="cpu")
    result = sims(str(setup["clip"]), transcript="good music")
    assert result["intensities"] == {"text": None, "audio": None, "vision": None}
    assert -1.0 <= result["sentiment"] <= 1.0
    assert result["label"] == sentiment_label(result["sentiment"], 1.0)


def test_asr_model_transcribes_a_video_without_transcript(setup, analyse):
    folder = setup["root"] / "tiny-asr"
    folder.mkdir()
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, **{c: i + 5 for i, c in enumerate("abcdefgh")}}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    Wav2Vec2CTCTokenizer(str(folder / "vocab.json")).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(folder)
    config = Wav2Vec2Config(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=32, conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 4),
                            num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2, feat_extract_norm="group")
    torch.manual_seed(0)
    Wav2Vec2ForCTC(config).save_pretrained(folder)
    result = analyse(str(setup["clip"]), asr_model=str(folder))
    assert result["warnings"][0].startswith(f"transcript from {folder}: ")
    assert isinstance(result["sentiment"], float)
    silent = fixtures.write_face_video(setup["root"] / "silent-asr.avi", 1.0)
    failed = analyse(str(silent), asr_model=str(folder), on_error="report")
    assert failed["sentiment"] is None and "[no_audio_track]" in failed["error"]


def test_cli_reads_utf8_transcripts_writes_json_lines_and_stops_early_without_transcripts(setup, tmp_path, capsys):
    (setup["root"] / "talk.txt").write_bytes("\ufeffi really love this movie\n".encode("utf-8"))
    with pytest.raises(SystemExit, match="no transcript for: .*talk2.mkv"):
        predict_main(["--model", setup["model"], "--videos", str(setup["clip"]), str(setup["clip2"])])
    transcript = tmp_path / "t.txt"
    transcript.write_bytes("terrible acting, très mauvais".encode("utf-8"))
    assert read_text(setup["root"] / "talk.txt") == "i really love this movie\n"
    out = tmp_path / "results.jsonl"
    status = predict_main(["--model", setup["model"], "--videos", str(setup["clip"]), str(tmp_path / "gone.mp4"),
                           "--transcripts", str(setup["root"] / "talk.txt"), str(transcript), "--output", str(out),
                           "--device", "cpu", "--batch_size", "2"])
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert status == 1 and len(lines) == 2
    expected = load_sentiment_pipeline(setup["model"], device="cpu")(str(setup["clip"]),
                                                                     transcript="i really love this movie")
    assert lines[0] == {"video": str(setup["clip"]), **expected}
    assert lines[1]["error"].startswith("[missing_file]")
    assert "1 of 2 videos failed" in capsys.readouterr().err
    (tmp_path / "latin1.txt").write_bytes("tr\xe8s".encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.txt is not UTF-8"):
        read_text(tmp_path / "latin1.txt")


def test_publishing_local_extractors_fails_early_unless_allowed(setup, tmp_path):
    model = BACKBONES["tfn"][1].from_pretrained(setup["model"])
    with pytest.raises(LocalExtractorError, match="text .*tiny-text.* local folders: name the extractors by their Hub"):
        push_trained_model(model, "someone/never-created", endpoint="http://127.0.0.1:9")
    processor = MSMixProcessor(extraction=setup["extraction"])
    with pytest.raises(LocalExtractorError, match="allow_local_extractors=True"):
        processor.save_pretrained(str(tmp_path / "p"), push_to_hub=True, repo_id="someone/never-created")
    processor.check_publishable(allow_local_extractors=True)


def test_videos_to_dataset_to_trained_model_to_prediction_from_any_directory(setup, tmp_path, monkeypatch):
    """The contract between the parts: the extractor's settings (relative paths given at extraction
    time, stored absolute) travel through training into the processor saved next to the model, whose
    card is written too, and the pipeline featurises a new video with them from another directory."""
    rows = [("a", "train", 2.0), ("b", "train", -1.0), ("c", "valid", 1.0), ("d", "test", -2.0)]
    lines = ["id,video,text,label,split"]
    lines += [f"{name},{setup['clip'].name},i really love this movie,{label},{split}" for name, split, label in rows]
    (setup["root"] / "clips.csv").write_text("\n".join(lines) + "\n")
    relative = {m: os.path.relpath(path, setup["root"]) for m, path in setup["extractors"].items()}
    assert not any(os.path.isabs(path) for path in relative.values())
    monkeypatch.chdir(setup["root"])
    assert extract_main(["--manifest", "clips.csv", "--output", str(tmp_path / "data"),
                         "--text_model", relative["text"], "--audio_model", relative["audio"],
                         "--vision_model", relative["vision"], "--vision_fps", "5", "--device", "cpu"]) == 0
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / relative["audio"]).mkdir(parents=True)  # a same-named folder here must not be picked up
    monkeypatch.chdir(elsewhere)
    overrides = ",".join(f"{key}={value}" for key, value in SMALL_TFN.items())
    saves = []
    save_pretrained = PreTrainedModel.save_pretrained
    monkeypatch.setattr(PreTrainedModel, "save_pretrained",
                        lambda model, folder, **kw: saves.append(Path(folder)) or save_pretrained(model, folder, **kw))
    train_main(["--dataset", str(tmp_path / "data"), "--backbone", "tfn", "--augmentation", "msmix",
                "--config_overrides", overrides, "--seeds", "1111", "--num_train_epochs", "1",
                "--per_device_train_batch_size", "2", "--output_dir", str(tmp_path / "run"), "--report_to", "none",
                "--max_audio_length", "20"])
    saved = tmp_path / "run" / "seed-1111"
    assert saves.count(saved) == 1  # the run folder's weights are written once (checkpoints aside)
    assert (saved / "training_args.bin").is_file()
    processor = AutoProcessor.from_pretrained(str(saved))
    assert isinstance(processor, MSMixProcessor)
    assert processor.extraction_config == ExtractionConfig.from_dict(setup["extraction"])
    assert processor.max_lengths == {"text": None, "audio": 20, "vision": None}
    original = json.loads((saved / "processor_config.json").read_text())
    assert {k: v for k, v in processor.to_dict().items() if k != "auto_map"} == {
        k: v for k, v in original.items() if k != "auto_map"}
    assert "| `seed` | `1111` |" in (saved / "README.md").read_text()
    monkeypatch.setattr("trainer.push_model.check_hub_access", lambda token=None, endpoint=None: "someone")
    with pytest.raises(SystemExit, match="--push_to_hub: the text .*tiny-text.* local folders: name the extractors"):
        train_main(["--dataset", str(tmp_path / "data"), "--output_dir", str(tmp_path / "never"), "--push_to_hub",
                    "--hub_model_id", "someone/never-created", "--report_to", "none"])
    assert not (tmp_path / "never").exists()  # refused before training
    trained = load_sentiment_pipeline(str(saved), device="cpu")
    result = trained(str(setup["clip2"]), transcript="terrible acting")
    assert isinstance(result["sentiment"], float) and set(result["intensities"]) == {"text", "audio", "vision"}
    batch = processor(str(setup["clip2"]), "terrible acting", device="cpu")
    assert batch["audio_features"].shape[1] == 20  # truncated as in training (the clip has 25 frames)
    with torch.no_grad():
        assert result["sentiment"] == pytest.approx(float(trained.model(**batch).logits[0, 0]), abs=1e-6)
    # the README's call on the run folder, in a process without msmix and without the Hub: the task
    # comes from ``custom_pipelines`` in the folder's config.json
    (tmp_path / "requests.json").write_text(json.dumps([{"video": str(setup["clip2"]), "transcript": "terrible acting"}]))
    report = fresh_process.run_without_msmix(HERE / "remote_pipeline_client.py", str(tmp_path / "requests.json"),
                                             str(saved), cwd=tmp_path,
                                             env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert not any(report["findable"].values()) and report["task"] == TASK
    assert report["pipeline_class"].startswith("transformers_modules.")
    (theirs,) = report["results"]
    assert theirs["label"] == result["label"] and theirs["warnings"] == result["warnings"]
    assert theirs["sentiment"] == pytest.approx(result["sentiment"], abs=1e-6)
    assert theirs["intensities"] == pytest.approx(result["intensities"], abs=1e-6)
