"""Start a real server for a benchmark: a fresh database, the demo catalog, one gunicorn process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_postgres(name: str) -> str:
    """Drop and create a PostgreSQL database; return its URL."""
    from sqlalchemy import create_engine, text

    base = os.environ.get("BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{base}/{name}"


# Every item dispatched at once and none merged: a benchmark's corpus repeats its texts, and without this
# the repeats would be merged as duplicates (no parts of their own) or wait in triage.
ROUTE_EVERY_ITEM = {
    "PARTICIPATION_ROUTING_AUTO_DISPATCH": "true",
    "PARTICIPATION_ROUTING_CONFIDENCE_THRESHOLD": "0.0",
    "PARTICIPATION_DUPLICATE_AUTO_MERGE": "false",
}


def bulk_city_arguments(parser, tickets: int, base: int, months: int) -> None:
    """The command-line options of a benchmark that runs on a bulk city (see bulk_city)."""
    parser.add_argument("--tickets", type=int, default=tickets)
    parser.add_argument("--base", type=int, default=base, help="tickets made through the services, then copied")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--months", type=int, default=months)
    parser.add_argument("--fresh", action="store_true", help="make the data anew even if it is there")


def use_bulk_city(name: str, args) -> dict[str, str]:
    """The bulk city of these options (bulk_city), with this process set to run the platform against it."""
    _url, env = bulk_city(
        name, args.tickets, args.base, args.seed, args.months, args.fresh, PARTICIPATION_SCORING_LIVE="false"
    )
    os.environ.update(env)
    return env


def bulk_city(name: str, tickets: int, base: int, seed: int, months: int, fresh: bool, **settings: str):
    """A PostgreSQL database `name` holding `tickets` tickets (`flask demo generate --bulk-base base`),
    made again only when it does not hold that many (or `fresh`), migrated to this checkout's schema;
    returns its URL and the environment to run the platform against it."""
    from sqlalchemy import create_engine, text

    server = os.environ.get("BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")
    url = f"{server}/{name}"
    have = 0
    if not fresh:
        try:
            engine = create_engine(url)
            with engine.connect() as conn:
                have = conn.execute(text("SELECT count(*) FROM ticket")).scalar() or 0
            engine.dispose()
        except Exception:  # noqa: BLE001 - no such database yet
            have = 0
    env = server_env(url, **settings)
    flask = [sys.executable, "-m", "flask", "--app", "participation"]
    if have != tickets:
        url = fresh_postgres(name)
        prepare(env)
        began = time.perf_counter()
        subprocess.run(
            flask
            + ["demo", "generate", "--tickets", str(tickets), "--seed", str(seed)]
            + ["--months", str(months), "--bulk-base", str(base)],
            cwd=ROOT,
            env=env,
            check=True,
        )
        print(f"generated {tickets} tickets in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    # the schema of this checkout (kept data may predate an index)
    subprocess.run(flask + ["db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    return url, env


def server_env(database_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        DATABASE_URL=database_url,
        PARTICIPATION_SECRET_KEY="bench-secret",
        PARTICIPATION_UPLOAD_FOLDER=tempfile.mkdtemp(prefix="bench-uploads-"),
        PARTICIPATION_SUBMISSION_RATE_LIMIT="1000000 per minute",
        PARTICIPATION_SUGGEST_RATE_LIMIT="1000000 per minute",
    )
    env.update(settings)
    return env


def prepare(env: dict[str, str]) -> None:
    flask = [sys.executable, "-m", "flask", "--app", "participation"]
    subprocess.run(flask + ["db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(flask + ["demo", "load"], cwd=ROOT, env=env, check=True, capture_output=True)


@contextmanager
def server(env: dict[str, str], threads: int = 32, as_make_run: bool = False):
    """The platform served on a free port: by gunicorn (threads), or started as `make run` starts it
    (`flask serve`: the embedded server with its mail and beat threads)."""
    port = free_port()
    log = open(tempfile.mktemp(prefix="bench-web-", suffix=".log"), "w")
    if as_make_run:
        command = [sys.executable, "-m", "flask", "--app", "participation", "serve"]
        env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
    else:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "-k",
            "gthread",
            "--threads",
            str(threads),
            "-w",
            "1",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "participation.wsgi:app",
        ]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/api/v1/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start; see {log.name}") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def texts() -> list[str]:
    """Realistic request texts: the labelled dev cases if present, else the catalog's examples."""
    devset = ROOT / "participation" / "routing" / "devset" / "demo_cases.json"
    if devset.exists():
        return [case["text"] for case in json.loads(devset.read_text(encoding="utf-8"))]
    catalog = json.loads((ROOT / "participation" / "catalog" / "demo" / "catalog.json").read_text(encoding="utf-8"))
    return [example for category in catalog["categories"] for example in category["examples"]]
