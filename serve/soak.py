"""Soak test: good requests mixed with every bad input of issue 14, for minutes, at concurrency 32.

    python -m serve.bench --soak [--minutes 10] [--concurrency 32] [--model model]

Run by hand, not in CI. It starts ``paratheme serve`` on 127.0.0.1 (a free port, with a token),
sends one warm-up pass of every input, then runs ``--concurrency`` clients until ``--minutes``
have passed (or ``--max-requests`` were sent): three requests in four are good ones, the rest are
drawn from the bad inputs below. A prober in a process of its own asks ``/health`` five times a
second.
It prints:

- errors on good requests (anything but 200; target 0) and their p50 / p99 latency;
- ``/health`` p99 during the soak (target < 50 ms);
- the server's RSS after the warm-up pass and at the end (target: growth < 10%);
- for each input, the statuses it got; a 500 anywhere is a bug.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
TOKEN = "soak-token"
JSON = {"Content-Type": "application/json"}
SENTENCES = [
    "江城市今年新增城镇就业六万八千人，城镇调查失业率保持在百分之五以内。",
    "江城环保部门说，今年蓝天的日子比去年多了二十一天。",
    "高新区新认定高新技术企业一百二十家，研发投入强度持续提高。",
    "城区新建普惠性幼儿园十二所，新增学位三千六百个。",
    "相关推荐",
    "版权所有 江城市人民政府办公室",
    "首页 | 新闻 | 财经 | 科技 | 地方",
    "江城乡村人家的钱袋子今年又鼓了一些，涨得比城里快。",
]


@dataclass(frozen=True)
class Case:
    """One kind of request: ``path`` and ``body`` (bytes) with ``headers``; ``good`` ones must get 200."""
    name: str
    good: bool
    path: str = "/classify"
    body: bytes = b""
    headers: tuple = tuple(JSON.items())
    special: str = ""  # "disconnect-mid-body", "disconnect-waiting", "unknown-path", "wrong-token"


def _json(data) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def good_cases() -> list[Case]:
    page = (REPO / "examples" / "portal-page.html").read_text(encoding="utf-8")
    return [
        Case("one text", True, body=_json({"inputs": SENTENCES[0]})),
        Case("one text (varied)", True, body=b""),  # filled per request with a random sentence and number
        Case("four texts, top_k 2", True, body=_json({"inputs": SENTENCES[:4], "parameters": {"top_k": 2}})),
        Case("predict", True, "/predict", _json({"inputs": SENTENCES[2]})),
        Case("example page", True, "/classify/page", _json({"inputs": page})),
    ]


def bad_cases() -> list[Case]:
    """Every server-facing bad input of issue 14, each as a client would send it."""
    big_page = "\n".join(f"第{i}段：{SENTENCES[i % len(SENTENCES)]}" for i in range(5_000))
    nested = "<html><body>" + "<div>" * 300 + "<p>江城新增就业岗位。</p>" + "</div>" * 300 + "</body></html>"
    gb_page = ('<html><head><meta charset="gb2312"></head><body><p>' + SENTENCES[0] + "</p><p>" + SENTENCES[1]
               + "</p></body></html>")
    return [
        Case("lone surrogate text", False, body=b'{"inputs": "abc\\ud800"}'),
        Case("lone surrogate in a list", False, "/predict", b'{"inputs": ["\\u6c5f\\u57ce", "abc\\udfff"]}'),
        Case("lone surrogate page", False, "/classify/page", b'{"inputs": "<p>abc\\ud800</p>"}'),
        Case("comment run before HTML (regex backtracking)", False, "/classify/page", _json({"inputs": "<!---->" * 24 + "x"})),
        Case("gb2312 declared, sent as a JSON string", False, "/classify/page", _json({"inputs": gb_page})),
        Case('meta charset "undefined"', False, "/classify/page",
             _json({"inputs": '<html><head><meta charset="undefined"></head><body><p>江城</p></body></html>'})),
        Case("5,000-block page", False, "/classify/page", _json({"inputs": big_page})),
        Case("one 600,000-character line", False, "/classify/page", _json({"inputs": "长" * 600_000})),
        Case("body over 2 MB", False, body=_json({"inputs": "长" * 750_000})),
        Case("100,000-deep JSON array", False, body=b"[" * 100_000 + b"]" * 100_000),
        Case("5,000-digit integer", False, body=b'{"inputs": 1' + b"0" * 5_000 + b"}"),
        Case("malformed JSON", False, body=b'{"inputs": "unterminated'),
        Case("text/plain Content-Type", False, body=_json({"inputs": "江城"}), headers=(("Content-Type", "text/plain"),)),
        Case("wrong type", False, body=_json({"inputs": 42})),
        Case("top_k 0", False, body=_json({"inputs": "江城", "parameters": {"top_k": 0}})),
        Case("XHTML page", False, "/classify/page", _json({"inputs": '<?xml version="1.0" encoding="utf-8"?>\n'
                                                           '<html xmlns="http://www.w3.org/1999/xhtml"><body><p>江城新闻</p></body></html>'})),
        Case("HTML fragment starting <table>", False, "/classify/page",
             _json({"inputs": "<table><tr><td>江城新闻</td></tr></table>"})),
        Case("300-deep nesting", False, "/classify/page", _json({"inputs": nested})),
        Case("DOCTYPE internal subset", False, "/classify/page",
             _json({"inputs": '<!DOCTYPE html [<!ENTITY x "y">]><html><body><p>江城新闻</p></body></html>'})),
        Case("unknown path", False, special="unknown-path"),
        Case("wrong token", False, body=_json({"inputs": "江城"}), special="wrong-token"),
        Case("disconnect mid-body", False, special="disconnect-mid-body"),
        Case("disconnect while waiting", False, body=_json({"inputs": SENTENCES * 8}), special="disconnect-waiting"),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class Soak:
    def __init__(self, port: int, seed: int = 0):
        self.base = f"http://127.0.0.1:{port}"
        self.port = port
        self.random = random.Random(seed)
        self.good, self.bad = good_cases(), bad_cases()
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.good_ms: list[float] = []
        self.good_errors: Counter = Counter()
        self.health_ms: list[float] = []
        self.sent = 0

    async def send(self, client, case: Case) -> str:
        """The status (or the exception's name) ``case`` got."""
        headers = {"Authorization": f"Bearer {TOKEN}", **dict(case.headers)}
        if case.special == "unknown-path":
            return str((await client.get(f"/no-such-path-{self.random.randrange(10**9)}", headers=headers)).status_code)
        if case.special == "wrong-token":
            headers["Authorization"] = "Bearer wrong"
        if case.special == "disconnect-mid-body":
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            writer.write(f"POST /classify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                         "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n".encode() + b'{"inputs": "')
            await writer.drain()
            writer.close()
            return "closed"
        body = case.body
        if case.name == "one text (varied)":
            body = _json({"inputs": f"{self.random.choice(SENTENCES)}（第{self.random.randrange(10**6)}号）"})
        timeout = 0.05 if case.special == "disconnect-waiting" else 120
        try:
            response = await client.post(case.path, content=body, headers=headers, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - every failure is counted, by name
            return type(exc).__name__
        return str(response.status_code)

    async def client_loop(self, client, deadline: float, max_requests: int) -> None:
        while time.perf_counter() < deadline and self.sent < max_requests:
            self.sent += 1
            case = self.random.choice(self.good) if self.random.random() < 0.75 else self.random.choice(self.bad)
            start = time.perf_counter()
            status = await self.send(client, case)
            self.statuses[case.name][status] += 1
            if case.good:
                self.good_ms.append((time.perf_counter() - start) * 1000)
                if status != "200":
                    self.good_errors[f"{case.name}: {status}"] += 1

    async def warm_up(self) -> None:
        import httpx

        async with httpx.AsyncClient(base_url=self.base) as client:
            for case in self.good + self.bad:
                await self.send(client, case)

    async def run(self, seconds: float, concurrency: int, max_requests: int) -> None:
        import httpx

        # The prober runs in its own process: in this one it would time the load generator's
        # event loop as much as the server.
        results = multiprocessing.get_context("spawn").Queue()
        prober = multiprocessing.get_context("spawn").Process(target=probe_health, args=(self.base, seconds, results))
        prober.start()
        deadline = time.perf_counter() + seconds
        async with httpx.AsyncClient(base_url=self.base, limits=httpx.Limits(max_connections=concurrency)) as client:
            await asyncio.gather(*(self.client_loop(client, deadline, max_requests) for _ in range(concurrency)))
        self.health_ms, failed = results.get(timeout=120)
        prober.join(timeout=30)
        self.statuses["/health"].update({"200": len(self.health_ms) - failed, "failed": failed})


def probe_health(base: str, seconds: float, results) -> None:
    """``GET /health`` five times a second for ``seconds``; puts (latencies in ms, failures) on ``results``."""
    import httpx

    latencies, failed = [], 0
    deadline = time.perf_counter() + seconds
    with httpx.Client(base_url=base, timeout=30) as client:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                failed += client.get("/health").status_code != 200
            except httpx.HTTPError:
                failed += 1
            latencies.append((time.perf_counter() - start) * 1000)
            time.sleep(0.2)
    results.put((latencies, failed))


def start_server(model: str, port: int, log: Path) -> subprocess.Popen:
    from .bench import wait_until_healthy

    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "paratheme.cli", "serve", "--model", model, "--host", "127.0.0.1",
                                    "--port", str(port), "--token", TOKEN], cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    return wait_until_healthy(process, port, f"the server did not start; its log: {log}")


def soak(model: str, minutes: float, concurrency: int, max_requests: int) -> dict:
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="paratheme-soak-")) / "server.log"
    process = start_server(model, port, log)
    try:
        runner = Soak(port)
        asyncio.run(runner.warm_up())
        rss_start = rss_mb(process.pid)
        started = time.perf_counter()
        asyncio.run(runner.run(minutes * 60, concurrency, max_requests))
        elapsed = time.perf_counter() - started
        rss_end = rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    server_log = log.read_text(errors="replace")
    good = np.array(runner.good_ms)
    health = np.array(runner.health_ms)
    return {
        "minutes": elapsed / 60, "concurrency": concurrency, "requests": runner.sent,
        "good_requests": len(good), "good_errors": sum(runner.good_errors.values()),
        "good_error_kinds": dict(runner.good_errors),
        "good_p50_ms": float(np.percentile(good, 50)), "good_p99_ms": float(np.percentile(good, 99)),
        "health_probes": len(health), "health_p50_ms": float(np.percentile(health, 50)),
        "health_p99_ms": float(np.percentile(health, 99)), "health_max_ms": float(health.max()),
        "rss_start_mb": rss_start, "rss_end_mb": rss_end, "rss_growth": rss_end / rss_start - 1,
        "server_500s": sum(c["500"] for c in runner.statuses.values()),
        "tracebacks_in_server_log": server_log.count("Traceback"),
        "statuses": {name: dict(counts) for name, counts in runner.statuses.items()},
        "server_log": str(log),
    }


def report(r: dict) -> None:
    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    print(f"soak: {r['minutes']:.1f} min at concurrency {r['concurrency']}, {r['requests']:,} requests "
          f"({r['good_requests']:,} good) against 127.0.0.1")
    print(f"errors on good requests: {r['good_errors']} (target 0: {verdict(r['good_errors'] == 0)}) {r['good_error_kinds'] or ''}")
    print(f"good requests: p50 {r['good_p50_ms']:.0f} ms, p99 {r['good_p99_ms']:.0f} ms")
    print(f"/health during the soak: {r['health_probes']} probes, p50 {r['health_p50_ms']:.1f} ms, "
          f"p99 {r['health_p99_ms']:.1f} ms, max {r['health_max_ms']:.0f} ms "
          f"(target p99 < 50 ms: {verdict(r['health_p99_ms'] < 50)})")
    print(f"server RSS: {r['rss_start_mb']:.0f} MB after warm-up, {r['rss_end_mb']:.0f} MB at the end, "
          f"{r['rss_growth']:+.1%} (target < 10%: {verdict(r['rss_growth'] < 0.10)})")
    print(f"500s: {r['server_500s']}; tracebacks in the server log: {r['tracebacks_in_server_log']} ({r['server_log']})")
    print("| input | statuses |")
    print("|---|---|")
    for name, counts in r["statuses"].items():
        print(f"| {name} | {', '.join(f'{s}: {n}' for s, n in sorted(counts.items()))} |")
