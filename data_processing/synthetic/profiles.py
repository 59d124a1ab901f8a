"""The built-in data profiles by name, and ``generate_default_dataset``, which draws one as a ``DatasetDict``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from datasets import DatasetDict

from ..schema import MSAMetadata, attach_metadata, msa_features, rows_to_dataset
from .clean import CleanGenerator, SyntheticConfig
from .mislabeled import MislabeledConfig, MislabeledGenerator
from .mosi_like import MOSILikeConfig, MOSILikeGenerator
from .reliability import ReliabilityConfig, ReliabilityGenerator, SIMSLikeConfig
from .shape import SyntheticShape
from .tweets import TweetsConfig, TweetsGenerator

GENERATOR_VERSION = "msmix-synthetic-2"
"""Part of the Arrow cache key of every generated split: a change in what a generator writes must change it,
or a cached split of the old generator is read back (2: transcripts no longer name a carrier or a flip)."""
DEFAULT_PROFILE = "mosi_like"
PROFILES: dict[str, tuple[type, type]] = {
    "clean": (SyntheticConfig, CleanGenerator),
    "mosi_like": (MOSILikeConfig, MOSILikeGenerator),
    "mosi_reliability": (ReliabilityConfig, ReliabilityGenerator),
    "sims_like": (SIMSLikeConfig, ReliabilityGenerator),
    "mosi_mislabeled": (MislabeledConfig, MislabeledGenerator),
    "tweets": (TweetsConfig, TweetsGenerator),
}
"""Profile name -> (config dataclass, generator class with ``split(name, size) -> rows``)."""


def profile_of(config: object) -> str | None:
    """The name of the profile whose config class ``config`` is exactly (``None`` for any other class)."""
    return next((name for name, (config_class, _) in PROFILES.items() if type(config) is config_class), None)


def generate_default_dataset(config: SyntheticShape | None = None, profile: str | None = None) -> DatasetDict:
    """Generate a built-in dataset: the profile ``config`` belongs to, or ``profile``'s defaults.

    ``profile`` is one of ``PROFILES``: ``"mosi_like"`` (the default: speaker-disjoint, noisy,
    calibrated against MOSI, see ``mosi_like``), ``"clean"`` (easy, fast to learn, see ``clean``),
    ``"mosi_reliability"`` and ``"sims_like"`` (per-sample modality reliability, see
    ``reliability``), ``"mosi_mislabeled"`` (``mosi_reliability`` with some training and validation
    labels permuted, see ``mislabeled``), ``"tweets"`` (real tweets with the crowd's sentiment as the text,
    see ``tweets``; needs ``pip install "msmix[study]"``). A config's class names its profile (``SyntheticConfig`` is the clean one).
    """
    if config is None:
        profile = profile or DEFAULT_PROFILE
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
        config = PROFILES[profile][0]()
    chosen = profile_of(config)
    if chosen is None or (profile is not None and profile != chosen):
        raise ValueError(f"config {type(config).__name__} does not match profile {profile!r}")
    generator = PROFILES[chosen][1](config)
    return splits_to_dataset(config, chosen, generator.split)


def _yield_rows(rows: list[dict]) -> Iterator[dict]:
    yield from rows


def splits_to_dataset(config: SyntheticShape, profile: str,
                      split_rows: Callable[[str, int], list[dict]]) -> DatasetDict:
    """The three splits ``split_rows(name, size)`` draws, in order, as a ``DatasetDict`` with metadata."""
    metadata = MSAMetadata(
        dataset_kind=config.dataset_kind,
        label_min=-config.label_max,
        label_max=config.label_max,
        text_dim=config.text_dim,
        audio_dim=config.audio_dim,
        vision_dim=config.vision_dim,
        extractors={m: f"msmix synthetic generator ({profile} profile)" for m in ("text", "audio", "vision")},
        normalization={m: "none (unit-scale Gaussian directions plus noise)" for m in ("text", "audio", "vision")},
        source=f"data_processing.synthetic.generate_default_dataset(profile={profile!r}, seed={config.seed})",
        notes={"profile": profile, "generator_config": vars(config).copy()},
    )
    features = msa_features(metadata, unimodal_labels=config.unimodal_labels)
    sizes = {"train": config.train_size, "validation": config.validation_size, "test": config.test_size}
    source_key = {"generator": GENERATOR_VERSION, "profile": profile, **vars(config)}
    dataset = DatasetDict()
    for name, size in sizes.items():
        dataset[name] = rows_to_dataset(_yield_rows, features, name, source_key, rows=split_rows(name, size))
    return attach_metadata(dataset, metadata)
