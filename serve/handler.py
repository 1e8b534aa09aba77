"""Hugging Face Inference Endpoints custom handler, and the request shapes the server shares.

Inference Endpoints loads ``handler.py`` from the model repository and calls
``EndpointHandler(path)(data)``. ``data`` is ``{"inputs": ..., "parameters": {...}}``:

- ``{"inputs": "text"}`` → ``[{"label", "score"}]``, as ``pipeline("text-classification")``;
- ``{"inputs": ["t1", "t2"]}`` → ``[{"label", "score"}, {"label", "score"}]``;
- ``"parameters": {"top_k": k}`` → the k best per text (``null``: all labels); a list of lists
  for a batch, as the pipeline does;
- ``{"inputs": PAGE, "parameters": {"mode": "page"}}`` → ``{"blocks": [...]}`` for a text or
  HTML page, blocks in page order (at most ``MAX_PAGE_CHARS`` characters and ``MAX_PAGE_BLOCKS``
  blocks).

Bad input raises ``InputError`` with the HTTP status a server should answer (4xx).

The export step copies this file, and the ``paratheme`` runtime modules it imports, into
``model/``, so the folder deploys as is.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NamedTuple

try:
    import paratheme  # noqa: F401  (installed, or run from the repository)
except ImportError:  # deployed: the runtime modules were copied beside this file
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from paratheme.classifier import BlockPrediction, Classifier  # noqa: E402
from paratheme.pages import Block, PageError, check_text, read_page  # noqa: E402

MAX_ITEMS = 256
MAX_CHARS = 20_000
# A page's work is bounded like a request's: the largest corpus page has about 3,100 blocks and
# 0.9 MB; a 5,000-block page takes some 20 s on 2 cores.
MAX_PAGE_BLOCKS = 5_000
MAX_PAGE_CHARS = 2_000_000
ALL = object()  # top_k given as null: every label


class InputError(ValueError):
    """A request the caller must fix; ``status`` is the HTTP status a server should answer."""

    def __init__(self, message: str, error_type: str = "invalid_input", status: int = 422):
        super().__init__(message)
        self.error_type, self.status = error_type, status


class TextRequest(NamedTuple):
    # A NamedTuple, not a dataclass: Inference Endpoints may load this file without
    # registering it in sys.modules, which dataclasses need to resolve annotations.
    texts: list[str]
    single: bool
    top_k: Any = None  # None: the pipeline's default (best label only); ALL; or an int


def parse_texts(inputs: Any, max_items: int = MAX_ITEMS, max_chars: int = MAX_CHARS) -> tuple[list[str], bool]:
    """``inputs`` as a list of texts, and whether a single string was given."""
    single = isinstance(inputs, str)
    texts = [inputs] if single else inputs
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise InputError('"inputs" must be a string or a list of strings', "invalid_type")
    if not texts:
        raise InputError('"inputs" is an empty list', "empty_input")
    if len(texts) > max_items:
        raise InputError(f"{len(texts)} texts in one request; the limit is {max_items}", "too_many_items")
    for i, text in enumerate(texts):
        if not text.strip():
            raise InputError(f"text {i} is empty", "empty_input")
        if len(text) > max_chars:
            raise InputError(f"text {i} has {len(text):,} characters; the limit is {max_chars:,}", "text_too_long")
        try:
            check_text(text, f"text {i}")
        except PageError as exc:
            raise InputError(str(exc), "invalid_text") from None
    return texts, single


def parse_top_k(parameters: dict) -> Any:
    if "top_k" not in parameters:
        return None
    top_k = parameters["top_k"]
    if top_k is None:
        return ALL
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InputError('"top_k" must be a positive integer or null', "invalid_parameter")
    return top_k


def format_pipeline(probs, labels: tuple[str, ...], request: TextRequest) -> list:
    """The output of ``pipeline("text-classification")`` for the same call."""
    rows = []
    for row in probs:
        ranked = sorted(zip(labels, row.tolist()), key=lambda pair: -pair[1])
        if request.top_k is None:
            rows.append({"label": ranked[0][0], "score": ranked[0][1]})
        else:
            k = len(ranked) if request.top_k is ALL else request.top_k
            rows.append([{"label": label, "score": score} for label, score in ranked[:k]])
    if request.single:
        return [rows[0]] if request.top_k is None else rows[0]
    return rows


def format_page(predictions: list[BlockPrediction]) -> dict:
    """Page mode's answer. ``structure`` is the block's structure record on an HTML page (what the
    page labeler read: tag path, link share, ...), ``null`` on a text page."""
    return {"blocks": [{"position": p.position, "text": p.text, "label": p.label, "score": p.score,
                        "theme": p.theme, "boilerplate": p.boilerplate,
                        "structure": p.structure.to_dict() if p.structure else None} for p in predictions]}


def parameters_of(data: Any) -> tuple[Any, dict]:
    if not isinstance(data, dict) or "inputs" not in data:
        raise InputError('the request must be a JSON object with "inputs"', "invalid_request")
    parameters = data.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InputError('"parameters" must be an object', "invalid_parameter")
    return data["inputs"], parameters


def page_mode(parameters: dict) -> bool:
    """Whether ``parameters.mode`` asks for a whole page (``"page"``) rather than texts (``"text"``)."""
    mode = parameters.get("mode", "text")
    if mode not in ("text", "page"):
        raise InputError('"mode" must be "text" or "page"', "invalid_parameter")
    return mode == "page"


def check_page(page: Any, max_chars: int = MAX_PAGE_CHARS) -> str:
    if not isinstance(page, str):
        raise InputError('in page mode "inputs" must be the page as a string', "invalid_type")
    if len(page) > max_chars:
        raise InputError(f"page has {len(page):,} characters; the limit is {max_chars:,}", "page_too_long")
    return page


def read_blocks(page: str, max_blocks: int = MAX_PAGE_BLOCKS) -> list[Block]:
    """The page's blocks, or InputError for a page that cannot be read or has too many blocks."""
    try:
        blocks = read_page(page)
    except PageError as exc:
        raise InputError(str(exc), "invalid_page") from exc
    if len(blocks) > max_blocks:
        raise InputError(f"page has {len(blocks):,} blocks; the limit is {max_blocks:,}", "too_many_items")
    return blocks


class EndpointHandler:
    """The custom handler: ``EndpointHandler(path="model")(data)``."""

    def __init__(self, path: str = "", max_items: int = MAX_ITEMS, max_chars: int = MAX_CHARS,
                 max_page_blocks: int = MAX_PAGE_BLOCKS, max_page_chars: int = MAX_PAGE_CHARS):
        self.classifier = Classifier.from_pretrained(path or None)
        self.max_items, self.max_chars = max_items, max_chars
        self.max_page_blocks, self.max_page_chars = max_page_blocks, max_page_chars

    def __call__(self, data: dict) -> list | dict:
        inputs, parameters = parameters_of(data)
        if page_mode(parameters):
            return format_page(self.classify_page(inputs))
        texts, single = parse_texts(inputs, self.max_items, self.max_chars)
        request = TextRequest(texts, single, parse_top_k(parameters))
        return format_pipeline(self.classifier.predict_proba(texts), self.classifier.labels, request)

    def classify_page(self, page: Any) -> list[BlockPrediction]:
        blocks = read_blocks(check_page(page, self.max_page_chars), self.max_page_blocks)
        return self.classifier.classify_blocks(blocks)
