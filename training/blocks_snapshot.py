"""Checks that page reading still gives the blocks that gold labels are keyed to.

    python -m training.blocks_snapshot write SNAPSHOT.tsv [SOURCE ...]   # source, doc_id, position, hash
    python -m training.blocks_snapshot check SNAPSHOT.tsv                # exit 1 if any document differs

Labels name a block by its position and text hash, so any change to ``paratheme/pages.py``
that moves or alters a block of a labeled page orphans its labels. Write a snapshot before
such a change and check it after.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from paratheme.corpus import list_documents, load_document

DEFAULT_SOURCES = ("seed", "news", "news2")


def snapshot_rows(sources) -> list[tuple[str, str, int, str]]:
    return [(source, doc_id, block.position, block.hash)
            for source, doc_id in list_documents() if source in sources
            for block in load_document(source, doc_id).blocks]


def differences(path: Path) -> list[str]:
    """One line per document whose blocks differ from the snapshot."""
    expected: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        source, doc_id, position, digest = line.split("\t")
        expected[source, doc_id].append((int(position), digest))
    problems = []
    for (source, doc_id), blocks in sorted(expected.items()):
        try:
            now = [(b.position, b.hash) for b in load_document(source, doc_id).blocks]
        except Exception as exc:  # noqa: BLE001 - every document is reported, whatever went wrong
            problems.append(f"{source}/{doc_id}: could not be read: {type(exc).__name__}: {exc}")
            continue
        if now != blocks:
            first = next((i for i, (a, b) in enumerate(zip(now, blocks)) if a != b), min(len(now), len(blocks)))
            problems.append(f"{source}/{doc_id}: {len(now)} blocks against {len(blocks)}; first difference at position {first}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.blocks_snapshot")
    parser.add_argument("action", choices=("write", "check"))
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("sources", nargs="*", default=DEFAULT_SOURCES)
    args = parser.parse_args(argv)
    if args.action == "write":
        rows = snapshot_rows(set(args.sources))
        args.snapshot.write_text("".join(f"{s}\t{d}\t{p}\t{h}\n" for s, d, p, h in rows), encoding="utf-8")
        print(f"wrote {len(rows)} blocks to {args.snapshot}")
        return 0
    problems = differences(args.snapshot)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} documents differ from {args.snapshot}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
