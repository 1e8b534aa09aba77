"""Find text of ours that repeats the shared corpora: written paragraphs, examples, test fixtures.

    python -m training.overlap data/written/*.tsv examples/ tests/

Corpus text is never committed (the corpora's terms do not allow redistribution), so every file
we write must not quote it. Texts are compared on their Chinese characters alone, so that changed
figures or punctuation do not hide a copied sentence: a shared run of ``SPAN`` Chinese characters
counts as a quote; shorter runs are stock phrases any writer would use. Prints each hit and exits
1 if there is any.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

SPAN = 12
_CJK = re.compile(r"[\u3400-\u9fff]")


def chinese(text: str) -> tuple[str, list[int]]:
    """The Chinese characters of ``text``, and where each one stands in ``text``."""
    positions = [m.start() for m in _CJK.finditer(text)]
    return "".join(text[i] for i in positions), positions


def corpus_spans(texts, span: int = SPAN) -> set[str]:
    """Every run of ``span`` consecutive Chinese characters of ``texts`` (other characters skipped)."""
    spans = set()
    for text in texts:
        letters, _ = chinese(text)
        spans.update(letters[i:i + span] for i in range(len(letters) - span + 1))
    return spans


def quoted(text: str, spans: set[str], span: int = SPAN) -> str | None:
    """The longest stretch of ``text`` whose Chinese characters are found in the corpora (at
    least ``span`` of them in a row), as it stands in ``text``; or None."""
    letters, positions = chinese(text)
    best = None
    i = 0
    while i <= len(letters) - span:
        if letters[i:i + span] in spans:
            end = i + span
            while end < len(letters) and letters[end - span + 1:end + 1] in spans:
                end += 1
            run = text[positions[i]:positions[end - 1] + 1]
            if best is None or len(run) > len(best):
                best = run
            i = end
        else:
            i += 1
    return best


def load_corpus_spans(corpora: str | None = None) -> set[str]:
    from paratheme.corpus import list_documents, load_document

    return corpus_spans(block.text for source, doc_id in list_documents(corpora)
                        for block in load_document(source, doc_id, corpora).blocks)


def files_under(paths) -> list[Path]:
    suffixes = {".tsv", ".txt", ".md", ".py", ".json", ".jsonl", ".html", ".yaml"}
    out = []
    for path in map(Path, paths):
        out += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in suffixes) if path.is_dir() else [path]
    return out


def find_quotes(paths, spans: set[str]) -> list[tuple[Path, int, str]]:
    hits = []
    for path in files_under(paths):
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            run = quoted(line, spans)
            if run:
                hits.append((path, number, run))
    return hits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.overlap", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="files or folders to check")
    parser.add_argument("--corpora", default=None, help="corpora folder (default: ../shared/corpora)")
    args = parser.parse_args(argv)
    hits = find_quotes(args.paths, load_corpus_spans(args.corpora))
    for path, number, run in hits:
        print(f"{path}:{number}: {len(run)} characters shared with the corpora: {run}")
    print(f"{len(hits)} line(s) quote the corpora", file=sys.stderr)
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())
