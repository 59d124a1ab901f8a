"""``build_augmentation``: the mixing module a config asks for (``None`` for ``augmentation="none"``)."""

from .configuration_base import MSAConfig
from .mixing_base import MixingModule
from .mixing_baselines import AdvMixup, ManifoldMixup, MultiMix, PowMix, VanillaMixup
from .mixing_msmix import MSMix


def build_augmentation(config: MSAConfig, dims: tuple[int, int, int]) -> MixingModule | None:
    """Build the module for ``config.augmentation``; ``dims`` are the last dims of (z_t, z_a, z_v)."""
    config.check_msa_settings()
    if len(dims) != 3 or any(int(d) < 1 for d in dims):
        raise ValueError(f"dims must be three positive state widths (t, a, v), got {dims!r}")
    kind = config.augmentation
    if kind == "none":
        return None
    if kind == "msmix":
        return MSMix(
            tuple(int(d) for d in dims),
            alpha=config.alpha,
            threshold=config.threshold,
            num_mix=config.num_mix,
            label_scale=config.label_scale,
            polarity_aware=config.polarity_aware,
            reference_mode=config.reference_mode,
            num_heads=config.sig_num_heads,
        )
    if kind == "advmixup":
        return AdvMixup(alpha=config.alpha, num_mix=config.num_mix, epsilon=config.advmixup_epsilon)
    baselines = {"mixup": VanillaMixup, "manifold_mixup": ManifoldMixup, "multimix": MultiMix, "powmix": PowMix}
    return baselines[kind](alpha=config.alpha, num_mix=config.num_mix)
