"""Submit-to-ticket throughput on PostgreSQL beside a trivial endpoint on the same server.

Embedded mode (the default, the platform started as `make run` starts it: `flask serve`, with its
analysis, mail and beat threads): the request stores the submission, ticket and first event and
answers; the process's analysis thread analyses the text, routes it, creates the parts, writes the
events and publishes the live events.

With `--worker` the same is measured as a city deploys it: REDIS_URL set, a real Celery worker
process (on this same machine) doing analysis and routing, the web request only storing and
queueing.

In both, the request's own rate and latency are measured, and, separately, the end-to-end rate:
tickets that got their parts per second, from the first request until the queue is drained, and
the time from submission to dispatch of each ticket.

With `--gunicorn` the embedded mode is served by gunicorn instead, where no background threads run:
each request does the whole pipeline (Celery eager, after its commit) before it answers, and sends
its e-mails itself (the embedded figures in docs/benchmarks.md before 2026-11-30 were measured so).

    .venv/bin/python bench/submit_throughput.py [--seconds 15] [--workers 8] [--worker | --gunicorn]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext

from common import ROOT, ROUTE_EVERY_ITEM, fresh_postgres, prepare, server, server_env, texts
from loadgen import json_request, run


@contextmanager
def celery_worker(env: dict[str, str], concurrency: int, nice: int = 0):
    log = open(tempfile.mktemp(prefix="bench-worker-", suffix=".log"), "w")
    # As the README deploys it: the worker at a lower CPU priority than the web processes.
    niced = ["nice", "-n", str(nice)] if nice else []
    proc = subprocess.Popen(
        niced + [sys.executable, "-m", "celery", "-A", "participation.worker:celery", "worker", "--loglevel", "warning",
         "--concurrency", str(concurrency), "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield log.name
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def counts(url: str) -> tuple[int, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        tickets = conn.execute(text("SELECT count(*) FROM ticket")).scalar()
        routed = conn.execute(text("SELECT count(DISTINCT ticket_id) FROM ticket_part")).scalar()
    engine.dispose()
    return tickets, routed


def drained(url: str, timeout: float) -> float:
    """Wait until every stored ticket has its parts; return the moment it was so."""
    deadline = time.monotonic() + timeout
    while True:
        tickets, routed = counts(url)
        if routed >= tickets or time.monotonic() > deadline:
            return time.perf_counter()
        time.sleep(0.05)


def dispatch_delays(url: str, since_id: int) -> dict:
    """Seconds from a submission to its ticket's dispatch, for the tickets after since_id."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = (
            conn.execute(
                text(
                    "SELECT extract(epoch FROM t.dispatched_at - s.created_at) FROM ticket t "
                    "JOIN submission s ON s.id = t.submission_id WHERE t.id > :since AND t.dispatched_at IS NOT NULL "
                    "ORDER BY 1"
                ),
                {"since": since_id},
            )
            .scalars()
            .all()
        )
    engine.dispose()
    if not rows:
        return {"tickets": 0}
    pick = lambda q: round(float(rows[min(len(rows) - 1, int(q * len(rows)))]) * 1000, 1)  # noqa: E731
    return {"tickets": len(rows), "p50_ms": pick(0.5), "p99_ms": pick(0.99)}


def last_ticket(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(text("SELECT coalesce(max(id), 0) FROM ticket")).scalar()
    engine.dispose()
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--worker", action="store_true", help="a real Celery worker on Redis does the routing")
    parser.add_argument("--concurrency", type=int, default=2, help="the Celery worker's processes (--worker)")
    parser.add_argument(
        "--gunicorn",
        action="store_true",
        help="embedded, under gunicorn instead of as `make run` starts it (no mail thread: the request sends e-mail)",
    )
    parser.add_argument(
        "--worker-nice", type=int, default=10, help="the worker's niceness, as the README deploys it (0: none)"
    )
    args = parser.parse_args()

    url = fresh_postgres("participation_bench")
    env = server_env(url, **ROUTE_EVERY_ITEM)
    prepare(env)
    corpus = texts()

    def submission(n: int):
        return json_request(
            "POST", "/api/v1/submissions", {"kind": "complaint", "anonymous": True, "text": corpus[n % len(corpus)]}
        )

    if args.worker or not args.gunicorn:
        measure_queued(args, url, env, submission)
        return

    with server(env) as base:
        run(base, submission, seconds=3, workers=2)  # warm up: models load on first use
        baseline = run(
            base, lambda n: json_request("GET", "/api/v1/health"), seconds=args.seconds, workers=args.workers
        )
        submit = run(base, submission, seconds=args.seconds, workers=args.workers)
        half = submit["per_second"] / 2
        paced = run(base, submission, seconds=args.seconds, workers=args.workers, rate=half)

    tickets, routed = counts(url)
    ratio = submit["per_second"] / baseline["per_second"] if baseline["per_second"] else 0
    print(
        json.dumps(
            {
                "mode": "embedded, under gunicorn: the whole pipeline in the request",
                "baseline_health": baseline,
                "submit_to_ticket": submit,
                "ratio_to_baseline": round(ratio, 3),
                "paced_at_half_rate": {**paced, "target_rate": round(half, 1)},
                "tickets_stored": tickets,
                "tickets_with_parts": routed,
                "targets": {"ratio_at_least": 0.4, "p99_ms_at_half_rate_below": 100},
            },
            indent=2,
        )
    )


def measure_queued(args, url: str, env: dict[str, str], submission) -> None:
    """The request stores and queues; a Celery worker (`--worker`) or the embedded server's own
    analysis thread (as `make run` starts it) analyses and routes."""
    if args.worker:
        import redis

        redis_url = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/9")
        redis.Redis.from_url(redis_url).flushdb()
        env = {**env, "REDIS_URL": redis_url}
        background = celery_worker(env, args.concurrency, args.worker_nice)
        web = server(env)
    else:
        background = nullcontext("the web process's own analysis thread")
        web = server(env, as_make_run=True)
    with background as worker_log, web as base:
        run(base, submission, seconds=3, workers=2)  # warm up both processes
        drained(url, 120)
        baseline = run(
            base, lambda n: json_request("GET", "/api/v1/health"), seconds=args.seconds, workers=args.workers
        )
        since, (_tickets, routed_before) = last_ticket(url), counts(url)
        began = time.perf_counter()
        submit = run(base, submission, seconds=args.seconds, workers=args.workers)
        done = drained(url, 300)
        tickets, routed = counts(url)
        end_to_end = (routed - routed_before) / (done - began)
        closed_loop_delays = dispatch_delays(url, since)
        half = end_to_end / 2
        since = last_ticket(url)
        paced = run(base, submission, seconds=args.seconds, workers=args.workers, rate=half)
        drained(url, 300)
        paced_delays = dispatch_delays(url, since)
    tickets, routed = counts(url)
    print(
        json.dumps(
            {
                "mode": f"Celery worker on Redis, concurrency {args.concurrency}, nice {args.worker_nice} "
                f"(log {worker_log})"
                if args.worker
                else f"embedded, as make run starts it ({worker_log})",
                "baseline_health": baseline,
                "submit_requests": submit,
                "end_to_end_tickets_per_second": round(end_to_end, 1),
                "ratio_to_baseline": round(end_to_end / baseline["per_second"], 3) if baseline["per_second"] else 0,
                "submission_to_dispatch": closed_loop_delays,
                "paced_at_half_the_end_to_end_rate": {**paced, "target_rate": round(half, 1)},
                "paced_submission_to_dispatch": paced_delays,
                "tickets_stored": tickets,
                "tickets_with_parts": routed,
                "targets": {"ratio_at_least": 0.4, "p99_ms_at_half_rate_below": 100},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
