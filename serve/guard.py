"""The outermost layer of the server: bearer-token check, request metrics, and the last word on errors.

A plain ASGI middleware (not Starlette's ``BaseHTTPMiddleware``), so that a client's disconnect
reaches the routes as it happens and the status of every answer, errors included, is counted.
"""

from __future__ import annotations

import hmac
import logging
import os
import time

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.routing import BaseRoute

from .limits import ClientGone
from .metrics import CLIENT_CLOSED, Metrics, route_label

logger = logging.getLogger("paratheme.serve")
OPEN_PATHS = ("/health", "/")  # the viewer page holds no data; its requests carry the token
TOKEN_ENV = "PARATHEME_TOKEN"


def error(status: int, message: str, error_type: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "error_type": error_type}, status_code=status, headers=headers)


def resolve_token(given: str | None) -> str | None:
    """The bearer token: ``given``, else ``$PARATHEME_TOKEN``, else None (no authentication).

    Raises:
        ValueError: the token is empty or blank. It is refused rather than read as "no
            authentication": ``--token "$UNSET_VARIABLE"`` must not open the server.
    """
    source = "--token"
    if given is None:
        given, source = os.environ.get(TOKEN_ENV), f"${TOKEN_ENV}"
    if given is not None and not given.strip():
        raise ValueError(f"{source} is empty: give a token, or leave both --token and ${TOKEN_ENV} unset "
                         "to serve without authentication")
    return given


def authorized(headers: Headers, token: str) -> bool:
    scheme, _, given = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


class GuardAndMeasure:
    def __init__(self, app, token: str | None, metrics: Metrics, routes: list[BaseRoute]):
        self.app, self.token, self.metrics, self.routes = app, token, metrics, routes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        route = route_label(self.routes, scope)
        status = None

        async def send_noting_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if self.token and scope["path"] not in OPEN_PATHS and not authorized(Headers(scope=scope), self.token):
                await error(401, "missing or wrong bearer token", "unauthorized")(scope, receive, send_noting_status)
            else:
                await self.app(scope, receive, send_noting_status)
        except ClientGone as exc:  # nobody to answer; the client's doing, not an error of ours
            logger.info("%s %s: %s", scope["method"], scope["path"], exc)
            status = CLIENT_CLOSED
        except Exception:
            logger.exception("unexpected error on %s %s", scope["method"], route)
            if status is None:
                await error(500, "internal error; see the server log", "internal_error")(scope, receive, send_noting_status)
        self.metrics.observe(route, status or 500, time.perf_counter() - start)
