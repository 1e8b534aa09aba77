"""Batch labeling: many pages in, labeled blocks out, one way for every path.

``label_pages`` is the one batch API. ``paratheme classify DIR --jsonl``, ``paratheme label``
(both engines) and ``paratheme predict`` all label pages through ``label_page``, which uses only
the classifier's public page methods (``read_page`` + ``Classifier.classify_blocks``), so a page
gets the same labels whichever path runs it, and whatever the classifier's page stage becomes.

A page that cannot be read becomes a ``LabeledPage`` with an ``error``: never an exception that
stops the run, never a page that silently disappears.

Output rows (one per block; one per unreadable page):
``{"page", "position", "text", "label", "score", "scores": {label: p, ...}, "error"}``;
an error row has ``error`` set and every other field but ``page`` null.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from .classifier import BlockPrediction, Classifier
from .jsonl import RowError, read_rows
from .pages import Block, PageError, read_page

SCORE_DIGITS = 6
ROW_FIELDS = ("page", "position", "text", "label", "score", "scores", "error")
JSONL_SUFFIXES = (".jsonl",)
FORMATS = ("parquet", "jsonl")


class BatchError(ValueError):
    """A batch run that cannot start (a source or an output that is not usable); one line."""


@dataclass(frozen=True)
class Page:
    """One page to label: its id and its content, or the path to read it from.

    ``kind`` is passed to ``read_page`` (``auto``, ``html`` or ``text``). ``error`` marks a page
    known to be unusable before reading (a malformed JSONL row); it becomes an error row.
    """

    id: str
    content: bytes | str | None = None
    path: str | None = None
    kind: str = "auto"
    error: str | None = None


@dataclass(frozen=True)
class LabeledPage:
    page: str
    blocks: list[BlockPrediction] = field(default_factory=list)
    error: str | None = None

    def rows(self) -> list[dict]:
        if self.error is not None:
            return [error_row(self.page, self.error)]
        return [{"page": self.page, "position": b.position, "text": b.text, "label": b.label,
                 "score": round(b.score, SCORE_DIGITS),
                 "scores": {k: round(v, SCORE_DIGITS) for k, v in b.scores.items()}, "error": None}
                for b in self.blocks]


def error_row(page: str | None, error: str) -> dict:
    return {"page": page, "position": None, "text": None, "label": None, "score": None, "scores": None, "error": error}


# --- labeling -----------------------------------------------------------------------------------

def as_page(item: Page | tuple | str | os.PathLike) -> Page:
    """A ``Page`` from a ``Page``, an ``(id, bytes | str)`` pair, or a path (its id is the path)."""
    if isinstance(item, Page):
        return item
    if isinstance(item, tuple):
        page_id, content = item
        return Page(str(page_id), content=content)
    return Page(str(item), path=str(item))


def label_page(classifier: Classifier, page: Page) -> LabeledPage:
    """Read one page and label its blocks; a page that cannot be read comes back with ``error``."""
    if page.error is not None:
        return LabeledPage(page.id, error=page.error)
    try:
        content = page.content if page.content is not None else Path(page.path).read_bytes()
        blocks = read_page(content, kind=page.kind)
    except (PageError, OSError, UnicodeError) as exc:  # UnicodeError: a str holding a lone surrogate
        return LabeledPage(page.id, error=one_line(exc))
    if not blocks:
        return LabeledPage(page.id, error="page has no blocks")
    return LabeledPage(page.id, classifier.classify_blocks(blocks))


def label_pages(classifier: Classifier, pages: Iterable[Page | tuple | str | os.PathLike]) -> Iterator[LabeledPage]:
    """The batch API: label each page in turn, yielding one ``LabeledPage`` per page in input order.

    Args:
        classifier: a loaded ``Classifier``.
        pages: ``Page`` objects, ``(id, bytes | str)`` pairs, or paths.

    Example:
        >>> for labeled in label_pages(clf, [("a", "第一段\\n第二段"), "page.html"]):
        ...     print(labeled.page, labeled.error or [b.label for b in labeled.blocks])
    """
    for item in pages:
        yield label_page(classifier, as_page(item))


def one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror  # the path is the page id already
    return " ".join(str(exc).split()) or type(exc).__name__


# --- sources ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """Where pages come from: files under ``root`` (ids are paths relative to it), or one JSONL file."""

    root: Path
    files: tuple[Path, ...] = ()
    jsonl: Path | None = None

    def page_id(self, path: str | Path) -> str:
        return Path(os.path.relpath(path, self.root)).as_posix()

    def excluding(self, folder: Path) -> "Source":
        """The same source without the files under ``folder`` (an output folder inside the pages)."""
        folder = folder.resolve()
        return Source(self.root, tuple(p for p in self.files if not p.resolve().is_relative_to(folder)), self.jsonl)

    def __len__(self) -> int:
        return len(self.files) if self.jsonl is None else count_lines(self.jsonl)


def open_source(spec: str | Path) -> Source:
    """A folder (every file under it, hidden ones skipped), a glob, a JSONL file of rows
    ``{"id", "html" | "text"}``, or one page file."""
    path = Path(spec)
    if path.is_file():
        if path.suffix.lower() in JSONL_SUFFIXES:
            return Source(root=path.parent, jsonl=path)
        return Source(root=path.parent, files=(path,))
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path))]
        return Source(root=path, files=tuple(sorted(files)))
    if glob.has_magic(str(spec)):
        files = [Path(p) for p in glob.glob(str(spec), recursive=True) if Path(p).is_file()]
        if not files:
            raise BatchError(f"no files match {spec}")
        return Source(root=_glob_root(str(spec)), files=tuple(sorted(files)))
    raise BatchError(f"{spec} not found (give a folder, a glob or a .jsonl file)")


def iter_pages(source: Source, skip: set[str] | frozenset[str] = frozenset()) -> Iterator[Page]:
    """The source's pages in order, leaving out the ids in ``skip`` (pages already labeled)."""
    if source.jsonl is None:
        for path in source.files:
            page_id = source.page_id(path)
            if page_id not in skip:
                yield Page(page_id, path=str(path))
        return
    for page in _jsonl_pages(source.jsonl):
        if page.id not in skip:
            yield page


def _jsonl_pages(path: Path) -> Iterator[Page]:
    # Line by line, not jsonl.read_rows: here a bad line is one error row, not the end of the run.
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                row = json.loads(raw.rstrip(b"\r\n").decode("utf-8"))
            except UnicodeDecodeError:
                yield Page(where, error="line is not UTF-8 text")
                continue
            except json.JSONDecodeError as exc:
                yield Page(where, error=f"not valid JSON ({exc.msg})")
                continue
            yield page_from_row(row, where) if isinstance(row, dict) else Page(where, error="each row must be a JSON object")


def page_from_row(row: dict, where: str | None = None) -> Page:
    """A page from a JSONL row ``{"id", "html" | "text"}``: ``html`` is read as HTML, ``text`` as
    one paragraph per line. Ids are strings or integers (written as strings); a row without a
    usable id is known by ``where`` (``file:line``)."""
    page_id = row.get("id")
    if isinstance(page_id, bool) or not isinstance(page_id, (str, int)):
        return Page(where, error='each row needs an "id" that is a string or an integer')
    page_id = str(page_id)
    given = [key for key in ("html", "text") if row.get(key) is not None]
    if len(given) != 1 or not isinstance(row[given[0]], str):
        return Page(page_id, error='each row needs one string field, "html" or "text"')
    return Page(page_id, content=row[given[0]], kind="html" if given[0] == "html" else "text")


def count_lines(path: Path) -> int:
    # Bytes, not text: counting must not fail on an encoding error that reading reports better.
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _glob_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    fixed = [p for p in parts[:next(i for i, p in enumerate(parts) if glob.has_magic(p))]]
    return Path(*fixed) if fixed else Path(".")


# --- outputs ------------------------------------------------------------------------------------

def arrow_schema(labels: Sequence[str]):
    import pyarrow as pa

    return pa.schema([("page", pa.string()), ("position", pa.int64()), ("text", pa.string()),
                      ("label", pa.string()), ("score", pa.float64()),
                      ("scores", pa.struct([(name, pa.float64()) for name in labels])), ("error", pa.string())])


def rows_table(rows: list[dict], labels: Sequence[str]):
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=arrow_schema(labels))


def jsonl_lines(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise BatchError("Parquet output needs pyarrow. To fix: pip install -e '.[ray]' (or use --format jsonl)") from exc


class PartsFolder:
    """An output folder of part files (Parquet or JSONL), each written whole under a temporary
    name and then renamed, so that a stopped run leaves only complete parts and a page is never
    split between two parts. Re-running into the folder skips the pages its parts hold."""

    def __init__(self, folder: Path, fmt: str, labels: Sequence[str], pages_per_part: int = 1000):
        if fmt not in FORMATS:
            raise BatchError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        if fmt == "parquet":
            require_pyarrow()
        if folder.exists() and not folder.is_dir():
            raise BatchError(f"output {folder} exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.fmt, self.labels, self.pages_per_part = folder, fmt, tuple(labels), pages_per_part
        self.run = uuid.uuid4().hex[:8]
        self.parts = 0
        self.pending: list[dict] = []
        self.pending_pages = 0

    def add(self, labeled: LabeledPage) -> None:
        self.pending.extend(labeled.rows())
        self.pending_pages += 1
        if self.pending_pages >= self.pages_per_part:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        final = self.folder / f"part-{self.run}-{self.parts:05d}.{self.fmt}"
        partial = final.with_name(final.name + ".partial")
        try:
            if self.fmt == "parquet":
                import pyarrow.parquet as pq

                pq.write_table(rows_table(self.pending, self.labels), partial)
            else:
                partial.write_text(jsonl_lines(self.pending), encoding="utf-8")
            partial.replace(final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        self.parts += 1
        self.pending, self.pending_pages = [], 0

    def close(self) -> None:
        self.flush()


class JsonlFile:
    """One JSONL file, written under ``NAME.partial`` and renamed when the run ends; a run that
    fails or is stopped leaves nothing behind. No resume: that is what an output folder is for."""

    def __init__(self, path: Path):
        if path.is_dir():
            raise BatchError(f"output {path} is a folder; give a file name")
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.file = open(self.partial, "w", encoding="utf-8")

    def add(self, labeled: LabeledPage) -> None:
        self.file.write(jsonl_lines(labeled.rows()))

    def close(self) -> None:
        self.file.close()
        self.partial.replace(self.path)

    def discard(self) -> None:
        self.file.close()
        self.partial.unlink(missing_ok=True)


def done_pages(folder: Path) -> set[str]:
    """Ids of the pages the output folder already holds (error rows included: a page that failed
    fails again; delete its part to retry it). Leftovers of a stopped run are cleared first:
    ``.partial`` files are removed, and a part that cannot be read (a write that was killed) is
    renamed ``*.incomplete`` with a warning, so that its pages are labeled again."""
    done: set[str] = set()
    if not folder.is_dir():
        return done
    for partial in folder.glob("*.partial"):
        partial.unlink()
    for part in sorted(folder.iterdir()):
        if part.name.startswith((".", "_")) or not part.is_file():
            continue
        try:
            if part.suffix == ".parquet":
                import pyarrow.parquet as pq

                done.update(pq.read_table(part, columns=["page"]).column("page").to_pylist())
            elif part.suffix in (".jsonl", ".json"):
                with open(part, encoding="utf-8") as f:
                    done.update(json.loads(line)["page"] for line in f if line.strip())
        except Exception as exc:  # noqa: BLE001 - any unreadable part is handled the same way
            part.rename(part.with_name(part.name + ".incomplete"))
            print(f"paratheme: warning: {part.name} could not be read ({one_line(exc)}); "
                  f"renamed to {part.name}.incomplete and its pages will be labeled again", file=sys.stderr)
    done.discard(None)
    return done


# --- running a whole source ---------------------------------------------------------------------

@dataclass
class Summary:
    pages: int = 0
    blocks: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    skipped: int = 0  # already in the output

    def count(self, labeled: LabeledPage) -> None:
        self.pages += 1
        self.blocks += len(labeled.blocks)
        if labeled.error is not None:
            self.errors.append((labeled.page, labeled.error))


def label_local(classifier: Classifier, pages: Iterable[Page], output, total: int | None = None,
                progress: bool = True, on_error: Callable[[str, str], None] | None = None) -> Summary:
    """Label pages in this process into ``output`` (``PartsFolder`` or ``JsonlFile``), with a tqdm bar."""
    from tqdm import tqdm

    summary = Summary()
    with tqdm(total=total, unit="page", file=sys.stderr, disable=not progress) as bar:
        for labeled in label_pages(classifier, pages):
            output.add(labeled)
            summary.count(labeled)
            if labeled.error is not None and on_error:
                on_error(labeled.page, labeled.error)
            bar.update(1)
    return summary


# --- rows of predict ----------------------------------------------------------------------------

def label_rows(classifier: Classifier, rows: Sequence[dict]) -> np.ndarray:
    """Probabilities ``(len(rows), len(classifier.labels))`` for rows ``{"text", ["doc_id", "position"]}``.

    Rows with a ``doc_id`` and an integer ``position`` are the blocks of a page: each page is
    labeled with ``classify_blocks``, exactly as ``label_pages`` labels it. Other rows are single
    paragraphs (``predict_proba``)."""
    probs = np.zeros((len(rows), len(classifier.labels)), dtype=np.float64)
    pages: dict = {}
    loose: list[int] = []
    for i, row in enumerate(rows):
        if row.get("doc_id") is not None and _is_int(row.get("position")):
            pages.setdefault(row["doc_id"], []).append(i)
        else:
            loose.append(i)
    if loose:
        probs[loose] = classifier.predict_proba([rows[i]["text"] for i in loose])
    for indices in pages.values():
        indices.sort(key=lambda i: rows[i]["position"])
        blocks = [Block(rows[i]["position"], rows[i]["text"]) for i in indices]
        for i, prediction in zip(indices, classifier.classify_blocks(blocks)):
            probs[i] = [prediction.scores[name] for name in classifier.labels]
    return probs


def row_problem(row: dict) -> str | None:
    """Why a predict row cannot be labeled, or None."""
    if "id" not in row or not isinstance(row.get("text"), str):
        return 'each row needs "id" and a string "text"'
    try:
        json.dumps(row["id"], allow_nan=False)
    except ValueError:
        return f"id {row['id']!r} holds NaN or Infinity, which JSON does not allow: ids must be strings or finite numbers"
    if not row["text"].strip():
        return "text is empty"
    for key in ("id", "text", "doc_id"):
        if isinstance(row.get(key), str) and not _encodable(row[key]):
            return f"{key} holds a lone surrogate (such as \\ud800), which is not valid Unicode text"
    doc_id = row.get("doc_id")
    if doc_id is not None and (isinstance(doc_id, bool) or not isinstance(doc_id, (str, int))):
        return f"doc_id must be a string or an integer, not {type(doc_id).__name__}"
    position = row.get("position")
    if position is not None and not _is_int(position):
        return f"position must be an integer, not {type(position).__name__}"
    return None


def row_chunks(path: Path, size: int) -> Iterator[list[dict]]:
    """Valid predict rows in chunks of about ``size``; a chunk never ends inside a run of rows
    of one page, so a page is labeled whole. Raises ``BatchError`` (``file:line: why``)."""
    chunk: list[dict] = []
    try:
        for number, row in read_rows(path):
            problem = row_problem(row)
            if problem:
                raise BatchError(f"{path}:{number}: {problem}")
            if len(chunk) >= size and (row.get("doc_id") is None or row.get("doc_id") != chunk[-1].get("doc_id")):
                yield chunk
                chunk = []
            chunk.append(row)
    except RowError as exc:
        raise BatchError(str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise BatchError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from exc
    if chunk:
        yield chunk


def predict_file(classifier: Classifier, source: Path, output: Path, chunk_rows: int = 2048,
                 progress: bool = True) -> int:
    """Label the rows of a JSONL file into ``output`` (``{"id", "label", "scores"}``, same order).
    The output is written under ``NAME.partial`` and renamed at the end: a run that fails or is
    stopped leaves neither a partial file nor a half-written output. Returns the rows written."""
    from tqdm import tqdm

    written = 0
    partial = output.with_name(output.name + ".partial")
    try:
        with open(partial, "w", encoding="utf-8") as out, \
                tqdm(total=count_lines(source), unit="row", file=sys.stderr, disable=not progress) as bar:
            for rows in row_chunks(source, chunk_rows):
                for row, p in zip(rows, label_rows(classifier, rows)):
                    scores = {name: round(float(v), SCORE_DIGITS) for name, v in zip(classifier.labels, p)}
                    out.write(json.dumps({"id": row["id"], "label": classifier.labels[int(p.argmax())], "scores": scores},
                                         ensure_ascii=False, allow_nan=False) + "\n")
                    written += 1
                bar.update(len(rows))
        partial.replace(output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
