"""Every command a user can start answers ``--help`` with its usage and exit status 0.

The commands are found, not listed: every module of the user-facing packages with an
``if __name__ == "__main__":`` block, ``trainer/run.py`` started as a file (as ``accelerate launch
trainer/run.py`` does), and every console script of ``pyproject.toml``. A new command whose
``--help`` fails makes this test fail. To stay fast, two fresh processes (from a folder outside
the checkout) each run half of the commands with ``runpy`` and report exit status and output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMMAND_PACKAGES = ("trainer", "data_processing", "demo", "benchmarks")
MAIN_GUARD = 'if __name__ == "__main__":'
PROCESSES = 2

# Runs each (kind, target) with ``--help`` and prints {target: [exit status, output]} as JSON.
RUNNER = r"""
import contextlib, importlib, io, json, runpy, sys
results = {}
for kind, target in json.loads(sys.argv[1]):
    output = io.StringIO()
    status = "returned without exiting"
    sys.argv = [target, "--help"]
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            if kind == "module":
                runpy.run_module(target, run_name="__main__", alter_sys=True)
            elif kind == "file":
                runpy.run_path(target, run_name="__main__")
            else:
                module, _, function = target.partition(":")
                getattr(importlib.import_module(module), function)()
    except SystemExit as stop:
        status = stop.code
    except BaseException as error:
        status = f"{type(error).__name__}: {error}"
    results[target] = [status, output.getvalue()]
print(json.dumps(results))
"""


def command_modules() -> list[str]:
    """Dotted names of the modules of ``COMMAND_PACKAGES`` that can run as ``python -m``."""
    return sorted(
        ".".join(path.relative_to(REPO).with_suffix("").parts)
        for package in COMMAND_PACKAGES
        for path in (REPO / package).rglob("*.py")
        if MAIN_GUARD in path.read_text(encoding="utf-8")
    )


def console_scripts() -> dict[str, str]:
    """``[project.scripts]`` of ``pyproject.toml``: script name -> ``module:function`` (read by hand:
    ``tomllib`` needs Python 3.11, msmix supports 3.10)."""
    text = (REPO / "pyproject.toml").read_text()
    section = text.split("[project.scripts]\n", 1)[1].split("\n[", 1)[0]
    pairs = (line.split("=", 1) for line in section.splitlines() if "=" in line)
    return {name.strip(): target.strip().strip('"') for name, target in pairs}


def commands() -> list[tuple[str, str]]:
    """Every (kind, target) to ask for ``--help``."""
    return ([("module", name) for name in command_modules()] + [("file", str(REPO / "trainer" / "run.py"))]
            + [("script", target) for target in console_scripts().values()])


@pytest.fixture(scope="module")
def help_results(tmp_path_factory) -> dict[str, list]:
    everything = commands()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    cwd = tmp_path_factory.mktemp("elsewhere")
    started = [
        subprocess.Popen([sys.executable, "-c", RUNNER, json.dumps(everything[index::PROCESSES])], cwd=cwd, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for index in range(PROCESSES)
    ]
    results = {}
    for process in started:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-4000:]
        results.update(json.loads(stdout.strip().splitlines()[-1]))
    return results


def test_the_known_commands_are_found():
    modules = command_modules()
    for expected in ("trainer.run", "trainer.experiment", "trainer.robustness", "trainer.predict",
                     "data_processing.extract", "data_processing.mmsa_pickle", "demo.app", "benchmarks.bench_training"):
        assert expected in modules
    assert console_scripts()["msmix-train"] == "trainer.run:cli"


@pytest.mark.parametrize("kind, target", commands(), ids=lambda value: str(value).removeprefix(str(REPO) + "/"))
def test_command_answers_help(help_results, kind, target):
    status, output = help_results[target]
    assert status in (0, None), f"{target} --help: {status}\n{output[-2000:]}"
    assert "usage:" in output, output[-2000:]
