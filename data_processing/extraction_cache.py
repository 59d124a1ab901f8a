"""Per-sample result files that make extraction resumable.

Each finished sample is written to ``<cache_dir>/<key>.npz`` (to a temporary name, then
renamed, so an interrupted write never leaves a half file). The key hashes the extraction
settings, the sample's id, transcript and file paths with their sizes and modification
times: changing a setting or replacing a file gives a new key, anything else is a cache hit.
Results of input errors (a corrupt video) are cached too; unexpected failures are not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from modeling_msmix.sample_extractor import SampleOutcome

from .error_report import Issue
from .manifest import ManifestEntry
from .schema import MODALITIES, feature_column, length_column


def _file_state(path: str | None) -> list[int] | None:
    if path is None:
        return None
    try:
        state = os.stat(path)
    except OSError:
        return None
    return [state.st_size, state.st_mtime_ns]


def sample_key(entry: ManifestEntry, config_fingerprint: str) -> str:
    """The cache key of ``entry`` under the settings with ``config_fingerprint``."""
    payload = [
        config_fingerprint,
        entry.id,
        entry.text,
        entry.video,
        _file_state(entry.video),
        entry.audio,
        _file_state(entry.audio),
    ]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


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
