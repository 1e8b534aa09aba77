"""Page reading: text or HTML bytes in, an ordered list of blocks out.

A block is one paragraph as a reader sees it: one non-empty line of a text page, or
the text of one block-level element of an HTML page. Page chrome is kept on purpose;
deciding what is boilerplate is the model's job.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections import Counter
from dataclasses import asdict, dataclass, field

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


# Class and id words are cut to these (lower case, letters only): the words that say what a
# part of the page is for (``article``, ``nav``, ``footer``, ``share``) are short.
_ATTR_WORD = re.compile(r"[a-z]{2,20}")
_LIST_TAGS = frozenset(("ul", "ol", "li", "dl", "dd", "dt", "menu", "select", "option"))
_HEADING_TAGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
_TABLE_TAGS = frozenset(("table", "tr", "td", "th", "tbody", "thead", "tfoot"))
_CAPTION_TAGS = frozenset(("figure", "figcaption", "caption"))
_FORM_TAGS = frozenset(("form", "fieldset", "input", "button", "textarea", "label"))
_PATH_DEPTH = 6  # ancestors kept in a block's tag path


@dataclass(frozen=True)
class Structure:
    """Where a block of an HTML page sits, as plain facts (no model in here).

    ``tag`` is the innermost block-level element holding the text; ``path`` the last few tags
    down to it; ``attrs`` the class and id words of its ancestors (outermost first, one
    ancestor per ``/``-separated part, ancestors without any left out). ``link_chars`` counts the
    block's characters inside links. ``same_path`` and ``same_path_chars`` count the blocks of
    the page (this one included) with the same ``path``, and their characters: lists of
    headlines repeat one path many times. ``offset`` is the number of block characters before
    this one on the page.
    """

    tag: str
    path: str
    attrs: str
    depth: int
    link_chars: int
    in_list: bool
    in_heading: bool
    in_table: bool
    in_caption: bool
    in_form: bool
    in_head: bool
    same_path: int
    same_path_chars: int
    offset: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Block:
    position: int
    text: str
    # Only HTML pages have one; the label files and hashes depend on the text alone.
    structure: Structure | None = field(default=None, compare=False, repr=False)

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
        blocks = _html_blocks(raw)
    elif kind == "text":
        blocks = [Block(i, t) for i, t in enumerate(text_lines(decode(raw)))]
    else:
        raise ValueError(f"kind must be 'auto', 'html' or 'text', not {kind!r}")
    if not blocks:
        raise PageError("page has no text")
    return blocks


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


def _html_blocks(raw: bytes) -> list[Block]:
    meta = _META_CHARSET.search(raw[:8192])
    text = decode(raw, meta.group(1).decode("ascii") if meta else None)
    try:
        root = html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise PageError(f"HTML could not be parsed: {exc}") from exc
    etree.strip_elements(root, *DROPPED_TAGS, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    found: list[tuple[str, dict]] = []
    pending: list[str] = []
    link_chars = 0
    open_tags: list[str] = []  # the elements the walk is inside, outermost first
    open_attrs: list[str] = []
    links_open = 0

    def add(text: str) -> None:
        nonlocal link_chars
        pending.append(text)
        if links_open:
            link_chars += len(normalize(text))

    def flush(head: bool = False) -> None:
        nonlocal link_chars
        joined = normalize("".join(pending))
        if joined:
            found.append((joined, _facts(open_tags, open_attrs, min(link_chars, len(joined)), head)))
        pending.clear()
        link_chars = 0

    def walk(element) -> None:
        nonlocal links_open
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        is_block = tag in BLOCK_TAGS
        if tag == "head":
            # Of the head, only <title> is visible text (the browser tab).
            for title in element.iter("title"):
                pending.append(title.text_content())
                open_tags.append("title")
                flush(head=True)
                open_tags.pop()
            return
        if is_block:
            flush()
        open_tags.append(tag)
        open_attrs.append(" ".join(_ATTR_WORD.findall(f"{element.get('class', '')} {element.get('id', '')}".lower())))
        links_open += tag == "a"
        if element.text:
            add(element.text)
        for child in element:
            walk(child)
            if child.tail:
                add(child.tail)
        if is_block:
            flush()
        links_open -= tag == "a"
        open_tags.pop()
        open_attrs.pop()

    walk(root)
    flush()
    return _with_page_counts(found)


def _facts(open_tags: list[str], open_attrs: list[str], link_chars: int, head: bool) -> dict:
    block_tags = [t for t in open_tags if t in BLOCK_TAGS] or open_tags[-1:] or ["html"]
    inside = set(open_tags)
    return {
        "tag": block_tags[-1], "path": "/".join(block_tags[-_PATH_DEPTH:]),
        "attrs": "/".join(a for a in open_attrs if a), "depth": len(open_tags), "link_chars": link_chars,
        "in_list": bool(inside & _LIST_TAGS), "in_heading": bool(inside & _HEADING_TAGS),
        "in_table": bool(inside & _TABLE_TAGS), "in_caption": bool(inside & _CAPTION_TAGS),
        "in_form": bool(inside & _FORM_TAGS), "in_head": head,
    }


def _with_page_counts(found: list[tuple[str, dict]]) -> list[Block]:
    paths = Counter(facts["path"] for _, facts in found)
    path_chars: Counter = Counter()
    for text, facts in found:
        path_chars[facts["path"]] += len(text)
    blocks, offset = [], 0
    for position, (text, facts) in enumerate(found):
        structure = Structure(**facts, same_path=paths[facts["path"]], same_path_chars=path_chars[facts["path"]],
                              offset=offset)
        blocks.append(Block(position, text, structure))
        offset += len(text)
    return blocks
