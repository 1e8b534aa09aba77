"""Load benchmark: this server against a naive one that calls ``pipeline`` once per request.

    python -m serve.bench [--model model] [--requests 320] [--seconds 60]
    python -m serve.bench --soak [--minutes 10] [--concurrency 32]   (the soak test: serve/soak.py)

Each server runs alone on loopback (127.0.0.1) while a bounded load generator sends one
paragraph per request at concurrency 1, 8 and 32 (at most ``--requests`` requests and
``--seconds`` seconds per level). Prints requests/s, p50 and p99 latency and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CONCURRENCY = (1, 8, 32)


def naive_app(model_dir: str):
    """What a user would write without this package: one pipeline call per request."""
    from fastapi import FastAPI
    from transformers import pipeline

    classify = pipeline("text-classification", model=model_dir)
    app = FastAPI()

    @app.post("/classify")
    def run(body: dict):  # a plain def: FastAPI runs it in its thread pool
        return classify(body["inputs"])

    @app.get("/health")
    def health():
        return {"status": "ok"}

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kind: str, model: str, port: int) -> subprocess.Popen:
    if kind == "paratheme":
        command = [sys.executable, "-m", "paratheme.cli", "serve", "--model", model, "--port", str(port)]
    else:
        command = [sys.executable, "-m", "serve.bench", "--naive-server", "--model", model, "--port", str(port)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_until_healthy(process, port, f"{kind} server did not start")


def wait_until_healthy(process: subprocess.Popen, port: int, failure: str) -> subprocess.Popen:
    """``process`` once its ``/health`` answers 200 (two minutes at most; then it is killed)."""
    import httpx

    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(failure)


async def load(port: int, texts: list[str], concurrency: int, max_requests: int, max_seconds: float) -> dict:
    import httpx

    latencies, errors = [], 0
    sent = 0
    start = time.perf_counter()

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        async def worker():
            nonlocal sent, errors
            while sent < max_requests and time.perf_counter() - start < max_seconds:
                text = texts[sent % len(texts)]
                sent += 1
                t0 = time.perf_counter()
                try:
                    response = await client.post("/classify", json={"inputs": text})
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {"concurrency": concurrency, "requests": len(latencies), "errors": errors,
            "requests_per_second": len(latencies) / elapsed,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serve.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(REPO / "model"))
    parser.add_argument("--requests", type=int, default=320, help="most requests per concurrency level")
    parser.add_argument("--seconds", type=float, default=60, help="most seconds per concurrency level")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--soak", action="store_true", help="run the soak test instead (serve/soak.py)")
    parser.add_argument("--minutes", type=float, default=10, help="soak: how long")
    parser.add_argument("--concurrency", type=int, default=32, help="soak: clients at once")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="soak: most requests in all")
    parser.add_argument("--naive-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.naive_server:
        import uvicorn

        uvicorn.run(naive_app(args.model), host="127.0.0.1", port=args.port, log_level="warning")
        return 0

    if args.soak:
        from .soak import report, soak

        results = soak(args.model, args.minutes, args.concurrency, args.max_requests)
        report(results)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
        return 0

    from paratheme.pages import read_page

    texts = [b.text for b in read_page((REPO / "examples" / "portal-page.html").read_bytes())]
    results = {}
    for kind in ("paratheme", "naive"):
        port = free_port()
        process = start(kind, args.model, port)
        try:
            asyncio.run(load(port, texts, 1, 5, 30))  # warm-up
            results[kind] = [asyncio.run(load(port, texts, c, args.requests, args.seconds)) for c in CONCURRENCY]
        finally:
            process.terminate()
            process.wait(timeout=30)

    print(f"hardware: {platform.machine()}, {os.cpu_count()} CPU cores; one paragraph per request, "
          f"{len(texts)} distinct paragraphs of the example page")
    print("| server | concurrency | requests | errors | requests/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for kind, rows in results.items():
        for r in rows:
            print(f"| {kind} | {r['concurrency']} | {r['requests']} | {r['errors']} | {r['requests_per_second']:.1f} | "
                  f"{r['p50_ms']:.0f} | {r['p99_ms']:.0f} |")
    for ours, naive in zip(results["paratheme"], results["naive"]):
        print(f"concurrency {ours['concurrency']}: {ours['requests_per_second'] / naive['requests_per_second']:.1f}x the naive throughput")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
