"""The real server, started as `paratheme serve` in a subprocess and spoken to over HTTP."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from conftest import EXAMPLE_PAGE, REPO
from paratheme.labels import LABELS

TOKEN = "test-secret"
JSON = {"Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("server") / "server.log"


@pytest.fixture(scope="module")
def server(tiny_model, server_log):
    port = free_port()
    with server_log.open("w") as log:  # a file, not a pipe: a full pipe would block the server
        process = subprocess.Popen(
            [sys.executable, "-m", "paratheme.cli", "serve", "--model", str(tiny_model), "--port", str(port),
             "--token", TOKEN, "--max-body-bytes", "200000", "--max-items", "8", "--max-chars", "500"],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True)
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
        pytest.fail("server did not start: " + server_log.read_text())
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
            assert set(b) == {"position", "text", "label", "score", "theme", "boilerplate", "structure"}
            assert b["structure"]["tag"] and b["structure"]["path"]  # an HTML page: every block has its record
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
    ({"content": b'{"inputs": "unterminated', "headers": JSON}, 400, "invalid_json"),
    ({"content": '{"inputs": "江城"}'.encode("gbk"), "headers": JSON}, 400, "invalid_encoding"),
    ({"json": {"inputs": 42}}, 422, "invalid_type"),
    ({"json": {"text": "一"}}, 422, "invalid_type"),
    ({"json": {"inputs": "   "}}, 422, "empty_input"),
    ({"json": {"inputs": []}}, 422, "empty_input"),
    ({"json": {"inputs": ["一"] * 9}}, 422, "too_many_items"),
    ({"json": {"inputs": "长" * 501}}, 422, "text_too_long"),
    ({"json": {"inputs": "一", "parameters": {"top_k": 0}}}, 422, "invalid_parameter"),
    ({"json": {"inputs": "一", "parameters": {"mode": "essay"}}}, 422, "invalid_parameter"),
    ({"content": b'{"inputs": "' + "长".encode() * 70000 + b'"}', "headers": JSON}, 413, "body_too_large"),
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


# --- Hardening (issue 14): every bad input gets a 4xx, and no request can hurt another. ---

def raw_post(server, path: str, body: bytes):
    return server.post(path, content=body, headers=JSON)


@pytest.mark.parametrize("path,body", [
    ("/classify", b'{"inputs": "abc\\ud800"}'),
    ("/classify", b'{"inputs": ["\\u6c5f\\u57ce", "abc\\ud800"]}'),
    ("/predict", b'{"inputs": "abc\\ud800"}'),
    ("/classify/page", b'{"inputs": "abc\\ud800"}'),
    ("/classify", b'{"inputs": "<p>abc\\udfff</p>", "parameters": {"mode": "page"}}'),
])
def test_a_lone_surrogate_is_refused_at_the_route(server, path, body):
    response = raw_post(server, path, body)
    assert_error(response, 422, "invalid_text")
    assert "surrogate" in response.json()["error"]


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"inputs": 1' + b"0" * 5_000 + b"}",
    b'{"inputs": "\\x41"}',
])
def test_json_the_parser_refuses_is_400_not_500(server, body):
    assert_error(raw_post(server, "/classify", body), 400, "invalid_json")


def test_a_page_declaring_an_unusable_charset_is_not_a_server_error(server):
    page = '<html><head><meta charset="undefined"></head><body><p>江城新增就业岗位。</p></body></html>'
    response = server.post("/classify/page", json={"inputs": page})
    if response.status_code == 200:  # a reader that falls back when the declaration is useless
        assert [b["text"] for b in response.json()["blocks"]] == ["江城新增就业岗位。"]
    else:
        assert_error(response, 422, "invalid_page")


@pytest.mark.parametrize("content_type,status", [
    (None, 415), ("text/plain", 415), ("application/x-www-form-urlencoded", 415),
    ("application/json; charset=utf-8", 200), ("Application/JSON", 200),
])
def test_json_routes_require_a_json_content_type(server, content_type, status):
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("/classify", "/predict", "/classify/page"):
        response = server.post(path, content='{"inputs": "江城新增就业岗位。"}'.encode(), headers=headers)
        if status == 200:
            assert response.status_code == 200, response.text
        else:
            assert_error(response, 415, "unsupported_media_type")


def test_metrics_label_routes_by_template_with_one_label_for_unknown_paths(server):
    anonymous = httpx.Client(base_url=server.base_url, timeout=10)
    for i in range(20):
        server.get(f"/no-such-page-{i}")
        anonymous.get(f"/also-unknown-{i}")  # 401 before any route matched
    server.get("/classify")  # a known route, wrong method: 405
    text = server.get("/metrics").text
    routes = set(re.findall(r'paratheme_requests_total\{route="([^"]*)"', text))
    assert "unmatched" in routes and "/classify" in routes
    assert routes <= {"unmatched", "/classify", "/classify/page", "/predict", "/health", "/metrics", "/docs",
                      "/docs/assets", "/openapi.json"}, routes


def test_a_client_that_disconnects_mid_body_is_counted_499_and_logged_without_traceback(server, server_log):
    host, port = server.base_url.host, server.base_url.port
    with socket.create_connection((host, port)) as sock:
        sock.sendall(f"POST /classify HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n".encode() + b'{"inputs": "')
        time.sleep(0.3)
    deadline = time.time() + 10
    while 'route="/classify",status="499"' not in (text := server.get("/metrics").text) and time.time() < deadline:
        time.sleep(0.1)
    assert 'route="/classify",status="499"' in text
    assert 'status="500"' not in text
    log = server_log.read_text()
    assert "Traceback" not in log and "ERROR" not in log, log[-2000:]
    assert "client disconnected" in log


def test_start_up_says_authentication_is_on(server, server_log):
    assert "authentication on" in server_log.read_text()


@pytest.mark.parametrize("argv,env", [
    (["--token", ""], {"PARATHEME_TOKEN": TOKEN}),
    (["--token", "  "], {}),
    ([], {"PARATHEME_TOKEN": ""}),
])
def test_an_empty_token_is_an_error_not_authentication_off(argv, env):
    result = subprocess.run([sys.executable, "-m", "paratheme.cli", "serve", "--port", str(free_port()), *argv],
                            cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "empty" in result.stderr and "Traceback" not in result.stderr


def test_docs_load_nothing_from_outside(server):
    page = server.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href|url)\s*[=:]\s*["\']([^"\']+)["\']', page.text)
    assert urls and "http://" not in page.text and "https://" not in page.text, urls
    for url in urls:
        assert url.startswith("/"), url
        assert server.get(url).status_code == 200, url


# --- The batcher, driven through an app served in this process with a scripted classifier. ---

class ScriptedClassifier:
    """The tiny model's classifier, made slow (``seconds_per_call``, ``seconds_per_text``), held
    (each call waits until ``release`` is set, when ``held``), or made to fail on texts holding
    ``fail_on``; it records every model call's texts."""

    def __init__(self, real, seconds_per_call: float = 0.0, seconds_per_text: float = 0.0, fail_on: str | None = None,
                 held: bool = False):
        self.real, self.seconds_per_call, self.seconds_per_text, self.fail_on = real, seconds_per_call, seconds_per_text, fail_on
        self.release = threading.Event()
        if not held:
            self.release.set()
        self.calls: list[list[str]] = []

    def predict_proba(self, texts):
        self.calls.append(list(texts))
        self.release.wait(timeout=30)
        time.sleep(self.seconds_per_call + self.seconds_per_text * len(texts))
        if self.fail_on and any(self.fail_on in t for t in texts):
            raise RuntimeError("the model failed on the marker text")
        return self.real.predict_proba(texts)

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture(scope="module")
def tiny_classifier(tiny_model):
    from paratheme.classifier import Classifier

    return Classifier.from_pretrained(tiny_model, backend="pytorch")


@contextmanager
def served(classifier, **limits):
    import uvicorn

    from serve.app import Limits, create_app

    port = free_port()
    app = create_app(token=TOKEN, limits=Limits(**limits), classifier=classifier)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    try:
        yield client
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=10)


def post_later(client, delay: float, path: str, body: dict, **kwargs):
    """Start a POST after ``delay`` seconds in a thread; the result's ``.result()`` is (response, finish time)."""
    def run():
        time.sleep(delay)
        response = client.post(path, json=body, **kwargs)
        return response, time.perf_counter()

    return ThreadPoolExecutor(max_workers=1).submit(run)


def wait_until(condition, what: str, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.02)


def queued_chars(client) -> float:
    text = client.get("/metrics").text
    return float(re.search(r"^paratheme_queued_characters (\S+)$", text, re.M).group(1))


def test_a_model_error_fails_only_the_request_that_caused_it(tiny_classifier):
    # The first call is held, so the nine requests sent meanwhile share the next model call.
    scripted = ScriptedClassifier(tiny_classifier, fail_on="MARKER", held=True)
    with served(scripted) as client:
        first = post_later(client, 0, "/classify", {"inputs": "第一段"})
        wait_until(lambda: scripted.calls, "the first call started")
        texts = [f"第{i}段：江城新增就业岗位。" for i in range(8)]
        good = [post_later(client, 0, "/classify", {"inputs": text}) for text in texts]
        bad = post_later(client, 0, "/classify", {"inputs": "MARKER 江城"})
        wait_until(lambda: queued_chars(client) == sum(map(len, texts)) + len("MARKER 江城"), "all nine requests are queued")
        scripted.release.set()
        assert first.result()[0].status_code == 200
        assert [f.result()[0].status_code for f in good] == [200] * 8
        assert_error(bad.result()[0], 500, "internal_error")
    assert any("MARKER 江城" in call and len(call) == 9 for call in scripted.calls), scripted.calls


def test_a_short_request_is_not_stuck_behind_a_big_page(tiny_classifier):
    scripted = ScriptedClassifier(tiny_classifier, seconds_per_text=0.001)
    page = "\n".join(f"第{i}段：江城新增就业岗位。" for i in range(2000))
    with served(scripted, max_batch_chars=2_000) as client:
        big = post_later(client, 0, "/classify/page", {"inputs": page})
        wait_until(lambda: scripted.calls, "the page's first call started")
        short = post_later(client, 0, "/classify", {"inputs": "江城新增就业岗位。"})
        (big_response, big_done), (short_response, short_done) = big.result(), short.result()
    assert big_response.status_code == 200 and len(big_response.json()["blocks"]) == 2000
    assert short_response.status_code == 200
    assert short_done < big_done, "the one-sentence request waited for the whole page"


def test_a_request_that_waits_too_long_gets_503_with_retry_after(tiny_classifier):
    with served(ScriptedClassifier(tiny_classifier, seconds_per_call=1.0), request_timeout_s=0.3) as client:
        response = client.post("/classify", json={"inputs": "江城新增就业岗位。"})
        assert_error(response, 503, "overloaded")
        assert int(response.headers["Retry-After"]) >= 1


def test_a_full_queue_answers_503_at_once(tiny_classifier):
    scripted = ScriptedClassifier(tiny_classifier, held=True)
    with served(scripted, max_queued_chars=50) as client:
        running = post_later(client, 0, "/classify", {"inputs": "江城"})
        wait_until(lambda: scripted.calls, "the first call started")
        queued = post_later(client, 0, "/classify", {"inputs": "长" * 40})
        wait_until(lambda: queued_chars(client) == 40, "the second request is queued")
        refused = client.post("/classify", json={"inputs": "短" * 20})
        assert_error(refused, 503, "overloaded")
        assert int(refused.headers["Retry-After"]) >= 1
        scripted.release.set()
        assert running.result()[0].status_code == 200 and queued.result()[0].status_code == 200


def test_big_requests_filling_their_lane_do_not_shut_out_short_ones(tiny_classifier):
    scripted = ScriptedClassifier(tiny_classifier, held=True)
    with served(scripted, max_batch_chars=100, max_queued_chars=300) as client:
        two_calls = {"inputs": ["长" * 100, "文" * 100]}  # bigger than one model call: the big lane
        first = post_later(client, 0, "/classify", two_calls)  # one text in the model, one waiting
        wait_until(lambda: scripted.calls, "the first call started")
        second = post_later(client, 0, "/classify", two_calls)
        wait_until(lambda: queued_chars(client) == 300, "the big lane holds 300 characters")
        assert_error(client.post("/classify", json=two_calls), 503, "overloaded")
        short = post_later(client, 0, "/classify", {"inputs": "江城新增就业岗位。"})
        wait_until(lambda: queued_chars(client) == 309, "the short request is queued")
        scripted.release.set()
        assert short.result()[0].status_code == 200
        assert first.result()[0].status_code == 200 and second.result()[0].status_code == 200


def test_a_request_past_the_work_limit_is_refused(tiny_classifier):
    with served(tiny_classifier, max_request_chars=1_000) as client:
        page = "\n".join(f"第{i}段：江城新增就业岗位。" for i in range(200))
        assert_error(client.post("/classify/page", json={"inputs": page}), 422, "too_much_text")
        assert_error(client.post("/classify", json={"inputs": ["长" * 600, "长" * 600]}), 422, "too_much_text")
        assert client.post("/classify", json={"inputs": ["长" * 600]}).status_code == 200


def test_the_texts_of_a_client_that_went_away_are_dropped(tiny_classifier):
    scripted = ScriptedClassifier(tiny_classifier, held=True)
    with served(scripted) as client:
        running = post_later(client, 0, "/classify", {"inputs": "江城"})
        wait_until(lambda: scripted.calls, "the first call started")
        with pytest.raises(httpx.ReadTimeout):
            client.post("/classify", json={"inputs": "GONE 江城"}, timeout=0.5)
        wait_until(lambda: queued_chars(client) == 0, "the gone client's texts left the queue")
        scripted.release.set()
        assert running.result()[0].status_code == 200
        assert client.post("/classify", json={"inputs": "江城新增"}).status_code == 200
        metrics = client.get("/metrics").text
    assert not any("GONE" in t for call in scripted.calls for t in call), scripted.calls
    assert 'route="/classify",status="499"' in metrics
