"""Command lines from a YAML or JSON config file plus flags (TRL-style), for every msmix CLI.

``python -m <cli> config.yaml --learning_rate 3e-4``: the file's keys become the parser's
defaults and the flags given after it override them. A key that no argument of the CLI takes
stops the run with a message naming the key and the file.

Bad input ends every command in one line, ``<command>: error: <message>``, not a traceback:
each ``main`` runs its work inside :func:`one_line_errors` with the exception classes that mean
"the input is wrong" (their messages name the flag, file, split or key).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from transformers import HfArgumentParser

CONFIG_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping stored in a ``.yaml``/``.yml``/``.json`` file (an empty file is ``{}``)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    values = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: a config file must hold a mapping of argument names to values")
    return values


def split_config_file(argv: list[str]) -> tuple[str | None, list[str]]:
    """(the config file named first in ``argv`` or ``None``, the remaining flags)."""
    if argv and not argv[0].startswith("-") and Path(argv[0]).suffix in CONFIG_SUFFIXES:
        return argv[0], argv[1:]
    return None, argv


def apply_config_values(parser: HfArgumentParser, values: dict[str, Any], source: str | Path) -> None:
    """Make ``values`` the defaults of ``parser``; fail on a key that no argument takes, naming ``source``."""
    known = {action.dest for action in parser._actions}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SystemExit(f"{source}: no argument of this command is called {', '.join(map(repr, unknown))}")
    for action in parser._actions:
        if action.dest in values:
            action.required = False
    parser.set_defaults(**values)


def apply_config_file(parser: HfArgumentParser, path: str | Path) -> None:
    """Make the values of the config file at ``path`` the defaults of ``parser``."""
    apply_config_values(parser, read_config_file(path), path)


def parse_cli(parser: HfArgumentParser, argv: list[str] | None = None,
              return_remaining_strings: bool = False) -> tuple[Any, ...]:
    """Parse ``[config file] [--flag value ...]`` into the parser's dataclasses; flags win over the file."""
    argv = list(sys.argv[1:] if argv is None else argv)
    config_file, flags = split_config_file(argv)
    if config_file is not None:
        apply_config_file(parser, config_file)
    return parser.parse_args_into_dataclasses(args=flags, return_remaining_strings=return_remaining_strings)


@contextmanager
def one_line_errors(command: str, *errors: type[BaseException]) -> Iterator[None]:
    """Turn an exception of the classes ``errors`` into ``SystemExit("<command>: error: <message>")``.

    The exit status is 1 and the message is printed on stderr without a traceback; any other
    exception keeps its traceback (it is a defect, not bad input).
    """
    try:
        yield
    except errors as error:
        raise SystemExit(f"{command}: error: {error}") from None
