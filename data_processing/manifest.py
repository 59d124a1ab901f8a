"""Which clips to extract: a manifest file (CSV or JSON lines) or a folder laid out by convention.

Manifest columns (one row per utterance):

========= ======== ===============================================================
column    required meaning
========= ======== ===============================================================
``id``    yes      unique utterance id
``video`` yes      path of the video file (relative paths: to the manifest's folder)
``text``  yes      transcript (may be empty: the text modality is then missing)
``audio`` no       path of a separate audio file; otherwise the video's audio track
``label`` no       sentiment score; a manifest without the column is unlabeled
``split`` no       ``train``, ``validation`` (or ``valid``/``dev``) or ``test``
========= ======== ===============================================================

Folder convention (no manifest): ``<root>/<split>/<id>.<video ext>`` with the transcript in
``<id>.txt`` beside it and optionally ``<id>.wav`` (or another audio extension); split folders
are optional (clips directly in ``<root>`` get an automatic split). Labels, if any, come from
``<root>/labels.csv`` with columns ``id,label``.

Samples without a split are assigned one deterministically from a hash of their id (about
80/10/10, at least one sample per split when there are three or more), so adding clips never
moves existing ones between splits.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from modeling_msmix.feature_schema import AUDIO_EXTENSIONS

from .schema import SPLITS

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v")
SPLIT_ALIASES: dict[str, str] = {
    "train": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
}
AUTO_SPLIT_FRACTIONS: dict[str, float] = {"train": 0.8, "validation": 0.1, "test": 0.1}
LABELS_FILE = "labels.csv"


class ManifestError(ValueError):
    """The manifest or folder cannot be read as a list of samples (the message says where)."""


@dataclass(frozen=True)
class ManifestEntry:
    """One utterance to extract."""

    id: str
    video: str
    text: str
    audio: str | None = None
    label: float | None = None
    split: str | None = None


def normalize_split(name: str, where: str) -> str:
    """``valid``/``dev``/``val`` -> ``validation``; anything unknown is a :class:`ManifestError`."""
    try:
        return SPLIT_ALIASES[name.strip().lower()]
    except KeyError:
        raise ManifestError(f"{where}: unknown split {name!r}; use one of {sorted(SPLIT_ALIASES)}") from None


def _parse_label(value: object, where: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        label = float(value)
    except (TypeError, ValueError):
        raise ManifestError(f"{where}: label {value!r} is not a number") from None
    if not math.isfinite(label):
        raise ManifestError(f"{where}: label {value!r} is not finite")
    return label


def _resolve(path: str | None, base: Path) -> str | None:
    if path is None or not str(path).strip():
        return None
    candidate = Path(str(path).strip()).expanduser()
    return str(candidate if candidate.is_absolute() else (base / candidate))


def _entry_from_row(row: dict, base: Path, where: str) -> ManifestEntry:
    missing = [key for key in ("id", "video") if not str(row.get(key) or "").strip()]
    if missing:
        raise ManifestError(f"{where}: missing {missing}")
    if "text" not in row or row["text"] is None:
        raise ManifestError(f"{where}: missing 'text' (use an empty string for a clip without a transcript)")
    split = row.get("split")
    return ManifestEntry(
        id=str(row["id"]).strip(),
        video=_resolve(row["video"], base),
        text=str(row["text"]),
        audio=_resolve(row.get("audio"), base),
        label=_parse_label(row.get("label"), where),
        split=normalize_split(split, where) if split is not None and str(split).strip() else None,
    )


def read_manifest(path: str | Path) -> list[ManifestEntry]:
    """Read a ``.csv`` or ``.jsonl``/``.json`` manifest (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest {path} does not exist")
    base = path.parent
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    elif path.suffix.lower() in (".jsonl", ".json"):
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise ManifestError(f"{path}:{number}: not JSON ({error})") from None
    else:
        raise ManifestError(f"manifest {path} must end in .csv, .jsonl or .json (JSON lines)")
    first_line = 2 if path.suffix.lower() == ".csv" else 1
    entries = [_entry_from_row(row, base, f"{path}:{i}") for i, row in enumerate(rows, start=first_line)]
    return _checked(entries, str(path))


def _find_audio(video: Path) -> str | None:
    for extension in AUDIO_EXTENSIONS:
        candidate = video.with_suffix(extension)
        if candidate.is_file():
            return str(candidate)
    return None


def scan_folder(root: str | Path) -> list[ManifestEntry]:
    """Build the entries of a folder laid out by the convention in the module docstring."""
    root = Path(root)
    if not root.is_dir():
        raise ManifestError(f"{root} is not a folder")
    labels: dict[str, float | None] = {}
    labels_file = root / LABELS_FILE
    if labels_file.is_file():
        with labels_file.open(newline="", encoding="utf-8") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                labels[str(row["id"]).strip()] = _parse_label(row.get("label"), f"{labels_file}:{number}")
    places: list[tuple[Path, str | None]] = [(root, None)]
    places += [
        (child, normalize_split(child.name, str(child)))
        for child in sorted(root.iterdir())
        if child.is_dir() and child.name.lower() in SPLIT_ALIASES
    ]
    entries = []
    for folder, split in places:
        for video in sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS):
            transcript = video.with_suffix(".txt")
            entries.append(
                ManifestEntry(
                    id=video.stem,
                    video=str(video),
                    text=transcript.read_text(encoding="utf-8").strip() if transcript.is_file() else "",
                    audio=_find_audio(video),
                    label=labels.get(video.stem),
                    split=split,
                )
            )
    if not entries:
        raise ManifestError(f"{root} holds no video files ({', '.join(VIDEO_EXTENSIONS)})")
    return _checked(entries, str(root))


def load_entries(path: str | Path) -> list[ManifestEntry]:
    """A manifest file or a conventional folder -> entries, every one with a split."""
    return assign_splits(scan_folder(path) if Path(path).is_dir() else read_manifest(path))


def _checked(entries: list[ManifestEntry], where: str) -> list[ManifestEntry]:
    duplicates = sorted(sample_id for sample_id, n in Counter(e.id for e in entries).items() if n > 1)
    if duplicates:
        raise ManifestError(f"{where}: duplicate id(s) {duplicates[:10]}")
    if not entries:
        raise ManifestError(f"{where}: no samples")
    return entries


def _id_hash(sample_id: str) -> str:
    return hashlib.sha256(sample_id.encode()).hexdigest()


def assign_splits(entries: list[ManifestEntry]) -> list[ManifestEntry]:
    """Give every entry without a split one (see the module docstring); the others keep theirs."""
    pending = sorted((e for e in entries if e.split is None), key=lambda e: _id_hash(e.id))
    if not pending:
        return entries
    count = len(pending)
    sizes = {name: int(round(fraction * count)) for name, fraction in AUTO_SPLIT_FRACTIONS.items()}
    if count >= len(SPLITS):
        for name in ("validation", "test"):
            sizes[name] = max(1, sizes[name])
    sizes["train"] = count - sizes["validation"] - sizes["test"]
    chosen: dict[str, str] = {}
    position = 0
    for name in SPLITS:
        for entry in pending[position : position + sizes[name]]:
            chosen[entry.id] = name
        position += sizes[name]
    return [e if e.split is not None else dataclasses.replace(e, split=chosen[e.id]) for e in entries]
