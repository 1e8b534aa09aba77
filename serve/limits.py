"""What the server accepts, and the error each request past a limit gets.

Every check here turns bad input into an ``InputError`` (a 4xx with a clear message) before any
of it reaches the model, so one client's bad request can fail only that request:

- 415 when a JSON route is sent anything but ``application/json`` (charset parameters are fine);
- 413 when the body is over ``max_body_bytes``;
- 400 when the body is not UTF-8 or not JSON (malformed, nested too deep, an integer too long
  for Python to read);
- 422 when the JSON has the wrong shape, or a text cannot be encoded as UTF-8 (a lone surrogate
  such as ``"\\ud800"``, which JSON escapes allow and the tokenizer cannot take);
- 422 when a request holds more than ``max_request_chars`` characters or a page more than
  ``max_page_blocks`` blocks, so no request queues unbounded work.

Overload is not the client's fault: ``Overloaded`` becomes 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Sequence

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from .handler import MAX_CHARS, MAX_ITEMS, InputError

JSON_TYPES = ("application/json",)
# Bodies larger than this are decoded and parsed in a worker thread (a 64 KB body parses in about a ms).
INLINE_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """The server's limits; each is a command-line flag of ``paratheme serve`` or a default here.

    Args:
        max_body_bytes: larger bodies get 413.
        max_items: most texts in one request (422 above).
        max_chars: most characters in one text (422 above).
        max_page_blocks: most blocks in one page (422 above).
        max_request_chars: most characters, all texts or page blocks together, in one request
            (422 above): bounds the model work one request can queue.
        max_queued_chars: most characters waiting for the model across all requests; a request
            that would pass it gets 503 at once rather than waiting behind them.
        request_timeout_s: a request still waiting for the model after this long gets 503 and its
            remaining texts are dropped.
        max_wait_ms, max_batch_chars: the micro-batcher's gathering window and model-call size.
    """

    max_body_bytes: int = 2 * 1024 * 1024
    max_items: int = MAX_ITEMS
    max_chars: int = MAX_CHARS
    max_page_blocks: int = 5_000
    max_request_chars: int = 500_000
    max_queued_chars: int = 1_000_000
    request_timeout_s: float = 30.0
    max_wait_ms: float = 5.0
    max_batch_chars: int = 4_096


class Overloaded(Exception):
    """The server cannot take this request now; the client may retry after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: int = 1):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ClientGone(Exception):
    """The client closed the connection before its answer was ready; nobody is left to answer."""


async def read_json(request: Request, model: type[BaseModel], limits: Limits) -> BaseModel:
    """The body of a JSON route, checked against ``limits`` and validated as ``model``."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in JSON_TYPES:
        raise InputError(f"Content-Type must be application/json, not {media_type or 'absent'}",
                         "unsupported_media_type", 415)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise InputError(f"body of {int(declared):,} bytes; the limit is {limits.max_body_bytes:,}", "body_too_large", 413)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limits.max_body_bytes:
                raise InputError(f"body over {limits.max_body_bytes:,} bytes", "body_too_large", 413)
    except ClientDisconnect:
        raise ClientGone(f"client disconnected after {len(body):,} bytes of the body") from None
    if len(body) > INLINE_BODY_BYTES:
        # Decoding, parsing and validating a body of megabytes takes tens of milliseconds; off the
        # event loop, /health and the other requests are not held up meanwhile.
        return await asyncio.to_thread(parse_body, bytes(body), model)
    return parse_body(bytes(body), model)


def parse_body(body: bytes, model: type[BaseModel]) -> BaseModel:
    """A JSON route's body as ``model``: 400 for bytes that are not UTF-8 JSON, 422 for the wrong shape."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("body is not UTF-8", "invalid_encoding", 400) from None
    data = parse_json(text)
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InputError(f"{where}: {first['msg']}", "invalid_type", 422) from None
    check_unicode(parsed.inputs)
    return parsed


def parse_json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"body is not valid JSON: {exc.msg} at character {exc.pos}", "invalid_json", 400) from None
    except RecursionError:
        raise InputError("body is not valid JSON here: arrays or objects nested too deep", "invalid_json", 400) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise InputError(f"body is not valid JSON here: {exc}", "invalid_json", 400) from None


def check_unicode(inputs: str | Sequence[str]) -> None:
    """422 for a text that is not valid Unicode: JSON's ``\\ud800`` escapes can carry lone surrogates."""
    for i, text in enumerate([inputs] if isinstance(inputs, str) else inputs):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(f"text {i} is not valid Unicode: a lone surrogate {text[exc.start]!r} at character "
                             f"{exc.start}", "invalid_text", 422) from None


def check_work(texts: Sequence[str], limits: Limits) -> None:
    """422 for a request whose texts together are more than one request may queue."""
    chars = sum(len(t) for t in texts)
    if chars > limits.max_request_chars:
        raise InputError(f"{chars:,} characters in one request; the limit is {limits.max_request_chars:,}",
                         "too_much_text", 422)
