"""Save a built-in data profile at a chosen seed.

``--dataset default:<name>`` trains on a profile at its default seed 0; to study several data
seeds, save each once and train from the folder::

    python -m data_processing.synthetic.save --profile mosi_reliability --seed 1 --output_dir data/mosi_reliability-1

``--set name=value`` changes one of the profile's config fields (a JSON value), e.g. ``--set p_mislabeled=0.5``;
the saved metadata records the whole config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields

from transformers import HfArgumentParser

from ..cli import parse_cli
from .profiles import PROFILES, generate_default_dataset


@dataclass
class SaveProfileArguments:
    """Which built-in profile to generate, at which seed, and where to save it."""

    output_dir: str = field(metadata={"help": "folder for DatasetDict.save_to_disk (read with --dataset <folder>)"})
    profile: str = field(default="mosi_like", metadata={"help": f"one of {sorted(PROFILES)}"})
    seed: int = field(default=0, metadata={"help": "data seed (0 is what --dataset default:<profile> generates)"})
    set: list[str] = field(default_factory=list,
                           metadata={"help": "config changes name=value (JSON values), e.g. p_mislabeled=0.5"})


def config_changes(profile: str, texts: list[str]) -> dict:
    """``name=value`` texts as config changes, refusing a name the profile's config lacks or a value that is not JSON."""
    known = {item.name for item in fields(PROFILES[profile][0]) if item.init}
    changes = {}
    for text in texts:
        name, equals, value = text.partition("=")
        if not equals or name not in known - {"seed"}:
            raise SystemExit(f"--set {text!r}: expected name=value with a {profile} config field other than seed "
                             f"(one of {sorted(known - {'seed'})})")
        try:
            changes[name] = json.loads(value)
        except json.JSONDecodeError:
            raise SystemExit(f"--set {text!r}: the value is not JSON (numbers as 0.5, text as \"...\")") from None
    return changes


def main(argv: list[str] | None = None) -> None:
    """Generate the profile at the seed and save it with ``save_to_disk``."""
    (args,) = parse_cli(HfArgumentParser(SaveProfileArguments), argv)
    if args.profile not in PROFILES:
        raise SystemExit(f"--profile must be one of {sorted(PROFILES)}, got {args.profile!r}")
    try:
        config = PROFILES[args.profile][0](seed=args.seed, **config_changes(args.profile, args.set))
    except ValueError as error:
        raise SystemExit(f"--set: {error}") from None
    dataset = generate_default_dataset(config)
    dataset.save_to_disk(args.output_dir)
    sizes = ", ".join(f"{split} {len(rows)}" for split, rows in dataset.items())
    print(f"saved the {args.profile} profile, data seed {args.seed}, to {args.output_dir} ({sizes})")


if __name__ == "__main__":
    main()
