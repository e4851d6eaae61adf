"""SQLite, the embedded default's database, set for several threads writing at once.

`make run` writes from request threads, the analysis thread, the mail thread and the embedded beat.
SQLite lets one of them write at a time and makes the others wait; by default a writer gives up with
"database is locked" after five seconds, which a burst of submissions can reach (each analysis holds
the write lock while it routes). Writers now wait up to BUSY_SECONDS, and the database keeps a
write-ahead log, so that readers never wait for a writer and a writer never waits for readers.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine

BUSY_SECONDS = 30


def configure(engine: Engine) -> None:
    """Set every new SQLite connection of the engine to wait for the write lock and to use WAL."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _settings(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}")
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode = WAL")  # kept in the file: a no-op once set
        finally:
            cursor.close()
