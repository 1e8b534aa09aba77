"""The page viewer: a page's blocks in a browser, coloured by label, with the chrome folded.

Two ways to open it, both filled from one template (``static/viewer.html``, with ``viewer.css``
and ``viewer.js`` put inline, so the page makes no request but to its own server):

- ``paratheme serve`` answers ``GET /`` with ``server_page()``, which posts pages to ``/classify/page``.
- ``paratheme classify PAGE --html OUT`` writes ``page_view()``: the same page with the labels
  embedded, which opens from disk without a server. Several pages, or a folder, give a folder with
  one view per page and an ``index.html`` listing each page's article share and label counts.
"""

from __future__ import annotations

import html
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import quote

from .classifier import BlockPrediction, Classifier
from .labels import LABELS, label_set
from .pages import PageError, read_page

STATIC = Path(__file__).resolve().parent / "static"
PAGE_SUFFIXES = (".html", ".htm", ".shtml", ".xhtml", ".txt")
INDEX = "index.html"
STDIN = "-"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


class ViewerError(ValueError):
    """Arguments that cannot give a view: a folder as one page's output file, no page files found."""


@dataclass(frozen=True)
class PageSummary:
    """One page of a batch as the index lists it; ``view`` is None when the page could not be read."""

    source: str
    view: str | None
    error: str | None = None
    blocks: int = 0
    article_blocks: int = 0
    chars: int = 0
    article_chars: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, source: str, view: str, predictions: Sequence[BlockPrediction]) -> "PageSummary":
        article = [p for p in predictions if not p.boilerplate]
        return cls(source, view, blocks=len(predictions), article_blocks=len(article),
                   chars=sum(len(p.text) for p in predictions), article_chars=sum(len(p.text) for p in article),
                   counts=dict(Counter(p.label for p in predictions)))


def server_page() -> str:
    """The page ``paratheme serve`` answers on ``GET /``: paste or open a page, it asks ``/classify/page``."""
    return _viewer_html(None, "paratheme viewer")


def page_view(predictions: Sequence[BlockPrediction], source: str, index: str | None = None) -> str:
    """A standalone view of one page's labeled blocks; ``index`` links back to a batch's index."""
    page = {"source": source, "blocks": [p.to_dict(structure=True) for p in predictions], "index": index}
    return _viewer_html(page, f"{source} · paratheme")


def write_views(pages: Sequence[str], out: Path, load: Callable[[], Classifier], kind: str = "auto") -> list[PageSummary]:
    """Write page views. One page file (or ``-``, standard input) gives the standalone file ``out``;
    several, or a folder, give the folder ``out``: one view per page and ``index.html``.

    ``load`` gives the classifier; it is called once, after the first page is read, so that a bad
    page fails before the model loads. In a batch an unreadable page is listed in the index with
    its error; the others are still written.
    """
    if len(pages) == 1 and (pages[0] == STDIN or not Path(pages[0]).is_dir()):
        return [_write_one(pages[0], out, load, kind)]
    return _write_batch(pages, out, load, kind)


def index_html(summaries: Sequence[PageSummary], lead: str) -> str:
    """The batch index: a table of pages with their article share and label counts."""
    head = "".join(f'<th scope="col">{name}</th>' for name in ("page", "blocks", "article blocks", "characters",
                                                            "article characters"))
    head += "".join(f'<th scope="col"><span class="badge" data-label="{name}">{name}</span></th>' for name in LABELS)
    rows = "\n".join(_index_row(s) for s in summaries)
    read = [s for s in summaries if s.error is None]
    total = PageSummary("total", None, blocks=sum(s.blocks for s in read),
                        article_blocks=sum(s.article_blocks for s in read), chars=sum(s.chars for s in read),
                        article_chars=sum(s.article_chars for s in read),
                        counts=dict(sum((Counter(s.counts) for s in read), Counter())))
    return _fill(_asset("index.html"), title=html.escape(f"{len(summaries)} pages · paratheme"), style=_asset("viewer.css"),
                 lead=html.escape(lead), head=head, rows=rows,
                 total=_index_cells(f"{len(read)} pages read", total))


def _write_one(page: str, out: Path, load: Callable[[], Classifier], kind: str) -> PageSummary:
    if out.is_dir():
        raise ViewerError(f"{out} is a folder: one page's view is a file (several pages or a folder write a folder)")
    source = "standard input" if page == STDIN else Path(page).name
    blocks = read_page(_read(page), kind=kind)
    predictions = load().classify_blocks(blocks)
    _write(out, page_view(predictions, source))
    return PageSummary.of(source, out.name, predictions)


def _write_batch(pages: Sequence[str], out: Path, load: Callable[[], Classifier], kind: str) -> list[PageSummary]:
    if STDIN in pages:
        raise ViewerError("standard input (-) can only be viewed alone")
    if out.exists() and not out.is_dir():
        raise ViewerError(f"{out} is a file: several pages need a folder for their views")
    files = _page_files(pages, exclude=out)
    if not files:
        raise ViewerError(f"no page files ({' '.join(PAGE_SUFFIXES)}) in {' '.join(pages)}")
    from .batch import Page, label_pages

    classifier = load()
    summaries: list[PageSummary] = []
    taken: set[str] = set()
    labeled = label_pages(classifier, (Page(name, path=str(path), kind=kind) for path, name in files))
    for page in labeled:
        if page.error is not None:
            summaries.append(PageSummary(page.page, None, error=page.error))
            continue
        view = _view_name(page.page, taken)
        _write(out / view, page_view(page.blocks, page.page, index="../" * view.count("/") + INDEX))
        summaries.append(PageSummary.of(page.page, view, page.blocks))
    unread = sum(s.error is not None for s in summaries)
    lead = f"{len(summaries)} pages from {', '.join(pages)}" + (f"; {unread} could not be read." if unread else ".")
    _write(out / INDEX, index_html(summaries, lead))
    return summaries


def _page_files(pages: Sequence[str], exclude: Path) -> list[tuple[Path, str]]:
    """(path, name) of every page: files as given, folders searched for page files. A file's name
    is its path under the folder given (prefixed with that folder's name when several are given)."""
    skip = exclude.resolve()
    files = []
    for page in pages:
        path = Path(page)
        if not path.is_dir():
            files.append((path, path.name))
            continue
        prefix = path.resolve().name + "/" if len(pages) > 1 else ""
        for found in sorted(path.rglob("*")):
            # Views written into a folder inside the input are not pages to read again.
            if found.suffix.lower() in PAGE_SUFFIXES and found.is_file() and skip not in found.resolve().parents:
                files.append((found, prefix + found.relative_to(path).as_posix()))
    return files


def _view_name(name: str, taken: set[str]) -> str:
    """``name`` + ``.html`` (``a.html.html`` and ``a.txt.html`` do not collide), numbered when taken."""
    view, n = f"{name}.html", 1
    while view in taken or view == INDEX:
        n += 1
        view = f"{name}-{n}.html"
    taken.add(view)
    return view


def _index_row(summary: PageSummary) -> str:
    if summary.error is not None:
        return (f'<tr class="error"><td>{html.escape(summary.source)}</td>'
                f'<td class="error-text" colspan="{4 + len(LABELS)}">could not be read: {html.escape(summary.error)}</td></tr>')
    link = f'<a href="{html.escape(quote(summary.view))}">{html.escape(summary.source)}</a>'
    return f"<tr>{_index_cells(link, summary)}</tr>"


def _index_cells(first: str, summary: PageSummary) -> str:
    def share(part: int, whole: int) -> str:
        return f"{part:,} ({round(100 * part / whole) if whole else 0}%)"

    cells = [first, f"{summary.blocks:,}", share(summary.article_blocks, summary.blocks), f"{summary.chars:,}",
             share(summary.article_chars, summary.chars)]
    cells += [f"{summary.counts.get(name, 0):,}" for name in LABELS]
    return "".join(f"<td>{cell}</td>" for cell in cells)


def _read(page: str) -> bytes:
    if page == STDIN:
        return sys.stdin.buffer.read()
    path = Path(page)
    if not path.exists():
        raise PageError(f"page file {path} not found")
    if path.is_dir():
        raise PageError(f"{path} is a folder, not a page file")
    return path.read_bytes()



def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _viewer_html(page: dict | None, title: str) -> str:
    labels = [{"name": label.name, "zh": label.zh} for label in label_set()]
    return _fill(_asset("viewer.html"), title=html.escape(title), style=_asset("viewer.css"), script=_asset("viewer.js"),
                 labels=_script_json(labels), page=_script_json(page))


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _fill(template: str, **values: str) -> str:
    # One pass, so that text put in (a block that reads "{{page}}") is never filled in again.
    wanted = set(_PLACEHOLDER.findall(template))
    if wanted != set(values):
        raise ValueError(f"template placeholders {sorted(wanted)} but values for {sorted(values)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def _script_json(value) -> str:
    # Inside <script>, a block's "</script>" or "<!--" would end the element early: escape < > &.
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")

