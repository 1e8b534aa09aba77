"""Inter-annotator agreement: the first reading (data/labels) against a second one.

    python -m eval.agreement [--second data/agreement/second-reading.tsv]

Prints Cohen's kappa overall and per label (each label against the rest), the raw
agreement, and every disagreement with both labels, for adjudication. Agreement is
measured on the first reading as it was given: where ``data/agreement/adjudication.tsv``
later changed a label, its ``first`` column restores the original.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from paratheme.labelfiles import read_label_file
from paratheme.labels import LABELS

DATA = Path(__file__).resolve().parent.parent / "data"


def read_second(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for line, row in enumerate(rows, start=2):
        if row["label"] not in LABELS:
            raise ValueError(f"{path}:{line}: unknown label {row['label']!r}")
    return rows


def read_adjudication(path: Path) -> dict[tuple[str, int], str]:
    """(document, position) -> the first reading's label before adjudication."""
    if not path.exists():
        return {}
    with open(path, encoding="utf-8", newline="") as f:
        return {(row["document"], int(row["position"])): row["first"] for row in csv.DictReader(f, delimiter="\t")}


def paired(second: list[dict], labels_dir: Path, adjudicated: dict[tuple[str, int], str]) -> list[tuple[dict, str]]:
    """Each second-reading row with the first reading's original label for the same block."""
    cache: dict[str, dict[int, object]] = {}
    pairs = []
    for row in second:
        key = f"{row['source']}/{row['doc_id']}"
        if key not in cache:
            cache[key] = {l.position: l for l in read_label_file(labels_dir / f"{key}.tsv")}
        first = cache[key][int(row["position"])]
        if first.hash != row["hash"]:
            raise ValueError(f"{key} position {row['position']}: the two readings saw different text")
        pairs.append((row, adjudicated.get((key, int(row["position"])), first.label)))
    return pairs


def agreement(first: list[str], second: list[str]) -> dict:
    per_label = {}
    for label in LABELS:
        a = [x == label for x in first]
        b = [x == label for x in second]
        per_label[label] = {
            "kappa": round(float(cohen_kappa_score(a, b)), 3) if (any(a) or any(b)) else None,
            "first": sum(a), "second": sum(b),
        }
    return {
        "blocks": len(first),
        "observed_agreement": round(sum(x == y for x, y in zip(first, second)) / len(first), 3),
        "kappa": round(float(cohen_kappa_score(first, second, labels=list(LABELS))), 3),
        "per_label": per_label,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.agreement")
    parser.add_argument("--second", type=Path, default=DATA / "agreement" / "second-reading.tsv")
    parser.add_argument("--first", type=Path, default=DATA / "labels", help="folder of first-reading label files")
    parser.add_argument("--adjudication", type=Path, default=DATA / "agreement" / "adjudication.tsv")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--show", action="store_true", help="list every disagreement")
    args = parser.parse_args(argv)

    pairs = paired(read_second(args.second), args.first, read_adjudication(args.adjudication))
    result = agreement([first for _, first in pairs], [row["label"] for row, _ in pairs])
    print(f"{result['blocks']} blocks, observed agreement {result['observed_agreement']}, Cohen's kappa {result['kappa']}")
    for label, figures in result["per_label"].items():
        print(f"  {label:<12} kappa {figures['kappa']}  (first {figures['first']}, second {figures['second']})")
    if args.show:
        for row, first in pairs:
            if first != row["label"]:
                print(f"{row['source']}/{row['doc_id']}\t{row['position']}\tfirst={first}\tsecond={row['label']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
