"""The shared corpora as documents of blocks, read the same way everywhere.

Sources and their document ids:
  seed        ``taiyuan-163``            the seed page, one block per non-empty line
  news        file stem (``163-1``)      whole portal pages, read with ``read_page``
  news2       ``<set>-<file stem>``      the 150 pages of ``news-pages-html-v2`` (``cwced-05e98007``,
                                         ``gerapy-detail-36kr_com_3261053335240450``, ``cx163-1``);
                                         cwced's file stems are cut to their first 8 characters
  provincial  province (``beijing``)     2026 provincial reports, one block per non-empty line
  national    ``report-1954`` or         national reports (traditional characters), one block
              ``resolution-<hash>``      per paragraph (paragraphs are split by blank lines)

The corpora are never copied into the project; callers pass their location, whose default
is ``../shared/corpora`` beside the repository (or ``$PARATHEME_CORPORA``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .pages import Block, normalize, read_page, text_lines

SOURCES = ("seed", "news", "news2", "provincial", "national")
DEFAULT_CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"


def corpora_root(path: str | os.PathLike | None = None) -> Path:
    root = Path(path or os.environ.get("PARATHEME_CORPORA") or DEFAULT_CORPORA)
    if not root.is_dir():
        raise FileNotFoundError(f"corpora folder {root} not found; pass its path or set PARATHEME_CORPORA")
    return root


@dataclass(frozen=True)
class Document:
    source: str
    doc_id: str
    blocks: tuple[Block, ...]


def list_documents(root: str | os.PathLike | None = None) -> list[tuple[str, str]]:
    """All (source, doc_id) pairs, in a stable order."""
    return [(source, doc_id) for source in SOURCES for doc_id in _sources(str(corpora_root(root)))[source]]


def html_file(source: str, doc_id: str, root: str | os.PathLike | None = None) -> Path | None:
    """The saved HTML file of a news page (sources ``news`` and ``news2``); None for other sources."""
    base = corpora_root(root)
    if source == "news":
        return base / "news-pages-html" / f"{doc_id}.html"
    if source == "news2":
        return _news2_files(str(base)).get(doc_id)
    return None


@lru_cache(maxsize=4)
def _news2_files(root: str) -> dict[str, Path]:
    return {_news2_id(p): p for p in sorted((Path(root) / "news-pages-html-v2").glob("*/*.html"))}


def load_document(source: str, doc_id: str, root: str | os.PathLike | None = None) -> Document:
    docs = _sources(str(corpora_root(root)))
    if source not in docs:
        raise KeyError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    if doc_id not in docs[source]:
        raise KeyError(f"no document {doc_id!r} in source {source!r}")
    return Document(source, doc_id, tuple(docs[source][doc_id]()))


@lru_cache(maxsize=4)
def _sources(root: str) -> dict[str, dict[str, callable]]:
    """Per source, doc_id -> a function that reads the document's blocks (read lazily)."""
    base = Path(root)
    seed = base / "seed" / "taiyuan-163.txt"
    news = sorted((base / "news-pages-html").glob("*.html"))
    provincial = sorted((base / "gov-reports-provincial-2026").glob("*.csv"))
    return {
        "seed": {"taiyuan-163": lambda: read_page(seed.read_bytes(), kind="text")},
        "news": {p.stem: (lambda p=p: read_page(p.read_bytes(), kind="html")) for p in news},
        "news2": {doc_id: (lambda p=p: read_page(p.read_bytes(), kind="html")) for doc_id, p in _news2_files(root).items()},
        "provincial": {p.stem: (lambda p=p: _provincial_blocks(p)) for p in provincial},
        "national": {doc_id: (lambda text=text: _paragraph_blocks(text)) for doc_id, text in _national_reports(base)},
    }


def _news2_id(path: Path) -> str:
    collection = path.parent.name
    stem = path.stem[:8] if collection == "cwced" else path.stem
    return f"{collection.replace('-', '')}-{stem}"


def _provincial_blocks(path: Path) -> list[Block]:
    csv.field_size_limit(1 << 30)
    with open(path, encoding="utf-8-sig", newline="") as f:
        (row,) = list(csv.DictReader(f))
    return [Block(i, t) for i, t in enumerate(text_lines(row["full_text"]))]


def _national_reports(base: Path) -> list[tuple[str, str]]:
    path = base / "gov-reports-national" / "reports-1954-2023.jsonl"
    if not path.exists():
        return []
    reports = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row.get("year") or "政府工作报告（摘要）" in row["title"] or row["title"].endswith("政府工作报告"):
                doc_id = f"report-{row['year'] or row['title'][:4]}"
            else:
                doc_id = "resolution-" + hashlib.sha1(row["title"].encode()).hexdigest()[:6]
            reports.append((doc_id, row["content"]))
    return reports


def _paragraph_blocks(text: str) -> list[Block]:
    # Lines inside a paragraph were broken where the source had links: join them back.
    paragraphs = (normalize("".join(part.splitlines())) for part in text.replace("\r\n", "\n").split("\n\n"))
    return [Block(i, p) for i, p in enumerate(p for p in paragraphs if p)]
