"""Reading JSONL row files, with errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator


class RowError(ValueError):
    """A malformed row; the message starts with ``path:line``."""


def read_rows(path: Path | str) -> Iterator[tuple[int, dict]]:
    """Yield ``(line number, row)`` for each non-blank line, each row a JSON object."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RowError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise RowError(f"{path}:{number}: each row must be a JSON object")
            yield number, row
