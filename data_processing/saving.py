"""Write a dataset folder so that a kill at any moment leaves either the old folder or the new one.

``save_to_disk`` writes file by file: killed half-way it leaves a folder that looks like a
dataset and is not. :func:`save_dataset` writes beside the target and renames the finished
folder into place; :func:`check_writable` tells before any work whether the target can be written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from datasets import DatasetDict

PARTIAL_SUFFIX = ".partial-"


def check_writable(folder: str | os.PathLike, flag: str = "--output", *, is_file: bool = False) -> None:
    """Fail now, naming ``flag``, when ``folder`` (a file's path with ``is_file``) cannot be created and written.

    Raises:
        ValueError: ``flag folder: <why>``.
    """
    folder = Path(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder.parent):
            pass
        if folder.exists() and folder.is_dir() == is_file:
            raise IsADirectoryError(f"{folder} is a folder") if is_file else NotADirectoryError(f"{folder} is a file")
    except OSError as error:
        raise ValueError(f"{flag} {str(folder)!r} cannot be written: {error}") from None


def save_dataset(dataset: DatasetDict, folder: str | os.PathLike) -> Path:
    """``dataset.save_to_disk`` into ``folder`` atomically (see the module docstring); return ``folder``."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    for stale in folder.parent.glob(f"{folder.name}{PARTIAL_SUFFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    partial = folder.with_name(f"{folder.name}{PARTIAL_SUFFIX}{os.getpid()}")
    dataset.save_to_disk(str(partial))
    if folder.exists():
        retired = folder.with_name(f"{folder.name}{PARTIAL_SUFFIX}old-{os.getpid()}")
        folder.rename(retired)
        partial.rename(folder)
        shutil.rmtree(retired)
    else:
        partial.rename(folder)
    return folder
