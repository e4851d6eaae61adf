"""Duplicates: find open tickets about the same problem, at the same place, reported shortly before.

A candidate master shares the ticket's category, lies near the same place and says much the same
thing. Text is compared by the cosine of TF-IDF vectors of character n-grams (Chinese characters
and their pairs, English character 3-4-grams) and of the router's words (jieba words, English
stems), fitted on the handful of texts compared, so that what every candidate says (the category's
usual vocabulary) weighs less than what only the two share (a street name, "after midnight").

A busy category has hundreds of open tickets within the window, and every new item is compared with
them: the candidates are read as plain columns (no ORM objects), each text's term counts are kept
between checks, and the TF-IDF weights are computed with numpy from those counts. The figures are
those of scikit-learn's `TfidfVectorizer(sublinear_tf=True)` fitted on the same texts (a test checks
it); `bench/duplicates.py` measures both.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from flask import current_app
from sqlalchemy import null, or_, select

from participation.catalog.models import Category, District
from participation.core.models import utcnow
from participation.extensions import db
from participation.intake.models import Submission, item_text
from participation.routing.models import OPEN_STATUSES, Ticket, TicketCategory, TicketStatus
from participation.routing.router import _CJK_RUN, _chars, words

_LATIN_WORD = re.compile(r"[a-z]+")
EARTH_RADIUS_M = 6_371_000.0
KEPT_TEXTS = 8192  # texts whose term counts are kept: more than the open tickets one check compares
MAX_TERMS = 200_000  # distinct terms numbered in this process before the numbering starts again

_terms: dict[str, int] = {}  # term -> number, for every text counted in this process
_terms_lock = threading.Lock()


def features(text: str) -> tuple[str, ...]:
    """Character n-grams per script (CJK 1-2, Latin 3-4 within words) plus the router's words."""
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


@lru_cache(maxsize=KEPT_TEXTS)
def _term_counts(text: str) -> tuple[tuple[str, ...], np.ndarray]:
    """A text's distinct terms and their sublinear frequencies, 1 + ln(count).

    The costly part (cutting Chinese into words): cached per text, and run before the lock below is
    taken, so that a check whose texts are all known never waits behind another thread cutting a new
    one (jieba itself still cuts one text at a time, under the router's lock)."""
    counts = Counter(features(text))
    tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
    return tuple(counts), tf


@lru_cache(maxsize=KEPT_TEXTS)
def _numbered(terms: tuple[str, ...]) -> np.ndarray:
    """The numbers of these terms, in their order (a text's distinct terms from _term_counts).

    Called with _terms_lock held: the numbering and this cache are renewed together."""
    return np.fromiter((_terms.setdefault(term, len(_terms)) for term in terms), dtype=np.int64, count=len(terms))


def similarities(text: str, others: list[str]) -> list[float]:
    """Cosine similarity of `text` to each of `others` (0.0 when nothing can be compared).

    TF-IDF with smoothed idf, ln((1 + n) / (1 + df)) + 1, over these n texts, rows l2-normalised."""
    if not others:
        return []
    counted = [_term_counts(t) for t in [text, *others]]  # before the lock
    with _terms_lock:
        if len(_terms) > MAX_TERMS:  # a long-running process: number the terms afresh
            _terms.clear()
            _numbered.cache_clear()
        docs = [(_numbered(terms), tf) for terms, tf in counted]
    lengths = np.fromiter((len(ids) for ids, _tf in docs), dtype=np.int64, count=len(docs))
    if not lengths[0]:  # the text has no terms: nothing to compare
        return [0.0] * len(others)
    terms, column = np.unique(np.concatenate([ids for ids, _tf in docs]), return_inverse=True)
    n = len(docs)
    document = np.repeat(np.arange(n), lengths)
    df = np.bincount(column, minlength=len(terms))  # a text's terms are distinct: the texts holding each term
    idf = np.log((1 + n) / (1 + df)) + 1.0
    weights = np.concatenate([tf for _ids, tf in docs]) * idf[column]
    norms = np.sqrt(np.bincount(document, weights=weights * weights, minlength=n))
    query = np.zeros(len(terms))
    query[column[: lengths[0]]] = weights[: lengths[0]]
    dots = np.bincount(document, weights=weights * query[column], minlength=n)[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(norms[1:] > 0, dots / (norms[1:] * norms[0]), 0.0)
    return [float(min(max(s, 0.0), 1.0)) for s in scores]


def ticket_text(ticket: Ticket) -> str:
    return ticket.submission.full_text


class Place(NamedTuple):
    lat: float | None
    lng: float | None
    district_id: int | None


def _place(ticket: Ticket) -> Place:
    return Place(ticket.submission.lat, ticket.submission.lng, ticket.district_id)


def _metres(a: Place, b: Place) -> float | None:
    """Great-circle distance between two points in metres, or None when one has no point."""
    if None in (a.lat, a.lng, b.lat, b.lng):
        return None
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlng = lat2 - lat1, math.radians(b.lng - a.lng)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def distance_m(a: Ticket, b: Ticket) -> float | None:
    """Great-circle distance between two tickets' points in metres, or None when one has no point."""
    return _metres(_place(a), _place(b))


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


def _near(a: Place, b: Place, cache: dict[int, set[int]]) -> bool | None:
    """Same place? Points within the radius, else districts on one branch of the tree; None: cannot tell."""
    distance = _metres(a, b)
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
    scan = config["DUPLICATE_SCAN_LIMIT"]
    # Columns, not tickets: a busy category has hundreds of candidates, and only the few found are loaded.
    columns = (
        Ticket.id,
        Submission.title,
        Submission.text,
        Submission.lat,
        Submission.lng,
        Ticket.district_id,
        Submission.category_id,
        Ticket.suggestions,
    )
    recent = (
        Ticket.status.in_(OPEN_STATUSES),
        Ticket.master_id.is_(None),
        Ticket.created_at >= since,
        Ticket.created_at <= now,
    )
    # Dispatched tickets have their categories: the category's latest, read backwards along its index.
    filed = (
        select(*columns, TicketCategory.category_id.label("linked"))
        .select_from(TicketCategory)
        .join(Ticket, Ticket.id == TicketCategory.ticket_id)
        .join(Submission, Submission.id == Ticket.submission_id)
        .where(TicketCategory.category_id == category_id, TicketCategory.primary.is_(True))
        .where(TicketCategory.ticket_id < ticket.id, *recent)
        .order_by(TicketCategory.ticket_id.desc())
        .limit(scan)
    )
    # Tickets not yet dispatched have none: the submitter's choice, else the router's best guess, decides.
    has_primary = (
        select(TicketCategory.ticket_id)
        .where(TicketCategory.ticket_id == Ticket.id, TicketCategory.primary.is_(True))
        .exists()
    )
    waiting = (
        select(*columns, null().label("linked"))
        .join(Ticket.submission)
        .where(Ticket.status.in_([TicketStatus.SUBMITTED, TicketStatus.TRIAGE]), Ticket.id < ticket.id, *recent)
        .where(~has_primary, or_(Submission.category_id == category_id, Submission.category_id.is_(None)))
        .order_by(Ticket.id.desc())
        .limit(scan)
    )
    rows = [*db.session.execute(filed), *db.session.execute(waiting)]
    rows.sort(key=lambda row: -row.id)
    here = _place(ticket)
    cache: dict[int, set[int]] = {}
    pool: list[tuple[int, str, float]] = []  # (ticket id, text, threshold)
    for row in rows[:scan]:
        if row.linked is None and row.category_id is None:
            code = (row.suggestions or [{}])[0].get("code")
            if by_code.get(code) != category_id:  # waiting in triage: the router's best guess decides
                continue
        near = _near(here, Place(row.lat, row.lng, row.district_id), cache)
        if near is False:
            continue
        threshold = config["DUPLICATE_MIN_SIMILARITY"] if near else config["DUPLICATE_NO_PLACE_SIMILARITY"]
        pool.append((row.id, item_text(row.title, row.text), threshold))
    scores = similarities(ticket_text(ticket), [text for _id, text, _threshold in pool])
    found = [(id_, round(s, 4)) for (id_, _text, threshold), s in zip(pool, scores, strict=True) if s >= threshold]
    found.sort(key=lambda item: (-item[1], -item[0]))
    return [(db.session.get(Ticket, id_), score) for id_, score in found[:limit]]


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
