"""Scorecards at city scale on PostgreSQL: full recompute, dashboard, incremental update.

    .venv/bin/python bench/scorecards.py [--tickets 1000000] [--base 2000] [--seed 7] [--fresh]

The data is made once by the generator (`flask demo generate --bulk-base`: `--base` tickets through
the services, their history copied in the database up to `--tickets`) into the database
`participation_bench_scoring`, and kept there for later runs (`--fresh` makes it anew); it is never
in git.

Printed, each beside its baseline from the same run:
- the full recompute of every month and the rolling 30 days (stored scorecards deleted first, so no
  month is frozen), beside a single SQL aggregate over the same events: ticket events counted per
  city month (`date_trunc` in the city's zone, as the recompute buckets them) and type;
- the dashboard's first page (`GET /scorecards`, a coordinator, in-process test client): the mean
  and p95 of 20 requests, and the first request after the stored rolling 30 days went stale (it
  computes them);
- the incremental update after one event (`scoring.refresh` for its month with its ticket: the
  ticket's shares of the open months replaced, see services.update_tickets), the mean and p95 over
  20 tickets (the first includes building the statements), beside the full recompute of that month
  and the beat's recompute of the rolling 30 days.
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import bulk_city_arguments, use_bulk_city

NAME = "participation_bench_scoring"


def _timed(fn, *args, **kwargs) -> float:
    began = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - began


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    bulk_city_arguments(parser, tickets=1_000_000, base=2_000, months=6)
    args = parser.parse_args()
    use_bulk_city(NAME, args)

    from sqlalchemy import delete, func, select, text

    from participation import create_app
    from participation.accounts.models import Role, User
    from participation.core.uow import transaction
    from participation.extensions import db
    from participation.routing.models import Ticket, TicketEvent
    from participation.scoring import services, tasks
    from participation.scoring.models import Scorecard

    app = create_app()
    with app.app_context():
        counts = {
            "tickets": db.session.scalar(select(func.count()).select_from(Ticket)),
            "events": db.session.scalar(select(func.count()).select_from(TicketEvent)),
        }
        for table in ("sla_clock", "callback_result", "dispute", "ticket_part"):
            counts[table] = db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()
        print("data:", counts)
        zone = app.config.get("CITY_TIMEZONE", "Asia/Shanghai")
        aggregate = text(
            "SELECT to_char(at AT TIME ZONE :zone, 'YYYY-MM') AS month, type, count(*) FROM ticket_event GROUP BY 1, 2"
        )
        baseline = min(_timed(lambda: db.session.execute(aggregate, {"zone": zone}).all()) for _ in range(3))
        db.session.rollback()

        def full() -> int:
            with transaction():
                db.session.execute(delete(Scorecard))
                return services.recompute_all([*services.periods_with_activity(), services.ROLLING])

        recompute = min(_timed(full) for _ in range(2))
        cards = db.session.scalar(select(func.count()).select_from(Scorecard))
        print(
            f"full recompute: {recompute:.2f} s ({cards} scorecards) | single SQL aggregate over the ticket events: "
            f"{baseline:.2f} s | ratio {recompute / baseline:.2f} (target <= 3)"
        )

        coordinator = next(u for u in db.session.scalars(select(User)) if u.has_role(Role.COORDINATOR))
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = coordinator.get_id()
            session["_fresh"] = True
        health = [_timed(client.get, "/api/v1/health") for _ in range(20)]
        pages = []
        for _ in range(20):
            began = time.perf_counter()
            response = client.get("/scorecards")
            pages.append(time.perf_counter() - began)
            assert response.status_code == 200, response.status_code
        with transaction():
            db.session.execute(delete(Scorecard).where(Scorecard.period == services.ROLLING))
        stale = _timed(client.get, "/scorecards")
        print(
            f"dashboard first page: mean {statistics.mean(pages) * 1000:.1f} ms, p95 {_p95(pages) * 1000:.1f} ms "
            f"(target < 300 ms) | trivial endpoint: mean {statistics.mean(health) * 1000:.1f} ms | "
            f"with the rolling 30 days computed in the request: {stale * 1000:.0f} ms"
        )

        recent = list(
            db.session.scalars(
                select(TicketEvent)
                .where(TicketEvent.type == "status.resolved")
                .order_by(TicketEvent.at.desc())
                .limit(20)
            )
        )
        db.session.rollback()
        updates = []
        for event in recent:
            period = services.period_of(event.at)
            updates.append(_timed(tasks.refresh.run, [period], [event.ticket_id]))
        print(
            f"incremental update of one event: mean {statistics.mean(updates) * 1000:.1f} ms, "
            f"p95 {_p95(updates) * 1000:.1f} ms (target < 50 ms) | full recompute of the same month: "
            f"{_timed(tasks.refresh.run, [services.period_of(recent[0].at)]) * 1000:.0f} ms | the rolling 30 days "
            f"(beat): {_timed(tasks.refresh_rolling.run) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
