"""Raw media and feature files -> MSA datasets in one schema (see :mod:`data_processing.schema`).

The command-line modules (``extract``, ``mmsa_pickle``, ``npy_manifest``) are imported on first
use of their names, so ``python -m data_processing.<cli>`` runs them without runpy's warning.
"""

import importlib
from typing import Any

from modeling_msmix.extraction_config import ExtractionConfig
from modeling_msmix.sample_extractor import ExtractionError, extract_sample

from .loading import load_msa_dataset
from .manifest import ManifestError, load_entries
from .schema import MSAMetadata, attach_metadata, msa_features, read_metadata, validate_dataset
from .synthetic import MOSILikeConfig, ReliabilityConfig, SIMSLikeConfig, SyntheticConfig, generate_default_dataset

_LAZY: dict[str, str] = {
    "build_dataset": "extract",
    "MMSAPickleError": "mmsa_pickle",
    "export_mmsa_pickle": "mmsa_pickle",
    "import_mmsa_pickle": "mmsa_pickle",
    "import_npy_manifest": "npy_manifest",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ExtractionConfig",
    "ExtractionError",
    "MMSAPickleError",
    "MOSILikeConfig",
    "MSAMetadata",
    "ManifestError",
    "ReliabilityConfig",
    "SIMSLikeConfig",
    "SyntheticConfig",
    "attach_metadata",
    "build_dataset",
    "export_mmsa_pickle",
    "extract_sample",
    "generate_default_dataset",
    "import_mmsa_pickle",
    "import_npy_manifest",
    "load_entries",
    "load_msa_dataset",
    "msa_features",
    "read_metadata",
    "validate_dataset",
]
