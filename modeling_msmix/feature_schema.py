"""Names shared by the extraction code (shipped as remote code) and the dataset side.

``data_processing`` imports these from here, so each has one definition that a published model
can carry without the msmix package.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

MODALITIES: tuple[str, ...] = ("text", "audio", "vision")
TOKEN_COLUMNS: tuple[str, ...] = ("input_ids", "attention_mask")
UNIMODAL_LABEL_COLUMNS: tuple[str, ...] = ("label_text", "label_audio", "label_vision")
UNIMODAL_LABELS_KEY = "unimodal_labels"
"""The batch entry holding a dataset's unimodal labels (CH-SIMS), [B, 3] in ``UNIMODAL_LABEL_COLUMNS`` order."""
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".mp3", ".ogg", ".m4a")
ERROR = "error"
WARNING = "warning"


def feature_column(modality: str) -> str:
    """Name of the feature column of ``modality`` (``text`` -> ``text_features``)."""
    return f"{modality}_features"


def length_column(modality: str) -> str:
    """Name of the true-length column of ``modality`` (``text`` -> ``text_length``)."""
    return f"{modality}_length"


def dataclass_from_dict(cls: type, values: Mapping[str, Any], what: str) -> Any:
    """``cls(**values)``, refusing keys that are not fields of the dataclass ``cls`` (named ``what``)."""
    unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"unknown {what}: {sorted(unknown)}")
    return cls(**values)


@dataclass(frozen=True)
class Issue:
    """One problem with one sample; ``severity`` is :data:`ERROR` or :data:`WARNING`."""

    id: str
    severity: str
    code: str
    message: str
