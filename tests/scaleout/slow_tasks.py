"""A task that takes its time, for the worker tests: a worker loads it with `--include`."""

from __future__ import annotations

import time

from celery import shared_task


@shared_task(name="tests.slow")
def slow(log: str, seconds: float) -> None:
    """Note when it started (one line a run), then take `seconds`."""
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"{time.time()}\n")
    time.sleep(seconds)
