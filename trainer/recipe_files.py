"""Recipe folders (``trainer/recipes/<dataset>/<backbone>.yaml``) for ``python -m trainer.experiment --recipe``.

A recipe file holds ``trainer/run.py`` arguments for one backbone. In an experiment each
backbone trains with its own file's values (its ``config_overrides`` and training options);
the ``backbone`` and ``augmentation`` keys are left to the experiment, and flags given on the
command line override every file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from transformers import HfArgumentParser

from data_processing.cli import apply_config_values, read_config_file

EXPERIMENT_OWNED_KEYS: tuple[str, ...] = ("backbone", "augmentation")
RECIPE_SUFFIX = ".yaml"


def recipe_paths(folder: str | Path) -> dict[str, Path]:
    """``{backbone: path}`` of the recipe files in ``folder``."""
    folder = Path(folder)
    paths = {path.stem: path for path in sorted(folder.glob(f"*{RECIPE_SUFFIX}"))}
    if not paths:
        raise FileNotFoundError(f"--recipe {str(folder)!r} holds no {RECIPE_SUFFIX} recipe files")
    return paths


def parse_with_recipe(make_parser: Callable[[], HfArgumentParser], path: str | Path,
                      argv: list[str]) -> tuple[Any, ...]:
    """Parse ``argv`` with the recipe at ``path`` as defaults (without its experiment-owned keys)."""
    parser = make_parser()
    values = {key: value for key, value in read_config_file(path).items() if key not in EXPERIMENT_OWNED_KEYS}
    apply_config_values(parser, values, path)
    return parser.parse_args_into_dataclasses(args=argv)
