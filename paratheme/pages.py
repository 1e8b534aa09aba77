"""Page reading: text or HTML bytes in, an ordered list of blocks out.

A block is one paragraph as a reader sees it: one non-empty line of a text page, or
the text of one block-level element of an HTML page. Page chrome is kept on purpose;
deciding what is boilerplate is the model's job.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
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
# A page whose first tag (after comments, an XML declaration and a doctype) is one of these is
# HTML: a whole document, or a fragment such as "<h1>…" or "<table>…".
HTML_START_TAGS = BLOCK_TAGS | frozenset(DROPPED_TAGS) | frozenset(
    """html head meta link base style a abbr b em font i img input label small span strong sub sup u""".split())

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_FIRST_TAG = re.compile(r"<(!doctype\s+html|[a-z][a-z0-9]*)(?=[\s/>])", re.I)
_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*>")
# An internal subset ("<!DOCTYPE html [ … ]>"): the HTML parser would end the doctype at its
# first ">" and read the rest as text.
_DOCTYPE_SUBSET = re.compile(r"<!doctype[^>\[]*\[[^\]]*\]\s*>", re.I)
_SPACE = re.compile(r"\s+")
_PYTHON_ONLY_CODECS = frozenset({"undefined", "unicode-escape", "raw-unicode-escape", "punycode", "idna", "utf-7"})
# libxml2 stops reading at this depth even with huge_tree (256 without it).
MAX_DEPTH = 2048

logger = logging.getLogger(__name__)


class PageError(ValueError):
    """A page (or a text) that cannot be read; the message says why."""


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
        page: the page as bytes (encoding detected) or str (already decoded: its ``<meta charset>``
            is ignored).
        kind: ``"html"``, ``"text"`` or ``"auto"`` (HTML when it starts with an HTML tag).
        max_bytes: larger pages (in UTF-8, for a str) are refused rather than read into memory whole.

    Returns:
        The page's non-empty blocks, positions numbered from 0.

    Raises:
        PageError: empty, too large, undecodable, not valid Unicode, nested too deep for the
            HTML parser, or with no text at all.
    """
    if kind not in ("auto", "html", "text"):
        raise ValueError(f"kind must be 'auto', 'html' or 'text', not {kind!r}")
    size = len(check_text(page).encode("utf-8")) if isinstance(page, str) else len(page)
    if size > max_bytes:
        raise PageError(f"page is {size:,} bytes; the limit is {max_bytes:,}")
    if not page.strip():
        raise PageError("page is empty")
    if kind == "auto":
        kind = "html" if looks_like_html(page) else "text"
    if kind == "html":
        blocks = _html_blocks(page)
    else:
        blocks = [Block(i, t) for i, t in enumerate(text_lines(page if isinstance(page, str) else decode(page)))]
    if not blocks:
        raise PageError("page has no text")
    return blocks


def check_text(text: str, name: str = "page") -> str:
    """``text`` itself if it is valid Unicode; a lone surrogate (``"\\ud800"`` from JSON, say)
    raises PageError, as no tokenizer or encoder can take it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PageError(f"{name} holds a lone surrogate (U+{ord(text[exc.start]):04X}) at character {exc.start:,}: "
                        "not valid Unicode text") from None
    return text


def looks_like_html(page: bytes | str) -> bool:
    """Whether the page's first tag, after comments, an XML declaration and a doctype, is an HTML one."""
    # latin-1 keeps every byte at its place, and the markup sought is ASCII.
    head = page[:4096] if isinstance(page, str) else page[:4096].decode("latin-1")
    head = head.lstrip("\ufeff\xef\xbb\xbf")
    # A plain loop rather than one regex: "(<!--.*?-->\s*)*" backtracks exponentially on "<!---->" * 30.
    at = 0
    while True:
        while at < len(head) and head[at].isspace():
            at += 1
        for opening, closing in (("<!--", "-->"), ("<?", ">")):
            if head.startswith(opening, at):
                end = head.find(closing, at + len(opening))
                if end < 0:
                    return False
                at = end + len(closing)
                break
        else:
            tag = _FIRST_TAG.match(head, at)
            if not tag:
                return False
            name = tag.group(1).lower()
            if name.startswith("!doctype"):
                return True
            return name in HTML_START_TAGS


def decode(raw: bytes, declared: str | None = None) -> str:
    """Decode page bytes: BOM first, then a declared charset if the bytes decode under it, then
    utf-8, then gb18030. A declared charset that is unknown, not ASCII-compatible or contradicted
    by the bytes is passed over with a warning."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if raw.startswith(bom):
            return raw[len(bom):].decode(encoding, errors="replace")
    encoding = _usable_charset(declared) if declared else None
    if encoding:
        try:
            text = raw.decode(encoding)
        except UnicodeError:
            logger.warning("page declares charset %s but its bytes do not decode as %s; reading it as utf-8 or gb18030",
                           declared, encoding)
        else:
            # UTF-8 text with Chinese in it often decodes as gb18030 too, as mojibake; GBK text is
            # almost never valid UTF-8 by chance. So valid multibyte UTF-8 wins over the declaration.
            if encoding == "utf-8" or raw.isascii() or not _is_utf8(raw):
                return text
            logger.warning("page declares charset %s but its bytes are utf-8; reading it as utf-8", declared)
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeError:
            continue
    raise PageError("page is neither utf-8 nor gb18030 and declares no usable charset")


def text_lines(text: str) -> list[str]:
    """One block per non-empty line."""
    return [line for line in (normalize(raw) for raw in text.splitlines()) if line]


def _charset_alias(name: str) -> str:
    # gb2312 and gbk pages routinely contain characters only gb18030 has.
    name = name.lower()
    return "gb18030" if name in ("gb2312", "gbk", "x-gbk", "gb_2312-80") else name


def _usable_charset(declared: str) -> str | None:
    """The Python codec for a declared charset, or None (with a warning) if there is none that fits.
    A charset declared in ASCII markup must read ASCII as ASCII (so not utf-16), and be a web
    charset rather than one of Python's own codecs ("undefined", "unicode_escape", ...)."""
    try:
        encoding = codecs.lookup(_charset_alias(declared)).name
        usable = encoding not in _PYTHON_ONLY_CODECS and b"<meta charset>".decode(encoding) == "<meta charset>"
    except (LookupError, UnicodeError):
        usable = False
    if usable:
        return encoding
    logger.warning("page declares an unknown or unusable charset %r; ignoring it", declared)
    return None


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _parse_html(text: str):
    # A str with an encoding declaration is refused by lxml; the text is decoded already.
    text = _DOCTYPE_SUBSET.sub("<!DOCTYPE html>", _XML_DECLARATION.sub("", text, count=1), count=1)
    # huge_tree reads elements nested up to MAX_DEPTH deep (256 without it). The HTML parser never
    # expands entities that a page defines, and the doctype's internal subset is dropped above.
    parser = html.HTMLParser(huge_tree=True)
    try:
        root = html.document_fromstring(text, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise PageError(f"HTML could not be parsed: {exc}") from exc
    if any(error.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT for error in parser.error_log):
        raise PageError(f"HTML nests elements more than {MAX_DEPTH:,} deep; the parser cannot read past that depth")
    return root


def _html_blocks(page: bytes | str) -> list[Block]:
    if isinstance(page, str):
        text = page
    else:
        meta = _META_CHARSET.search(page[:8192])
        text = decode(page, meta.group(1).decode("ascii") if meta else None)
    root = _parse_html(text)
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

    # A walk by events rather than recursion: pages nest up to MAX_DEPTH deep.
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, element in walker:
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if event == "start":
            if tag == "head":
                # Of the head, only <title> is visible text (the browser tab).
                for title in element.iter("title"):
                    pending.append(title.text_content())
                    open_tags.append("title")
                    flush(head=True)
                    open_tags.pop()
                walker.skip_subtree()
                continue
            if tag in BLOCK_TAGS:
                flush()
            open_tags.append(tag)
            open_attrs.append(" ".join(_ATTR_WORD.findall(f"{element.get('class', '')} {element.get('id', '')}".lower())))
            links_open += tag == "a"
            if element.text:
                add(element.text)
        else:
            if tag != "head":
                if tag in BLOCK_TAGS:
                    flush()
                links_open -= tag == "a"
                open_tags.pop()
                open_attrs.pop()
            if element.tail and element is not root:
                add(element.tail)
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
