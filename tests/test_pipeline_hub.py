"""A model built from extracted media, published with its processor and code, runs anywhere.

``pipeline_hub_client.py`` (a subprocess pointed at the :class:`hub_server.LocalHub` stand-in)
extracts a dataset from generated videos with extractors named by Hub id, trains on it with
``trainer/run.py --push_to_hub`` and runs the pipeline in-process on two new videos. Then
``remote_pipeline_client.py`` runs ``pipeline(model=repo, trust_remote_code=True)`` on the same two
videos in a fresh ``python -I -S`` process that cannot import msmix: it must find the task, the
pipeline, the processor and the model in the repository, download the pinned extractors, and give
the same numbers (to float32 rounding: the same code on the same weights, see test_remote_code.py).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fresh_process
import hub_server

HERE = Path(__file__).parent
CLIENT = HERE / "remote_pipeline_client.py"
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: a request there would fail at once

REPO = "someone/tfn-msmix-video"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline_hub")
    with hub_server.LocalHub() as hub:
        env = {**os.environ, **hub.client_environment(), "HF_HOME": str(root / "hf"), "OMP_NUM_THREADS": "1",
               "HF_HUB_DISABLE_PROGRESS_BARS": "1",
               "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run([sys.executable, str(HERE / "pipeline_hub_client.py"), str(root)], cwd=root, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-4000:]
        observed = json.loads((root / "observed.json").read_text())
        (root / "requests.json").write_text(json.dumps(observed["requests"]))
        workdir = root / "elsewhere"
        workdir.mkdir()
        fresh_env = {**env, "HF_HOME": str(root / "hf-fresh")}
        fresh = fresh_process.run_without_msmix(CLIENT, str(root / "requests.json"), REPO, cwd=workdir, env=fresh_env)
    # the same repository again from the cache that the first call filled, with the Hub unreachable
    offline = fresh_process.run_without_msmix(CLIENT, str(root / "requests.json"), REPO, cwd=workdir,
                                              env={**fresh_env, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": UNREACHABLE})
    return hub, observed, fresh, offline


def test_the_repository_carries_model_processor_pipeline_code_and_an_honest_card(published):
    hub, observed, _, _ = published
    repo = hub.repo(REPO)
    assert {"config.json", "model.safetensors", "processor_config.json", "README.md", "modeling_tfn.py",
            "processing_msmix.py", "pipeline_msmix.py", "sample_extractor.py", "batching.py"} <= set(repo.files)
    config = json.loads(repo.files["config.json"])
    assert config["custom_pipelines"]["multimodal-sentiment"]["impl"] == "pipeline_msmix.MultimodalSentimentPipeline"
    processor = json.loads(repo.files["processor_config.json"])
    assert processor["auto_map"] == {"AutoProcessor": "processing_msmix.MSMixProcessor"}
    extraction = processor["extraction"]
    for modality, repo_id in observed["extractors"].items():
        assert extraction[f"{modality}_model"] == repo_id
        assert extraction[f"{modality}_revision"] == hub.repo(repo_id).head  # pinned to the commit loaded
    card = repo.files["README.md"].decode()
    assert f'pipeline(model="{REPO}", trust_remote_code=True)' in card
    assert f"| `seed` | `{observed['weights_seed']}` |" in card
    assert "/tmp/" not in card and str(Path.home()) + "/" not in card


@pytest.mark.parametrize("hub_access", ["online", "offline"])
def test_a_fresh_process_without_msmix_runs_the_published_pipeline_with_the_same_numbers(published, hub_access):
    _, observed, online, offline = published
    report = online if hub_access == "online" else offline
    assert not any(report["findable"].values()) and report["imported"] == []
    assert report["task"] == "multimodal-sentiment"
    assert report["pipeline_class"].startswith("transformers_modules.")
    assert report["processor_class"].startswith("transformers_modules.")
    assert observed["pipeline_class"] == "modeling_msmix.pipeline_msmix.MultimodalSentimentPipeline"
    assert report["processor"]["extraction"] == observed["processor"]["extraction"]
    local, remote = observed["results"], report["results"]
    assert len(local) == len(remote) == 2
    assert local[0]["sentiment"] != local[1]["sentiment"]
    for mine, theirs in zip(local, remote):
        assert set(theirs) == {"sentiment", "label", "intensities", "warnings"}
        assert theirs["label"] == mine["label"] and theirs["warnings"] == mine["warnings"]
        assert theirs["sentiment"] == pytest.approx(mine["sentiment"], abs=1e-6)
        assert theirs["intensities"] == pytest.approx(mine["intensities"], abs=1e-6)
