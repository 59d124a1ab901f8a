"""One training run per ``--output_dir``: never overwrite another run's results in silence.

``claim_output_dir`` is held for a run's duration. It creates ``.msmix-run.lock`` in the folder
with ``O_EXCL`` (so of two runs started at once exactly one gets it) holding the PID and host,
and refuses, naming the folder:

- a folder another live run holds (the lock names its PID);
- a folder that already holds files (another run's models and results), unless the run resumes
  (``--resume_from_checkpoint``) or is told to write over them (``--overwrite_output_dir``).

A lock left by a process that no longer runs (killed) is reported and taken over. The lock is
removed when the run ends, whether it finished or failed, and so is the folder if the run made it
and wrote nothing into it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from transformers.utils import logging

LOCK_FILE = ".msmix-run.lock"
LISTED_ENTRIES = 5

logger = logging.get_logger(__name__)


class OutputDirError(ValueError):
    """The output folder holds another run's results or is being written by another run."""


def _pid_is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, under another user
        return True
    return True


def _read_lock(lock: Path) -> tuple[int | None, str]:
    """(PID, host) written in ``lock``; PID ``None`` when the file is unreadable, empty or half written."""
    try:
        pid_text, _, host = lock.read_text().partition(" ")
        return int(pid_text), host.strip()
    except (OSError, ValueError):
        return None, ""


def _create_lock(lock: Path) -> bool:
    """Create ``lock`` with this process's PID and host; ``False`` when it exists already."""
    try:
        descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w") as handle:
        handle.write(f"{os.getpid()} {socket.gethostname()}\n")
    return True


def _take_lock(output_dir: Path) -> Path:
    """Hold ``output_dir``'s lock, taking over a stale one; raise ``OutputDirError`` when a live run holds it."""
    lock = output_dir / LOCK_FILE
    if _create_lock(lock):
        return lock
    pid, host = _read_lock(lock)
    if pid is None:  # being written this instant by a run that just took it, or damaged
        raise OutputDirError(f"--output_dir {str(output_dir)!r} is locked by {lock}, which names no process; "
                             "remove that file if no run is writing the folder")
    if host != socket.gethostname() or _pid_is_running(pid):
        raise OutputDirError(
            f"--output_dir {str(output_dir)!r} is being written by another run (PID {pid} on {host}, "
            f"{lock}); give this run another --output_dir, or wait for that one to end"
        )
    logger.warning(f"--output_dir {output_dir}: taking over the lock of PID {pid}, which no longer runs ({lock})")
    lock.unlink(missing_ok=True)
    if not _create_lock(lock):
        raise OutputDirError(f"--output_dir {str(output_dir)!r}: another run took its lock ({lock}) just now")
    return lock


def _refuse_other_runs_files(output_dir: Path) -> None:
    """Raise ``OutputDirError`` when ``output_dir`` holds files besides the lock, naming a few."""
    held = sorted(entry.name for entry in output_dir.iterdir() if entry.name != LOCK_FILE) if output_dir.is_dir() else []
    if held:
        listed = ", ".join(held[:LISTED_ENTRIES]) + (f" and {len(held) - LISTED_ENTRIES} more"
                                                      if len(held) > LISTED_ENTRIES else "")
        raise OutputDirError(
            f"--output_dir {str(output_dir)!r} already holds another run's files ({listed}); give another "
            "--output_dir, --resume_from_checkpoint last to go on with that run, or --overwrite_output_dir "
            "to write over it"
        )


@contextmanager
def claim_output_dir(output_dir: str | Path, overwrite: bool = False, resuming: bool = False,
                     take_lock: bool = True) -> Iterator[Path]:
    """Hold ``output_dir`` for one run (see the module docstring); yields the folder.

    In a run of several processes only the main one takes the lock (``take_lock``); every process
    checks the folder's files, so all of them stop on a refusal.
    """
    output_dir = Path(output_dir)
    lock, created = None, not output_dir.exists()
    if take_lock:
        output_dir.mkdir(parents=True, exist_ok=True)
        lock = _take_lock(output_dir)
    try:
        if not (overwrite or resuming):
            _refuse_other_runs_files(output_dir)
        yield output_dir
    finally:
        if lock is not None:
            lock.unlink(missing_ok=True)
            if created and not any(output_dir.iterdir()):  # a run that failed before writing leaves no folder
                output_dir.rmdir()
