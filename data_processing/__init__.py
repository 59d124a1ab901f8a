"""Raw media and feature files -> MSA datasets in one schema (see :mod:`data_processing.schema`)."""

from .schema import MSAMetadata, attach_metadata, msa_features, read_metadata, validate_dataset
from .synthetic import SyntheticConfig, generate_default_dataset

__all__ = [
    "MSAMetadata",
    "SyntheticConfig",
    "attach_metadata",
    "generate_default_dataset",
    "msa_features",
    "read_metadata",
    "validate_dataset",
]
