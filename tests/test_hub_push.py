"""``push_dataset`` and ``push_trained_model`` against a local Hub stand-in on 127.0.0.1.

The client (``hub_push_client.py``) runs in a subprocess with ``HF_ENDPOINT`` set to the
:class:`hub_server.LocalHub` that this test starts, ``HF_HUB_DISABLE_XET=1`` (the stand-in
speaks the git-LFS ``basic`` transfer, not Xet) and a private ``HF_HOME``.

What this proves: the requests the public clients send (create the repo, pre-upload, upload
the large files through LFS, commit), the exact files committed, and that ``load_dataset`` and
``AutoModel.from_pretrained(..., trust_remote_code=True)`` read them back to the same data and
the same predictions, also in a fresh process that cannot import msmix (``remote_code_client.py``
under ``python -I -S``, as in ``test_remote_code.py``). What it does not prove: that the real Hub
accepts them (authentication, its YAML validation, Xet storage and rate limits are not reproduced).
"""

import base64
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

import hub_server

HERE = Path(__file__).parent

CLIENT = HERE / "hub_push_client.py"
FRESH_CLIENT = HERE / "remote_code_client.py"


@pytest.fixture(scope="module")
def pushed(tmp_path_factory) -> tuple:
    """The LocalHub after the clients ran, what the push client observed, and the fresh process's report."""
    tmp_path = tmp_path_factory.mktemp("hub_push")
    out = tmp_path / "observed.json"
    with hub_server.LocalHub() as hub:
        env = {**os.environ, **hub.client_environment(), "HF_HOME": str(tmp_path / "hf"), "OMP_NUM_THREADS": "1",
               "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
        done = subprocess.run([sys.executable, str(CLIENT), str(out)], env=env, capture_output=True,
                              text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-4000:]
        env["HF_HOME"] = str(tmp_path / "hf-fresh")
        workdir = tmp_path / "elsewhere"
        workdir.mkdir()
        site_dirs = os.pathsep.join(dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]))
        fresh = subprocess.run(
            [sys.executable, "-I", "-S", str(FRESH_CLIENT), site_dirs, str(tmp_path / "batch.safetensors"),
             str(tmp_path / "fresh.safetensors"), "someone/tfn-msmix-tiny"],
            cwd=workdir, env={k: v for k, v in env.items() if not k.startswith("PYTHON")}, capture_output=True,
            text=True, timeout=240,
        )
        assert fresh.returncode == 0, fresh.stderr[-4000:]
    report = json.loads(fresh.stdout.strip().splitlines()[-1])
    outputs = {name: load_file(tmp_path / f"{name}.safetensors") for name in ("expected", "fresh")}
    return hub, json.loads(out.read_text()), report, outputs


def commit_lines(request) -> list[dict]:
    return [json.loads(line) for line in request.body.decode().splitlines()]


def test_push_dataset_then_load_dataset_restores_data_features_and_metadata(pushed):
    hub, observed = pushed[0], pushed[1]["dataset"]
    assert observed["metadata_equal"] and observed["vision_equal"] and observed["labels_equal"]
    assert observed["rows"] == {"train": 8, "validation": 4, "test": 4}
    assert set(observed["features"].values()) == {observed["expected_features"]}
    assert "Array2D(shape=(None, 16), dtype='float32')" in observed["expected_features"]
    assert observed["validated_kind"] == "mosi"

    create = [json.loads(r.body) for r in hub.calls("POST", "/api/repos/create")]
    assert create == [{"name": "msa-tiny", "organization": "someone", "type": "dataset"},
                      {"name": "tfn-msmix-tiny", "organization": "someone"}]
    commits = hub.calls("POST", "/api/datasets/someone/msa-tiny/commit/main")
    assert len(commits) == 2
    data_commit, card_commit = (commit_lines(c) for c in commits)
    lfs = {line["value"]["path"]: line["value"]["oid"] for line in data_commit if line["key"] == "lfsFile"}
    assert sorted(lfs) == [f"data/{s}-00000-of-00001.parquet" for s in ("test", "train", "validation")]
    uploaded = {r.path.removeprefix("/__lfs/") for r in hub.calls("PUT", "/__lfs/")}
    assert set(lfs.values()) <= uploaded
    assert [line["value"]["path"] for line in card_commit if line["key"] == "file"] == ["README.md"]
    readme = base64.b64decode(card_commit[1]["value"]["content"]).decode()
    meta = yaml.safe_load(readme.split("---")[1])
    assert meta["license"] == "cc-by-4.0"
    assert json.loads(meta["dataset_info"]["description"])["msmix_metadata"]["text_dim"] == 16
    assert [c["split"] for c in meta["configs"][0]["data_files"]] == ["train", "validation", "test"]
    assert hub.repo("someone/msa-tiny", "dataset").files["README.md"].decode() == readme


def test_push_trained_model_then_from_pretrained_gives_identical_predictions(pushed):
    hub, observed = pushed[0], pushed[1]["model"]
    assert observed["logits_identical"] and observed["intensities_identical"]
    assert observed["loaded_class"].endswith("modeling_tfn.TFNModel")
    assert observed["extractors"] == {"text": "x@1"}

    repo = hub.repo("someone/tfn-msmix-tiny")
    assert {"model.safetensors", "config.json", "README.md", "modeling_tfn.py", "configuration_tfn.py",
            "modeling_base.py", "configuration_base.py"} <= set(repo.files)
    assert repo.lfs_paths == {"model.safetensors"}
    config = json.loads(repo.files["config.json"])
    assert config["auto_map"] == {"AutoConfig": "configuration_tfn.TFNConfig", "AutoModel": "modeling_tfn.TFNModel"}
    assert config["augmentation"] == "msmix"
    card = repo.files["README.md"].decode()
    assert "| MAE | 0.7400 ± 0.0300 | - |" in card
    assert 'AutoModel.from_pretrained("someone/tfn-msmix-tiny", trust_remote_code=True)' in card
    commits = hub.calls("POST", "/api/models/someone/tfn-msmix-tiny/commit/main")
    assert len(commits) == 1
    committed = {line["value"]["path"] for line in commit_lines(commits[0])[1:]}
    assert committed == set(repo.files)


def test_a_fresh_process_without_msmix_loads_the_pushed_model_from_the_hub(pushed):
    hub, _, report, outputs = pushed
    assert not any(report["findable"].values()) and report["imported"] == []
    assert report["classes"]["tfn-msmix-tiny"].startswith("transformers_modules.")
    for field in ("logits", "intensities"):
        torch.testing.assert_close(outputs["fresh"][f"tfn-msmix-tiny.{field}"], outputs["expected"][field],
                                   rtol=0.0, atol=1e-6)
    downloads = {r.path.rsplit("/", 1)[-1] for r in hub.calls("GET", "/someone/tfn-msmix-tiny/resolve/")}
    assert {"config.json", "model.safetensors", "modeling_tfn.py", "mixing_msmix.py"} <= downloads
