"""Run a client script in a fresh ``python -I -S`` process that cannot import msmix.

``-I`` drops the current folder and ``PYTHON*`` variables from the module search path and ``-S``
skips ``site`` (so the editable install's path hooks do not load); the client adds back only the
site-packages folders passed as its first argument (see ``remote_code_client.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path


def run_without_msmix(client: Path, *args: str, cwd: Path, env: Mapping[str, str]) -> dict:
    """Run ``client SITE_DIRS *args`` in ``cwd`` with ``env`` (less ``PYTHON*``); return its last stdout line as JSON."""
    site_dirs = os.pathsep.join(dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]))
    fresh_env = {key: value for key, value in env.items() if not key.startswith("PYTHON")}
    done = subprocess.run([sys.executable, "-I", "-S", str(client), site_dirs, *args], cwd=cwd, env=fresh_env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
