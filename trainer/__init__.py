"""Training MS-Mix models with ``transformers.Trainer`` and Accelerate."""

from .metrics import compute_msa_metrics

__all__ = ["compute_msa_metrics"]
