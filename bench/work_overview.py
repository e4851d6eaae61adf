"""What staff and coordinators open first, on a city's worth of tickets, on PostgreSQL: the work overview's
counts, the inbox (newest first, by nearest deadline, past a deadline) and the escalation queue.

The data is the city of bench/ticket_search.py (`flask demo generate --bulk-base`: a base city through
the real services, copied in the database up to --tickets; a year of tickets, so the copies of the
base city's open tickets are open and late, thousands of them). In process, each read is timed as the
median of --repeat runs, for the department with the most open parts and for a coordinator, beside
the baseline measured in the same run: the lookup of a ticket by its number (the primary key).
The escalation queue is timed as its page shows it (the first ESCALATION_PAGE_SIZE tickets) and
whole, as the API without `limit` gives it.

    .venv/bin/python bench/work_overview.py [--tickets 200000] [--base 400] [--repeat 5] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from common import bulk_city_arguments, use_bulk_city

NAME = "participation_bench_search"  # the same city as ticket_search.py


def main() -> None:
    parser = argparse.ArgumentParser()
    bulk_city_arguments(parser, tickets=200_000, base=400, months=12)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    use_bulk_city(NAME, args)

    from sqlalchemy import func, select, text

    from participation import create_app
    from participation.accounts.models import Role, User
    from participation.deadlines import services as deadlines
    from participation.extensions import db
    from participation.routing import services
    from participation.routing.models import OPEN_STATUSES, PartStatus, Ticket, TicketPart

    app = create_app()
    with app.app_context():
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        users = list(db.session.scalars(select(User)))
        coordinator = next(u for u in users if u.has_role(Role.COORDINATOR))
        department, open_parts = db.session.execute(
            select(TicketPart.department_id, func.count())
            .join(Ticket, Ticket.id == TicketPart.ticket_id)
            .where(Ticket.status.in_(OPEN_STATUSES), TicketPart.status != PartStatus.ENDED)
            .group_by(TicketPart.department_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        staff = next(
            u
            for u in users
            if u.has_role(Role.DEPARTMENT_STAFF) and department in u.department_ids and not u.has_role(Role.COORDINATOR)
        )
        newest = db.session.scalar(select(func.max(Ticket.id)))
        page = app.config["ESCALATION_PAGE_SIZE"]

        def timed(call) -> tuple[float, object]:
            runs, result = [], None
            for _ in range(args.repeat):
                began = time.perf_counter()
                result = call()
                runs.append((time.perf_counter() - began) * 1000)
                db.session.rollback()
            return statistics.median(runs), result

        def size(result) -> object:
            return result if isinstance(result, (int, dict)) else len(result)

        reads = {
            "ticket by number (baseline)": lambda: services.find_tickets(coordinator, f"#{newest}"),
            "department's overview counts": lambda: services.department_workload(staff, department),
            "inbox, newest first": lambda: services.inbox(staff, department),
            "inbox, nearest deadline first": lambda: services.inbox(staff, department, sort="deadline"),
            "inbox, past a deadline": lambda: services.inbox(staff, department, due="overdue"),
            "inbox, how many parts": lambda: services.inbox_size(staff, department),
            "coordination centre's overview counts": lambda: services.coordination_workload(coordinator),
            f"escalation queue, first {page} (the page)": lambda: deadlines.escalation_queue(coordinator, limit=page),
            "escalation queue, every ticket (the API without limit)": lambda: deadlines.escalation_queue(coordinator),
        }
        out: dict = {
            "tickets": db.session.scalar(select(func.count()).select_from(Ticket)),
            "open_tickets": db.session.scalar(
                select(func.count()).select_from(Ticket).where(Ticket.status.in_(OPEN_STATUSES))
            ),
            "department_open_parts": open_parts,
            "repeat": args.repeat,
        }
        baseline = None
        for label, call in reads.items():
            ms, result = timed(call)
            baseline = baseline if baseline is not None else ms
            out[label] = {"median_ms": round(ms, 2), "ratio_to_baseline": round(ms / baseline, 1), "read": size(result)}
        print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
