"""Finding a ticket ("find a ticket", GET /api/v1/tickets?q=) on a city's worth of tickets, on PostgreSQL.

The data is made as bench/scorecards.py makes it (`flask demo generate --bulk-base`: a base city
through the real services, then copied in the database up to --tickets). Then, in process, each kind of
search a coordinator (every ticket) and a department's staff (their department's tickets) make:
by ticket number, by tracking code, by a word found in many requests, by a word found in none (the
whole table read), and by two words. Each is timed as the median of --repeat runs, beside the
baseline measured in the same run: the lookup by ticket number, which reads the primary key. Each search
runs twice: as shipped (on PostgreSQL, words are first narrowed by the index of the requests'
character pairs) and with that narrowing left out (every request read for the words), as before it.

    .venv/bin/python bench/ticket_search.py [--tickets 200000] [--base 400] [--repeat 7] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from common import bulk_city_arguments, use_bulk_city

NAME = "participation_bench_search"


def main() -> None:
    parser = argparse.ArgumentParser()
    bulk_city_arguments(parser, tickets=200_000, base=400, months=12)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    use_bulk_city(NAME, args)

    from sqlalchemy import func, select, text

    from participation import create_app
    from participation.accounts.models import Role, User
    from participation.extensions import db
    from participation.intake.models import Submission
    from participation.routing import services
    from participation.routing.models import Ticket, TicketPart

    app = create_app()
    with app.app_context():
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        tickets = db.session.scalar(select(func.count()).select_from(Ticket))
        coordinator = next(u for u in db.session.scalars(select(User)) if u.has_role(Role.COORDINATOR))
        staff = next(
            u
            for u in db.session.scalars(select(User))
            if u.has_role(Role.DEPARTMENT_STAFF) and u.department_ids and not u.has_role(Role.COORDINATOR)
        )
        department = sorted(staff.department_ids)[0]
        theirs = db.session.scalar(
            select(func.count(func.distinct(TicketPart.ticket_id))).where(TicketPart.department_id == department)
        )
        # A ticket of the staff member's department, its code, and a word its text has. (The copies that
        # fill the database have codes of their own, BK-<n>; a ticket of the base city has a real one.)
        ticket_id, code, words = db.session.execute(
            select(Ticket.id, Submission.tracking_code, Submission.text)
            .join(Submission, Submission.id == Ticket.submission_id)
            .join(TicketPart, TicketPart.ticket_id == Ticket.id)
            .where(TicketPart.department_id == department, Submission.tracking_code.like("HC-%"))
            .order_by(Ticket.id.desc())
            .limit(1)
        ).one()
        common = (words or "噪音")[:2]
        searches = {
            "ticket number (baseline)": f"#{ticket_id}",
            "tracking code (typed in lower case)": code.lower(),
            f"a word in many requests ({common})": common,
            "a word in none (reads them all)": "zzqqxx",
            "two words": f"{common} 晚上",
        }

        def timed(actor, query: str) -> tuple[float, int]:
            runs, found = [], 0
            for _ in range(args.repeat):
                began = time.perf_counter()
                found = len(services.find_tickets(actor, query))
                runs.append((time.perf_counter() - began) * 1000)
                db.session.rollback()
            return statistics.median(runs), found

        indexed = services._word_pairs

        def unindexed(words):
            return None

        out: dict = {"tickets": tickets, "staff_department_tickets": theirs, "repeat": args.repeat}
        for who, actor in (("coordinator (every ticket)", coordinator), ("department staff", staff)):
            rows = {}
            baseline = None
            for label, query in searches.items():
                row = {}
                # As shipped (words narrowed by the character-pairs index), then every request read.
                for way, narrow in (("", indexed), ("without_pairs_index_", unindexed)):
                    services._word_pairs = narrow
                    try:
                        ms, found = timed(actor, query)
                    finally:
                        services._word_pairs = indexed
                    baseline = baseline if baseline is not None else ms
                    row |= {f"{way}median_ms": round(ms, 2), f"{way}found": found}
                    row[f"{way}ratio_to_baseline"] = round(ms / baseline, 1)
                rows[label] = row
            out[who] = rows
        print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
