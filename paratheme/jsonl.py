"""Reading JSONL row files, with errors that name the file and line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

# Only a \ud800-\udfff escape can put a lone surrogate into a row (the line itself is valid UTF-8).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class RowError(ValueError):
    """A malformed row; the message starts with ``path:line``."""


def read_rows(path: Path | str) -> Iterator[tuple[int, dict]]:
    """Yield ``(line number, row)`` for each non-blank line, each row a JSON object.

    Raises:
        RowError: a line that is not UTF-8, not a JSON object, or that holds a string which is
            not valid Unicode (a lone surrogate such as ``"\\ud800"``).
    """
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise RowError(f"{path}:{number}: not UTF-8 (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the line); "
                               "save the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RowError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            except (ValueError, RecursionError) as exc:  # a 5,000-digit number, arrays nested 100,000 deep
                raise RowError(f"{path}:{number}: JSON that cannot be read ({type(exc).__name__}: {exc})") from None
            if not isinstance(row, dict):
                raise RowError(f"{path}:{number}: each row must be a JSON object")
            if _SURROGATE_ESCAPE.search(line) and _has_lone_surrogate(row):
                raise RowError(f"{path}:{number}: a string holds a lone surrogate escape (\\ud800-\\udfff): "
                               "not valid Unicode text")
            yield number, row


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False
