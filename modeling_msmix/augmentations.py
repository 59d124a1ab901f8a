"""``AUGMENTATIONS``: every augmentation's name, mixing module, title and the config options it reads.

A new augmentation is one file with its ``MixingModule`` subclass (``from_config`` builds it
from a config) and one ``register_augmentation`` line below. Config validation, the model's
mixing factory, the trainer's ``--augmentation`` choices and help, the model-card titles and
the training benchmark all read this registry. Options the augmentation declares in
``defaults`` become config settings with that default, so it needs no edit of ``MSAConfig``.

Variants are named settings of a registered augmentation, e.g. the paper's ablations
``msmix:no_sass``; ``resolve_augmentation`` turns a name into (augmentation, settings).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .mixing_base import MixingModule
from .mixing_baselines import AdvMixup, ManifoldMixup, MultiMix, PowMix, VanillaMixup
from .mixing_cmixup import DEFAULT_BANDWIDTH, CMixup, check_bandwidth
from .mixing_msmix import MSMix, check_msmix_options

VARIANT_SEPARATOR = ":"
PAIR_MIXUP_OPTIONS: tuple[str, ...] = ("alpha", "num_mix", "mixed_loss_weight")
MSMIX_DEFAULTS: dict[str, Any] = {"sal_target": "batch_softmax", "sig_ratio_weights": "batch_minmax",
                                  "sass_threshold_quantile": None, "sig_stop_gradient": False,
                                  "ratio_stop_gradient": False}
"""MS-Mix's options beyond ``MSAConfig``'s fields, at the paper's settings (SPEC section 4): ``msmix`` is the
paper's method. Each departure is a named variant below; docs/guides/msmix.md gives the measurements."""
PER_SAMPLE_SAL: dict[str, Any] = {"sal_target": "per_sample", "sig_ratio_weights": "intensity_scale",
                                  "sass_threshold_quantile": 0.1}
"""The settings that keep SIG's parts off the tanh bound and SASS selective (results/msmix_mechanism_study):
SAL against each sample's own |y_m|, ratio weights |I_m| / 3, SASS keeping the top 10 % of each batch's pairs.
They do not stop the auxiliary losses from owning the encoders' gradient."""
STOP_GRADIENT: dict[str, Any] = {"sig_stop_gradient": True, "ratio_stop_gradient": True}
"""SIG reads detached states and the ratios use detached intensities: only SAL trains SIG, never the encoders."""
RECOMMENDED_MSMIX = "msmix:stop_gradient_per_sample_sal"
"""The MS-Mix setting the docs recommend (with the trainer's per-group gradient clipping), chosen by the
pre-stated criteria of results/msmix_training_fix/PROTOCOL.md, not by test MAE."""
RENAMED_AUGMENTATIONS: dict[str, str] = {
    "msmix:paper": "'msmix' is now the paper's MS-Mix (SPEC section 4); use --augmentation msmix",
}
"""Names that no longer exist -> what to use instead."""


@dataclass(frozen=True)
class Augmentation:
    """One registered augmentation.

    Attributes:
        name: the ``augmentation`` config value.
        module_class: its ``MixingModule`` (``None`` for no augmentation).
        option_fields: the config settings it reads; overriding any other augmentation's option
            for it is refused by the trainer.
        title: its name in tables and model cards.
        defaults: defaults of options that ``MSAConfig`` does not declare itself.
        check: raises ``ValueError`` naming the setting when a config's options are invalid for it.
    """

    name: str
    module_class: type[MixingModule] | None
    option_fields: tuple[str, ...] = ()
    title: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[[Any], None] | None = None

    def build(self, config, state_dims: tuple[int, int, int]) -> MixingModule | None:
        """The mixing module for ``config`` (``None`` when this augmentation mixes nothing)."""
        return None if self.module_class is None else self.module_class.from_config(config, state_dims)


@dataclass(frozen=True)
class Variant:
    """A named setting of an augmentation (``msmix:no_sal`` = ``msmix`` with ``sal_weight=0``)."""

    name: str
    augmentation: str
    settings: Mapping[str, Any]
    title: str


AUGMENTATIONS: dict[str, Augmentation] = {}
VARIANTS: dict[str, Variant] = {}


def register_augmentation(name: str, module_class: type[MixingModule] | None, option_fields: tuple[str, ...] = (),
                          title: str | None = None, defaults: Mapping[str, Any] | None = None,
                          check: Callable[[Any], None] | None = None) -> Augmentation:
    """Add an augmentation; ``defaults`` declares (and defaults) options that are new config settings,
    ``check(config)`` validates its options when a config selects it."""
    if VARIANT_SEPARATOR in name:
        raise ValueError(f"augmentation names may not contain {VARIANT_SEPARATOR!r} (it marks variants): {name!r}")
    defaults = dict(defaults or {})
    undeclared = sorted(set(defaults) - set(option_fields))
    if undeclared:
        raise ValueError(f"defaults {undeclared} of augmentation {name!r} are not among its option_fields")
    augmentation = Augmentation(name, module_class, tuple(option_fields), title or name, defaults, check)
    AUGMENTATIONS[name] = augmentation
    return augmentation


def register_variant(name: str, augmentation: str, settings: Mapping[str, Any], title: str) -> Variant:
    """Add ``<augmentation>:<suffix>``, the augmentation with fixed option ``settings``."""
    if augmentation not in AUGMENTATIONS or not name.startswith(f"{augmentation}{VARIANT_SEPARATOR}"):
        raise ValueError(f"variant {name!r} must be '<registered augmentation>{VARIANT_SEPARATOR}<suffix>'")
    unread = sorted(set(settings) - set(AUGMENTATIONS[augmentation].option_fields))
    if unread:
        raise ValueError(f"variant {name!r} sets {unread}, which {augmentation!r} does not read")
    variant = Variant(name, augmentation, dict(settings), title)
    VARIANTS[name] = variant
    return variant


MSMIX_ABLATIONS: dict[str, tuple[dict[str, Any], str]] = {
    "no_sass": ({"use_sass": False}, "without SASS (random partners)"),
    "no_sig": ({"use_sig": False}, "without SIG (Beta ratio only)"),
    "no_sal": ({"sal_weight": 0.0}, "without SAL (sal_weight=0)"),
}
"""The paper's ablations: suffix -> (the settings that remove one part, title ending)."""


def register_ablations(setting: str, settings: Mapping[str, Any], title: str) -> None:
    """Register ``msmix:no_sass`` etc. for ``setting="msmix"``, else ``<setting>_no_sass`` etc.: ``settings`` minus one part."""
    for suffix, (removed, ending) in MSMIX_ABLATIONS.items():
        name = f"msmix{VARIANT_SEPARATOR}{suffix}" if setting == "msmix" else f"{setting}_{suffix}"
        register_variant(name, "msmix", {**settings, **removed}, f"{title} {ending}")


def augmentation_names(with_variants: bool = True) -> list[str]:
    """Registered augmentation names, then the variants."""
    return [*AUGMENTATIONS, *(VARIANTS if with_variants else ())]


def resolve_augmentation(name: str) -> tuple[Augmentation, dict[str, Any]]:
    """(the augmentation, the settings the name fixes) for an augmentation or variant name."""
    if name in AUGMENTATIONS:
        return AUGMENTATIONS[name], {}
    if name in VARIANTS:
        variant = VARIANTS[name]
        return AUGMENTATIONS[variant.augmentation], dict(variant.settings)
    if name in RENAMED_AUGMENTATIONS:
        raise ValueError(f"augmentation {name!r} was renamed: {RENAMED_AUGMENTATIONS[name]}")
    raise ValueError(f"augmentation must be one of {augmentation_names()}, got {name!r}")


def augmentation_title(name: str) -> str:
    """The display title of an augmentation or variant name (the name itself if unknown)."""
    if name in VARIANTS:
        return VARIANTS[name].title
    return AUGMENTATIONS[name].title if name in AUGMENTATIONS else name


def augmentation_of(config) -> str:
    """The variant a config amounts to (``msmix:no_sal``), else its augmentation.

    A config is a variant when every option that the augmentation's variants set holds the value
    of that variant (its setting, else the option's default), so combined settings match only the
    variant that names them all.
    """
    augmentation = AUGMENTATIONS.get(config.augmentation)
    variants = [variant for variant in VARIANTS.values() if variant.augmentation == config.augmentation]
    keys = {key for variant in variants for key in variant.settings}

    def default(key: str) -> Any:
        return augmentation.defaults[key] if key in augmentation.defaults else getattr(type(config), key, None)

    for variant in variants:
        if all(getattr(config, key, None) == variant.settings.get(key, default(key)) for key in keys):
            return variant.name
    return config.augmentation


def option_defaults() -> dict[str, Any]:
    """Defaults of every option that a registered augmentation declares as a new config setting."""
    return {key: value for augmentation in AUGMENTATIONS.values() for key, value in augmentation.defaults.items()}


def augmentation_options() -> dict[str, list[str]]:
    """Each augmentation option -> the augmentations that read it."""
    readers: dict[str, list[str]] = {}
    for augmentation in AUGMENTATIONS.values():
        for option in augmentation.option_fields:
            readers.setdefault(option, []).append(augmentation.name)
    return readers


def unread_options(augmentation: str, keys) -> dict[str, list[str]]:
    """The augmentation options among ``keys`` that ``augmentation`` does not read -> who reads them."""
    readers = augmentation_options()
    own = set(resolve_augmentation(augmentation)[0].option_fields)
    return {key: readers[key] for key in keys if key in readers and key not in own}


register_augmentation("none", None, title="no augmentation")
register_augmentation("mixup", VanillaMixup, PAIR_MIXUP_OPTIONS, title="vanilla Mixup")
register_augmentation("manifold_mixup", ManifoldMixup, PAIR_MIXUP_OPTIONS, title="Manifold Mixup")
register_augmentation("multimix", MultiMix, PAIR_MIXUP_OPTIONS, title="MultiMix")
register_augmentation("powmix", PowMix, PAIR_MIXUP_OPTIONS, title="PowMix")
register_augmentation("cmixup", CMixup, (*PAIR_MIXUP_OPTIONS, "cmixup_bandwidth"), title="C-Mixup",
                      defaults={"cmixup_bandwidth": DEFAULT_BANDWIDTH},
                      check=lambda config: check_bandwidth(config.cmixup_bandwidth))
register_augmentation("advmixup", AdvMixup, (*PAIR_MIXUP_OPTIONS, "advmixup_epsilon"), title="AdvMixUp")
register_augmentation("msmix", MSMix, (*PAIR_MIXUP_OPTIONS, "threshold", "sal_weight", "polarity_aware",
                                       "reference_mode", "sig_num_heads", "use_sass", "use_sig", "sal_target",
                                       "sass_threshold_quantile", "sig_ratio_weights", "sig_stop_gradient",
                                       "ratio_stop_gradient"), title="MS-Mix",
                      defaults=MSMIX_DEFAULTS,
                      check=lambda config: check_msmix_options(config.sal_target, config.sass_threshold_quantile,
                                                               config.sig_ratio_weights))
register_variant("msmix:reference", "msmix", {"reference_mode": True},
                 "MS-Mix in reference mode (the reference's 2-D arithmetic)")
register_variant("msmix:sig_stop_gradient", "msmix", {"sig_stop_gradient": True},
                 "MS-Mix, SIG reads stopped-gradient states (SAL and the ratios train SIG only)")
register_variant("msmix:ratio_stop_gradient", "msmix", {"ratio_stop_gradient": True},
                 "MS-Mix, mixing ratios from detached intensities (SIG learns from SAL only)")
register_variant("msmix:stop_gradient", "msmix", STOP_GRADIENT,
                 "MS-Mix, SIG on stopped-gradient states and detached ratios (SAL trains SIG only)")
register_variant("msmix:per_sample_sal", "msmix", PER_SAMPLE_SAL,
                 "MS-Mix with per-sample SAL, |I|/3 ratio weights and top-10 % SASS")
register_variant("msmix:stop_gradient_per_sample_sal", "msmix",
                 {**PER_SAMPLE_SAL, **STOP_GRADIENT},
                 "MS-Mix, stopped gradients into SIG and per-sample SAL, |I|/3 ratio weights, top-10 % SASS")
register_ablations("msmix", {}, "MS-Mix")
register_ablations(RECOMMENDED_MSMIX, {**PER_SAMPLE_SAL, **STOP_GRADIENT}, "The recommended MS-Mix setting")
