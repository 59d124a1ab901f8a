"""Raw media and feature files -> MSA datasets in one schema (see :mod:`data_processing.schema`)."""

from .loading import load_msa_dataset
from .mmsa_pickle import MMSAPickleError, export_mmsa_pickle, import_mmsa_pickle
from .npy_manifest import ManifestError, import_npy_manifest
from .schema import MSAMetadata, attach_metadata, msa_features, read_metadata, validate_dataset
from .synthetic import SyntheticConfig, generate_default_dataset

__all__ = [
    "MMSAPickleError",
    "MSAMetadata",
    "ManifestError",
    "SyntheticConfig",
    "attach_metadata",
    "export_mmsa_pickle",
    "generate_default_dataset",
    "import_mmsa_pickle",
    "import_npy_manifest",
    "load_msa_dataset",
    "msa_features",
    "read_metadata",
    "validate_dataset",
]
