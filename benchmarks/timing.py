"""Measuring helpers shared by the benchmark scripts: step-time split, epoch times, memory, fresh processes.

- :class:`StepTimingCallback` splits every training step of the real ``transformers.Trainer``
  into data (loader fetch + collator), forward (the model's forward incl. mixing and loss),
  backward (incl. gradient clipping), optimizer and the rest, from callback events and two
  module hooks; nothing in the Trainer is replaced. It also records each step's process CPU
  time (user + system, all threads), its system part and minor page faults.
- :class:`EpochTimingCallback` times each training epoch (evaluation excluded).
- :class:`MemorySampler` samples ``/proc/self/status`` in a thread: peak resident memory split
  into anonymous (the process's own heap) and file-backed (pages of memory-mapped files, such as
  Arrow datasets, that the kernel may drop and that other readers share).
- :func:`run_isolated` runs a function in a fresh spawned process so that its peak RSS is its own.
"""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from transformers import TrainerCallback

STEP_PARTS: tuple[str, ...] = ("data", "forward", "backward", "optimizer", "other")
USAGE_PARTS: tuple[str, ...] = ("cpu", "system", "page_faults")


def process_usage() -> tuple[float, float, int]:
    """(user + system seconds, system seconds, minor page faults) of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_stime, usage.ru_minflt


def _now(synchronize: bool) -> float:
    if synchronize:
        torch.cuda.synchronize()
    return time.perf_counter()


@dataclass
class StepTimes:
    """Per-step seconds of each part, and each step's process CPU/system seconds and page faults (``usage``);
    ``steps`` counts the measured steps."""

    parts: dict[str, list[float]] = field(default_factory=lambda: {part: [] for part in STEP_PARTS})
    usage: dict[str, list[float]] = field(default_factory=lambda: {part: [] for part in USAGE_PARTS})

    @property
    def steps(self) -> int:
        return len(self.parts["forward"])

    def totals(self) -> list[float]:
        """Whole step time (sum of the parts) of every measured step."""
        return [sum(values) for values in zip(*(self.parts[part] for part in STEP_PARTS))]

    def median_ms(self) -> dict[str, float]:
        """Median of each part and of the whole step, in milliseconds."""
        summary = {part: 1000 * statistics.median(values) for part, values in self.parts.items()}
        summary["step"] = 1000 * statistics.median(self.totals())
        return summary

    def median_usage(self) -> dict[str, float]:
        """Median process CPU and system time of a step (ms) and its minor page faults."""
        if not self.usage["cpu"]:
            return {}
        return {"cpu_ms": 1000 * statistics.median(self.usage["cpu"]),
                "system_ms": 1000 * statistics.median(self.usage["system"]),
                "page_faults": statistics.median(self.usage["page_faults"])}


class StepTimingCallback(TrainerCallback):
    """Times the parts of every training step after ``warmup_steps``.

    data: from the previous step's end (or the epoch's start) to ``on_step_begin``: the loader
    fetching rows from the Arrow dataset and the collator padding them. forward: the model's
    forward (training mode only), measured with a forward pre-hook and hook. backward: from the
    forward's end to ``on_pre_optimizer_step`` (``loss.backward`` and gradient clipping).
    optimizer: ``optimizer.step()``. other: scheduler step and ``zero_grad``.

    Call :meth:`attach` with the model before training. With ``synchronize`` (CUDA) every
    timestamp waits for the device, so the parts are exact but the run a little slower.
    """

    def __init__(self, warmup_steps: int = 2, synchronize: bool = False) -> None:
        self.warmup_steps = warmup_steps
        self.synchronize = synchronize
        self.times = StepTimes()
        self._marks: dict[str, float] = {}
        self._previous_usage = process_usage()
        self._steps_seen = 0

    def attach(self, model: torch.nn.Module) -> None:
        """Install the forward hooks on ``model``."""
        model.register_forward_pre_hook(self._forward_begin)
        model.register_forward_hook(self._forward_end)

    def _forward_begin(self, module, args) -> None:
        if module.training:
            self._marks["forward_begin"] = _now(self.synchronize)

    def _forward_end(self, module, args, output) -> None:
        if module.training:
            self._marks["forward_end"] = _now(self.synchronize)

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._marks["previous_end"] = _now(self.synchronize)
        self._previous_usage = process_usage()

    def on_step_begin(self, args, state, control, **kwargs):
        self._marks["step_begin"] = _now(self.synchronize)

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self._marks["optimizer_begin"] = _now(self.synchronize)

    def on_optimizer_step(self, args, state, control, **kwargs):
        self._marks["optimizer_end"] = _now(self.synchronize)

    def on_step_end(self, args, state, control, **kwargs):
        end = _now(self.synchronize)
        m = self._marks
        self._steps_seen += 1
        if self._steps_seen > self.warmup_steps and "forward_end" in m:
            for part, value in zip(
                STEP_PARTS,
                (
                    m["step_begin"] - m["previous_end"],
                    m["forward_end"] - m["forward_begin"],
                    m["optimizer_begin"] - m["forward_end"],
                    m["optimizer_end"] - m["optimizer_begin"],
                    end - m["optimizer_end"],
                ),
            ):
                self.times.parts[part].append(value)
            for part, now, before in zip(USAGE_PARTS, process_usage(), self._previous_usage):
                self.times.usage[part].append(now - before)
        m["previous_end"] = end
        self._previous_usage = process_usage()


class EpochTimingCallback(TrainerCallback):
    """Seconds of each training epoch, from ``on_epoch_begin`` to ``on_epoch_end`` (evaluation comes after)."""

    def __init__(self, synchronize: bool = False) -> None:
        self.synchronize = synchronize
        self.epoch_seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._start = _now(self.synchronize)

    def on_epoch_end(self, args, state, control, **kwargs):
        self.epoch_seconds.append(_now(self.synchronize) - self._start)


def _status_kb(fields: tuple[str, ...]) -> dict[str, int]:
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in fields:
            values[name] = int(rest.split()[0])
    return values


class MemorySampler:
    """Peak resident memory of this process, sampled every ``interval`` seconds in a thread.

    ``peak_mb()`` returns ``rss`` (``ru_maxrss``, the kernel's exact peak), and the sampled peaks
    of ``anon`` (RssAnon: private heap and tensors) and ``file`` (RssFile: resident pages of
    mapped files, e.g. the memory-mapped Arrow dataset and shared libraries).
    """

    FIELDS = ("RssAnon", "RssFile")

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peaks = {name: 0 for name in self.FIELDS}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for name, value in _status_kb(self.FIELDS).items():
            self.peaks[name] = max(self.peaks[name], value)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> "MemorySampler":
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def peak_mb(self) -> dict[str, float]:
        return {
            "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "anon": self.peaks["RssAnon"] / 1024,
            "file": self.peaks["RssFile"] / 1024,
        }


def _call_and_send(connection, function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    try:
        connection.send(("ok", function(**kwargs)))
    except BaseException as error:  # the parent re-raises it with the child's message
        connection.send(("error", f"{type(error).__name__}: {error}"))
        raise
    finally:
        connection.close()


def run_isolated(function: Callable[..., Any], **kwargs: Any) -> Any:
    """``function(**kwargs)`` in a fresh spawned process; its (picklable) return value.

    ``function`` must be importable by name (defined at module level of an imported module or of
    the script being run). Raises ``RuntimeError`` with the child's error when it fails.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_call_and_send, args=(sender, function, kwargs))
    process.start()
    sender.close()
    try:
        status, value = receiver.recv()
    except EOFError:
        status, value = "error", "the benchmark process died without a result (killed for memory?)"
    process.join()
    if status != "ok":
        raise RuntimeError(f"{getattr(function, '__name__', function)} failed: {value}")
    return value
