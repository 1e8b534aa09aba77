"""The HTTP server: routes around the handler's request shapes.

    paratheme serve --model model --host 127.0.0.1 --port 8080 [--token SECRET]

Routes: ``POST /classify`` (the Inference Endpoints handler's shapes), ``POST /classify/page``,
``POST /predict`` (Text Embeddings Inference), ``GET /health``, ``GET /metrics`` (Prometheus),
``GET /docs``. Errors are JSON ``{"error", "error_type"}``; the server keeps serving after each.
What is accepted and what each bad request gets is in ``limits.py``; the token check, metrics
and the last word on errors in ``guard.py``; the model calls in ``batcher.py``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from contextlib import asynccontextmanager

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from paratheme.classifier import Classifier
from paratheme.pages import Block, PageError, read_page
from paratheme.viewer import server_page

from .batcher import MicroBatcher
from .docs import add_docs
from .guard import TOKEN_ENV, GuardAndMeasure, error, resolve_token
from .handler import (InputError, TextRequest, check_page, format_page, format_pipeline, page_mode, parameters_of,
                      parse_texts, parse_top_k)
from .limits import ClientGone, Limits, Overloaded, check_work, read_json
from .memory import return_freed_memory
from .metrics import Metrics

logger = logging.getLogger("paratheme.serve")
SWITCH_INTERVAL_S = 0.001
# How often a request waiting for the model checks that its client is still there.
DISCONNECT_POLL_S = 0.1


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


def create_app(model_dir: str | os.PathLike | None = None, token: str | None = None, limits: Limits = Limits(),
               classifier: Classifier | None = None) -> FastAPI:
    """The app; it loads ``model_dir`` at start-up unless a loaded ``classifier`` is given.
    ``token`` defaults to ``$PARATHEME_TOKEN``; an empty one raises ValueError."""
    token = resolve_token(token)
    metrics = Metrics()
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        start = time.perf_counter()
        loaded = classifier or await asyncio.to_thread(Classifier.from_pretrained, model_dir)
        metrics.load.set(getattr(loaded, "load_seconds", None) or time.perf_counter() - start)
        batcher = MicroBatcher(loaded.predict_proba, limits.max_wait_ms, limits.max_batch_chars,
                               on_batch=metrics.batch.observe, max_queued_chars=limits.max_queued_chars,
                               timeout_s=limits.request_timeout_s)
        metrics.queued.set_function(lambda: batcher.queued_chars)
        await batcher.start()
        trimmer = asyncio.create_task(return_freed_memory())
        state.update(classifier=loaded, batcher=batcher)
        if token:
            logger.info("authentication on: every route but /health needs the bearer token")
        else:
            logger.warning("authentication off: every route is open (set --token or $%s to require a token)", TOKEN_ENV)
        yield
        trimmer.cancel()
        await batcher.stop()

    app = FastAPI(title="paratheme", version="0.3.2", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Theme and boilerplate labels for paragraphs of Chinese news and government pages.")
    app.add_middleware(GuardAndMeasure, token=token, metrics=metrics, routes=app.router.routes)
    add_docs(app)

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError):
        return error(exc.status, str(exc), exc.error_type)

    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, exc: Overloaded):
        return error(503, str(exc), "overloaded", headers={"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return error(exc.status_code, str(exc.detail), "http_error")

    async def model_rows(request: Request, texts: list[str]) -> np.ndarray:
        """Probabilities for ``texts``; if the client goes away meanwhile, its texts leave the queue."""
        work = asyncio.ensure_future(state["batcher"].submit(texts))
        try:
            while True:
                done, _ = await asyncio.wait({work}, timeout=DISCONNECT_POLL_S)
                if done:
                    return work.result()
                if await request.is_disconnected():
                    raise ClientGone(f"client disconnected while its {len(texts)} texts waited for the model")
        finally:
            work.cancel()

    async def classify_texts(request: Request, inputs):
        texts, single = parse_texts(inputs, limits.max_items, limits.max_chars)
        check_work(texts, limits)
        return texts, single, await model_rows(request, texts)

    async def classify_page(request: Request, page: str) -> JSONResponse:
        try:
            blocks = await asyncio.to_thread(read_page, page)
        except PageError as exc:
            raise InputError(str(exc), "invalid_page", 422) from None
        except ValueError as exc:  # e.g. a page that declares charset="undefined"
            raise InputError(f"page could not be read: {exc}", "invalid_page", 422) from None
        if len(blocks) > limits.max_page_blocks:
            raise InputError(f"page has {len(blocks):,} blocks; the limit is {limits.max_page_blocks:,}", "too_many_items")
        texts = [b.text for b in blocks]
        check_work(texts, limits)
        probs = await model_rows(request, texts)
        # Pure Python over every block: in a thread, so that the event loop (and /health) gets turns.
        return await asyncio.to_thread(page_answer, state["classifier"], blocks, probs)

    @app.post("/classify", openapi_extra=body_schema(ClassifyBody),
              summary="Inference Endpoints shapes: text or list of texts; parameters.top_k, parameters.mode=page")
    async def classify(request: Request):
        body = await read_json(request, ClassifyBody, limits)
        inputs, parameters = parameters_of(body.model_dump())
        if page_mode(parameters):
            return await classify_page(request, check_page(inputs))
        top_k = parse_top_k(parameters)
        texts, single, probs = await classify_texts(request, inputs)
        return format_pipeline(probs, state["classifier"].labels, TextRequest(texts, single, top_k))

    @app.post("/classify/page", openapi_extra=body_schema(PageBody), summary="Every block of a text or HTML page")
    async def classify_page_route(request: Request):
        body = await read_json(request, PageBody, limits)
        return await classify_page(request, body.inputs)

    @app.post("/predict", openapi_extra=body_schema(PredictBody), summary="Text Embeddings Inference /predict")
    async def predict(request: Request):
        body = await read_json(request, PredictBody, limits)
        if body.raw_scores:
            raise InputError("raw_scores is not supported: this server returns probabilities", "invalid_parameter")
        texts, single, probs = await classify_texts(request, body.inputs)
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


def page_answer(classifier: Classifier, blocks: list[Block], probs: np.ndarray) -> JSONResponse:
    probs = classifier.with_page_context(blocks, probs)
    return JSONResponse(format_page([classifier.block_prediction(b, row) for b, row in zip(blocks, probs)]))


def serve(classifier: Classifier, host: str, port: int, token: str | None, limits: Limits = Limits()) -> None:
    import uvicorn

    logger.setLevel(logging.INFO)  # the start-up lines (authentication on or off) and client disconnects
    # Reading pages, their features and JSON answers run in worker threads that hold the GIL; the
    # event loop (and /health) waits up to one switch interval for each of them. 1 ms instead of
    # Python's 5 ms keeps /health answering while big pages are worked on.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    uvicorn.run(create_app(token=token, limits=limits, classifier=classifier), host=host, port=port, log_level="info")
