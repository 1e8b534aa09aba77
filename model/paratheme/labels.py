"""The label set: one ordered list, read once from ``labels.yaml`` beside this module.

Everything else derives from it: model configs get ``id2label`` from this order,
and loading a model checks its config against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

LABELS_FILE = Path(__file__).resolve().parent / "labels.yaml"


@dataclass(frozen=True)
class Label:
    name: str
    zh: str
    definition: str


@lru_cache(maxsize=1)
def label_set() -> tuple[Label, ...]:
    with open(LABELS_FILE, encoding="utf-8") as f:
        entries = yaml.safe_load(f)["labels"]
    return tuple(Label(e["name"], e["zh"], e["definition"]) for e in entries)


LABELS: tuple[str, ...] = tuple(label.name for label in label_set())
THEMES: tuple[str, ...] = LABELS[:5]
BOILERPLATE = "boilerplate"
OTHER = "other"


def id2label() -> dict[int, str]:
    return dict(enumerate(LABELS))


def label2id() -> dict[str, int]:
    return {name: i for i, name in enumerate(LABELS)}


def check_label(name: str) -> str:
    """Return ``name`` if it is a known label, else raise ValueError naming the set."""
    if name not in LABELS:
        raise ValueError(f"unknown label {name!r}; expected one of {', '.join(LABELS)}")
    return name
