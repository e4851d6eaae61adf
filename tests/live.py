"""Run real server and worker processes for the tests that need them (scale-out, browser)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIVE_SECRET = "live-test-secret-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def require_redis() -> str:
    """The Redis URL for these tests; skip (or fail, in CI) when Redis is not reachable."""
    import redis

    url = redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if os.environ.get("REQUIRE_SERVICES"):
            pytest.fail(f"Redis is required but not reachable at {url}: {error}")
        pytest.skip(f"Redis not reachable at {url}")
    return url


def process_env(database_url: str, upload_folder: str, redis: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        DATABASE_URL=database_url,
        PARTICIPATION_SECRET_KEY=LIVE_SECRET,
        PARTICIPATION_UPLOAD_FOLDER=upload_folder,
        PYTHONUNBUFFERED="1",
        PARTICIPATION_ROUTING_AUTO_DISPATCH="false",
    )
    if redis:
        env["REDIS_URL"] = redis
    return env


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer at {url}:\n{log.read_text()[-3000:]}")


@contextmanager
def web_process(env: dict[str, str], log_dir: Path, name: str = "web"):
    """A gunicorn web process (threaded worker, websockets via simple-websocket); yields its base URL."""
    port = free_port()
    log = log_dir / f"{name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-k",
                "gthread",
                "--threads",
                "32",
                "-w",
                "1",
                "-b",
                f"127.0.0.1:{port}",
                "--graceful-timeout",
                "2",
                "participation.wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(base + "/api/v1/health", proc, log)
        yield base
    finally:
        _stop(proc)


@contextmanager
def _celery_process(args: list[str], env: dict[str, str], log: Path, ready: str, what: str):
    """Start `celery -A participation.worker:celery <args>`; yield it once its log shows `ready`."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "participation.worker:celery", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while ready not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield proc
    finally:
        _stop(proc)


@contextmanager
def worker_process(env: dict[str, str], log_dir: Path, include: str | None = None, prefork: bool = False):
    """A real Celery worker consuming from Redis; yields once it is ready (`include`: a module of test tasks
    it loads as well; `prefork`: one child process, as deployed, instead of running tasks in the consumer)."""
    pool = ["--pool", "prefork", "--concurrency", "1"] if prefork else ["--pool", "solo"]
    args = ["worker", *pool, "--loglevel", "info", "--without-gossip", "--without-mingle"]
    args += ["--include", include] if include else []
    with _celery_process([*args, "--without-heartbeat"], env, log_dir / "worker.log", "ready.", "worker") as proc:
        yield proc


@contextmanager
def beat_process(env: dict[str, str], log_dir: Path, name: str = "beat"):
    """A real Celery beat process with its own schedule file; yields (process, log path) once it has started.

    Beat only sends the due tasks of BEAT_TASKS to the broker; a worker does them.
    """
    log = log_dir / f"{name}.log"
    args = ["beat", "-s", str(log_dir / f"{name}-schedule"), "--loglevel=info"]
    with _celery_process(args, env, log, "beat: Starting", "beat") as proc:
        yield proc, log


def _stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
