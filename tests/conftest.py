"""Test-wide settings: no network, a private datasets cache per session, one global random state per test,
and one-thread fixtures."""

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="msmix-datasets-cache-"))

TEST_SEED = 0


def seed_global_generators(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


seed_global_generators(TEST_SEED)


@pytest.fixture(autouse=True)
def own_global_random_state():
    """Each test starts from the same global random state and hands none on.

    torch seeds its global generator at random in each process, tests seed it (``torch.manual_seed``)
    and draw from it (model initialisation), and the Trainer seeds it (``set_seed``): without this a
    test that builds a model from the global generator gets weights that depend on the tests that ran
    before it in the process.
    """
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        seed_global_generators(TEST_SEED)
        yield
    random.setstate(python_state)
    np.random.set_state(numpy_state)


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
