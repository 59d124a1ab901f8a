"""Extraction over many processes and machines: one contiguous manifest shard per launched process.

The launcher is an existing engine, ``torchrun`` or ``accelerate launch``: it starts the
processes (on one machine or many), gives each its rank, and stops them all if one dies.
:func:`current_shard` reads the rank through ``accelerate.PartialState``. Every process extracts
its block of the manifest (models loaded once per process, GPU ``local rank`` when there are
GPUs) and writes its rows to ``<cache_dir>/shards/<run>-<rank>-of-<count>/`` with a ``done.json``
marker last; process 0 then waits for every marker and concatenates the shards in rank order,
which is manifest order, so the merged dataset has the same rows in the same order as a
single-process run. Waiting is done on the markers, not with a collective barrier, because shards
of a large corpus take hours and collectives time out.

A killed run resumes when launched again with the same arguments: finished shards (marker present)
are not redone, and an unfinished shard skips the samples already in the per-sample cache.
Across machines, ``--cache_dir`` must be a folder every machine sees (a shared filesystem).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import PartialState

DONE_MARKER = "done.json"


@dataclass(frozen=True)
class Shard:
    """Which block of the manifest this process extracts: ``index`` of ``count``; ``local_index`` picks its GPU."""

    index: int = 0
    count: int = 1
    local_index: int = 0

    def block(self, total: int) -> slice:
        """The contiguous rows ``[index * total // count, (index + 1) * total // count)``."""
        return slice(self.index * total // self.count, (self.index + 1) * total // self.count)


def current_shard(device: str = "auto") -> Shard:
    """This process's shard under ``torchrun`` / ``accelerate launch`` (``Shard()`` when run alone).

    ``device`` ``cpu``, or no GPU, starts the process group on the CPU (gloo): ``PartialState``
    otherwise takes a GPU-less multi-process launch for a single process.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Shard()
    state = PartialState(cpu=device == "cpu" or not torch.cuda.is_available())
    return Shard(state.process_index, state.num_processes, state.local_process_index)


def _media_stamp(path: str | None) -> list[int] | None:
    """(size, mtime in ns) of a media file, ``None`` when it is absent: a cheap edit detector."""
    if not path or not os.path.isfile(path):
        return None
    stat = os.stat(path)
    return [stat.st_size, stat.st_mtime_ns]


def run_id(rows: list[dict[str, Any]], settings_key: str) -> str:
    """A short hash of the settings (with the models' content), every row and its media files' size and
    modification time: shards of another manifest, other models or edited media never mix. The
    per-sample cache underneath is keyed by the media bytes themselves."""
    stamps = [[_media_stamp(row.get("video")), _media_stamp(row.get("audio"))] for row in rows]
    payload = json.dumps([settings_key, rows, stamps], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def shard_folder(cache_dir: str | Path, run: str, index: int, count: int) -> Path:
    """Where shard ``index`` of ``count`` of run ``run`` writes its rows and marker."""
    return Path(cache_dir) / "shards" / f"{run}-{index:05d}-of-{count:05d}"


def is_done(folder: Path) -> bool:
    """Whether the shard in ``folder`` finished (its marker is written after its rows)."""
    return (folder / DONE_MARKER).is_file()


def mark_done(folder: Path, shard: Shard, samples: int, seconds: float) -> None:
    """Write the marker of a finished shard (rank, sample count, process id, seconds spent extracting)."""
    marker = {
        "index": shard.index,
        "count": shard.count,
        "samples": samples,
        "pid": os.getpid(),
        "seconds": round(seconds, 3),
    }
    temporary = folder / f"{DONE_MARKER}.tmp"
    temporary.write_text(json.dumps(marker))
    os.replace(temporary, folder / DONE_MARKER)


def wait_for(folders: list[Path], poll_seconds: float = 1.0) -> None:
    """Return once every folder holds a finished shard (the launcher ends all processes if one dies)."""
    while not all(is_done(folder) for folder in folders):
        time.sleep(poll_seconds)
