"""A small closed-loop HTTP load generator (threads, keep-alive), for loopback benchmarks only."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit


def run(
    base: str,
    make_request: Callable[[int], tuple[str, str, bytes | None, dict]],
    *,
    seconds: float,
    workers: int,
    rate: float | None = None,
) -> dict:
    """Send requests for `seconds` from `workers` threads (paced to `rate` per second if given)."""
    parts = urlsplit(base)
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))
    interval = workers / rate if rate else 0.0

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        next_at = time.perf_counter() + (interval * index / workers if rate else 0)
        while True:
            now = time.perf_counter()
            if now >= deadline:
                break
            if rate:
                if now < next_at:
                    time.sleep(next_at - now)
                next_at += interval
            with lock:
                n = next(counter)
            method, path, body, headers = make_request(n)
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                status = 599
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if status >= 400:
                    errors.append(status)
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else 0.0

    return {
        "requests": len(latencies),
        "errors": len(errors),
        "per_second": round(len(latencies) / wall, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def json_request(method: str, path: str, payload: dict | None = None) -> tuple[str, str, bytes | None, dict]:
    body = json.dumps(payload).encode() if payload is not None else None
    headers = {"Content-Type": "application/json"} if body else {}
    return method, path, body, headers
