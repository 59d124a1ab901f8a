"""Reading text files (transcripts) the same way everywhere: UTF-8, with or without a byte-order mark."""

from __future__ import annotations

from pathlib import Path


def read_text(path: str | Path) -> str:
    """The content of the UTF-8 text file ``path`` (a leading BOM is dropped), whatever the locale.

    Raises:
        ValueError: the file is not UTF-8; the message names it.
    """
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8") from None
