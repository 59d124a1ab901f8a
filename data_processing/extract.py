"""Raw clips (video, audio, transcript) -> an MSA ``DatasetDict`` in the project schema.

CLI::

    python -m data_processing.extract --manifest clips.csv --output data/my_msa \\
        [--text_model bert-base-uncased] [--audio_model facebook/wav2vec2-base] \\
        [--vision_model google/vit-base-patch16-224-in21k] [--num_proc 2] [--device auto] [--strict]
    torchrun --nproc_per_node 8 -m data_processing.extract --manifest clips.csv --output data/my_msa  # one shard each

What happens (see :func:`build_dataset`):

1. The manifest (or folder, see :mod:`data_processing.manifest`) is read; every sample gets a
   split. Labels: a manifest without any label is *unlabeled* (inference or feature export
   only): every row gets ``label`` 0.0 and the metadata notes say so (``trainer/run.py`` refuses
   to train on it). In a labelled manifest
   a row without a label, or with a label outside the dataset's range, is an error record.
2. ``datasets.map`` (batched, with a progress bar, ``num_proc`` workers) runs
   :meth:`modeling_msmix.processing_msmix.MSMixProcessor.extract_clip` on each sample (the code
   that featurises a new video at inference); models are loaded
   once per worker, on ``device``. Each finished sample is cached on disk
   (:mod:`data_processing.extraction_cache`), so an interrupted run resumes where it stopped
   and a repeated run loads no model at all. The rows are written to an Arrow file in the
   cache folder (memory-mapped, so large datasets never sit in RAM as a whole).
3. Samples with an error are left out, warnings are kept (see
   :mod:`data_processing.error_report`); the report is written to ``<output>/extraction_report.json``
   and summarised on stdout. ``--strict`` makes any record a failure (nothing is saved but the report).
4. The ``DatasetDict`` is saved with ``save_to_disk`` and carries an :class:`MSAMetadata` naming
   the extractors with their revisions and holding the :class:`ExtractionConfig`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset, DatasetDict, Features, Value, concatenate_datasets
from transformers import AutoConfig, AutoFeatureExtractor, HfArgumentParser
from transformers.utils.hub import resolve_revision

from modeling_msmix.audio_features import audio_geometry
from modeling_msmix.clip_warnings import MIN_FACE_HIT_RATE
from modeling_msmix.extraction_config import ExtractionConfig
from modeling_msmix.processing_msmix import MSMixProcessor
from modeling_msmix.sample_extractor import (
    ExtractionError,
    SampleOutcome,
    extract_sample,
    resolve_device,
)

from .cli import parse_cli
from .error_report import ERROR, ExtractionReport, Issue
from .extraction_cache import SampleCache, content_key, folder_digest, sample_key
from .manifest import ManifestEntry, load_entries
from .model_sources import ModelSourceError, check_model_source, first_line
from .saving import check_writable, save_dataset
from .schema import (
    LABEL_RANGES,
    MODALITIES,
    SPLITS,
    MSAMetadata,
    attach_metadata,
    feature_column,
    length_column,
    msa_features,
)
from .sharding import Shard, current_shard, is_done, mark_done, run_id, shard_folder, wait_for

__all__ = [
    "ExtractionError",
    "ExtractionFailed",
    "RunArguments",
    "build_dataset",
    "extract_sample",
    "main",
    "run_extraction",
]

REPORT_NAME = "extraction_report.json"
ROWS_FILE = "extracted-rows.arrow"
_EXTRA_COLUMNS = ("split", "_ok", "_cached", "_issues", "_stats")
_ENTRY_FEATURES = Features(
    {
        "id": Value("string"),
        "video": Value("string"),
        "text": Value("string"),
        "audio": Value("string"),
        "label": Value("float64"),
        "split": Value("string"),
    }
)
_MODEL_KEYS = {
    "text": ("text_model", "text_revision"),
    "audio": ("audio_model", "audio_revision"),
    "vision": ("vision_model", "vision_revision"),
}


class ExtractionFailed(RuntimeError):
    """``--strict`` was set and some sample has an error or a warning."""


@dataclass
class RunArguments:
    """Where the clips come from, where the dataset goes, and how the run is executed."""

    manifest: str = field(metadata={"help": "manifest .csv/.jsonl, or a folder laid out by the folder convention"})
    output: str = field(metadata={"help": "folder the DatasetDict is saved to (save_to_disk)"})
    cache_dir: str | None = field(
        default=None,
        metadata={"help": "per-sample result cache (default: <output>-extraction-cache beside the output)"},
    )
    report: str | None = field(default=None, metadata={"help": f"JSON report path (default: <output>/{REPORT_NAME})"})
    strict: bool = field(default=False, metadata={"help": "fail if any sample has an error or a warning"})
    num_proc: int | None = field(default=None, metadata={"help": "worker processes for datasets.map"})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda, cuda:1 ..."})
    batch_size: int = field(default=8, metadata={"help": "samples per datasets.map batch"})
    min_face_hit_rate: float = field(
        default=MIN_FACE_HIT_RATE,
        metadata={"help": "the summary lists clips whose share of frames with a face is under this"},
    )


def default_cache_dir(output: str | Path) -> Path:
    """``<output>-extraction-cache`` beside the output folder."""
    output = Path(output)
    return output.parent / f"{output.name}-extraction-cache"


def _model_revision(name_or_path: str, revision: str | None) -> str:
    """The commit ``revision`` of the Hub model ``name_or_path`` points to (from the cache when offline),
    ``local-sha256:<digest of its files>`` for a local folder, ``unknown`` when neither can be told."""
    if Path(name_or_path).is_dir():
        return f"local-sha256:{folder_digest(name_or_path)}"
    return getattr(resolve_revision(name_or_path, revision), "resolved", None) or "unknown"


def check_models(config: ExtractionConfig) -> None:
    """Refuse at once, naming its flag, a model that is neither a folder nor a Hub id that can be loaded
    (see :mod:`data_processing.model_sources`: no Hub retries)."""
    for name_key, revision_key in _MODEL_KEYS.values():
        check_model_source(f"--{name_key}", getattr(config, name_key), getattr(config, revision_key))


def describe_models(
    config: ExtractionConfig,
) -> tuple[dict[str, int], dict[str, str], ExtractionConfig, dict[str, str]]:
    """Check the configured models from their configs and processors (no weights are loaded).

    Returns the feature dims, the ``extractors`` entries (``name@revision``), ``config`` with
    the revisions pinned to the commits found on the Hub and local folders made absolute (so the
    settings load from any working directory; their revision stays ``None``), and the
    ``normalization`` notes.

    Raises:
        ModelSourceError: a model's config cannot be loaded (the message names its flag).
        ValueError: the audio settings do not fit the audio model (see :func:`audio_geometry`).
    """
    config = config.with_resolved_paths()
    dims, names, pinned, model_configs = {}, {}, {}, {}
    for modality, (name_key, revision_key) in _MODEL_KEYS.items():
        name, revision = getattr(config, name_key), getattr(config, revision_key)
        try:
            model_configs[modality] = AutoConfig.from_pretrained(name, revision=revision)
        except (OSError, ValueError) as error:  # no such files, or no model config among them
            raise ModelSourceError(f"--{name_key} {name!r} cannot be loaded: {first_line(error)}") from None
        dims[modality] = int(model_configs[modality].hidden_size)
        resolved = _model_revision(name, revision)
        names[modality] = f"{name}@{resolved}"
        if not resolved.startswith("local-") and resolved != "unknown":
            pinned[revision_key] = resolved
    feature_extractor = AutoFeatureExtractor.from_pretrained(config.audio_model, revision=config.audio_revision)
    audio_geometry(feature_extractor, model_configs["audio"], config.audio_frame_rate)
    waveform = "zero-mean unit-variance per chunk" if getattr(feature_extractor, "do_normalize", False) else "raw"
    pooled = f", mean-pooled to {config.audio_frame_rate:g} frames/s" if config.audio_frame_rate else ""
    normalization = {
        "text": "none (last hidden state of the text model, [CLS] and [SEP] included)",
        "audio": f"none on the features; waveform {waveform} before the model{pooled}",
        "vision": f"none on the features; face crops normalised by the image processor ({config.vision_pooling})",
    }
    return dims, names, dataclasses.replace(config, **pinned), normalization


def _empty_columns(entry: ManifestEntry, dims: dict[str, int]) -> dict[str, Any]:
    columns: dict[str, Any] = {"id": entry.id, "text": entry.text, "input_ids": [], "attention_mask": []}
    for modality in MODALITIES:
        columns[feature_column(modality)] = np.zeros((0, dims[modality]), np.float32)
        columns[length_column(modality)] = 0
    return columns


def _extract_batch(
    batch: dict[str, list],
    rank: int | None,
    *,
    config: dict[str, Any],
    device: str,
    cache_dir: str,
    settings_key: str,
    dims: dict[str, int],
    threads: int | None,
) -> dict[str, list]:
    """``datasets.map`` function: cached outcome or fresh extraction per sample, as columns."""
    processor = MSMixProcessor(extraction=config)
    cache = SampleCache(cache_dir)
    rows = []
    for index in range(len(batch["id"])):
        entry = ManifestEntry(**{name: batch[name][index] for name in _ENTRY_FEATURES})
        key = sample_key(entry, settings_key)
        outcome = cache.load(key)
        cached = outcome is not None
        if outcome is None:
            if threads:
                torch.set_num_threads(threads)
            try:
                outcome = processor.extract_clip(
                    entry.video,
                    entry.text,
                    entry.audio,
                    sample_id=entry.id,
                    device=resolve_device(device, rank),
                    models_key=settings_key,
                )
            except Exception as error:  # recorded per sample, not cached: the next run retries it
                outcome = SampleOutcome(
                    None, [Issue(entry.id, ERROR, "extraction_failed", f"{type(error).__name__}: {error}")]
                )
            else:
                cache.save(key, outcome)
        columns = outcome.columns or _empty_columns(entry, dims)
        rows.append(
            {
                **columns,
                "label": 0.0 if entry.label is None else entry.label,
                "split": entry.split,
                "_ok": outcome.columns is not None,
                "_cached": cached,
                "_issues": json.dumps([dataclasses.asdict(issue) for issue in outcome.issues]),
                "_stats": json.dumps(outcome.stats),
            }
        )
    return {name: [row[name] for row in rows] for name in rows[0]} if rows else {}


def _extract_rows(rows: list[dict[str, Any]], rows_file: Path, map_options: dict[str, Any]) -> Dataset:
    """``datasets.map`` of :func:`_extract_batch` over ``rows``, written to the Arrow file ``rows_file``."""
    return Dataset.from_list(rows, features=_ENTRY_FEATURES).map(
        _extract_batch, cache_file_name=str(rows_file), **map_options
    )


def _extract_sharded(
    rows: list[dict[str, Any]], shard: Shard, settings_key: str, cache_dir: Path, map_options: dict[str, Any]
) -> Dataset:
    """This process's block of ``rows`` (unless already done), then every shard's rows in rank order."""
    run = run_id(rows, settings_key)
    folders = [shard_folder(cache_dir, run, index, shard.count) for index in range(shard.count)]
    mine = folders[shard.index]
    if not is_done(mine):
        start = time.perf_counter()
        mine.mkdir(parents=True, exist_ok=True)
        block = rows[shard.block(len(rows))]
        if block:
            _extract_rows(block, mine / ROWS_FILE, map_options)
        mark_done(mine, shard, len(block), time.perf_counter() - start)
    wait_for(folders)
    parts = [Dataset.from_file(str(folder / ROWS_FILE)) for folder in folders if (folder / ROWS_FILE).is_file()]
    if not parts:
        return Dataset.from_list([], features=map_options["features"])
    return concatenate_datasets(parts)


def _label_issues(entries: list[ManifestEntry], label_range: tuple[float, float]) -> tuple[list[Issue], bool]:
    """Label errors of a labelled manifest, and whether the manifest is unlabeled."""
    if all(entry.label is None for entry in entries):
        return [], True
    low, high = label_range
    issues = []
    for entry in entries:
        if entry.label is None:
            issues.append(Issue(entry.id, ERROR, "missing_label", "the manifest has labels but none for this sample"))
        elif not low <= entry.label <= high:
            issues.append(Issue(entry.id, ERROR, "label_out_of_range", f"label {entry.label} outside [{low}, {high}]"))
    return issues, False


def build_dataset(
    entries: list[ManifestEntry],
    config: ExtractionConfig,
    *,
    cache_dir: str | Path,
    num_proc: int | None = None,
    device: str = "auto",
    batch_size: int = 8,
    source: str = "",
    shard: Shard | None = None,
) -> tuple[DatasetDict, ExtractionReport]:
    """Extract every entry (see the module docstring); return the dataset and the report.

    With ``shard`` (one process of a launch, see :mod:`data_processing.sharding`) this process
    extracts its block of the entries, waits for the other processes' blocks and returns the
    whole dataset, the same rows in the same order as a single-process run.

    Every entry needs a split (:func:`data_processing.manifest.load_entries` assigns them).
    The dataset has the splits that kept at least one sample, in the order train, validation, test.
    """
    dims, extractor_names, pinned, normalization = describe_models(config)
    label_range = (
        config.label_min if config.label_min is not None else LABEL_RANGES[config.dataset_kind][0],
        config.label_max if config.label_max is not None else LABEL_RANGES[config.dataset_kind][1],
    )
    report = ExtractionReport(total=len(entries))
    label_issues, unlabeled = _label_issues(entries, label_range)
    report.issues += label_issues
    refused = {issue.id for issue in label_issues}
    todo = [dataclasses.asdict(entry) for entry in entries if entry.id not in refused]
    metadata = MSAMetadata(
        dataset_kind=config.dataset_kind,
        label_min=label_range[0],
        label_max=label_range[1],
        text_dim=dims["text"],
        audio_dim=dims["audio"],
        vision_dim=dims["vision"],
        extractors=extractor_names,
        extraction=pinned.to_dict(),
        normalization=normalization,
        source=source,
    )
    output_features = msa_features(metadata, token_ids=True)
    output_features.update(
        {
            "split": Value("string"),
            "_ok": Value("bool"),
            "_cached": Value("bool"),
            "_issues": Value("string"),
            "_stats": Value("string"),
        }
    )
    threads = max(1, (os.cpu_count() or 1) // num_proc) if num_proc and num_proc > 1 else None
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    shard = shard or Shard()
    if device == "auto" and shard.count > 1:
        device = str(resolve_device(device, shard.local_index))
    map_options = {
        "batched": True,
        "batch_size": batch_size,
        "with_rank": True,
        "num_proc": num_proc,
        "remove_columns": list(_ENTRY_FEATURES),
        "features": output_features,
        "desc": "extracting features",
        "fn_kwargs": {
            "config": pinned.to_dict(),
            "device": device,
            "cache_dir": str(cache_dir),
            "settings_key": content_key({"settings": pinned.to_dict(), "models": extractor_names}),
            "dims": dims,
            "threads": threads,
        },
        "load_from_cache_file": False,
    }
    if shard.count == 1:
        mapped = _extract_rows(todo, Path(cache_dir) / ROWS_FILE, map_options)
    else:
        mapped = _extract_sharded(todo, shard, map_options["fn_kwargs"]["settings_key"], Path(cache_dir), map_options)
    bookkeeping = mapped.select_columns(list(_EXTRA_COLUMNS) + ["id"]).to_dict()
    for sample_id, issues, stats in zip(bookkeeping["id"], bookkeeping["_issues"], bookkeeping["_stats"]):
        report.issues += [Issue(**issue) for issue in json.loads(issues)]
        if stats != "{}":
            report.sample_stats[sample_id] = json.loads(stats)
    report.from_cache = int(sum(bookkeeping["_cached"]))
    splits = {}
    for split in SPLITS:
        rows = [i for i, (ok, name) in enumerate(zip(bookkeeping["_ok"], bookkeeping["split"])) if ok and name == split]
        if rows:
            splits[split] = mapped.select(rows).remove_columns(list(_EXTRA_COLUMNS))
    report.split_sizes = {name: split.num_rows for name, split in splits.items()}
    metadata.notes = {
        "unlabeled": unlabeled,
        "label_note": "no labels in the manifest: every label is 0.0; do not train on this dataset"
        if unlabeled
        else "labels from the manifest",
        "samples": report.total,
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "frames_without_face": report.to_dict()["summary"]["frames_without_face"],
    }
    return attach_metadata(DatasetDict(splits), metadata), report


def run_extraction(args: RunArguments, config: ExtractionConfig) -> DatasetDict:
    """The CLI's work: read the manifest, build, report, save.

    Under ``torchrun`` / ``accelerate launch`` every process extracts its shard and process 0
    merges, reports and saves (see :mod:`data_processing.sharding`).

    Raises:
        ExtractionFailed: ``args.strict`` and some sample has a record, or no sample could be extracted.
        ModelSourceError: ``--text_model``, ``--audio_model`` or ``--vision_model`` cannot be loaded
            (checked before any work).
    """
    report_path = Path(args.report) if args.report else Path(args.output) / REPORT_NAME
    check_writable(args.output, "--output")
    if args.report:
        check_writable(report_path, "--report", is_file=True)
    check_models(config)
    entries = load_entries(args.manifest)
    cache_dir = args.cache_dir or default_cache_dir(args.output)
    shard = current_shard(args.device)
    dataset, report = build_dataset(
        entries,
        config,
        cache_dir=cache_dir,
        num_proc=args.num_proc,
        device=args.device,
        batch_size=args.batch_size,
        source=str(Path(args.manifest).resolve()),
        shard=shard,
    )
    if shard.index > 0:
        return dataset
    print(report.summary(args.min_face_hit_rate))
    try:
        if args.strict and report.issues:
            raise ExtractionFailed(f"--strict: {len(report.issues)} sample record(s); see {report_path}")
        if not dataset:
            raise ExtractionFailed(f"no sample could be extracted; see {report_path}")
        missing = [split for split in SPLITS if split not in dataset]
        if missing:
            print(f"note: split(s) {missing} are empty; trainer/run.py needs train, validation and test")
        save_dataset(dataset, args.output)
    finally:
        report.save(report_path)
    print(f"saved {args.output}; report {report_path}")
    return dataset


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m data_processing.extract``; returns the exit status."""
    try:
        args, config = parse_cli(HfArgumentParser((RunArguments, ExtractionConfig)), argv)
        run_extraction(args, config)
    except (ExtractionFailed, ValueError) as error:  # ValueError: a bad manifest or setting, said in the message
        print(f"data_processing.extract: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
