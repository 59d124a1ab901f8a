"""Test-wide settings: no network, a private datasets cache per session, and one-thread fixtures."""

import os
import tempfile
from pathlib import Path

import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="msmix-datasets-cache-"))


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and lose much to them on a busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def one_thread_subprocess_env() -> dict[str, str]:
    """Environment for a fresh Python process that imports this checkout and forks workers: one OpenMP thread.

    A process forked after an OpenMP pool has run with more than one thread can hang in its first
    parallel region; started with ``OMP_NUM_THREADS=1`` the forking process has no pool threads to hand on.
    """
    repo = str(Path(__file__).resolve().parents[1])
    return {**os.environ, "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))}
