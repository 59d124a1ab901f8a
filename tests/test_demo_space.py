"""The Space next to a model: its files (app, demo code, requirements, card with Gradio front matter)
and the push to the local Hub stand-in."""

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import gradio
import huggingface_hub.constants
import pytest
import yaml

import demo_fixtures
import hub_server
from hub_cards.space import SPACE_REQUIREMENTS, build_space_files, push_space
from trainer.predict import load_sentiment_pipeline

HERE = Path(__file__).parent


def front_matter(readme: str) -> dict:
    return yaml.safe_load(readme.split("---")[1])


def test_space_files_run_the_demo_on_the_model_with_its_remote_code(tmp_path):
    folder = build_space_files("someone/tfn-msmix", tmp_path / "space", max_seconds=30)
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "README.md", "app.py", "demo/__init__.py", "demo/app.py", "demo/views.py", "requirements.txt"]
    app = (folder / "app.py").read_text()
    assert ('main(["--model", "someone/tfn-msmix", "--trust_remote_code", "true", "--host", "0.0.0.0", '
            '"--max_seconds", "30"])') in app
    compile(app, "app.py", "exec")
    assert (folder / "demo" / "app.py").read_bytes() == (HERE.parent / "demo" / "app.py").read_bytes()
    assert (folder / "requirements.txt").read_text().splitlines() == list(SPACE_REQUIREMENTS)
    meta = front_matter((folder / "README.md").read_text())
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == gradio.__version__ and meta["app_file"] == "app.py"
    assert meta["models"] == ["someone/tfn-msmix"] and meta["license"] == "apache-2.0"
    assert 'pipeline(model="someone/tfn-msmix", trust_remote_code=True)' in (folder / "README.md").read_text()


def test_push_space_creates_a_gradio_space_next_to_the_model(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with hub_server.LocalHub() as hub:
        commit = push_space("someone/tfn-msmix", token="hf_local_test_token", endpoint=hub.endpoint)
        space = hub.repo("someone/tfn-msmix-demo", "space")
    assert commit.commit_url.startswith(f"{hub.endpoint}/spaces/someone/tfn-msmix-demo/commit/")
    assert [json.loads(r.body) for r in hub.calls("POST", "/api/repos/create")] == [
        {"name": "tfn-msmix-demo", "organization": "someone", "type": "space", "sdk": "gradio"}]
    assert set(space.files) == {"README.md", "app.py", "demo/__init__.py", "demo/app.py", "demo/views.py",
                                "requirements.txt"}
    assert front_matter(space.files["README.md"].decode())["models"] == ["someone/tfn-msmix"]
    assert len(space.commits) == 2


def test_the_space_app_runs_the_models_own_pipeline_in_a_process_without_msmix(tmp_path):
    """The Space folder's demo code on a model folder as ``push_trained_model`` uploads it (with
    ``custom_pipelines``), in a fresh process that cannot import msmix: same sentiment as msmix's pipeline."""
    model_dir = demo_fixtures.save_tiny_video_model(tmp_path)
    space_dir = build_space_files("someone/tfn-msmix", tmp_path / "space")
    clip = demo_fixtures.fixtures.write_talking_clip(tmp_path, "talk", 1.0, seed=4)
    transcript = "good music"
    expected = load_sentiment_pipeline(str(model_dir), device="cpu")(str(clip), transcript=transcript)

    site_dirs = os.pathsep.join(dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(HF_HOME=str(tmp_path / "hf"), GRADIO_ANALYTICS_ENABLED="False")
    done = subprocess.run([sys.executable, "-I", "-S", str(HERE / "space_client.py"), site_dirs, str(space_dir),
                           str(model_dir), str(clip), transcript], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert not any(report["findable"].values())
    assert report["demo_file"] == str(space_dir / "demo" / "app.py")
    assert report["pipeline_class"].startswith("transformers_modules.")
    assert report["sentiment"] == pytest.approx(expected["sentiment"], abs=1e-6)
    assert report["label"] == expected["label"] and report["face_crops"] == 5
