"""``build_augmentation``: the mixing module a config asks for (``None`` for ``augmentation="none"``)."""

from .augmentations import AUGMENTATIONS
from .configuration_base import MSAConfig
from .mixing_base import MixingModule


def build_augmentation(config: MSAConfig, dims: tuple[int, int, int]) -> MixingModule | None:
    """Build the registered module for ``config.augmentation``; ``dims`` are the last dims of (z_t, z_a, z_v)."""
    config.check_msa_settings()
    if len(dims) != 3 or any(int(d) < 1 for d in dims):
        raise ValueError(f"dims must be three positive state widths (t, a, v), got {dims!r}")
    return AUGMENTATIONS[config.augmentation].build(config, tuple(int(d) for d in dims))
