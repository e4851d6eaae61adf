"""In-process background work for the embedded mode (`make run`: no Celery beat, tasks run eagerly).

`EmbeddedBeat` runs the periodic jobs of BEAT_TASKS in a daemon thread. `Background` is a daemon
thread that does work handed to it (`hand_over`), item by item, so that a request need not wait for
it: e-mail goes this way, so that a slow or unreachable mail server never holds up the person whose
action wrote it. Neither runs in production (Celery workers and beat do this work) or in tests,
unless a test starts one.
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import count
from typing import Any

from flask import Flask, current_app, has_app_context

log = logging.getLogger(__name__)
QUEUES = "background_queues"
_STOP = object()


class EmbeddedBeat:
    """Each task of a schedule {name: seconds} at its interval, in one daemon thread, in app contexts."""

    def __init__(self, app: Flask, schedule: dict[str, float]):
        self.app = app
        self.schedule = dict(schedule)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="embedded-beat", daemon=True)

    def start(self) -> EmbeddedBeat:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop after the task running now; True when the thread has ended."""
        self._stop.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        celery = self.app.extensions["celery"]
        due = dict.fromkeys(self.schedule, 0.0)
        while not self._stop.is_set():
            for name, seconds in self.schedule.items():
                if self._stop.is_set():
                    break
                now = time.monotonic()
                if now < due[name]:
                    continue
                due[name] = now + seconds
                try:
                    with self.app.app_context():
                        celery.tasks[name].apply()
                except Exception:  # a failing run must not stop the next ones
                    log.exception("periodic task %s failed", name)
            self._stop.wait(1.0)


class Background:
    """One daemon thread doing the items handed to it, in order, each in an app context of its own.

    An item that fails with one of `retry_on` (a database or a service briefly out of reach) is tried
    again after each of `delays` seconds in turn, as a Celery worker retries the same task with its
    backoff; the others go on meanwhile (the thread keeps the waiting items in a heap by due time, no
    thread of their own). After the last delay it is logged and left (the periodic jobs that look for
    unfinished work take it up)."""

    def __init__(
        self,
        app: Flask,
        name: str,
        work: Callable[[Any], Any],
        retry_on: tuple[type[BaseException], ...] = (),
        delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0),
    ):
        self.app = app
        self.name = name
        self.work = work
        self.retry_on = retry_on
        self.delays = delays
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=f"background-{name}", daemon=True)

    def start(self) -> Background:
        self.app.extensions.setdefault(QUEUES, {})[self.name] = self
        self._thread.start()
        return self

    def submit(self, items: Iterable[Any]) -> bool:
        """Queue the items; False when this thread no longer takes work."""
        if self.app.extensions.get(QUEUES, {}).get(self.name) is not self or not self._thread.is_alive():
            return False
        for item in items:
            self._queue.put(item)
        return True

    def stop(self, timeout: float = 30.0) -> bool:
        """Take no more work, finish what was queued (not the retries still waiting: the periodic jobs
        take those up); True when the thread has ended."""
        if self.app.extensions.get(QUEUES, {}).get(self.name) is self:
            del self.app.extensions[QUEUES][self.name]
        self._queue.put(_STOP)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        waiting: list[tuple[float, int, Any, int]] = []  # (due, order, item, tries so far)
        order = count()
        while True:
            while waiting and waiting[0][0] <= time.monotonic():
                _, _, item, tries = heapq.heappop(waiting)
                self._do(item, tries, waiting, order)
            try:
                entry = self._queue.get(timeout=max(0.0, waiting[0][0] - time.monotonic()) if waiting else None)
            except queue.Empty:
                continue
            if entry is _STOP:
                return
            self._do(entry, 0, waiting, order)

    def _do(self, item: Any, tries: int, waiting: list, order: Iterator[int]) -> None:
        try:
            with self.app.app_context():
                self.work(item)
        except self.retry_on as error:
            if tries < len(self.delays):
                delay = self.delays[tries]
                log.warning("background %s: %r failed (%s), again in %ss", self.name, item, error, delay)
                heapq.heappush(waiting, (time.monotonic() + delay, next(order), item, tries + 1))
            else:
                log.exception("background %s gave up on %r after %d tries", self.name, item, tries + 1)
        except Exception:  # one item's failure must not stop the others
            log.exception("background %s failed on %r", self.name, item)


def in_process(app: Flask) -> bool:
    """Do tasks run in this process (Celery eager: the embedded mode), with no workers or beat elsewhere?"""
    return bool(app.config["CELERY"].get("task_always_eager"))


def start_embedded_beat(app: Flask) -> EmbeddedBeat | None:
    """Run BEAT_TASKS in this process; only when tasks run in-process (no Celery beat elsewhere)."""
    if not in_process(app) or not app.config["BEAT_TASKS"]:
        return None
    schedule = {name: float(seconds) for name, seconds in app.config["BEAT_TASKS"].items()}
    return EmbeddedBeat(app, schedule).start()


def hand_over(name: str, items: Iterable[Any]) -> bool:
    """Give items to this process's background thread `name`; False when there is none."""
    if not has_app_context():
        return False
    background = current_app.extensions.get(QUEUES, {}).get(name)
    return background is not None and background.submit(items)
