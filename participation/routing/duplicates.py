"""Duplicates: find open tickets about the same problem, at the same place, reported shortly before.

A candidate master shares the ticket's category, lies near the same place and says much the same
thing. Text is compared by the cosine of TF-IDF vectors of character n-grams (Chinese characters
and their pairs, English character 3-4-grams) and of the router's words (jieba words, English
stems), fitted on the handful of texts compared, so that what every candidate says (the category's
usual vocabulary) weighs less than what only the two share (a street name, "after midnight").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import contains_eager

from participation.catalog.models import Category, District
from participation.core.models import utcnow
from participation.extensions import db
from participation.intake.models import Submission
from participation.routing.models import OPEN_STATUSES, Ticket, TicketCategory
from participation.routing.router import _chars, words

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_LATIN_WORD = re.compile(r"[a-z]+")
EARTH_RADIUS_M = 6_371_000.0


@lru_cache(maxsize=512)
def features(text: str) -> tuple[str, ...]:
    """Character n-grams per script (CJK 1-2, Latin 3-4 within words) plus the router's words.

    Remembered for the last 512 texts (more than one check compares): the same open tickets are compared
    with every new item at their place."""
    plain = _chars(text)
    out: list[str] = []
    for run in _CJK_RUN.findall(plain):
        out.extend(run)
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    for word in _LATIN_WORD.findall(plain):
        padded = f" {word} "
        for n in (3, 4):
            out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    out.extend(words(text))
    return tuple(out)


def similarities(text: str, others: list[str]) -> list[float]:
    """Cosine similarity of `text` to each of `others` (0.0 when nothing can be compared)."""
    if not others:
        return []
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=features, sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform([text, *others])
    except ValueError:  # no features at all (digits or punctuation only)
        return [0.0] * len(others)
    scores = (matrix[1:] @ matrix[0].T).toarray().ravel()
    return [float(min(max(s, 0.0), 1.0)) for s in scores]


def ticket_text(ticket: Ticket) -> str:
    submission = ticket.submission
    return f"{submission.title}\n{submission.text}".strip()


def distance_m(a: Ticket, b: Ticket) -> float | None:
    """Great-circle distance between two tickets' points in metres, or None when one has no point."""
    sa, sb = a.submission, b.submission
    if None in (sa.lat, sa.lng, sb.lat, sb.lng):
        return None
    lat1, lat2 = math.radians(sa.lat), math.radians(sb.lat)
    dlat, dlng = lat2 - lat1, math.radians(sb.lng - sa.lng)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _category_id(ticket: Ticket, by_code: dict[str, int]) -> int | None:
    """The primary category; before dispatch the submitter's choice, else the router's first suggestion."""
    link = next((link for link in ticket.category_links if link.primary), None)
    if link is not None:
        return link.category_id
    if ticket.submission.category_id is not None:
        return ticket.submission.category_id
    code = (ticket.suggestions or [{}])[0].get("code")
    return by_code.get(code) if code else None


def _ancestors(district_id: int, cache: dict[int, set[int]]) -> set[int]:
    """The district and every district above it."""
    if district_id not in cache:
        chain: set[int] = set()
        node = db.session.get(District, district_id)
        while node is not None and node.id not in chain:
            chain.add(node.id)
            node = node.parent
        cache[district_id] = chain
    return cache[district_id]


def _near(a: Ticket, b: Ticket, cache: dict[int, set[int]]) -> bool | None:
    """Same place? Points within the radius, else districts on one branch of the tree; None: cannot tell."""
    distance = distance_m(a, b)
    if distance is not None:
        return distance <= current_app.config["DUPLICATE_RADIUS_METERS"]
    if a.district_id is not None and b.district_id is not None:
        return a.district_id in _ancestors(b.district_id, cache) or b.district_id in _ancestors(a.district_id, cache)
    return None


def find_candidates(ticket: Ticket, now: datetime | None = None, limit: int = 3) -> list[tuple[Ticket, float]]:
    """Open, unmerged, earlier tickets of the same category, near the same place, saying much the same.

    The database narrows by status, age and category (at most DUPLICATE_SCAN_LIMIT rows, newest
    first); place and text are compared here. Without a place on both sides only a very similar
    text (DUPLICATE_NO_PLACE_SIMILARITY) counts. Best first.
    """
    config = current_app.config
    now = now or utcnow()
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
    cache: dict[int, set[int]] = {}
    pool: list[tuple[Ticket, float]] = []
    for other, linked in db.session.execute(stmt):
        if linked is None and other.submission.category_id is None:
            code = (other.suggestions or [{}])[0].get("code")
            if by_code.get(code) != category_id:  # waiting in triage: the router's best guess decides
                continue
        near = _near(ticket, other, cache)
        if near is False:
            continue
        threshold = config["DUPLICATE_MIN_SIMILARITY"] if near else config["DUPLICATE_NO_PLACE_SIMILARITY"]
        pool.append((other, threshold))
    scores = similarities(ticket_text(ticket), [ticket_text(t) for t, _threshold in pool])
    found = [(t, round(s, 4)) for (t, threshold), s in zip(pool, scores, strict=True) if s >= threshold]
    found.sort(key=lambda item: (-item[1], -item[0].id))
    return found[:limit]


@dataclass
class Suggestion:
    """A suggested master as the coordinator sees it."""

    ticket: Ticket
    score: float
    distance: float | None


def suggested_masters(tickets: list[Ticket]) -> dict[int, list[Suggestion]]:
    """Each ticket's stored candidates that can still be merged into (one query for all of them)."""
    wanted = {c["ticket_id"] for t in tickets for c in (t.duplicate_candidates or [])}
    if not wanted:
        return {}
    stmt = select(Ticket).where(Ticket.id.in_(wanted), Ticket.status.in_(OPEN_STATUSES), Ticket.master_id.is_(None))
    open_ = {t.id: t for t in db.session.scalars(stmt)}
    out: dict[int, list[Suggestion]] = {}
    for ticket in tickets:
        rows = [
            Suggestion(open_[c["ticket_id"]], c["score"], distance_m(ticket, open_[c["ticket_id"]]))
            for c in ticket.duplicate_candidates or []
            if c["ticket_id"] in open_ and c["ticket_id"] != ticket.id
        ]
        if rows:
            out[ticket.id] = rows
    return out


def root_master(ticket: Ticket) -> Ticket:
    """The ticket at the end of the master links (the ticket itself when it was not merged)."""
    seen = {ticket.id}
    while ticket.master is not None and ticket.master.id not in seen:
        ticket = ticket.master
        seen.add(ticket.id)
    return ticket


def callback_recipients(ticket: Ticket) -> list[Submission]:
    """Whom the callback survey asks about this problem: the master's submitter and every follower's.

    Given a master or any of its followers, returns the master's submission first, then the
    followers' in the order they were merged in; each keeps its own tracking code.
    """
    master = root_master(ticket)
    followers = sorted(master.followers, key=lambda t: (t.merged_at or t.created_at, t.id))
    return [master.submission] + [f.submission for f in followers]
