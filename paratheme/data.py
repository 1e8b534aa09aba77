"""Labeled data: label files joined with corpus text, split by document.

    from paratheme.data import load_splits
    splits = load_splits()            # datasets.DatasetDict with train / dev / test
    splits["test"][0]                 # {"text", "label", "source", "doc_id", "position", "how"}

Splits are by document and declared in ``data/splits.yaml``: documents listed under
``dev`` or ``test`` are gold (only ``read`` labels are kept there); every other labeled
document, and every text written for the project (``data/written/``), is train.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from .corpus import load_document
from .labelfiles import GOLD_HOWS, LabelFileError, check_against, read_label_file
from .labels import LABELS

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SPLITS = ("train", "dev", "test")
COLUMNS = ("text", "label", "source", "doc_id", "position", "how")


class DataError(ValueError):
    """Label data that is inconsistent; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    source: str
    doc_id: str
    position: int
    how: str


def read_splits_file(path: Path) -> dict[str, str]:
    """Map "source/doc_id" to "dev" or "test" from the splits file."""
    with open(path, encoding="utf-8") as f:
        declared = yaml.safe_load(f) or {}
    unknown = set(declared) - {"dev", "test"}
    if unknown:
        raise DataError(f"{path}: unknown split(s) {sorted(unknown)}; only dev and test are declared (the rest is train)")
    assignment: dict[str, str] = {}
    for split in ("dev", "test"):
        for doc in declared.get(split) or []:
            if doc in assignment:
                raise DataError(f"{path}: document {doc} is in both {assignment[doc]} and {split}")
            assignment[doc] = split
    return assignment


def read_written(path: Path) -> list[Example]:
    """Texts written for the project: TSV with columns id, label, text."""
    examples = []
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or rows[0] != ["id", "label", "text"]:
        raise DataError(f"{path}:1: header must be id, label, text (tab-separated)")
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 3 or not row[2].strip():
            raise DataError(f"{path}:{line}: expected id, label and a non-empty text")
        if row[1] not in LABELS:
            raise DataError(f"{path}:{line}: unknown label {row[1]!r}")
        examples.append(Example(row[2].strip(), row[1], "written", f"{path.stem}", line, "written"))
    return examples


def load_examples(data_dir: Path | str = DATA_DIR, corpora: str | None = None) -> dict[str, list[Example]]:
    """Every labeled example, validated, grouped by split."""
    data_dir = Path(data_dir)
    assignment = read_splits_file(data_dir / "splits.yaml")
    label_files = sorted((data_dir / "labels").glob("*/*.tsv"))
    present = {f"{p.parent.name}/{p.stem}" for p in label_files}
    missing = sorted(set(assignment) - present)
    if missing:
        raise DataError(f"{data_dir / 'splits.yaml'}: documents without a label file: {', '.join(missing)}")
    splits: dict[str, list[Example]] = {name: [] for name in SPLITS}
    for path in label_files:
        source, doc_id = path.parent.name, path.stem
        try:
            document = load_document(source, doc_id, corpora)
        except KeyError as exc:
            raise DataError(f"{path}: {exc.args[0]}") from exc
        labels = read_label_file(path)
        check_against(path, labels, document.blocks)
        split = assignment.get(f"{source}/{doc_id}", "train")
        for label in labels:
            if split != "train" and label.how not in GOLD_HOWS:
                continue  # rule or model labels are never gold
            text = document.blocks[label.position].text
            splits[split].append(Example(text, label.label, source, doc_id, label.position, label.how))
    for path in sorted((data_dir / "written").glob("*.tsv")):
        splits["train"].extend(read_written(path))
    return splits


def load_splits(data_dir: Path | str = DATA_DIR, corpora: str | None = None):
    """The labeled data as a ``datasets.DatasetDict`` with ``train``, ``dev`` and ``test``."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=list(LABELS)), "source": Value("string"),
                         "doc_id": Value("string"), "position": Value("int32"), "how": Value("string")})
    splits = load_examples(data_dir, corpora)
    return DatasetDict({
        name: Dataset.from_dict({c: [getattr(e, c) for e in examples] for c in COLUMNS}, features=features)
        for name, examples in splits.items()
    })


def summary(splits: dict[str, list[Example]]) -> str:
    """Counts per split × source × label, as a Markdown table."""
    lines = ["| split | source | docs | blocks | " + " | ".join(LABELS) + " |", "|" + "---|" * (4 + len(LABELS))]
    for split in SPLITS:
        by_source: dict[str, list[Example]] = {}
        for e in splits[split]:
            by_source.setdefault(e.source, []).append(e)
        for source, examples in sorted(by_source.items()) + [("all", splits[split])]:
            counts = Counter(e.label for e in examples)
            docs = len({(e.source, e.doc_id) for e in examples})
            lines.append(f"| {split} | {source} | {docs} | {len(examples)} | " + " | ".join(str(counts[l]) for l in LABELS) + " |")
    return "\n".join(lines)


__all__ = ["DataError", "Example", "LabelFileError", "load_examples", "load_splits", "summary"]
