"""Keep freed CPU memory in the process heap for reuse (glibc's ``mallopt``), for CPU training.

glibc serves an allocation above its mmap threshold (32 MB at most) with a fresh ``mmap`` and
returns it to the kernel on ``free``; the next step's tensor of the same size is mapped and
zeroed again, page by page. :func:`keep_freed_cpu_memory` turns that off for the rest of the
process; ``MSMixTrainer.train`` applies it on CPU runs (``--keep_freed_cpu_memory``, on by default).
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any

from transformers.utils import logging

logger = logging.get_logger(__name__)

# glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
NEVER_TRIM = -1  # mallopt(3): "Setting M_TRIM_THRESHOLD to -1 disables trimming completely"
REPLACEMENT_ALLOCATORS: tuple[str, ...] = ("jemalloc", "tcmalloc", "mimalloc")

_applied_for_training: bool | None = None


def unavailable_reason() -> str | None:
    """Why :func:`keep_freed_cpu_memory` cannot work in this process (not Linux, not glibc, malloc
    replaced through ``LD_PRELOAD``), or ``None``."""
    if not sys.platform.startswith("linux"):
        return f"the platform is {sys.platform}, not Linux"
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        libc = None
    if not libc or not libc.startswith("glibc"):
        return "the C library is not glibc"
    preloaded = [name for name in REPLACEMENT_ALLOCATORS if name in os.environ.get("LD_PRELOAD", "")]
    if preloaded:
        return f"malloc is replaced by {preloaded[0]} (LD_PRELOAD)"
    return None


def keep_freed_cpu_memory() -> bool:
    """Keep memory freed from now on in the heap for reuse; return whether it was applied.

    Sets glibc's ``mallopt(M_MMAP_MAX, 0)`` (large blocks come from the heap, not from ``mmap``)
    and ``mallopt(M_TRIM_THRESHOLD, -1)`` (the heap is never trimmed), like starting the process
    with ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=...``. It affects blocks allocated after the
    call; elsewhere than Linux with glibc it does nothing and returns ``False``
    (:func:`unavailable_reason` says why).

    Trade-off: freed memory is not returned to the OS until the process exits (its RSS stays near
    its peak), and the peak may grow a little with the heap's fragmentation (measured: TFN +2-6 %,
    MulT +15-18 %). Why: a CPU training step frees and re-allocates the same large tensors every
    step (TFN's [2B, 140481] fusion tensor is 36 MB at B = 32); above glibc's 32 MB mmap threshold
    the kernel maps and zeroes them anew each time, 25-55 % of the step as system time. Kept in
    the heap (``benchmarks/profile_step.py``, MOSI shapes, one thread), the page faults and system
    time of a step drop to about 0, and TFN's step (batch 32) takes 0.73-0.75x (no augmentation)
    and 0.67-0.72x (MS-Mix) the process CPU time, MulT's (batch 4) 0.79-0.80x and 0.62-0.71x.
    """
    if unavailable_reason() is not None:
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, NEVER_TRIM) == 1)


def keep_freed_cpu_memory_for_training(args: Any) -> bool:
    """:func:`keep_freed_cpu_memory` once per process when ``args.keep_freed_cpu_memory`` is set and
    the run trains on the CPU (never on CUDA); logs its effect once. Returns whether it is in effect."""
    global _applied_for_training
    if not getattr(args, "keep_freed_cpu_memory", False) or args.device.type != "cpu":
        return False
    if _applied_for_training is None:
        _applied_for_training = keep_freed_cpu_memory()
        if _applied_for_training:
            logger.info("keep_freed_cpu_memory: freed CPU memory stays in the process heap for reuse (glibc mallopt "
                        "M_MMAP_MAX=0, M_TRIM_THRESHOLD=-1); it is not returned to the OS until the process exits")
        else:
            reason = unavailable_reason() or "glibc's mallopt refused the settings"
            logger.info(f"keep_freed_cpu_memory: not applied, {reason}")
    return _applied_for_training
