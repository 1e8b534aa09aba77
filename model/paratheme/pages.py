"""Page reading: text or HTML bytes in, an ordered list of blocks out.

A block is one paragraph as a reader sees it: one non-empty line of a text page, or
the text of one block-level element of an HTML page. Page chrome is kept on purpose;
deciding what is boilerplate is the model's job.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass

from lxml import etree, html

MAX_PAGE_BYTES = 20 * 1024 * 1024

# Elements whose start or end ends the current block. <br> also ends one: many Chinese
# portals separate article paragraphs with <br> inside a single <div>.
BLOCK_TAGS = frozenset(
    """address article aside blockquote body br caption center dd details dialog div dl dt
    fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol option
    p pre section select summary table tbody td tfoot th thead title tr ul""".split()
)
DROPPED_TAGS = ("script", "style", "noscript", "template", "iframe", "svg", "object")

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body|meta|div|p)\b", re.I | re.S)
_SPACE = re.compile(r"\s+")


class PageError(ValueError):
    """A page that cannot be read; the message says why."""


@dataclass(frozen=True)
class Block:
    position: int
    text: str

    @property
    def hash(self) -> str:
        return text_hash(self.text)


def text_hash(text: str) -> str:
    """Short, stable fingerprint of a block's text, used to key labels without storing text."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def normalize(text: str) -> str:
    """Collapse runs of whitespace (including full-width and non-breaking spaces) to one space."""
    return _SPACE.sub(" ", text.replace("\u3000", " ").replace("\xa0", " ")).strip()


def read_page(page: bytes | str, kind: str = "auto", max_bytes: int = MAX_PAGE_BYTES) -> list[Block]:
    """Read a page into blocks in page order.

    Args:
        page: the page as bytes (encoding detected) or str.
        kind: ``"html"``, ``"text"`` or ``"auto"`` (HTML when it starts like an HTML document).
        max_bytes: larger pages are refused rather than read into memory whole.

    Returns:
        The page's non-empty blocks, positions numbered from 0.

    Raises:
        PageError: empty, too large, undecodable, or with no text at all.
    """
    raw = page.encode("utf-8") if isinstance(page, str) else page
    if len(raw) > max_bytes:
        raise PageError(f"page is {len(raw):,} bytes; the limit is {max_bytes:,}")
    if not raw.strip():
        raise PageError("page is empty")
    if kind == "auto":
        kind = "html" if looks_like_html(raw) else "text"
    if kind == "html":
        texts = _html_blocks(raw)
    elif kind == "text":
        texts = text_lines(decode(raw))
    else:
        raise ValueError(f"kind must be 'auto', 'html' or 'text', not {kind!r}")
    if not texts:
        raise PageError("page has no text")
    return [Block(i, t) for i, t in enumerate(texts)]


def looks_like_html(raw: bytes) -> bool:
    head = raw[:4096].lstrip(codecs.BOM_UTF8)
    return bool(_HTML_START.match(head))


def decode(raw: bytes, declared: str | None = None) -> str:
    """Decode page bytes: BOM first, then a declared charset, then utf-8, then gb18030."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if raw.startswith(bom):
            return raw[len(bom):].decode(encoding, errors="replace")
    candidates = [_charset_alias(declared)] if declared else []
    candidates += ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            return raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    raise PageError("page is neither utf-8 nor gb18030 and declares no usable charset")


def text_lines(text: str) -> list[str]:
    """One block per non-empty line."""
    return [line for line in (normalize(raw) for raw in text.splitlines()) if line]


def _charset_alias(name: str) -> str:
    # gb2312 and gbk pages routinely contain characters only gb18030 has.
    name = name.lower()
    return "gb18030" if name in ("gb2312", "gbk", "x-gbk", "gb_2312-80") else name


def _html_blocks(raw: bytes) -> list[str]:
    meta = _META_CHARSET.search(raw[:8192])
    text = decode(raw, meta.group(1).decode("ascii") if meta else None)
    try:
        root = html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise PageError(f"HTML could not be parsed: {exc}") from exc
    etree.strip_elements(root, *DROPPED_TAGS, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    blocks: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        joined = normalize("".join(pending))
        if joined:
            blocks.append(joined)
        pending.clear()

    def walk(element) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        is_block = tag.lower() in BLOCK_TAGS
        if tag.lower() == "head":
            # Of the head, only <title> is visible text (the browser tab).
            for title in element.iter("title"):
                pending.append(title.text_content())
                flush()
            return
        if is_block:
            flush()
        if element.text:
            pending.append(element.text)
        for child in element:
            walk(child)
            if child.tail:
                pending.append(child.tail)
        if is_block:
            flush()

    walk(root)
    flush()
    return blocks
