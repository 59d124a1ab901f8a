"""Import the MOSI / MOSEI / CH-SIMS unaligned feature pickles (the MMSA layout) into the schema.

The file is a pickled dict with keys ``train``, ``valid``, ``test``; each holds ``text``
(N, Lt, 768 BERT features), ``audio`` (N, La, Da), ``vision`` (N, Lv, Dv), ``audio_lengths``,
``vision_lengths``, ``regression_labels`` (N,), ``id`` (N,), ``raw_text`` (N,), optionally
``text_bert`` (N, 3, Lt: token ids, attention mask, segment ids) and, for CH-SIMS,
``regression_labels_T/A/V``. Sequences are stored at their true length: the text length is the
attention mask's sum (all of Lt without ``text_bert``), audio and vision lengths come from the
file, clamped to the padded length (clamps are counted in the metadata notes). A split whose
``text_bert`` masks are all zero while its text features are not has no usable mask: its text is
read at the padded length Lt, as without ``text_bert``, and its token ids are left out; samples
whose mask alone is zero keep text length 0. Both are printed and kept in the metadata notes.

Non-finite feature values (the public files carry -inf in audio) become 0, as the field's
loaders do; their count per split and modality is printed and kept in the metadata notes.

Security: the file is read with :class:`RestrictedUnpickler`, which builds only dicts, lists,
tuples, strings, numbers, numpy arrays and dtypes and refuses every other class (a
``__reduce__`` payload included) with an :class:`MMSAPickleError` naming it. Lengths below 0,
splits without samples and ids that occur twice are refused with the split and key named.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
from datasets import DatasetDict
from transformers import HfArgumentParser

from .cli import one_line_errors, parse_cli
from .extraction_cache import file_digest
from .saving import check_writable, save_dataset
from .schema import LABEL_RANGES, MSAMetadata, attach_metadata, clean_non_finite, msa_features, rows_to_dataset

logger = logging.getLogger(__name__)

SPLIT_KEYS: dict[str, str] = {"train": "train", "valid": "validation", "test": "test"}
REQUIRED_KEYS: tuple[str, ...] = ("text", "audio", "vision", "regression_labels", "id")
UNIMODAL_KEYS: dict[str, str] = {
    "regression_labels_T": "label_text",
    "regression_labels_A": "label_audio",
    "regression_labels_V": "label_vision",
}
STANDARD_FEATURES: dict[str, dict[str, str]] = {
    "mosi": {"text": "BERT (768)", "audio": "COVAREP-style (5)", "vision": "Facet (20)"},
    "mosei": {"text": "BERT (768)", "audio": "COVAREP (74)", "vision": "Facet (35)"},
    "sims": {"text": "BERT (768)", "audio": "librosa (33)", "vision": "OpenFace (709)"},
}
STANDARD_DIMS: dict[str, dict[str, int]] = {
    "mosi": {"text": 768, "audio": 5, "vision": 20},
    "mosei": {"text": 768, "audio": 74, "vision": 35},
    "sims": {"text": 768, "audio": 33, "vision": 709},
}


class MMSAPickleError(ValueError):
    """The pickle does not follow the MMSA layout; the message says where and how."""


ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    [("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")]
    + [(f"numpy.{core}.multiarray", name) for core in ("core", "_core") for name in ("_reconstruct", "scalar")]
    + [(f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core")]
    + [("builtins", name) for name in ("dict", "list", "tuple", "str", "bytes", "int", "float", "complex", "bool")]
)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles plain containers, strings, numbers and numpy arrays; refuses any other class."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise MMSAPickleError(
                f"refusing to unpickle {module}.{name}: an MMSA pickle holds only dicts, lists, strings, "
                "numbers and numpy arrays"
            )
        return super().find_class(module, name)


@dataclass
class _Split:
    """One validated split, arrays cleaned, lengths resolved."""

    name: str
    arrays: dict[str, np.ndarray]
    lengths: dict[str, np.ndarray]
    token_ids: np.ndarray | None
    non_finite: dict[str, int] = field(default_factory=dict)
    clamped_lengths: dict[str, int] = field(default_factory=dict)
    empty_text_masks: int = 0
    text_mask_ignored: bool = False


def _require(split: dict, key: str, where: str) -> np.ndarray:
    if key not in split:
        raise MMSAPickleError(f"{where}: missing key {key!r}; it has {sorted(split)}")
    return np.asarray(split[key])


def _array(split: dict, key: str, where: str, ndim: int) -> np.ndarray:
    array = _require(split, key, where)
    if array.ndim != ndim:
        raise MMSAPickleError(f"{where}[{key!r}] must have {ndim} dims, got shape {array.shape}")
    return array


def _resolve_lengths(split: dict, key: str, padded: int, count: int, where: str) -> tuple[np.ndarray, int]:
    if key not in split:
        return np.full(count, padded, dtype=np.int64), 0
    lengths = np.asarray(split[key]).reshape(-1).astype(np.int64)
    if lengths.shape[0] != count:
        raise MMSAPickleError(f"{where}[{key!r}] has {lengths.shape[0]} entries for {count} samples")
    negative = np.flatnonzero(lengths < 0)
    if negative.size:
        raise MMSAPickleError(
            f"{where}[{key!r}]: {negative.size} length(s) below 0 (e.g. sample {int(negative[0])}: {lengths[negative[0]]})"
        )
    clamped = np.minimum(lengths, padded)
    return clamped, int((clamped != lengths).sum())


def _validate_split(raw: Any, name: str, dataset_kind: str) -> _Split:
    where = f"split {name!r}"
    if not isinstance(raw, dict):
        raise MMSAPickleError(f"{where} must be a dict of arrays, got {type(raw).__name__}")
    arrays = {
        "text": _array(raw, "text", where, 3),
        "audio": _array(raw, "audio", where, 3),
        "vision": _array(raw, "vision", where, 3),
    }
    count = arrays["text"].shape[0]
    if count == 0:
        raise MMSAPickleError(f"{where} has no samples")
    per_sample = {
        "label": "regression_labels",
        "id": "id",
        "raw_text": "raw_text",
        **{column: key for key, column in UNIMODAL_KEYS.items() if key in raw},
    }
    if "raw_text" not in raw:
        raw = {**raw, "raw_text": [""] * count}
    for key in ("audio", "vision"):
        if arrays[key].shape[0] != count:
            raise MMSAPickleError(f"{where}: {key!r} has {arrays[key].shape[0]} samples, 'text' has {count}")
    for column, key in per_sample.items():
        values = _require(raw, key, where)
        if values.size != count:
            raise MMSAPickleError(
                f"{where}[{key!r}] must hold one value per sample ({count}), got shape {values.shape}"
            )
        values = values.reshape(-1)
        arrays[column] = values.astype(str) if column in ("id", "raw_text") else values.astype(np.float64)
    low, high = LABEL_RANGES[dataset_kind]
    for column in ("label", *UNIMODAL_KEYS.values()):
        if column not in arrays:
            continue
        values = arrays[column]
        bad = ~np.isfinite(values) | (values < low) | (values > high)
        if bad.any():
            examples = ", ".join(f"{i}={v}" for i, v in zip(arrays["id"][bad][:3], values[bad][:3]))
            raise MMSAPickleError(
                f"{where}: {int(bad.sum())} {column} value(s) outside [{low}, {high}] or not finite for "
                f"dataset_kind {dataset_kind!r} (e.g. {examples})"
            )

    token_ids = None
    text_length = arrays["text"].shape[1]
    if "text_bert" in raw:
        token_ids = _array(raw, "text_bert", where, 3)
        if token_ids.shape[:2] != (count, 3) or token_ids.shape[2] != text_length:
            raise MMSAPickleError(
                f"{where}['text_bert'] must have shape ({count}, 3, {text_length}), got {token_ids.shape}"
            )
        text_lengths = token_ids[:, 1, :].sum(axis=1).astype(np.int64)
    else:
        text_lengths = np.full(count, text_length, dtype=np.int64)
    mask_ignored = token_ids is not None and not text_lengths.any() and bool(np.any(arrays["text"]))
    if mask_ignored:
        token_ids, text_lengths = None, np.full(count, text_length, dtype=np.int64)
    result = _Split(name=name, arrays=arrays, lengths={"text": text_lengths}, token_ids=token_ids,
                    empty_text_masks=int((text_lengths == 0).sum()) if token_ids is not None else 0,
                    text_mask_ignored=mask_ignored)
    for modality in ("audio", "vision"):
        result.lengths[modality], result.clamped_lengths[modality] = _resolve_lengths(
            raw, f"{modality}_lengths", arrays[modality].shape[1], count, where
        )
    for modality in ("text", "audio", "vision"):
        arrays[modality], result.non_finite[modality] = clean_non_finite(arrays[modality].astype(np.float32))
    return result


def _rows(validated: _Split, unimodal: bool) -> Iterator[dict[str, Any]]:
    a = validated.arrays
    for i in range(a["text"].shape[0]):
        lt, la, lv = (int(validated.lengths[m][i]) for m in ("text", "audio", "vision"))
        row = {
            "id": a["id"][i],
            "text": a["raw_text"][i],
            "text_features": a["text"][i, :lt],
            "audio_features": a["audio"][i, :la],
            "vision_features": a["vision"][i, :lv],
            "text_length": lt,
            "audio_length": la,
            "vision_length": lv,
            "label": a["label"][i],
        }
        if unimodal:
            row.update({column: a[column][i] for column in UNIMODAL_KEYS.values()})
        if validated.token_ids is not None:
            row["input_ids"] = validated.token_ids[i, 0, :lt]
            row["attention_mask"] = validated.token_ids[i, 1, :lt]
        yield row


def import_mmsa_pickle(path: str | os.PathLike, dataset_kind: str) -> DatasetDict:
    """Read one MMSA-layout pickle and return it as a schema ``DatasetDict`` (train/validation/test).

    The file is read with :class:`RestrictedUnpickler` (no class outside plain containers,
    numbers, strings and numpy arrays is ever built).

    Args:
        path: the ``.pkl`` file (e.g. ``unaligned_50.pkl`` of MOSI, ``unaligned.pkl`` of SIMS).
        dataset_kind: ``mosi``, ``mosei`` or ``sims``: decides the label range check and metrics.

    Raises:
        MMSAPickleError: the file is not an MMSA-layout dict, a split or key is missing, shapes
            disagree, or a label is out of range or not finite. The message names the split and key.
    """
    if dataset_kind not in STANDARD_DIMS:
        raise ValueError(f"dataset_kind must be one of {sorted(STANDARD_DIMS)}, got {dataset_kind!r}")
    with open(path, "rb") as handle:
        try:
            content = RestrictedUnpickler(handle).load()
        except MMSAPickleError as error:
            raise MMSAPickleError(f"{path}: {error}") from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
            raise MMSAPickleError(f"{path}: not a readable pickle ({error}); the file may be truncated") from None
    if not isinstance(content, dict):
        raise MMSAPickleError(f"{path}: expected a dict with keys {list(SPLIT_KEYS)}, got {type(content).__name__}")
    missing = [key for key in SPLIT_KEYS if key not in content]
    if missing:
        raise MMSAPickleError(f"{path}: missing split key(s) {missing}; it has {sorted(content)}")
    splits = [_validate_split(content[key], name, dataset_kind) for key, name in SPLIT_KEYS.items()]
    seen: dict[str, str] = {}
    for split in splits:
        for sample_id in map(str, split.arrays["id"]):
            if sample_id in seen:
                raise MMSAPickleError(
                    f"{path}: id {sample_id!r} occurs twice (in split {seen[sample_id]!r} and split {split.name!r})"
                )
            seen[sample_id] = split.name

    dims = {m: splits[0].arrays[m].shape[2] for m in ("text", "audio", "vision")}
    for split in splits[1:]:
        for modality, dim in dims.items():
            if split.arrays[modality].shape[2] != dim:
                raise MMSAPickleError(
                    f"split {split.name!r}: {modality} dim {split.arrays[modality].shape[2]} differs from train's {dim}"
                )
    unimodal = all(column in split.arrays for split in splits for column in UNIMODAL_KEYS.values())
    token_ids = all(split.token_ids is not None for split in splits)
    if not token_ids:  # the schema has token id columns in every split or in none
        for split in splits:
            split.token_ids = None
    notes: dict[str, Any] = {
        "non_finite_replaced_by_zero": {split.name: split.non_finite for split in splits},
        "lengths_clamped_to_padded_length": {split.name: split.clamped_lengths for split in splits},
        "text_length_0_from_empty_mask": {split.name: split.empty_text_masks for split in splits},
        "text_mask_all_zero_read_at_padded_length": [split.name for split in splits if split.text_mask_ignored],
    }
    if dims != STANDARD_DIMS[dataset_kind]:
        notes["non_standard_dims"] = (
            f"dims {dims} differ from the usual {dataset_kind} layout {STANDARD_DIMS[dataset_kind]}"
        )
        logger.warning(notes["non_standard_dims"])
    for split in splits:
        if any(split.non_finite.values()):
            print(f"{split.name}: replaced non-finite feature values by 0: {split.non_finite}", file=sys.stderr)
        if split.text_mask_ignored:
            print(f"{split.name}: every text_bert attention mask is zero: text read at its padded length "
                  f"{split.arrays['text'].shape[1]}, token ids left out", file=sys.stderr)
        elif split.empty_text_masks:
            print(f"{split.name}: {split.empty_text_masks} sample(s) with an all-zero text_bert attention mask "
                  "keep text_length 0", file=sys.stderr)
    low, high = LABEL_RANGES[dataset_kind]
    metadata = MSAMetadata(
        dataset_kind=dataset_kind,
        label_min=low,
        label_max=high,
        text_dim=dims["text"],
        audio_dim=dims["audio"],
        vision_dim=dims["vision"],
        extractors=dict(STANDARD_FEATURES[dataset_kind]),
        normalization={m: "as in the source file" for m in dims},
        source=f"MMSA pickle {os.path.abspath(path)}",
        notes=notes,
    )
    features = msa_features(metadata, unimodal_labels=unimodal, token_ids=token_ids)
    source_key = {"content": file_digest(path), "kind": dataset_kind}
    dataset = DatasetDict(
        {
            split.name: rows_to_dataset(_rows, features, split.name, source_key, validated=split, unimodal=unimodal)
            for split in splits
        }
    )
    return attach_metadata(dataset, metadata)


@dataclass
class ImportArguments:
    """``python -m data_processing.mmsa_pickle --path unaligned_50.pkl --dataset_kind mosi --output_dir data/mosi``."""

    path: str = field(metadata={"help": "the MMSA-layout .pkl file to import (read with a restricted unpickler)"})
    dataset_kind: str = field(metadata={"help": "mosi, mosei or sims"})
    output_dir: str = field(metadata={"help": "where to save_to_disk the DatasetDict"})


def main(argv: list[str] | None = None) -> None:
    """Import a pickle and save it with ``save_to_disk``; bad input ends in one line naming it."""
    (args,) = parse_cli(HfArgumentParser(ImportArguments), argv)
    with one_line_errors("data_processing.mmsa_pickle", ValueError):
        check_writable(args.output_dir, "--output_dir")
        if not os.path.isfile(args.path):
            raise MMSAPickleError(f"--path {args.path!r}: no such file")
        dataset = import_mmsa_pickle(args.path, args.dataset_kind)
    save_dataset(dataset, args.output_dir)
    print(dataset)


if __name__ == "__main__":
    main(sys.argv[1:])


def _padded(sequences: list[np.ndarray], length: int, dim: int) -> np.ndarray:
    out = np.zeros((len(sequences), length, dim), dtype=np.float32)
    for i, sequence in enumerate(sequences):
        steps = min(len(sequence), length)
        out[i, :steps] = sequence[:steps]
    return out


def export_mmsa_pickle(dataset: DatasetDict, path: str | os.PathLike, padded_lengths: tuple[int, int, int]) -> None:
    """Write a schema ``DatasetDict`` as an MMSA-layout pickle (the inverse of :func:`import_mmsa_pickle`).

    Each modality is zero-padded (or truncated) to ``padded_lengths`` (text, audio, vision), e.g.
    MOSI's (50, 375, 500). ``text_bert`` holds the token ids and mask when the dataset has them,
    otherwise zeros with the mask set over each sample's text length.
    """
    content = {}
    for key, name in SPLIT_KEYS.items():
        split = dataset[name].with_format("numpy")
        count = split.num_rows
        lengths = {
            m: np.minimum(split[f"{m}_length"][:], size) for m, size in zip(("text", "audio", "vision"), padded_lengths)
        }
        arrays = {
            m: _padded(list(split[f"{m}_features"][:]), size, split.features[f"{m}_features"].shape[1])
            for m, size in zip(("text", "audio", "vision"), padded_lengths)
        }
        text_bert = np.zeros((count, 3, padded_lengths[0]), dtype=np.float32)
        text_bert[:, 1] = np.arange(padded_lengths[0])[None, :] < lengths["text"][:, None]
        if "input_ids" in split.column_names:
            for i, ids in enumerate(split["input_ids"][:]):
                text_bert[i, 0, : min(len(ids), padded_lengths[0])] = ids[: padded_lengths[0]]
        content[key] = {
            "id": np.asarray(split["id"][:], dtype=object),
            "raw_text": np.asarray(split["text"][:], dtype=object),
            "text": arrays["text"],
            "text_bert": text_bert,
            "audio": arrays["audio"],
            "vision": arrays["vision"],
            "audio_lengths": lengths["audio"].tolist(),
            "vision_lengths": lengths["vision"].tolist(),
            "regression_labels": split["label"][:].astype(np.float32),
        }
        for source_key, column in UNIMODAL_KEYS.items():
            if column in split.column_names:
                content[key][source_key] = split[column][:].astype(np.float32)
    with open(path, "wb") as handle:
        pickle.dump(content, handle, protocol=4)
