"""What a result depends on besides code, data and seed: threads, determinism settings, versions, CPU.

On CPU, torch gives the same numbers for the same code, data, seed, machine and thread count;
another thread count changes how reductions are split and so the last bits of a sum, which a
training run amplifies (an LMF + MS-Mix test MAE moved by 0.015 between 1 and 2 threads).
``run_environment()`` is recorded in every ``results.json`` of ``trainer/run.py`` and
``trainer.experiment`` so that a figure can be reproduced, or its difference explained.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import torch
import transformers

THREAD_VARIABLES: tuple[str, ...] = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_environment() -> dict[str, Any]:
    """Torch's thread counts and determinism switches, the thread variables, versions and the CPU."""
    return {
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        **{name: os.environ.get(name) for name in THREAD_VARIABLES},
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
