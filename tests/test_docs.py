"""The documentation cannot rot: every code block of ``docs/guides/`` runs, the site builds strictly,
and every ``python -m`` module the README and the docs name exists.

Each page's blocks run in order in a folder of their own that starts with the tiny inputs of
``docs_inputs.py`` (see ``docs_blocks.py`` for what is appended to a command to keep it small).
``hub.md`` runs against the local Hub stand-in of ``hub_server.py``, with the tiny extractors published there. A block marked ``not run``
is a skip with its reason in pytest's ``-rs`` summary.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import docs_blocks
import docs_inputs
import hub_server

HERE = Path(__file__).parent
REPO = HERE.parent
GUIDES = sorted((REPO / "docs" / "guides").glob("*.md"))


BLOCKS = [block for page in GUIDES for block in docs_blocks.code_blocks(page)]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("docs-inputs") / "inputs"
    return root, docs_inputs.build_inputs(root)


UPLOAD_EXTRACTORS = """
import json, sys
from huggingface_hub import HfApi
api = HfApi()
for modality, path in json.loads(sys.argv[1]).items():
    api.upload_folder(repo_id=api.create_repo(f"someone/tiny-{modality}", exist_ok=True).repo_id, folder_path=path)
"""


@pytest.fixture(scope="module")
def local_hub(inputs, tmp_path_factory):
    """The Hub stand-in, holding the tiny extractors as ``someone/tiny-<modality>``; yields (hub, their ids)."""
    with hub_server.LocalHub() as hub:
        env = page_environment(tmp_path_factory.mktemp("docs-hub"), hub)
        done = subprocess.run([sys.executable, "-c", UPLOAD_EXTRACTORS, json.dumps(inputs[1])], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-4000:]
        yield hub, {modality: f"someone/tiny-{modality}" for modality in inputs[1]}


@pytest.fixture(scope="module")
def page_folders(inputs, tmp_path_factory) -> dict[str, Path]:
    """One folder per page, made when the page's first block runs."""
    root, _ = inputs
    base = tmp_path_factory.mktemp("docs-pages")

    class Folders(dict):
        def __missing__(self, page: str) -> Path:
            self[page] = docs_inputs.page_folder(root, base / Path(page).stem)
            return self[page]

    return Folders()


def page_environment(folder: Path, hub=None) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "OMP_NUM_THREADS": "1", "HF_HOME": str(folder / ".hf"), "MPLBACKEND": "Agg",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("HF_DATASETS_CACHE", None)
    if hub is not None:
        env.update(hub.client_environment())
    return env


@pytest.mark.parametrize("block", BLOCKS, ids=[block.name for block in BLOCKS])
def test_guide_code_block_runs(block, inputs, page_folders, request):
    if block.not_run:
        pytest.skip(f"{block.name} not run: {block.not_run}")
    folder = page_folders[block.page]
    if block.file:
        (folder / block.file).write_text(block.code)
        return
    if block.language not in docs_blocks.RUN_LANGUAGES:
        pytest.fail(f"{block.name}: a ```{block.language} block must be marked 'file:' or 'not run:'")
    hub, extractors = request.getfixturevalue("local_hub") if block.page == "hub.md" else (None, inputs[1])
    if block.language == "python":
        command = [sys.executable, "-c", docs_blocks.with_placeholders(block.code)]
    else:
        command = ["bash", "-c", docs_blocks.shell_script(block, extractors)]
    done = subprocess.run(command, cwd=folder, env=page_environment(folder, hub), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{block.name} failed:\n{command[-1]}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"


def test_every_guide_is_in_the_site_and_has_a_running_block():
    config = (REPO / "mkdocs.yml").read_text()
    for page in GUIDES:
        assert f"guides/{page.name}" in config, f"{page.name} is not in mkdocs.yml's nav"
        assert any(block.language in docs_blocks.RUN_LANGUAGES and not block.not_run
                   for block in docs_blocks.code_blocks(page)), f"{page.name} has no block that runs"


def test_site_builds_in_strict_mode(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "reference" / "modeling" / "index.html").read_text().count("MSAConfig") > 5


def test_a_broken_link_fails_the_strict_build(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# x\n\nSee [the guide](guides/missing.md).\n")
    config = (REPO / "mkdocs.yml").read_text().split("\nnav:")[0].replace("paths: [.]", f"paths: [{REPO}]")
    (tmp_path / "mkdocs.yml").write_text(config)
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=tmp_path,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "missing.md" in done.stderr


def test_every_module_run_with_python_m_in_the_readme_and_docs_exists():
    texts = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    modules = {name for path in texts for name in re.findall(r"python -m ([\w.]+)", path.read_text())}
    modules -= {"pytest", "mkdocs", "pip"}
    assert {"data_processing.mmsa_pickle", "trainer.experiment", "trainer.robustness"} <= modules
    missing = sorted(name for name in modules if importlib.util.find_spec(name) is None)
    assert not missing, f"named with python -m but not importable: {missing}"
