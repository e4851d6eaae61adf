"""Duplicate check per new item, in a busy category, beside the way it was first written.

A fresh PostgreSQL database gets the demo catalog, `--elsewhere` open dispatched tickets in the other
categories (written directly, as a busy city's backlog), then `--open` open tickets in one category
(the dev-set texts, submitted through the API with that category chosen). Then the check the router runs
for every new item, `find_candidates`, is timed on the newest tickets, beside the baseline in the
same run: the first version of the check, which loaded every candidate as a ticket with its
submission and fitted scikit-learn's TfidfVectorizer on the texts. Both must find the same masters.

    .venv/bin/python bench/duplicates.py [--open 300] [--checks 100] [--elsewhere 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import timedelta
from functools import lru_cache

from common import fresh_postgres, prepare, server_env, texts

CATEGORY = "ENV-NOISE-CONSTRUCTION"


_first_features = None


def first_version(ticket):
    """The check as first written: tickets loaded whole, TF-IDF fitted by scikit-learn on every call
    (with the features of the last 512 texts remembered, as then)."""
    global _first_features
    from flask import current_app
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sqlalchemy import and_, or_, select
    from sqlalchemy.orm import contains_eager

    from participation.catalog.models import Category
    from participation.core.models import utcnow
    from participation.extensions import db
    from participation.intake.models import Submission
    from participation.routing.duplicates import _category_id, _near, _place, features, ticket_text
    from participation.routing.models import OPEN_STATUSES, Ticket, TicketCategory

    if _first_features is None:
        _first_features = lru_cache(maxsize=512)(features)
    config = current_app.config
    now = utcnow()
    by_code = {code: id_ for code, id_ in db.session.execute(select(Category.code, Category.id))}
    category_id = _category_id(ticket, by_code)
    if category_id is None:
        return []
    since = now - timedelta(days=config["DUPLICATE_WINDOW_DAYS"])
    stmt = (
        select(Ticket, TicketCategory.category_id)
        .join(Ticket.submission)
        .outerjoin(TicketCategory, and_(TicketCategory.ticket_id == Ticket.id, TicketCategory.primary.is_(True)))
        .where(
            Ticket.id < ticket.id,
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.master_id.is_(None),
            Ticket.created_at >= since,
            Ticket.created_at <= now,
            or_(
                TicketCategory.category_id == category_id,
                and_(
                    TicketCategory.category_id.is_(None),
                    or_(Submission.category_id == category_id, Submission.category_id.is_(None)),
                ),
            ),
        )
        .options(contains_eager(Ticket.submission))
        .order_by(Ticket.id.desc())
        .limit(config["DUPLICATE_SCAN_LIMIT"])
    )
    cache: dict = {}
    pool = []
    for other, linked in db.session.execute(stmt):
        if linked is None and other.submission.category_id is None:
            code = (other.suggestions or [{}])[0].get("code")
            if by_code.get(code) != category_id:
                continue
        near = _near(_place(ticket), _place(other), cache)
        if near is False:
            continue
        pool.append((other, config["DUPLICATE_MIN_SIMILARITY"] if near else config["DUPLICATE_NO_PLACE_SIMILARITY"]))
    if not pool:
        return []
    try:
        matrix = TfidfVectorizer(analyzer=_first_features, sublinear_tf=True).fit_transform(
            [ticket_text(ticket)] + [ticket_text(t) for t, _threshold in pool]
        )
    except ValueError:  # no features at all
        return []
    scores = (matrix[1:] @ matrix[0].T).toarray().ravel()
    found = [(t, round(float(min(max(s, 0.0), 1.0)), 4)) for (t, th), s in zip(pool, scores, strict=True) if s >= th]
    found.sort(key=lambda item: (-item[1], -item[0].id))
    return found[:3]


def timed(fn, tickets) -> tuple[dict, list]:
    from participation.extensions import db

    results = []
    started = time.perf_counter()
    for ticket in tickets:
        db.session.expire_all()  # each check starts as a worker's would: nothing loaded yet
        results.append([(t.id, s) for t, s in fn(ticket)])
    elapsed = time.perf_counter() - started
    return {"checks": len(tickets), "ms_per_check": round(elapsed / len(tickets) * 1000, 2)}, results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, default=300, help="open tickets in the category")
    parser.add_argument("--checks", type=int, default=100)
    parser.add_argument("--elsewhere", type=int, default=3000, help="open tickets in the other categories")
    args = parser.parse_args()

    env = server_env(
        fresh_postgres("participation_bench_duplicates"),
        PARTICIPATION_DUPLICATE_AUTO_MERGE="false",
        PARTICIPATION_ROUTING_AUTO_DISPATCH="true",
        PARTICIPATION_ROUTING_CONFIDENCE_THRESHOLD="0.0",
    )
    prepare(env)
    os.environ.update(env)
    from sqlalchemy import text
    from threadpoolctl import threadpool_limits

    from participation import create_app
    from participation.extensions import db
    from participation.routing.duplicates import find_candidates
    from participation.routing.models import Ticket

    app = create_app()
    corpus = texts()
    client = app.test_client()
    with app.app_context():
        backlog(args.elsewhere, corpus)
    started = time.perf_counter()
    for n in range(args.open + args.checks):
        body = {"kind": "complaint", "anonymous": True, "category": CATEGORY, "text": corpus[n % len(corpus)]}
        response = client.post("/api/v1/submissions", json=body)
        assert response.status_code == 201, response.get_data(as_text=True)
    filled = time.perf_counter() - started
    with app.app_context(), threadpool_limits(limits=1):
        db.session.execute(text("ANALYZE"))  # the planner's statistics, as autovacuum keeps them in a running city
        db.session.commit()
        ids = db.session.scalars(select_newest(Ticket, args.checks)).all()
        tickets = [db.session.get(Ticket, i) for i in ids]
        for check in (first_version, find_candidates):  # both warm: each keeps its texts' features, as in a worker
            timed(check, tickets)
        first, first_found = timed(first_version, tickets)
        now, now_found = timed(find_candidates, tickets)
    same = first_found == now_found
    print(
        json.dumps(
            {
                "open_tickets_in_category": args.open,
                "open_tickets_in_other_categories": args.elsewhere,
                "submissions_per_second_while_filling": round((args.open + args.checks) / filled, 1),
                "baseline_first_version": first,
                "find_candidates": now,
                "speed_up": round(first["ms_per_check"] / now["ms_per_check"], 2),
                "same_masters_found": same,
                "masters_found": sum(len(f) for f in now_found),
            },
            indent=2,
        )
    )
    if not same:
        raise SystemExit("the two versions found different masters")


def backlog(count: int, corpus: list[str]) -> None:
    """Open, dispatched tickets spread over the other categories, written directly (no pipeline)."""
    from sqlalchemy import select

    from participation.catalog.models import Category
    from participation.extensions import db
    from participation.intake.models import Kind, Submission
    from participation.routing.models import Ticket, TicketCategory, TicketStatus

    others = db.session.scalars(select(Category.id).where(Category.code != CATEGORY)).all()
    for n in range(count):
        submission = Submission(tracking_code=f"BL{n:08d}", kind=Kind.COMPLAINT, text=corpus[n % len(corpus)])
        ticket = Ticket(submission=submission, status=TicketStatus.DISPATCHED)
        ticket.category_links.append(TicketCategory(category_id=others[n % len(others)], primary=True))
        db.session.add(ticket)
    db.session.commit()


def select_newest(model, count: int):
    from sqlalchemy import select

    return select(model.id).order_by(model.id.desc()).limit(count)


if __name__ == "__main__":
    main()
