"""The HTTP server: routes, limits, errors and metrics around the handler's request shapes.

    paratheme serve --model model --host 127.0.0.1 --port 8080 [--token SECRET]

Routes: ``POST /classify`` (the Inference Endpoints handler's shapes), ``POST /classify/page``,
``POST /predict`` (Text Embeddings Inference), ``GET /health``, ``GET /metrics`` (Prometheus),
``GET /docs``. Errors are JSON ``{"error", "error_type"}``; the server keeps serving after each.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from paratheme.classifier import Classifier
from paratheme.pages import PageError, read_page
from paratheme.viewer import server_page

from .batcher import MicroBatcher
from .handler import (MAX_CHARS, MAX_ITEMS, InputError, TextRequest, check_page, format_page, format_pipeline,
                      page_mode, parameters_of, parse_texts, parse_top_k)

logger = logging.getLogger("paratheme.serve")
OPEN_PATHS = ("/health", "/")  # the viewer page holds no data; its requests carry the token
TOKEN_ENV = "PARATHEME_TOKEN"


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 2 * 1024 * 1024
    max_items: int = MAX_ITEMS
    max_chars: int = MAX_CHARS
    max_page_blocks: int = 5_000
    max_wait_ms: float = 5.0
    max_batch_chars: int = 16_384


class ClassifyBody(BaseModel):
    inputs: str | list[str]
    parameters: dict | None = None


class PageBody(BaseModel):
    inputs: str


class PredictBody(BaseModel):
    inputs: str | list[str]
    raw_scores: bool = False
    truncate: bool = True


def body_schema(model: type[BaseModel]) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


def error(status: int, message: str, error_type: str) -> JSONResponse:
    return JSONResponse({"error": message, "error_type": error_type}, status_code=status)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("paratheme_requests_total", "HTTP requests", ["route", "status"], registry=self.registry)
        self.latency = Histogram("paratheme_request_seconds", "request latency", ["route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.batch = Histogram("paratheme_batch_texts", "texts per model call", registry=self.registry,
                               buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
        self.load = Gauge("paratheme_model_load_seconds", "time to load the model", registry=self.registry)


def create_app(model_dir: str | os.PathLike | None = None, token: str | None = None, limits: Limits = Limits(),
               classifier: Classifier | None = None) -> FastAPI:
    """The app; it loads ``model_dir`` at start-up unless a loaded ``classifier`` is given."""
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    metrics = Metrics()
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        start = time.perf_counter()
        loaded = classifier or await asyncio.to_thread(Classifier.from_pretrained, model_dir)
        metrics.load.set(getattr(loaded, "load_seconds", None) or time.perf_counter() - start)
        batcher = MicroBatcher(loaded.predict_proba, limits.max_wait_ms, limits.max_batch_chars,
                               on_batch=metrics.batch.observe)
        await batcher.start()
        state.update(classifier=loaded, batcher=batcher)
        yield
        await batcher.stop()

    app = FastAPI(title="paratheme", version="0.2.0", lifespan=lifespan,
                  description="Theme and boilerplate labels for paragraphs of Chinese news and government pages.")

    @app.middleware("http")
    async def guard_and_measure(request: Request, call_next):
        start = time.perf_counter()
        route = request.url.path
        if token and route not in OPEN_PATHS and not _authorized(request, token):
            response = error(401, "missing or wrong bearer token", "unauthorized")
        else:
            try:
                response = await call_next(request)
            except Exception:
                logger.exception("unexpected error on %s", route)
                response = error(500, "internal error; see the server log", "internal_error")
        metrics.requests.labels(route, str(response.status_code)).inc()
        metrics.latency.labels(route).observe(time.perf_counter() - start)
        return response

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError):
        return error(exc.status, str(exc), exc.error_type)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return error(exc.status_code, str(exc.detail), "http_error")

    async def read_json(request: Request, model: type[BaseModel]) -> BaseModel:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limits.max_body_bytes:
            raise InputError(f"body of {int(declared):,} bytes; the limit is {limits.max_body_bytes:,}", "body_too_large", 413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limits.max_body_bytes:
                raise InputError(f"body over {limits.max_body_bytes:,} bytes", "body_too_large", 413)
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("body is not UTF-8", "invalid_encoding", 400)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"body is not valid JSON: {exc.msg} at character {exc.pos}", "invalid_json", 400)
        from pydantic import ValidationError

        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise InputError(f"{where}: {first['msg']}", "invalid_type", 422)

    async def classify_texts(texts: list[str]):
        return await state["batcher"].submit(texts)

    async def classify_page(page: str) -> dict:
        try:
            blocks = await asyncio.to_thread(read_page, page)
        except PageError as exc:
            raise InputError(str(exc), "invalid_page", 422)
        if len(blocks) > limits.max_page_blocks:
            raise InputError(f"page has {len(blocks):,} blocks; the limit is {limits.max_page_blocks:,}", "too_many_items")
        texts = [b.text for b in blocks]
        probs = state["classifier"].with_page_context(texts, await classify_texts(texts))
        return format_page([state["classifier"].block_prediction(b, row) for b, row in zip(blocks, probs)])

    @app.post("/classify", openapi_extra=body_schema(ClassifyBody),
              summary="Inference Endpoints shapes: text or list of texts; parameters.top_k, parameters.mode=page")
    async def classify(request: Request):
        body = await read_json(request, ClassifyBody)
        inputs, parameters = parameters_of(body.model_dump())
        if page_mode(parameters):
            return await classify_page(check_page(inputs))
        texts, single = parse_texts(inputs, limits.max_items, limits.max_chars)
        probs = await classify_texts(texts)
        return format_pipeline(probs, state["classifier"].labels, TextRequest(texts, single, parse_top_k(parameters)))

    @app.post("/classify/page", openapi_extra=body_schema(PageBody), summary="Every block of a text or HTML page")
    async def classify_page_route(request: Request):
        body = await read_json(request, PageBody)
        return await classify_page(body.inputs)

    @app.post("/predict", openapi_extra=body_schema(PredictBody), summary="Text Embeddings Inference /predict")
    async def predict(request: Request):
        body = await read_json(request, PredictBody)
        if body.raw_scores:
            raise InputError("raw_scores is not supported: this server returns probabilities", "invalid_parameter")
        texts, single = parse_texts(body.inputs, limits.max_items, limits.max_chars)
        probs = await classify_texts(texts)
        labels = state["classifier"].labels
        rows = [[{"score": float(p), "label": label} for label, p in sorted(zip(labels, row), key=lambda x: -x[1])]
                for row in probs]
        return rows[0] if single else rows

    @app.get("/", include_in_schema=False)
    async def viewer():
        return HTMLResponse(server_page())

    @app.get("/health", summary="200 once the model is loaded")
    async def health():
        classifier = state.get("classifier")
        if classifier is None:
            return error(503, "model is loading", "loading")
        return {"status": "ok", "model": classifier.name, "labels": list(classifier.labels), "backend": classifier.backend_name}

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus():
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _authorized(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def serve(classifier: Classifier, host: str, port: int, token: str | None, limits: Limits = Limits()) -> None:
    import uvicorn

    uvicorn.run(create_app(token=token, limits=limits, classifier=classifier), host=host, port=port, log_level="info")
