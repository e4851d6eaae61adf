"""The bulk path of `flask demo generate --bulk-base B`: many tickets fast, with the services' own events.

The generator (`demo_data`) carries B tickets through the real services; this module then copies
that city's history inside the database, `INSERT ... SELECT` per table, until there are N tickets:
submissions, tickets and their categories, parts, events, clocks, disputes and callback results.
Every copy is the same events as its original (the same types, order, departments, clock outcomes,
callbacks and planted gaming), with new ids, its own tracking codes and clock keys, and its times
moved back by whole weeks (copy c by c mod `spread_weeks` weeks), so arrivals keep their weekday and
hour profile and the months fill evenly. Not copied: notifications, surveys' invitations and
responses, attachments, audit entries and checkpoints (a copy's callback results have no survey
response behind them); event payloads keep the original's ids; times move back by whole weeks of
UTC, so a copy's public holidays fall on other days than the calendar's.

Nothing here goes around the rules: the copies are of rows the services wrote. It exists for the
1,000,000-ticket benchmark, where the services' 8–9 tickets per second would take days.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from sqlalchemy import (
    Integer,
    String,
    Table,
    cast,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    true,
    union_all,
)

from participation.core.models import UTCDateTime
from participation.extensions import db

# In dependency order; each copied table's own id and the references to copied tables are moved.
TABLES = (
    "submission",
    "ticket",
    "ticket_category",
    "ticket_part",
    "ticket_event",
    "sla_clock",
    "dispute",
    "callback_result",
)
COPIES_PER_STATEMENT = 16


def _table(name: str) -> Table:
    return db.metadata.tables[name]


def _shift(value, weeks, dialect: str):
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%d %H:%M:%f", value, literal("-") + cast(weeks * 7, String) + literal(" days"))
    return value - weeks * literal_column("interval '7 days'")


def copy_history(tickets: int, spread_weeks: int = 26, echo: Callable[[str], None] = lambda _m: None) -> dict:
    """Copy the stored tickets' history until there are `tickets` tickets; returns counts and seconds."""
    began = time.perf_counter()
    dialect = db.session.get_bind().dialect.name
    base_ticket_ids = list(db.session.scalars(select(_table("ticket").c.id).order_by(_table("ticket").c.id)))
    base = len(base_ticket_ids)
    if base == 0 or tickets <= base:
        return {"copies": 0, "tickets": base, "seconds": 0.0}
    span = {
        name: (db.session.scalar(select(func.max(_table(name).c.id))) or 0)
        for name in TABLES
        if name != "ticket_category"
    }
    copies = math.ceil(tickets / base) - 1
    last_partial = tickets - base * copies  # tickets of the last copy
    for first in range(1, copies + 1, COPIES_PER_STATEMENT):
        if dialect == "postgresql":
            # the copies only reference rows that exist (their originals' references, moved): skip the
            # per-row foreign-key triggers in this transaction, as a bulk load does
            db.session.execute(text("SET LOCAL session_replication_role = replica"))
        numbers = list(range(first, min(first + COPIES_PER_STATEMENT, copies + 1)))
        full = [n for n in numbers if n < copies or last_partial == base]
        partial = [n for n in numbers if n not in full]
        for group, cut in ((full, None), (partial, base_ticket_ids[last_partial - 1] if partial else None)):
            if group:
                _copy(group, cut, span, spread_weeks, dialect)
        db.session.commit()
        done = min(base * (numbers[-1] + 1), tickets)
        echo(f"  copied: {done} of {tickets} tickets ({time.perf_counter() - began:.0f} s)")
    if dialect == "postgresql":
        for name in TABLES:
            if name != "ticket_category":
                db.session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
                )
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    seconds = time.perf_counter() - began
    return {"copies": copies, "base": base, "tickets": tickets, "seconds": round(seconds, 2)}


def _copy(numbers: list[int], cut: int | None, span: dict[str, int], weeks_spread: int, dialect: str) -> None:
    copy = union_all(*[select(literal(n, Integer).label("n")) for n in numbers]).subquery("copies")
    for name in TABLES:
        table = _table(name)
        weeks = copy.c.n % weeks_spread
        exprs = []
        for col in table.columns:
            refs = [fk.column.table.name for fk in col.foreign_keys if fk.column.table.name in span]
            if col.primary_key and name in span:
                value = col + copy.c.n * span[name]
            elif refs:
                value = col + copy.c.n * span[refs[0]]
            elif isinstance(col.type, UTCDateTime):
                value = _shift(col, weeks, dialect)
            else:
                value = col
            exprs.append(value)
        columns = [c.name for c in table.columns]
        stmt = select(*exprs).select_from(table).join(copy, true())
        # only the original rows: earlier copies are in the table too
        stmt = stmt.where(table.c.id <= span[name]) if name in span else stmt.where(table.c.ticket_id <= span["ticket"])
        if name == "submission":
            stmt = _override(stmt, table, copy, span, {"tracking_code": "BK", "idempotency_key": None})
            owner = select(_table("ticket").c.submission_id)
            if cut is not None:
                owner = owner.where(_table("ticket").c.id <= cut)
            stmt = stmt.where(table.c.id.in_(owner))
        elif name == "ticket":
            stmt = stmt.where(table.c.id <= cut) if cut is not None else stmt
        else:
            stmt = stmt.where(table.c.ticket_id <= cut) if cut is not None else stmt
            if name == "sla_clock":
                stmt = _override(stmt, table, copy, span, {"key": "clock"})
            elif name == "callback_result":
                stmt = _override(stmt, table, copy, span, {"response_id": None})
        db.session.execute(insert(table).from_select(columns, stmt))


def _override(stmt, table: Table, copy, span: dict[str, int], replace: dict):
    """Swap the columns that must stay unique: a tracking code from the new id, a clock key rebuilt."""
    out = []
    for col, expr in zip(table.columns, stmt.selected_columns, strict=True):
        if col.name not in replace:
            out.append(expr)
        elif replace[col.name] is None:
            out.append(literal(None, col.type))
        elif col.name == "tracking_code":
            out.append(literal("BK-") + cast(col.table.c.id + copy.c.n * span["submission"], String))
        else:  # the clock key: ticket:part-or-dash:kind:cycle, as deadlines.clocks builds it
            clocks = col.table.c
            out.append(
                cast(clocks.ticket_id + copy.c.n * span["ticket"], String)
                + literal(":")
                + func.coalesce(cast(clocks.part_id + copy.c.n * span["ticket_part"], String), "-")
                + literal(":")
                + func.lower(clocks.kind)
                + literal(":")
                + cast(clocks.cycle, String)
            )
    return stmt.with_only_columns(*out)
