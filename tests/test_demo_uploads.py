"""Bad uploads through the page's handlers with the real pipeline: no audio track, no face, no video
stream and a clip that is too long each get a message that names the file, and the good clip its score."""


import gradio as gr
import pytest

import demo_fixtures
from demo.app import DemoApp, SentimentModels

fixtures = demo_fixtures.fixtures


def test_each_bad_upload_gets_a_readable_message_and_the_good_clip_its_score(tmp_path):
    model = str(demo_fixtures.save_tiny_video_model(tmp_path))
    page = DemoApp(SentimentModels(), max_seconds=2.0)
    clips = [fixtures.write_talking_clip(tmp_path, "good", 1.0, seed=1),
             fixtures.write_face_video(tmp_path / "silent.avi", 1.0),
             fixtures.write_talking_clip(tmp_path, "wall", 1.0, face=False, seed=2),
             fixtures.write_wav(tmp_path / "voice.wav", 1.0),
             fixtures.write_talking_clip(tmp_path, "long", 3.0, seed=3)]
    outputs = page.analyse_many(model, [str(c) for c in clips], "\n".join(["good music"] * len(clips)), "")
    rows = {row[0]: row for row in outputs[-1].value["data"]}
    expected = page.models.analyse_clip(model, str(clips[0]), "good music")
    assert rows["good.mkv"][1:6] == [round(expected["sentiment"], 3), expected["label"],
                                     *(round(expected["intensities"][m], 3) for m in ("text", "audio", "vision"))]
    assert rows["good.mkv"][6] == ""
    assert rows["silent.avi"][4] is None and "[no_audio_track]" in rows["silent.avi"][6]
    assert "silent.avi" in rows["silent.avi"][6]
    assert rows["wall.mkv"][1] is not None and "[no_face]" in rows["wall.mkv"][6]
    assert rows["voice.wav"][1] is None
    assert rows["voice.wav"][6] == "[unreadable_video] voice.wav: OpenCV cannot open it as a video"
    assert rows["long.mkv"][1] is None
    assert rows["long.mkv"][6] == "long.mkv is 3 s long; this demo takes clips of at most 2 s"
    assert str(tmp_path) not in "".join(row[6] for row in rows.values())
    with pytest.raises(gr.Error) as error:
        page.analyse_one(model, str(clips[3]), "good music", "")
    assert error.value.message == "[unreadable_video] voice.wav: OpenCV cannot open it as a video"
