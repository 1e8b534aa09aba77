"""Label files: one TSV per document, keyed by position and a hash of the text.

``data/labels/<source>/<doc_id>.tsv`` has a header and one row per block:

    position  label  hash  how

``how`` says how the label was given: ``read`` (a person read the block against
LABELING.md), ``written`` (the text was written for this project), ``rule`` or ``model``
(proposed automatically, not yet read; never gold). The corpus text itself is never
stored here; ``hash`` ties each label to the text it was given for.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from .labels import LABELS
from .pages import Block

HOWS = ("read", "written", "rule", "model")
GOLD_HOWS = ("read",)
COLUMNS = ("position", "label", "hash", "how")


class LabelFileError(ValueError):
    """A label file that is malformed or no longer matches its document."""

    def __init__(self, path: Path | str, message: str, line: int | None = None):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class BlockLabel:
    position: int
    label: str
    hash: str
    how: str


def read_label_file(path: Path | str) -> list[BlockLabel]:
    """Parse one label file, checking each row's shape, label and ``how``."""
    path = Path(path)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise LabelFileError(path, f"header must be {' '.join(COLUMNS)} (tab-separated)", 1)
    labels, seen = [], set()
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(COLUMNS):
            raise LabelFileError(path, f"expected {len(COLUMNS)} tab-separated fields, got {len(row)}", line)
        position, label, text_hash, how = row
        if not position.isdigit():
            raise LabelFileError(path, f"position {position!r} is not a non-negative integer", line)
        if label not in LABELS:
            raise LabelFileError(path, f"position {position}: unknown label {label!r}", line)
        if how not in HOWS:
            raise LabelFileError(path, f"position {position}: unknown how {how!r}; expected one of {', '.join(HOWS)}", line)
        if int(position) in seen:
            raise LabelFileError(path, f"position {position} is labeled twice", line)
        seen.add(int(position))
        labels.append(BlockLabel(int(position), label, text_hash, how))
    return labels


def check_against(path: Path | str, labels: list[BlockLabel], blocks: tuple[Block, ...] | list[Block]) -> None:
    """Check that ``labels`` cover exactly the document's blocks and that every hash matches."""
    by_position = {block.position: block for block in blocks}
    for label in labels:
        block = by_position.get(label.position)
        if block is None:
            raise LabelFileError(path, f"position {label.position} does not exist (the document has {len(blocks)} blocks)")
        if block.hash != label.hash:
            raise LabelFileError(
                path, f"position {label.position}: hash {label.hash} does not match the text ({block.hash}: {block.text[:30]!r})"
            )
    missing = sorted(set(by_position) - {label.position for label in labels})
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
        raise LabelFileError(path, f"{len(missing)} positions have no label: {shown}")


def write_label_file(path: Path | str, labels: list[BlockLabel]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        for label in sorted(labels, key=lambda item: item.position):
            writer.writerow([label.position, label.label, label.hash, label.how])
