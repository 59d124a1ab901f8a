"""The ``multimodal-sentiment`` pipeline and ``python -m trainer.predict`` on real (generated) videos
with tiny local extractor models: same features as the dataset extractor, same numbers as the
model, 7-class labels, per-modality intensities, clear errors."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import (
    Wav2Vec2Config,
    Wav2Vec2CTCTokenizer,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
    pipeline,
)

from data_processing.extract import main as extract_main
from modeling_msmix import BACKBONES
from modeling_msmix.extraction_config import ExtractionConfig
from modeling_msmix.sample_extractor import extract_sample
from trainer.collator import MSMixDataCollator
from trainer.predict import main as predict_main
from trainer.run import main as train_main
from trainer.sentiment_pipeline import (
    TASK,
    MissingTranscriptError,
    MultimodalSentimentPipeline,
    load_sentiment_pipeline,
    sentiment_label,
)

_FIXTURES = Path(__file__).with_name("extraction_fixtures.py")
_spec = importlib.util.spec_from_file_location("extraction_fixtures", _FIXTURES)
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)

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
    assert result["id"] == "c1" and result["warnings"] == []
    assert result["score"] == float(expected.logits[0, 0])
    assert result["label"] == sentiment_label(result["score"], 3.0)
    assert list(result["intensities"]) == ["text", "audio", "vision"]
    np.testing.assert_array_equal(list(result["intensities"].values()), expected.intensities[0].numpy())
    assert all(-3.0 <= value <= 3.0 for value in result["intensities"].values())


def test_many_files_in_order_with_a_bad_one_reported(setup, analyse):
    results = analyse([str(setup["clip"]), str(setup["root"] / "missing.mp4"), str(setup["clip2"])],
                      transcript="good music", on_error="report")
    assert [Path(r["video"]).name for r in results] == ["talk.mkv", "missing.mp4", "talk2.mkv"]
    assert results[1]["score"] is None and results[1]["error"].startswith("[missing_file]")
    assert results[0]["score"] != results[2]["score"]
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
    assert result["intensities"] is None
    assert result["label"] == sentiment_label(result["score"], 1.0)


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
    assert isinstance(result["score"], float)
    silent = fixtures.write_face_video(setup["root"] / "silent.avi", 1.0)
    failed = analyse(str(silent), asr_model=str(folder), on_error="report")
    assert failed["score"] is None and "[no_audio_track]" in failed["error"]


def test_cli_writes_json_lines_and_stops_early_without_transcripts(setup, tmp_path, capsys):
    (setup["root"] / "talk.txt").write_text("i really love this movie\n")
    with pytest.raises(SystemExit, match="no transcript for: .*talk2.mkv"):
        predict_main(["--model", setup["model"], "--videos", str(setup["clip"]), str(setup["clip2"])])
    transcript = tmp_path / "t.txt"
    transcript.write_text("terrible acting")
    out = tmp_path / "results.jsonl"
    status = predict_main(["--model", setup["model"], "--videos", str(setup["clip"]), str(tmp_path / "gone.mp4"),
                           "--transcripts", str(setup["root"] / "talk.txt"), str(transcript), "--output", str(out),
                           "--device", "cpu"])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert status == 1 and len(lines) == 2
    assert lines[0]["label"] == sentiment_label(lines[0]["score"], 3.0) and "error" not in lines[0]
    assert lines[1]["error"].startswith("[missing_file]")
    assert "1 of 2 videos failed" in capsys.readouterr().err


def test_videos_to_dataset_to_trained_model_to_prediction(setup, tmp_path):
    """The contract between the parts: the extractor's settings travel through training into the
    model config, and the pipeline featurises a new video with them."""
    rows = [("a", "train", 2.0), ("b", "train", -1.0), ("c", "valid", 1.0), ("d", "test", -2.0)]
    lines = ["id,video,text,label,split"]
    lines += [f"{name},{setup['clip'].name},i really love this movie,{label},{split}" for name, split, label in rows]
    (setup["root"] / "clips.csv").write_text("\n".join(lines) + "\n")
    models = setup["extractors"]
    assert extract_main(["--manifest", str(setup["root"] / "clips.csv"), "--output", str(tmp_path / "data"),
                         "--text_model", models["text"], "--audio_model", models["audio"],
                         "--vision_model", models["vision"], "--vision_fps", "5", "--device", "cpu"]) == 0
    overrides = ",".join(f"{key}={value}" for key, value in SMALL_TFN.items())
    train_main(["--dataset", str(tmp_path / "data"), "--backbone", "tfn", "--augmentation", "msmix",
                "--config_overrides", overrides, "--seeds", "1111", "--num_train_epochs", "1",
                "--per_device_train_batch_size", "2", "--output_dir", str(tmp_path / "run"), "--report_to", "none"])
    trained = load_sentiment_pipeline(str(tmp_path / "run" / "seed-1111"), device="cpu")
    assert trained.extraction_config() == ExtractionConfig.from_dict(setup["extraction"])
    result = trained(str(setup["clip2"]), transcript="terrible acting")
    assert isinstance(result["score"], float) and set(result["intensities"]) == {"text", "audio", "vision"}
