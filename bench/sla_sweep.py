"""The checkpoint sweep over many open clocks, and clock recomputation per ticket event, on PostgreSQL.

    .venv/bin/python bench/sla_sweep.py [--clocks 100000] [--due 1000] [--events 200]

Sweep: 100,000 running clocks, of which 1,000 are due, spread over 1,000 dispatched tickets;
one sweep fires their checkpoints (unique rows, ticket events, notifications, live events).
Its baseline in the same run is a sweep when nothing is due (the cost of finding nothing).

Recompute: a ticket event (an internal note) committed with its clock recomputation, beside
the same event with the recomputation switched off; the difference is the recomputation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import timedelta

from common import fresh_postgres, prepare, server_env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clocks", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--tickets", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()

    url = fresh_postgres("participation_bench_sla")
    # As under beat in production: tasks the sweep queues (e-mail delivery) go to a broker, not in-process.
    env = server_env(
        url,
        PARTICIPATION_ROUTING_AUTO_DISPATCH="false",
        PARTICIPATION_CELERY=json.dumps({"task_always_eager": False, "broker_url": "memory://"}),
    )
    prepare(env)
    os.environ.update(env)

    from sqlalchemy import insert, select, text

    from participation import create_app
    from participation.accounts.models import User
    from participation.catalog.models import Category, Department
    from participation.core.models import utcnow
    from participation.core.permissions import SYSTEM
    from participation.core.uow import transaction
    from participation.deadlines import services as deadlines
    from participation.deadlines.models import ClockKind, ClockState, SlaClock
    from participation.extensions import db
    from participation.intake import services as intake
    from participation.intake.models import Channel, Kind, Submission
    from participation.routing import hooks
    from participation.routing import services as routing
    from participation.routing.models import Ticket, TicketPart, TicketStatus

    app = create_app()
    with app.app_context():
        coordinator = db.session.scalar(select(User).where(User.email == "coordinator@demo.city"))
        category = db.session.scalar(select(Category).where(Category.code == "NOISE-CONSTRUCTION"))
        if category is None:
            category = db.session.scalars(select(Category)).first()
        departments = list(db.session.scalars(select(Department).limit(20)))
        now = utcnow()

        # Tickets: stored directly in bulk (the submission pipeline has its own benchmark).
        with transaction():
            first, _created = intake.submit(SYSTEM, {"kind": "complaint", "text": "样本诉求 sample", "anonymous": True})
            template = first.ticket
            sub_rows = [
                {
                    "tracking_code": f"HC-B{n:08d}",
                    "kind": Kind.COMPLAINT,
                    "text": f"bench {n}",
                    "title": "",
                    "address": "",
                    "anonymous": True,
                    "channel": Channel.API,
                    "contact_name": "",
                    "contact_phone": "",
                    "contact_email": "",
                    "keywords": [],
                    "created_at": now,
                }
                for n in range(args.tickets)
            ]
            db.session.execute(insert(Submission), sub_rows)
            ids = db.session.scalars(select(Submission.id).where(Submission.tracking_code.like("HC-B%"))).all()
            db.session.execute(
                insert(Ticket),
                [
                    {
                        "submission_id": sid,
                        "status": TicketStatus.DISPATCHED,
                        "priority": "normal",
                        "lead_department_id": departments[i % len(departments)].id,
                        "public_reply": "",
                        "reopen_count": 0,
                        "suggestions": [],
                        "duplicate_candidates": [],
                        "escalation_level": 0,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i, sid in enumerate(ids)
                ],
            )
            ticket_ids = db.session.scalars(select(Ticket.id).where(Ticket.id != template.id)).all()
        future, past = now + timedelta(days=30), now - timedelta(minutes=5)
        rows = []
        for n in range(args.clocks):
            ticket_id = ticket_ids[n % len(ticket_ids)]
            due = n < args.due
            rows.append(
                {
                    "key": f"{ticket_id}:-:bench:{n}",
                    "ticket_id": ticket_id,
                    "department_id": departments[n % len(departments)].id,
                    "kind": ClockKind.RESOLVE,
                    "cycle": 1,
                    "state": ClockState.RUNNING,
                    "around_the_clock": False,
                    "started_at": now - timedelta(days=1),
                    "target_minutes": 450,
                    "paused_minutes": 0,
                    "due_at": future,
                    "level": 0,
                    "next_level": 50,
                    "next_check_at": past if due else future,
                    "updated_at": now,
                }
            )
        started = time.perf_counter()
        with transaction():
            for i in range(0, len(rows), 10_000):
                db.session.execute(insert(SlaClock), rows[i : i + 10_000])
        load_seconds = time.perf_counter() - started
        db.session.execute(text("ANALYZE sla_clock"))
        db.session.commit()

        # Baseline: a sweep with nothing due (before the due ones' moment).
        started = time.perf_counter()
        with transaction():
            nothing = deadlines.sweep(past - timedelta(minutes=1))
        empty_seconds = time.perf_counter() - started

        profiler = None
        if os.environ.get("BENCH_PROFILE"):  # pyinstrument, when installed, shows where the sweep spends its time
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
        started = time.perf_counter()
        with transaction():
            fired = deadlines.sweep(now)
        sweep_seconds = time.perf_counter() - started
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False))
        with transaction():
            again = deadlines.sweep(now)

        # Recomputation per ticket event, on a real dispatched joint ticket.
        with transaction():
            submission, _created = intake.submit(
                SYSTEM, {"kind": "complaint", "text": "工地夜间施工噪音扰民，渣土车压坏路面", "anonymous": True}
            )
        ticket_id = submission.ticket.id
        from participation.intake.tasks import analyse_submission

        analyse_submission.apply(args=(submission.id,))  # in-process here: the bench has no worker
        db.session.expire_all()
        with transaction():
            routing.dispatch(
                coordinator, ticket_id, [category.code], departments[0].code, [departments[1].code, departments[2].code]
            )

        def note_times(n: int) -> list[float]:
            out = []
            for i in range(n):
                started = time.perf_counter()
                with transaction():
                    routing.add_note(coordinator, ticket_id, f"note {i}")
                out.append((time.perf_counter() - started) * 1000)
                db.session.expire_all()
            return out

        note_times(10)
        with_recompute = note_times(args.events)
        subscribers = list(hooks._subscribers)
        hooks._subscribers[:] = [s for s in subscribers if s[1] is not deadlines._recompute_on_events]
        without = note_times(args.events)
        hooks._subscribers[:] = subscribers
        started = time.perf_counter()
        for _i in range(args.events):
            with transaction():
                deadlines.recompute(db.session.get(Ticket, ticket_id))
            db.session.expire_all()
        recompute_only = (time.perf_counter() - started) / args.events * 1000
        parts = db.session.scalar(
            select(text("count(*)")).select_from(TicketPart).where(TicketPart.ticket_id == ticket_id)
        )

    def summary(values: list[float]) -> dict:
        ordered = sorted(values)
        return {
            "mean_ms": round(statistics.mean(values), 2),
            "p50_ms": round(ordered[len(ordered) // 2], 2),
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 2),
        }

    print(
        json.dumps(
            {
                "sweep": {
                    "open_clocks": args.clocks,
                    "due": args.due,
                    "fired": fired,
                    "fired_on_second_run": again,
                    "seconds": round(sweep_seconds, 3),
                    "baseline_nothing_due_seconds": round(empty_seconds, 4),
                    "baseline_fired": nothing,
                    "ratio_to_baseline": round(sweep_seconds / empty_seconds, 1) if empty_seconds else None,
                    "loading_clocks_seconds": round(load_seconds, 2),
                    "target_seconds_below": 2.0,
                },
                "recompute_per_event": {
                    "ticket_parts": parts,
                    "event_with_recompute": summary(with_recompute),
                    "baseline_event_without_recompute": summary(without),
                    "recompute_alone_including_writes_ms": round(recompute_only, 2),
                    "target_ms_below": 20,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
