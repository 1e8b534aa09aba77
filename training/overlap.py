"""Find text of ours that repeats the shared corpora: written paragraphs, examples, test fixtures.

    python -m training.overlap data/written/*.tsv examples/ tests/

Corpus text is never committed (the corpora's terms do not allow redistribution), so every file
we write must not quote it; and written page chrome must be invented, so that it cannot coincide
with a page someone evaluates on. Every line is checked by two rules.

Quotes. Texts are compared on their Chinese characters alone, so that changed figures or
punctuation do not hide a copied sentence: a shared run of ``SPAN`` Chinese characters counts as
a quote; shorter runs are stock phrases any writer would use.

Copied chrome. Footers, copyright lines, licence numbers and e-mail addresses are short or mostly
Latin letters and digits, so the Chinese rule misses them. Each piece of a line (split at tabs,
HTML tags and double quotes: a TSV field, a page's text, a string) is also compared with the
blocks of the HTML pages (sources ``news`` and ``news2``), both folded: NFKC, case-folded,
whitespace removed (pages space their footers differently). A piece is copied chrome if
- it equals a block once years (1900-2099) are masked, and has at least ``WHOLE_LETTERS`` (12)
  letters: a copyright line with this year in it is still that site's line, while a licence
  line of the same form with another number is not a copy. One-phrase chrome
  ("分享到", "返回顶部", "扫一扫在手机打开当前页", 11 letters) is on every site and proves nothing; or
- it has Chinese in it and shares a run of ``CHROME_SPAN`` (20) characters of any kind with a
  block, the stock copyright formula ("Copyright", "©", "All rights reserved") left out. The
  formula is on every site, and with a company word it reaches 29 characters by chance
  ("corporation,allrightsreserved"). Without it, the longest runs that our invented chrome
  shares with the pages are 15 characters (the province-and-district prefix of a licence
  number), while copied chrome shares whole items: a report e-mail address 23 characters, a
  footer menu 28, a portal's self-media disclaimer 40. Pieces without Chinese (code, English
  prose) are left to the whole-piece rule: the pages hold code snippets and English text that
  our code and docs repeat by chance ("response.status_code==200", 25 characters).

Prints each hit and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

SPAN = 12
CHROME_SPAN = 20
WHOLE_LETTERS = 12
HTML_SOURCES = ("news", "news2")  # whole saved pages, chrome and all
_CJK = re.compile(r"[\u3400-\u9fff]")
_STOCK_FORMULA = re.compile(r"copyright|allrightsreserved|©")  # matched in folded text
_PIECE_BREAK = re.compile(r'\t|<[^>]*>|"')
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")


def chinese(text: str) -> tuple[str, list[int]]:
    """The Chinese characters of ``text``, and where each one stands in ``text``."""
    positions = [m.start() for m in _CJK.finditer(text)]
    return "".join(text[i] for i in positions), positions


def _longest_run(text: str, spans: set[str] | frozenset[str], span: int) -> tuple[int, int] | None:
    """Start and end of the longest stretch of ``text`` whose every ``span`` characters in a row
    are in ``spans``; or None."""
    best = None
    i = 0
    while i <= len(text) - span:
        if text[i:i + span] in spans:
            end = i + span
            while end < len(text) and text[end - span + 1:end + 1] in spans:
                end += 1
            if best is None or end - i > best[1] - best[0]:
                best = (i, end)
            i = end
        else:
            i += 1
    return best


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
    run = _longest_run(letters, spans, span)
    return text[positions[run[0]]:positions[run[1] - 1] + 1] if run else None


def fold(text: str) -> str:
    """``text`` as the chrome rule compares it: NFKC, case-folded, without whitespace."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def _mask_years(text: str) -> str:
    return _YEAR.sub("0000", text)


@dataclass(frozen=True)
class Chrome:
    """The HTML pages' blocks, folded: whole with years masked, and as runs of ``span``
    characters with the stock copyright formula left out."""

    blocks: frozenset[str]
    runs: frozenset[str]
    span: int = CHROME_SPAN


def chrome_index(texts, span: int = CHROME_SPAN) -> Chrome:
    blocks, runs = set(), set()
    for text in texts:
        folded = fold(text)
        blocks.add(_mask_years(folded))
        for part in _STOCK_FORMULA.split(folded):
            runs.update(part[i:i + span] for i in range(len(part) - span + 1))
    return Chrome(frozenset(blocks), frozenset(runs), span)


def copied_chrome(piece: str, chrome: Chrome) -> str | None:
    """The folded text that ``piece`` shares with a page's chrome (the whole piece, or its
    longest shared run) if the chrome rule counts it as copied; or None."""
    folded = fold(piece)
    if sum(c.isalpha() for c in folded) >= WHOLE_LETTERS and _mask_years(folded) in chrome.blocks:
        return folded
    if not _CJK.search(folded):
        return None
    best = None
    for part in _STOCK_FORMULA.split(folded):
        run = _longest_run(part, chrome.runs, chrome.span)
        if run and (best is None or run[1] - run[0] > len(best)):
            best = part[run[0]:run[1]]
    return best


def pieces(line: str) -> list[str]:
    """The parts of a line that can hold page text: TSV fields, text between HTML tags, strings."""
    return [piece for piece in _PIECE_BREAK.split(line) if piece.strip()]


@dataclass(frozen=True)
class Corpus:
    spans: set[str]  # for the quote rule: every corpus text
    chrome: Chrome   # for the chrome rule: the HTML pages


def load_corpus(corpora: str | None = None) -> Corpus:
    from paratheme.corpus import list_documents, load_document

    texts, html = [], []
    for source, doc_id in list_documents(corpora):
        blocks = [block.text for block in load_document(source, doc_id, corpora).blocks]
        texts += blocks
        if source in HTML_SOURCES:
            html += blocks
    return Corpus(corpus_spans(texts), chrome_index(html))


def files_under(paths) -> list[Path]:
    suffixes = {".tsv", ".txt", ".md", ".py", ".json", ".jsonl", ".html", ".yaml"}
    out = []
    for path in map(Path, paths):
        out += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in suffixes) if path.is_dir() else [path]
    return out


class Hit(NamedTuple):
    path: Path
    line: int
    rule: str  # "quote" or "chrome"
    text: str  # what the line shares with the corpora


def find_copies(paths, corpus: Corpus) -> list[Hit]:
    """Every line of the files under ``paths`` that quotes the corpora or copies a page's chrome
    (at most one hit per line and rule)."""
    hits = []
    for path in files_under(paths):
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            run = quoted(line, corpus.spans)
            if run:
                hits.append(Hit(path, number, "quote", run))
            copied = max(filter(None, (copied_chrome(piece, corpus.chrome) for piece in pieces(line))), key=len, default=None)
            if copied:
                hits.append(Hit(path, number, "chrome", copied))
    return hits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.overlap", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="files or folders to check")
    parser.add_argument("--corpora", default=None, help="corpora folder (default: ../shared/corpora)")
    args = parser.parse_args(argv)
    hits = find_copies(args.paths, load_corpus(args.corpora))
    for hit in hits:
        what = "characters shared with the corpora" if hit.rule == "quote" else "characters of a page's chrome (folded)"
        print(f"{hit.path}:{hit.line}: {len(hit.text)} {what}: {hit.text}")
    lines = {(hit.path, hit.line) for hit in hits}
    print(f"{len(lines)} line(s) repeat the corpora ({sum(h.rule == 'quote' for h in hits)} quote, "
          f"{sum(h.rule == 'chrome' for h in hits)} copied chrome)", file=sys.stderr)
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())
