"""The code blocks of the documentation's guides, and how the docs test runs them on tiny data.

A guide's fenced block is run when its language is ``bash`` or ``python``; a block preceded by
``<!-- file: NAME -->`` is written to ``NAME`` instead; a block preceded by
``<!-- not run: REASON -->`` is reported as skipped with that reason. Blocks of one page run in
order, in one folder, so a later block may use what an earlier one wrote.

Commands run as written, with flags appended that only shrink the work (:data:`QUICK_FLAGS`: one
epoch on 64 samples, the tiny extractors instead of BERT/wav2vec2/ViT) and the
Hub placeholders ``<user>`` and ``<msa-dataset>`` replaced by a repository on the local Hub stand-in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

RUN_LANGUAGES = ("bash", "python")
FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*(not run|file):\s*(.+?)\s*-->\s*$")
PLACEHOLDERS = {"<user>": "someone", "<msa-dataset>": "msa-docs"}
TRAINING_FLAGS = ("--num_train_epochs 1 --max_train_samples 64 --max_eval_samples 32 --max_predict_samples 32 "
                  "--report_to none")


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block of a page: its language, text, 1-based line, and its marker (if any)."""

    page: str
    line: int
    language: str
    code: str
    not_run: str | None = None
    file: str | None = None

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"


def code_blocks(path: Path) -> list[CodeBlock]:
    """The fenced blocks of the Markdown file ``path``, in order."""
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    marker: tuple[str, str] | None = None
    index = 0
    while index < len(lines):
        found = MARKER.match(lines[index])
        fence = FENCE.match(lines[index])
        if found:
            marker = (found.group(1), found.group(2))
        elif fence:
            end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
            kind, value = marker or (None, None)
            blocks.append(CodeBlock(path.name, index + 1, fence.group(1), "\n".join(lines[index + 1:end]) + "\n",
                                    not_run=value if kind == "not run" else None,
                                    file=value if kind == "file" else None))
            marker, index = None, end
        elif lines[index].strip():
            marker = None
        index += 1
    return blocks


def quick_flags(command: str, tiny_models: dict[str, str]) -> str:
    """The flags appended to ``command`` so that it runs on tiny data in seconds (empty when none apply).

    ``tiny_models`` names the tiny extractors (local folders, or their repositories on the local Hub).
    """
    flags = []
    if any(name in command for name in ("trainer/run.py", "trainer.run", "trainer.experiment")):
        flags.append(TRAINING_FLAGS)
    if "data_processing.extract" in command:
        flags.append(" ".join(f"--{m}_model {path}" for m, path in tiny_models.items()) + " --device cpu")
    if "trainer.robustness" in command:
        flags.append("--max_predict_samples 64")
    return " ".join(flags)


def shell_script(block: CodeBlock, tiny_models: dict[str, str]) -> str:
    """``block`` as a bash script: continuation lines joined, each command with its quick flags."""
    commands = re.sub(r"\\\n\s*", "", with_placeholders(block.code)).splitlines()
    lines = ["set -euo pipefail"]
    for command in commands:
        extra = quick_flags(command, tiny_models)
        head, separator, tail = command.partition(" || ")
        lines.append(f"{head} {extra}{separator}{tail}".rstrip() if extra else command)
    return "\n".join(lines) + "\n"


def with_placeholders(code: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        code = code.replace(placeholder, value)
    return code
