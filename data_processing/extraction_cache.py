"""Per-sample result files that make extraction resumable.

Each finished sample is written to ``<cache_dir>/<key>.npz`` (to a temporary name, then
renamed, so an interrupted write never leaves a half file). Keys are content addresses
(:func:`content_key`): a sample's key hashes the extraction settings (every setting, and each
model's Hub commit or, for a local folder, the digest of its files: :func:`folder_digest`),
the sample's id, transcript and the *bytes* of its media files. Changing a setting, a model's
weights or a file's content gives a new key; renaming, copying or touching a file does not.
The importers key their Arrow caches the same way (:func:`file_digest` of every file they read).
Results of input errors (a corrupt video) are cached too; unexpected failures are not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from modeling_msmix.sample_extractor import SampleOutcome

from .error_report import Issue
from .manifest import ManifestEntry
from .schema import MODALITIES, feature_column, length_column

_CHUNK = 1 << 20


def content_key(payload: Any) -> str:
    """The SHA-256 of ``payload`` as canonical JSON: the one cache key of every cache here."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def file_digest(path: str | os.PathLike | None) -> str | None:
    """SHA-256 of a file's bytes; ``None`` when there is no path or no readable file."""
    if path is None:
        return None
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def folder_digest(folder: str | os.PathLike) -> str:
    """A digest of every file under ``folder`` (relative names and bytes): a local model's identity."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.relative_to(folder).parts[0].startswith("."))
    return content_key([[p.relative_to(folder).as_posix(), file_digest(p)] for p in files])


def sample_key(entry: ManifestEntry, settings_key: str) -> str:
    """The cache key of ``entry`` under the extraction settings with ``settings_key`` (see the module docstring)."""
    media = [file_digest(path) or f"unreadable:{path}" for path in (entry.video, entry.audio)]
    return content_key([settings_key, entry.id, entry.text, *media])


class SampleCache:
    """Reads and writes :class:`SampleOutcome` files in one folder."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        """Where the result with ``key`` lives."""
        return self.folder / f"{key}.npz"

    def load(self, key: str) -> SampleOutcome | None:
        """The stored outcome, or ``None`` when there is none."""
        path = self.path(key)
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as stored:
            info = json.loads(str(stored["info"]))
            columns = info["columns"]
            if columns is not None:
                for modality in MODALITIES:
                    columns[feature_column(modality)] = stored[modality]
                    columns[length_column(modality)] = int(len(stored[modality]))
                columns["input_ids"] = stored["input_ids"].tolist()
                columns["attention_mask"] = stored["attention_mask"].tolist()
        return SampleOutcome(columns, [Issue(**issue) for issue in info["issues"]], info["stats"])

    def save(self, key: str, outcome: SampleOutcome) -> Path:
        """Store ``outcome`` atomically under ``key``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        columns = None
        if outcome.columns is not None:
            columns = {"id": outcome.columns["id"], "text": outcome.columns["text"]}
            arrays = {modality: outcome.columns[feature_column(modality)] for modality in MODALITIES}
            arrays["input_ids"] = np.asarray(outcome.columns["input_ids"], np.int64)
            arrays["attention_mask"] = np.asarray(outcome.columns["attention_mask"], np.int64)
        info = {"columns": columns, "issues": [dataclasses.asdict(i) for i in outcome.issues], "stats": outcome.stats}
        descriptor, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                np.savez(handle, info=np.array(json.dumps(info)), **arrays)
            os.replace(temporary, self.path(key))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return self.path(key)
