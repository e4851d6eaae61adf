"""Where a submission's CPU goes, stage by stage, beside the trivial endpoint's cost in the same run.

The submit-to-ticket target compares two request rates on the same server; both are bounded by the
CPU each request needs. This script measures that CPU in one process on PostgreSQL, so that the
bound can be read off: a ticket's whole pipeline (the request that stores it, then the analysis,
routing, parts, events, deadlines, notifications and live events) against one health check, both
through Flask's test client (no HTTP parsing on either side), and the database server's own CPU
for each (all PostgreSQL processes, from /proc).

    .venv/bin/python bench/pipeline_cost.py [--tickets 200]

Prints one JSON object: milliseconds of CPU per health check and per ticket, the ticket's stages
(each stage's time includes the flushes it triggers), and the ceiling on the ratio that this CPU
allows, however the work is spread over processes and cores: health CPU / ticket CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

from common import ROUTE_EVERY_ITEM, fresh_postgres, prepare, server_env, texts

TICK = os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """Seconds of CPU used so far by every PostgreSQL process on this machine."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() not in ("postgres", "postmaster"):
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


@contextmanager
def measured(into: dict, key: str, count: int = 1):
    cpu, db, wall = time.process_time(), postgres_cpu(), time.perf_counter()
    yield
    into[key] = {
        "cpu_ms": round((time.process_time() - cpu) * 1000 / count, 3),
        "database_cpu_ms": round((postgres_cpu() - db) * 1000 / count, 3),
        "wall_ms": round((time.perf_counter() - wall) * 1000 / count, 3),
    }


class Stages:
    """CPU spent inside named functions (outermost call only, so nested stages are not counted twice)."""

    def __init__(self):
        self.spent: dict[str, float] = defaultdict(float)
        self._depth = 0

    def wrap(self, module, name: str, label: str) -> None:
        setattr(module, name, self.timed(getattr(module, name), label))

    def timed(self, original, label: str):
        def timed(*args, **kwargs):
            if self._depth:
                return original(*args, **kwargs)
            self._depth += 1
            started = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[label] += time.process_time() - started
                self._depth -= 1

        return timed


class HeldAnalysis:
    """Stands in for the embedded analysis thread: keeps the stored submissions for the script to analyse."""

    def __init__(self):
        self.items: list[int] = []

    def submit(self, items) -> bool:
        self.items.extend(items)
        return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--health", type=int, default=5000)
    args = parser.parse_args()

    url = fresh_postgres("participation_bench_cost")
    env = server_env(url, **ROUTE_EVERY_ITEM)
    prepare(env)
    os.environ.update(env)

    from participation import create_app
    from participation.core.scheduler import QUEUES
    from participation.extensions import db
    from participation.intake import tasks
    from participation.routing import engine, hooks
    from participation.routing import services as routing

    app = create_app()
    held = HeldAnalysis()
    app.extensions.setdefault(QUEUES, {})[tasks.ANALYSER] = held
    client = app.test_client()
    corpus = texts()

    def submit(n: int) -> None:
        body = {"kind": "complaint", "anonymous": True, "text": corpus[n % len(corpus)]}
        response = client.post("/api/v1/submissions", json=body)
        assert response.status_code == 201, response.get_data(as_text=True)

    def analyse(ids: list[int]) -> None:
        for submission_id in ids:
            with app.app_context():
                tasks.analyse_submission(submission_id)
                db.session.remove()

    # Warm up: the models load on first use.
    for n in range(20):
        submit(n)
    analyse(held.items)
    held.items.clear()
    for _ in range(200):
        client.get("/api/v1/health")

    figures: dict = {}
    with measured(figures, "health_check", args.health):
        for _ in range(args.health):
            client.get("/api/v1/health")
    with measured(figures, "submit_request", args.tickets):
        for n in range(20, 20 + args.tickets):
            submit(n)
    stages = Stages()
    stages.wrap(tasks, "analyse", "text analysis (language, sentiment, keywords)")
    stages.wrap(engine, "decide", "routing decision (router and catalog reads)")
    stages.wrap(routing, "_suggest_masters", "duplicate check")
    stages.wrap(routing, "_dispatch", "dispatch (parts, categories, clocks, events)")
    # What reacts to the new ticket events before commit, each on its own (deadlines, notifications, ...).
    hooks._subscribers[:] = [
        (order, stages.timed(fn, f"before commit: {fn.__module__.removeprefix('participation.')}.{fn.__name__}"))
        for order, fn in hooks._subscribers
    ]
    ids = list(held.items)
    with measured(figures, "analysis_and_routing", len(ids)):
        analyse(ids)
    analysis = figures["analysis_and_routing"]["cpu_ms"]
    named = {label: round(seconds * 1000 / len(ids), 3) for label, seconds in stages.spent.items()}
    named["the rest (loading, writing, commit)"] = round(analysis - sum(named.values()), 3)
    figures["analysis_and_routing"]["stages_cpu_ms"] = named

    health = figures["health_check"]
    ticket_cpu = figures["submit_request"]["cpu_ms"] + analysis
    ticket_db = figures["submit_request"]["database_cpu_ms"] + figures["analysis_and_routing"]["database_cpu_ms"]
    figures["ticket_total"] = {"cpu_ms": round(ticket_cpu, 3), "database_cpu_ms": round(ticket_db, 3)}
    ceiling = (health["cpu_ms"] + health["database_cpu_ms"]) / (ticket_cpu + ticket_db)
    figures["ratio_ceiling"] = round(ceiling, 4)
    figures["target_ratio"] = 0.4
    figures["cpu_ms_per_ticket_for_the_target"] = round((health["cpu_ms"] + health["database_cpu_ms"]) / 0.4, 3)
    print(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
