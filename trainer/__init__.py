"""Training MS-Mix models with ``transformers.Trainer`` and Accelerate.

``compute_msa_metrics`` is imported eagerly; ``MSMixDataCollator`` and ``MSMixTrainer`` load on
first use, so that ``import trainer`` stays cheap.
"""

from importlib import import_module

from .metrics import compute_msa_metrics

_LAZY = {"MSMixDataCollator": ".collator", "MSMixTrainer": ".msmix_trainer"}

__all__ = ["MSMixDataCollator", "MSMixTrainer", "compute_msa_metrics"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
