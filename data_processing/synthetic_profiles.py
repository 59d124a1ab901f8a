"""The built-in data profiles by name, and a command that saves one at a chosen seed.

``--dataset default:<name>`` trains on a profile at its default seed 0; to study several data
seeds, save each once and train from the folder::

    python -m data_processing.synthetic_profiles --profile mosi_reliability --seed 1 --output_dir data/mosi_reliability-1
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import HfArgumentParser

from .cli import parse_cli
from .synthetic import SyntheticConfig, _Generator, generate_default_dataset
from .synthetic_mosi_like import MOSILikeConfig, MOSILikeGenerator
from .synthetic_reliability import ReliabilityConfig, ReliabilityGenerator, SIMSLikeConfig

PROFILES: dict[str, tuple[type, type]] = {
    "clean": (SyntheticConfig, _Generator),
    "mosi_like": (MOSILikeConfig, MOSILikeGenerator),
    "mosi_reliability": (ReliabilityConfig, ReliabilityGenerator),
    "sims_like": (SIMSLikeConfig, ReliabilityGenerator),
}
"""Profile name -> (config dataclass, generator class with ``split(name, size) -> rows``)."""


def profile_of(config: object) -> str | None:
    """The name of the profile whose config class ``config`` is exactly (``None`` for any other class)."""
    return next((name for name, (config_class, _) in PROFILES.items() if type(config) is config_class), None)


@dataclass
class SaveProfileArguments:
    """Which built-in profile to generate, at which seed, and where to save it."""

    output_dir: str = field(metadata={"help": "folder for DatasetDict.save_to_disk (read with --dataset <folder>)"})
    profile: str = field(default="mosi_like", metadata={"help": f"one of {sorted(PROFILES)}"})
    seed: int = field(default=0, metadata={"help": "data seed (0 is what --dataset default:<profile> generates)"})


def main(argv: list[str] | None = None) -> None:
    """Generate the profile at the seed and save it with ``save_to_disk``."""
    (args,) = parse_cli(HfArgumentParser(SaveProfileArguments), argv)
    if args.profile not in PROFILES:
        raise SystemExit(f"--profile must be one of {sorted(PROFILES)}, got {args.profile!r}")
    dataset = generate_default_dataset(PROFILES[args.profile][0](seed=args.seed))
    dataset.save_to_disk(args.output_dir)
    sizes = ", ".join(f"{split} {len(rows)}" for split, rows in dataset.items())
    print(f"saved the {args.profile} profile, data seed {args.seed}, to {args.output_dir} ({sizes})")


if __name__ == "__main__":
    main()
