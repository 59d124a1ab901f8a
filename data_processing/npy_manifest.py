"""Import precomputed per-sample ``.npy`` features listed in a CSV manifest.

For people with their own features. One row per sample, columns::

    id,split,label,text,text_features,audio_features,vision_features[,label_text,label_audio,label_vision]

``split`` is ``train``, ``validation`` (or ``valid``/``dev``) or ``test``; the three
``*_features`` columns are paths (relative to the manifest's folder, or absolute) of ``.npy``
files holding float arrays [L, D] (a 1-D array counts as one step). Files are read with
``allow_pickle=False``. Every problem in the manifest is collected and reported at once, with
its line number; nothing is silently dropped. Non-finite values become 0 and are counted.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from datasets import DatasetDict
from transformers import HfArgumentParser

from .cli import one_line_errors, parse_cli
from .extraction_cache import content_key, file_digest
from .manifest import ManifestError, read_csv_rows
from .saving import check_writable, save_dataset
from .schema import (
    LABEL_RANGES,
    MODALITIES,
    SPLITS,
    UNIMODAL_LABEL_COLUMNS,
    MSAMetadata,
    attach_metadata,
    clean_non_finite,
    feature_column,
    msa_features,
    rows_to_dataset,
    validate_dataset,
)

SPLIT_ALIASES: dict[str, str] = {
    "train": "train",
    "validation": "validation",
    "valid": "validation",
    "dev": "validation",
    "test": "test",
}
REQUIRED_COLUMNS: tuple[str, ...] = ("id", "split", "label", *(feature_column(m) for m in MODALITIES))


def _load_features(path: Path) -> np.ndarray:
    array = np.load(path, allow_pickle=False)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"expected a [L, D] array, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"expected numbers, got dtype {array.dtype}")
    return array.astype(np.float32)


def _read_manifest(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise ManifestError(f"manifest {path} does not exist")
    columns, rows = read_csv_rows(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ManifestError(f"{path}: missing column(s) {missing}; it has {columns}")
    return rows


def _rows(samples: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield from samples


def import_npy_manifest(manifest: str | os.PathLike, dataset_kind: str = "custom") -> DatasetDict:
    """Read a manifest of ``.npy`` features into a schema ``DatasetDict``.

    Args:
        manifest: the CSV file described in this module's docstring.
        dataset_kind: ``mosi``/``mosei``/``custom`` (labels in [-3, 3]) or ``sims`` ([-1, 1]).

    Raises:
        ManifestError: any missing column or file, unreadable or wrongly shaped array, dim that
            differs between samples, bad label or split, duplicate id or empty split; all of them
            are listed with their manifest line numbers.
    """
    if dataset_kind not in LABEL_RANGES:
        raise ValueError(f"dataset_kind must be one of {sorted(LABEL_RANGES)}, got {dataset_kind!r}")
    manifest = Path(manifest)
    entries = _read_manifest(manifest)
    low, high = LABEL_RANGES[dataset_kind]
    unimodal = all(c in entries[0] for c in UNIMODAL_LABEL_COLUMNS) if entries else False
    problems: list[str] = []
    dims: dict[str, int] = {}
    non_finite = {m: 0 for m in MODALITIES}
    seen_ids: set[str] = set()
    digests: list[str | None] = [file_digest(manifest)]
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in SPLITS}
    for line, entry in enumerate(entries, start=2):
        where = f"{manifest.name}:{line}"
        split = SPLIT_ALIASES.get(entry["split"].strip().lower())
        if split is None:
            problems.append(f"{where}: split {entry['split']!r} is not one of {sorted(SPLIT_ALIASES)}")
        if entry["id"] in seen_ids:
            problems.append(f"{where}: duplicate id {entry['id']!r}")
        seen_ids.add(entry["id"])
        row: dict[str, Any] = {"id": entry["id"], "text": entry.get("text") or ""}
        for column in ("label", *(UNIMODAL_LABEL_COLUMNS if unimodal else ())):
            try:
                value = float(entry[column])
            except (TypeError, ValueError):
                problems.append(f"{where}: {column} {entry[column]!r} is not a number")
                continue
            if not low <= value <= high:
                problems.append(f"{where}: {column} {value} outside [{low}, {high}] for dataset_kind {dataset_kind!r}")
            row[column] = value
        for modality in MODALITIES:
            column = feature_column(modality)
            path = Path(entry[column])
            path = path if path.is_absolute() else manifest.parent / path
            digests.append(file_digest(path))
            try:
                array = _load_features(path)
            except (OSError, ValueError) as error:
                problems.append(f"{where}: {column} {path}: {error}")
                continue
            dim = dims.setdefault(modality, array.shape[1])
            if array.shape[1] != dim:
                problems.append(f"{where}: {column} has dim {array.shape[1]}, earlier samples have {dim}")
            array, count = clean_non_finite(array)
            non_finite[modality] += count
            row[column] = array
            row[f"{modality}_length"] = array.shape[0]
        if split is not None:
            samples[split].append(row)
    problems += [f"split {name!r} has no samples" for name, rows in samples.items() if entries and not rows]
    if not entries:
        problems.append(f"{manifest}: the manifest lists no samples")
    if problems:
        raise ManifestError(f"{len(problems)} problem(s) in {manifest}:\n  " + "\n  ".join(problems))

    metadata = MSAMetadata(
        dataset_kind=dataset_kind,
        label_min=low,
        label_max=high,
        text_dim=dims["text"],
        audio_dim=dims["audio"],
        vision_dim=dims["vision"],
        extractors={m: "user-provided .npy features" for m in MODALITIES},
        normalization={m: "as provided" for m in MODALITIES},
        source=f"npy manifest {manifest.resolve()}",
        notes={"non_finite_replaced_by_zero": non_finite},
    )
    features = msa_features(metadata, unimodal_labels=unimodal)
    source_key = {"content": content_key(digests), "kind": dataset_kind}
    dataset = DatasetDict(
        {name: rows_to_dataset(_rows, features, name, source_key, samples=rows) for name, rows in samples.items()}
    )
    validate_dataset(dataset, metadata)
    return attach_metadata(dataset, metadata)


@dataclass
class ManifestImportArguments:
    """``python -m data_processing.npy_manifest --manifest features.csv --output_dir data/mine``."""

    manifest: str = field(metadata={"help": "CSV manifest of .npy feature files"})
    output_dir: str = field(metadata={"help": "where to save_to_disk the DatasetDict"})
    dataset_kind: str = field(default="custom", metadata={"help": "mosi, mosei, sims or custom"})


def main(argv: list[str] | None = None) -> None:
    """Import a manifest and save it with ``save_to_disk``; bad input ends in one line naming it."""
    (args,) = parse_cli(HfArgumentParser(ManifestImportArguments), argv)
    with one_line_errors("data_processing.npy_manifest", ValueError):
        check_writable(args.output_dir, "--output_dir")
        dataset = import_npy_manifest(args.manifest, args.dataset_kind)
    save_dataset(dataset, args.output_dir)
    print(dataset)


if __name__ == "__main__":
    main(sys.argv[1:])
