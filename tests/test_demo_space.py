"""The Space next to a model: its files (app, demo code, requirements, card with Gradio front matter)
and the push to the local Hub stand-in."""

import importlib.util
import json
import sys
from pathlib import Path

import huggingface_hub.constants
import yaml

from hub_cards.space import SPACE_REQUIREMENTS, build_space_files, push_space

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("hub_server", HERE / "hub_server.py")
hub_server = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("hub_server", hub_server)
_spec.loader.exec_module(hub_server)


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
    import gradio
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
