"""Save a built-in data profile at a chosen seed.

``--dataset default:<name>`` trains on a profile at its default seed 0; to study several data
seeds, save each once and train from the folder::

    python -m data_processing.synthetic.save --profile mosi_reliability --seed 1 --output_dir data/mosi_reliability-1
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import HfArgumentParser

from ..cli import parse_cli
from .profiles import PROFILES, generate_default_dataset


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
