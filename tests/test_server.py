"""The real server, started as `paratheme serve` in a subprocess and spoken to over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import EXAMPLE_PAGE, REPO
from paratheme.labels import LABELS

TOKEN = "test-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_model):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "paratheme.cli", "serve", "--model", str(tiny_model), "--port", str(port),
         "--token", TOKEN, "--max-body-bytes", "200000", "--max-items", "8", "--max-chars", "500"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("server did not start: " + process.stdout.read())
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    yield client
    client.close()
    process.terminate()
    process.wait(timeout=10)


def assert_error(response, status, error_type):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_type"} and body["error_type"] == error_type and body["error"]


def test_health_is_open_and_names_model_and_labels(server):
    response = httpx.get(f"{server.base_url}/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["labels"] == list(LABELS) and body["model"]


def test_classify_single_text_and_batch_follow_the_pipeline_shapes(server):
    single = server.post("/classify", json={"inputs": "江城新增高新技术企业"}).json()
    assert isinstance(single, list) and len(single) == 1 and set(single[0]) == {"label", "score"}
    batch = server.post("/classify", json={"inputs": ["一", "二", "三"]}).json()
    assert len(batch) == 3 and all(set(r) == {"label", "score"} and r["label"] in LABELS for r in batch)


def test_classify_top_k(server):
    top2 = server.post("/classify", json={"inputs": "一", "parameters": {"top_k": 2}}).json()
    assert len(top2) == 2 and top2[0]["score"] >= top2[1]["score"]
    every = server.post("/classify", json={"inputs": ["一", "二"], "parameters": {"top_k": None}}).json()
    assert len(every) == 2 and all(len(row) == len(LABELS) for row in every)
    assert abs(sum(r["score"] for r in every[0]) - 1) < 1e-4


def test_classify_page_mode_and_page_route_give_blocks_in_order(server):
    page = EXAMPLE_PAGE.read_text(encoding="utf-8")
    for response in (server.post("/classify/page", json={"inputs": page}),
                     server.post("/classify", json={"inputs": page, "parameters": {"mode": "page"}})):
        assert response.status_code == 200
        blocks = response.json()["blocks"]
        assert [b["position"] for b in blocks] == list(range(25))
        for b in blocks:
            assert set(b) == {"position", "text", "label", "score", "theme", "boilerplate"}
            assert b["boilerplate"] == (b["label"] == "boilerplate")
            assert b["theme"] == (b["label"] if b["label"] not in ("other", "boilerplate") else None)


def test_predict_follows_text_embeddings_inference(server):
    single = server.post("/predict", json={"inputs": "一"}).json()
    assert len(single) == len(LABELS) and set(single[0]) == {"score", "label"}
    assert [r["score"] for r in single] == sorted((r["score"] for r in single), reverse=True)
    batch = server.post("/predict", json={"inputs": ["一", "二"]}).json()
    assert len(batch) == 2 and len(batch[0]) == len(LABELS)


def test_metrics_count_requests_and_batches(server):
    server.post("/classify", json={"inputs": "一"})
    text = server.get("/metrics").text
    assert 'paratheme_requests_total{route="/classify",status="200"}' in text
    assert "paratheme_request_seconds_bucket" in text and "paratheme_batch_texts_count" in text
    assert "paratheme_model_load_seconds" in text


def test_openapi_docs(server):
    assert server.get("/docs").status_code == 200
    assert "/classify/page" in server.get("/openapi.json").json()["paths"]


def test_token_guards_every_route_but_health(server):
    anonymous = httpx.Client(base_url=server.base_url, timeout=10)
    for method, path in (("post", "/classify"), ("post", "/predict"), ("get", "/metrics"), ("get", "/docs")):
        assert_error(getattr(anonymous, method)(path), 401, "unauthorized")
    assert_error(anonymous.post("/classify", json={"inputs": "一"}, headers={"Authorization": "Bearer wrong"}),
                 401, "unauthorized")
    assert anonymous.get("/health").status_code == 200


@pytest.mark.parametrize("kwargs,status,error_type", [
    ({"content": b'{"inputs": "unterminated'}, 400, "invalid_json"),
    ({"content": '{"inputs": "江城"}'.encode("gbk")}, 400, "invalid_encoding"),
    ({"json": {"inputs": 42}}, 422, "invalid_type"),
    ({"json": {"text": "一"}}, 422, "invalid_type"),
    ({"json": {"inputs": "   "}}, 422, "empty_input"),
    ({"json": {"inputs": []}}, 422, "empty_input"),
    ({"json": {"inputs": ["一"] * 9}}, 422, "too_many_items"),
    ({"json": {"inputs": "长" * 501}}, 422, "text_too_long"),
    ({"json": {"inputs": "一", "parameters": {"top_k": 0}}}, 422, "invalid_parameter"),
    ({"json": {"inputs": "一", "parameters": {"mode": "essay"}}}, 422, "invalid_parameter"),
    ({"content": b'{"inputs": "' + "长".encode() * 70000 + b'"}'}, 413, "body_too_large"),
])
def test_bad_requests_get_clear_errors_and_the_server_keeps_serving(server, kwargs, status, error_type):
    assert_error(server.post("/classify", **kwargs), status, error_type)
    assert server.post("/classify", json={"inputs": "一"}).status_code == 200


def test_page_errors(server):
    assert_error(server.post("/classify/page", json={"inputs": "  \n "}), 422, "invalid_page")
    assert_error(server.post("/classify/page", json={"inputs": ["not", "a page"]}), 422, "invalid_type")
    assert_error(server.post("/predict", json={"inputs": "一", "raw_scores": True}), 422, "invalid_parameter")
    assert_error(server.get("/nowhere"), 404, "http_error")


def test_concurrent_requests_are_batched_and_all_answered(server):
    texts = [f"第{i}段：江城新增就业岗位。" for i in range(32)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(lambda t: server.post("/classify", json={"inputs": t}), texts))
    assert all(r.status_code == 200 for r in responses)
    metrics = server.get("/metrics").text
    # Some model call served more than one text: concurrency turned into batching.
    counts = {float(line.split()[-1]) for line in metrics.splitlines()
              if line.startswith('paratheme_batch_texts_bucket{le="1.0"}') or line.startswith("paratheme_batch_texts_count")}
    assert len(counts) == 2, "every model call held a single text"
