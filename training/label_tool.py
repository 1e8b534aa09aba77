"""Tools for labeling by reading: dump a document's blocks, write its label file, check it.

    python -m training.label_tool list
    python -m training.label_tool dump SOURCE DOC_ID            # position<TAB>hash<TAB>text
    python -m training.label_tool write SOURCE DOC_ID [--how read] < ranges.txt
    python -m training.label_tool check [SOURCE/DOC_ID ...]
    python -m training.label_tool summary                       # counts per split x source x label

``write`` reads lines of ``POSITION LABEL`` or ``FIRST-LAST LABEL`` (inclusive ranges,
for runs of chrome a reader has gone through line by line) and writes
``data/labels/SOURCE/DOC_ID.tsv`` with each block's hash. Later lines override earlier
ones, so a reader may give a range and then correct single positions inside it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from paratheme.corpus import list_documents, load_document
from paratheme.labelfiles import HOWS, BlockLabel, LabelFileError, check_against, read_label_file, write_label_file
from paratheme.labels import check_label

LABELS_DIR = Path(__file__).resolve().parent.parent / "data" / "labels"


def label_path(source: str, doc_id: str, labels_dir: Path = LABELS_DIR) -> Path:
    return labels_dir / source / f"{doc_id}.tsv"


def parse_ranges(lines, n_blocks: int) -> dict[int, str]:
    assigned: dict[int, str] = {}
    for number, line in enumerate(lines, start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            span, label = line.split()
            first, _, last = span.partition("-")
            first, last = int(first), int(last or first)
            check_label(label)
        except ValueError as exc:
            raise SystemExit(f"line {number}: {line!r}: expected 'POSITION LABEL' or 'FIRST-LAST LABEL' ({exc})")
        if not 0 <= first <= last < n_blocks:
            raise SystemExit(f"line {number}: positions {first}-{last} outside 0-{n_blocks - 1}")
        for position in range(first, last + 1):
            assigned[position] = label
    return assigned


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.label_tool", description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", help="corpora folder (default ../shared/corpora)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    dump = sub.add_parser("dump")
    dump.add_argument("source")
    dump.add_argument("doc_id")
    write = sub.add_parser("write")
    write.add_argument("source")
    write.add_argument("doc_id")
    write.add_argument("--how", default="read", choices=HOWS)
    check = sub.add_parser("check")
    check.add_argument("docs", nargs="*", help="SOURCE/DOC_ID; all label files when none")
    sub.add_parser("summary")
    args = parser.parse_args(argv)

    if args.command == "list":
        for source, doc_id in list_documents(args.corpora):
            blocks = load_document(source, doc_id, args.corpora).blocks
            done = "labeled" if label_path(source, doc_id).exists() else ""
            print(f"{source}\t{doc_id}\t{len(blocks)}\t{done}")
    elif args.command == "dump":
        for block in load_document(args.source, args.doc_id, args.corpora).blocks:
            print(f"{block.position}\t{block.hash}\t{block.text}")
    elif args.command == "write":
        blocks = load_document(args.source, args.doc_id, args.corpora).blocks
        assigned = parse_ranges(sys.stdin, len(blocks))
        missing = [b.position for b in blocks if b.position not in assigned]
        if missing:
            raise SystemExit(f"{len(missing)} positions have no label, first: {missing[:20]}")
        path = label_path(args.source, args.doc_id)
        write_label_file(path, [BlockLabel(b.position, assigned[b.position], b.hash, args.how) for b in blocks])
        print(f"wrote {path} ({len(blocks)} labels)")
    elif args.command == "check":
        docs = [d.split("/", 1) for d in args.docs] or [
            (p.parent.name, p.stem) for p in sorted(LABELS_DIR.glob("*/*.tsv"))
        ]
        failed = 0
        for source, doc_id in docs:
            path = label_path(source, doc_id)
            try:
                check_against(path, read_label_file(path), load_document(source, doc_id, args.corpora).blocks)
            except (LabelFileError, KeyError, FileNotFoundError) as exc:
                failed += 1
                print(f"FAIL {exc}")
        print(f"{len(docs) - failed} ok, {failed} failed")
        return 1 if failed else 0
    elif args.command == "summary":
        from paratheme.data import load_examples, summary

        splits = load_examples(LABELS_DIR.parent, args.corpora)
        print(summary(splits))
        content = sum(1 for split in splits.values() for e in split if e.label != "boilerplate" and e.how == "read")
        print(f"\nread labels of article content (not boilerplate): {content}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
