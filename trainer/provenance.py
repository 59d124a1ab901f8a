"""Where a run's numbers came from: when it ran, from which commit, with which command.

``train_one_seed`` writes ``provenance.json`` into each run's folder and adds the same record to the
run's entry in ``results.json`` (``load_finished_run`` reads it back):

- ``started`` and ``finished``: UTC times, ISO 8601 (``2026-12-06T23:50:01+00:00``);
- ``commit``: ``git rev-parse HEAD`` of the checkout this code runs from, and ``dirty``: whether its
  tracked files differ from that commit (staged or not; untracked files do not count). Both are
  ``None`` when the code is not a tracked file of a git checkout (an installed package, a copy,
  no ``git``): finding the commit never fails a run;
- ``command``: ``sys.argv`` of the process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

PROVENANCE_JSON = "provenance.json"
PACKAGE_DIR = Path(__file__).resolve().parent
GIT_TIMEOUT_SECONDS = 10


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _git(folder: Path, *arguments: str) -> str | None:
    """``git -C folder arguments`` stdout, or ``None`` when git is missing, fails or hangs."""
    try:
        done = subprocess.run(["git", "-C", str(folder), *arguments], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def code_commit(folder: Path = PACKAGE_DIR, tracked_file: str = "__init__.py") -> dict[str, Any]:
    """``{"commit", "dirty"}`` of the git checkout holding ``folder``; ``None`` unless ``tracked_file`` is tracked.

    Checking that the package's own file is tracked keeps an installed copy that happens to sit
    inside some other repository (a virtual environment in a checkout) from reporting that
    repository's commit.
    """
    if _git(folder, "ls-files", "--error-unmatch", tracked_file) is None:
        return {"commit": None, "dirty": None}
    commit = _git(folder, "rev-parse", "HEAD")
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.strip() if commit else None, "dirty": None if status is None else bool(status.strip())}


def run_provenance(started: str) -> dict[str, Any]:
    """The record of a run that began at ``started`` (``utc_now()``) and ends now (see the module docstring)."""
    return {"started": started, "finished": utc_now(), **code_commit(), "command": list(sys.argv)}


def write_provenance(output_dir: str | Path, provenance: dict[str, Any]) -> None:
    """Write ``provenance.json`` into a run's folder."""
    (Path(output_dir) / PROVENANCE_JSON).write_text(json.dumps(provenance, indent=2) + "\n")


def read_provenance(output_dir: str | Path) -> dict[str, Any] | None:
    """A run folder's ``provenance.json`` (``None`` for a run from before it was written)."""
    path = Path(output_dir) / PROVENANCE_JSON
    return json.loads(path.read_text()) if path.is_file() else None
