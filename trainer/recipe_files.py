"""Recipe folders (``trainer/recipes/<dataset>/<backbone>.yaml``) for ``python -m trainer.experiment --recipe``.

The paths as the docs write them work from any folder: when no such path exists in the current
folder they name the recipes installed with the ``trainer`` package (``installed_recipe_path``).

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
RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
DOCUMENTED_PREFIX: tuple[str, ...] = ("trainer", "recipes")


def installed_recipe_path(path: str) -> str:
    """``path``, or, when no such file or folder exists here and ``path`` is a recipe path as the docs write
    it (``trainer/recipes/mosi/lmf.yaml``, ``trainer/recipes/mosi``), the recipe installed with msmix."""
    relative = Path(path)
    if relative.exists() or relative.parts[:len(DOCUMENTED_PREFIX)] != DOCUMENTED_PREFIX:
        return path
    installed = RECIPES_DIR.joinpath(*relative.parts[len(DOCUMENTED_PREFIX):])
    return str(installed) if installed.exists() else path


def recipe_paths(folder: str | Path) -> dict[str, Path]:
    """``{backbone: path}`` of the recipe files in ``folder``."""
    folder = Path(installed_recipe_path(str(folder)))
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
