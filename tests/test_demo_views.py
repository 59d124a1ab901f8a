"""What the demo page shows, from a pipeline result: numbers, labels, marked face crops, waveform
envelope, table rows, the clip-length guard and readable errors (no browser here)."""

from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

import extraction_fixtures as fixtures
from demo import views
from demo.app import (
    ClipError,
    DemoApp,
    DemoArguments,
    SentimentModels,
    build_demo,
    clip_seconds,
    launch_options,
    parse_args,
    readable,
)


def result(**changes):
    crops = [np.full((20, 16, 3), 100 + i, np.uint8) for i in range(3)]
    details = {"face_crops": crops, "face_found": [True, False, True], "frame_times": [0.0, 0.2, 0.4],
               "waveform": np.sin(np.linspace(0, 20, 4000)).astype(np.float32), "sampling_rate": 8000,
               "warnings": []}
    return {"sentiment": 1.23456, "label": "positive", "intensities": {"text": 0.5, "audio": None, "vision": -1.25},
            "warnings": ["[no_face] no face in 1 of 3 frames"], "details": details, **changes}


def test_sentiment_is_shown_signed_to_three_decimals_with_its_label_and_scale():
    assert views.format_sentiment(1.23456) == "+1.235" and views.format_sentiment(-0.0004) == "-0.000"
    text = views.sentiment_markdown(result(), (-3.0, 3.0))
    assert "<span id='sentiment-value'>+1.235</span>" in text and "<span id='sentiment-label'>positive</span>" in text
    assert "[-3, 3]" in text


def test_intensity_bars_have_the_values_and_a_missing_modality_is_written_not_drawn():
    figure = views.intensity_figure(result()["intensities"], (-1.0, 1.0))
    axes = figure.axes[0]
    assert [p.get_height() for p in axes.patches] == [0.5, 0.0, -1.25]
    assert [t.get_text() for t in axes.texts] == ["+0.50", "missing", "-1.25"]
    assert axes.get_ylim() == (-1.0, 1.0)
    assert "without MS-Mix" in views.intensity_figure(None, (-3.0, 3.0)).axes[0].get_title()
    assert "without MS-Mix" in views.intensity_figure(dict.fromkeys(views.MODALITIES), (-3.0, 3.0)).axes[0].get_title()


def test_face_crops_without_a_face_get_a_red_border_and_say_so():
    items = views.face_gallery(result()["details"])
    assert [caption for _, caption in items] == ["0.0 s", "0.2 s: no face", "0.4 s"]
    np.testing.assert_array_equal(items[0][0], result()["details"]["face_crops"][0])
    marked = items[1][0]
    assert tuple(marked[0, 0]) == views.NO_FACE_BORDER and tuple(marked[10, 8]) == (101, 101, 101)


def test_waveform_envelope_spans_the_signal_and_its_duration():
    wave = np.zeros(8000, np.float32)
    wave[4000] = 0.9
    axes = views.waveform_figure(wave, 8000).axes[0]
    assert axes.get_xlim() == (0.0, 1.0)
    vertices = axes.collections[0].get_paths()[0].vertices
    assert vertices[:, 1].max() == pytest.approx(0.9) and vertices[:, 1].min() == 0.0
    assert views.waveform_figure(np.zeros(0, np.float32), 8000).axes[0].texts[0].get_text() == "no audio"


def test_table_rows_hold_rounded_numbers_or_the_error():
    assert views.table_row("a.mp4", result()) == ["a.mp4", 1.235, "positive", 0.5, None, -1.25,
                                                  "[no_face] no face in 1 of 3 frames"]
    assert views.table_row("b.mp4", None, "b.mp4: cannot open") == ["b.mp4", None, None, None, None, None,
                                                                    "b.mp4: cannot open"]
    assert views.warnings_markdown([]) == "No extraction warnings."


def test_long_clips_are_refused_before_extraction_and_errors_name_the_file_not_the_upload_folder(tmp_path):
    clip = fixtures.write_face_video(tmp_path / "long.avi", 3.0)
    assert clip_seconds(str(clip)) == pytest.approx(3.0)
    (tmp_path / "junk.mp4").write_bytes(b"junk" * 50)
    assert clip_seconds(str(tmp_path / "junk.mp4")) is None
    with pytest.raises(ClipError, match=r"^long.avi is 3 s long; this demo takes clips of at most 2 s"):
        DemoApp(SentimentModels(), max_seconds=2.0)._checked(str(clip))
    assert readable(f"[unreadable_video] {clip}: no frame", [str(clip)]) == "[unreadable_video] long.avi: no frame"


def test_page_builds_with_its_inputs_and_outputs():
    page = build_demo(DemoArguments(model="some/model"))
    ids = {block.elem_id for block in page.blocks.values()}
    assert {"model", "clip", "transcript", "analyse", "clips", "analyse-all", "sentiment", "faces", "table"} <= ids


def test_command_line_and_yaml_give_the_same_arguments_and_launch_on_localhost(tmp_path):
    args = parse_args(["--model", "runs/tfn/seed-1111", "--port", "7000", "--max_seconds", "30"])
    assert args == DemoArguments(model="runs/tfn/seed-1111", port=7000, max_seconds=30.0)
    (tmp_path / "demo.yaml").write_text("model: runs/tfn/seed-1111\nport: 7000\nmax_seconds: 30\n")
    assert parse_args([str(tmp_path / "demo.yaml")]) == args
    assert launch_options(args)["server_name"] == "127.0.0.1" and launch_options(args)["server_port"] == 7000


class StubModels(SentimentModels):
    """Stands in for the pipeline (the browser test runs the real one): a result, or the error it raises."""

    def pipeline(self, model):
        return SimpleNamespace(model=SimpleNamespace(config=SimpleNamespace(label_min=-3.0, label_max=3.0)))

    def analyse_clip(self, model, video, transcript, asr_model=None):
        if "corrupt" in video:
            raise ValueError(f"{video}: OpenCV cannot open it as a video")
        return result()


def test_several_clips_give_a_row_each_and_one_bad_clip_does_not_stop_the_others(tmp_path):
    page = DemoApp(StubModels(), max_seconds=60)
    clips = [str(tmp_path / "upload" / name) for name in ("a.mp4", "corrupt.mp4", "c.mp4")]
    outputs = page.analyse_many("m", clips, "good\nbad\n", "")
    rows = outputs[-1].value["data"]
    assert [row[0] for row in rows] == ["a.mp4", "corrupt.mp4", "c.mp4"]
    assert rows[0][1] == 1.235 and rows[1][-1] == "corrupt.mp4: OpenCV cannot open it as a video"
    assert rows[2][1] is None and rows[2][-1].startswith("c.mp4: no transcript")
    assert outputs[0] == views.sentiment_markdown(result(), (-3.0, 3.0))
    with pytest.raises(gr.Error, match="corrupt.mp4: OpenCV cannot open it as a video") as error:
        page.analyse_one("m", clips[1], "hello", "")
    assert str(tmp_path) not in error.value.message


def test_a_blank_transcript_is_left_to_the_named_speech_recognition_model():
    calls = []
    models = SentimentModels()
    models._pipelines["m"] = lambda inputs, **kwargs: calls.append((inputs, kwargs))
    models.analyse_clip("m", "a.mp4", "  ", "tiny-asr")
    models.analyse_clip("m", "a.mp4", "hello", "tiny-asr")
    assert calls == [({"video": "a.mp4", "transcript": None}, {"return_details": True, "asr_model": "tiny-asr"}),
                     ({"video": "a.mp4", "transcript": "hello"}, {"return_details": True})]
