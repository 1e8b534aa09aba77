"""Prometheus metrics, labelled so that their number of series stays bounded.

Requests are labelled by route template (``/classify/page``), never by the raw URL path: every
path that matches no route, whatever the client sent, shares the one label ``unmatched``.
"""

from __future__ import annotations

from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import BaseRoute, Match

UNMATCHED = "unmatched"
# The status counted for a client that closed its connection before it got an answer
# (nginx's convention): not a server error.
CLIENT_CLOSED = 499


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("paratheme_requests_total", "HTTP requests", ["route", "status"], registry=self.registry)
        self.latency = Histogram("paratheme_request_seconds", "request latency", ["route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.batch = Histogram("paratheme_batch_texts", "texts per model call", registry=self.registry,
                               buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
        self.load = Gauge("paratheme_model_load_seconds", "time to load the model", registry=self.registry)
        self.queued = Gauge("paratheme_queued_characters", "characters waiting for the model", registry=self.registry)

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)


def route_label(routes: Iterable[BaseRoute], scope: dict) -> str:
    """The template of the route ``scope`` is for (a wrong method still names its route), or ``unmatched``."""
    for route in routes:
        match, _ = route.matches(scope)
        if match != Match.NONE:
            return getattr(route, "path", UNMATCHED)
    return UNMATCHED
