"""Raw media and feature files -> MSA datasets in one schema (see :mod:`data_processing.schema`)."""

from .extract import build_dataset
from .extraction_config import ExtractionConfig
from .loading import load_msa_dataset
from .manifest import load_entries
from .mmsa_pickle import MMSAPickleError, export_mmsa_pickle, import_mmsa_pickle
from .npy_manifest import ManifestError, import_npy_manifest
from .sample_extractor import ExtractionError, extract_sample
from .schema import MSAMetadata, attach_metadata, msa_features, read_metadata, validate_dataset
from .synthetic import SyntheticConfig, generate_default_dataset
from .synthetic_mosi_like import MOSILikeConfig

__all__ = [
    "ExtractionConfig",
    "ExtractionError",
    "MMSAPickleError",
    "MOSILikeConfig",
    "MSAMetadata",
    "ManifestError",
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
