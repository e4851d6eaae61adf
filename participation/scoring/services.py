"""Scorecards: gather a period's facts from the tickets' history, compute, store; weights versions; reading.

A month is frozen once it has been computed after its end plus SCORING_FREEZE_DAYS (late callbacks
still count until then); a frozen month is never computed again. The rolling 30 days ("R30") are
computed on demand. An open month keeps each ticket's share of its sums (ScoreContribution); after
each relevant commit an incremental update (through Celery) replaces the changed tickets' shares and
computes the month's scorecards again from the new sums, which gives the same rows as a full recompute.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, delete, func, insert, or_, select, text

from participation.catalog.models import Department
from participation.core.audit import audit
from participation.core.errors import NotFound, ValidationFailed
from participation.core.models import utcnow
from participation.core.permissions import authorize
from participation.deadlines.models import ClockState, SlaClock
from participation.extensions import db
from participation.routing.models import TicketEvent
from participation.scoring import compute as scoring
from participation.scoring import facts
from participation.scoring.models import Scorecard, ScoreContribution, WeightsVersion

ROLLING = "R30"
WRITER_LOCK = 5_200_417  # the advisory lock of scorecard writers (PostgreSQL)
CONTRIBUTION_COLUMNS = ("period", "ticket_id", "department_id", "role", "item", "num20", "den2", "count")
# events after which a ticket's facts cannot have changed (every other one updates its scorecards: a new
# event type counts until it is listed here)
NOT_RELEVANT = frozenset({
    "submitted", "routed", "status.triage", "dispatched", "status.dispatched", "note", "duplicate.suggested",
    "follower.added", "master.changed", "part.return_requested", "callback.escalated",
})  # fmt: skip


def now() -> datetime:
    return utcnow()


# -- periods -------------------------------------------------------------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("CITY_TIMEZONE", "Asia/Shanghai"))


def period_bounds(period: str, at: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) in UTC of a month "YYYY-MM" (city time) or of the rolling 30 days."""
    if period == ROLLING:
        end = at or now()
        return end - timedelta(days=30), end
    try:
        year, month = (int(x) for x in period.split("-"))
        start = datetime(year, month, 1, tzinfo=_zone())
    except (ValueError, TypeError):
        raise ValidationFailed(fields={"period": [_("Give a month as YYYY-MM.")]}) from None
    following = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=_zone())
    return start.astimezone(UTC), following.astimezone(UTC)


def period_of(moment: datetime) -> str:
    local = moment.astimezone(_zone())
    return f"{local.year:04d}-{local.month:02d}"


def is_closed(period: str, at: datetime | None = None) -> bool:
    if period == ROLLING:
        return False
    _start, end = period_bounds(period)
    return (at or now()) >= end + timedelta(days=current_app.config["SCORING_FREEZE_DAYS"])


# -- weights -------------------------------------------------------------------------------------


def current_weights() -> WeightsVersion:
    version = db.session.scalar(select(WeightsVersion).order_by(WeightsVersion.number.desc()).limit(1))
    if version is None:
        version = WeightsVersion(
            number=1,
            weights=dict(scoring.DEFAULT_WEIGHTS),
            penalties=dict(scoring.DEFAULT_PENALTIES),
            penalty_cap=20.0,
            shrink_k=float(current_app.config["SCORING_SHRINK_K"]),
            note="defaults of ARCHITECTURE section 5",
        )
        db.session.add(version)
        db.session.flush()
    return version


def save_weights(
    actor: Any, weights: Any, penalties: Any = None, shrink_k: Any = None, note: str = ""
) -> WeightsVersion:
    """A new weights version (the coordinator); scorecards computed from now on record it."""
    authorize(actor, "scoring.weights.edit")
    current = current_weights()
    errors: dict[str, list[str]] = {}

    def number(value: Any, field: str, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            errors[field] = [_("Give a number from %(a)s to %(b)s.", a=low, b=high)]
            return 0.0
        return float(value)

    weights = weights if isinstance(weights, dict) else {}
    new_weights = {
        c: number(weights.get(c, current.weights.get(c)), f"weights.{c}", 0, 100) for c in scoring.COMPONENTS
    }
    if not errors and sum(new_weights.values()) <= 0:
        errors["weights"] = [_("At least one weight must be above zero.")]
    penalties = penalties if isinstance(penalties, dict) else {}
    new_penalties = {
        t: number(penalties.get(t, current.penalties.get(t)), f"penalties.{t}", 0, 20) for t in scoring.PENALTY_TERMS
    }
    k = number(current.shrink_k if shrink_k is None else shrink_k, "shrink_k", 0, 1000)
    if errors:
        raise ValidationFailed(fields=errors)
    version = WeightsVersion(
        number=current.number + 1,
        weights=new_weights,
        penalties=new_penalties,
        penalty_cap=current.penalty_cap,
        shrink_k=k,
        note=(note or "")[:500],
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(version)
    db.session.flush()
    audit(actor, "scoring.weights_saved", version, number=version.number)
    return version


# -- computing and storing -----------------------------------------------------------------------


def _bucket(period: str, at: datetime) -> facts.Bucket:
    start, end = period_bounds(period, at)
    return facts.Bucket(period, start, min(end, at) if period == ROLLING else end)


def _stored_aggregate(cards: list[Scorecard]) -> facts.Aggregate:
    """The tallies and incidents kept in stored scorecards (exact: sums of halves and twentieths)."""
    out = facts.Aggregate()
    for card in cards:
        for component, entry in card.components.items():
            if entry.get("den"):
                out.tallies[(card.department_id, card.role, component)] = facts.Tally(
                    round(entry["num"] * 20), round(entry["den"] * 2), int(entry.get("count") or 0)
                )
        for term, entry in card.penalties.items():
            if entry.get("count"):
                out.incidents[(card.department_id, card.role, term)] = int(entry["count"])
    return out


def _store(period: str, aggregate: facts.Aggregate, version: WeightsVersion, at: datetime, freeze: bool) -> int:
    active = set(db.session.scalars(select(Department.id).where(Department.active)))
    measured = {d for d, _r, _c in aggregate.tallies} | {d for d, _r, _t in aggregate.incidents}
    results = scoring.compute(
        aggregate,
        sorted(active | measured),
        weights=version.weights,
        penalties=version.penalties,
        penalty_cap=version.penalty_cap,
        shrink_k=version.shrink_k,
        default_rate=float(current_app.config["SCORING_DEFAULT_RATE"]),
    )
    db.session.execute(delete(Scorecard).where(Scorecard.period == period))
    if not results:
        return 0
    db.session.execute(
        Scorecard.__table__.insert(),
        [
            {
                "department_id": r.department_id,
                "period": period,
                "role": r.role,
                "weights_version_id": version.id,
                "components": r.components,
                "penalties": r.penalties,
                "penalty_points": r.penalty_points,
                "score": r.score,
                "items": r.items,
                "frozen": freeze,
                "computed_at": at,
            }
            for r in results
        ],
    )
    return len(results)


def _frozen(periods: list[str]) -> set[str]:
    return set(
        db.session.scalars(select(Scorecard.period).where(Scorecard.period.in_(periods), Scorecard.frozen).distinct())
    )


def _lock() -> None:
    """One scorecard writer at a time, from before it reads: an incremental update adds differences to
    the stored sums, which another writer reading the same sums beside it would lose. PostgreSQL: an
    advisory lock for the transaction; SQLite: a write that changes nothing takes the database's write
    lock now (its reads would otherwise run outside any transaction until the first write)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK})
    else:
        db.session.execute(text("UPDATE scorecard SET id = id WHERE 0 = 1"))


def _keep_contributions(
    months: list[str], open_buckets: list[facts.Bucket], at: datetime
) -> dict[str, facts.Aggregate]:
    """Replace the per-ticket shares of these months: kept for the open ones (returned summed, the
    figures their scorecards are stored with, so the cards and the shares agree whatever commits
    between two reads), dropped for those that froze."""
    if months:
        db.session.execute(delete(ScoreContribution).where(ScoreContribution.period.in_(months)))
    if not open_buckets:
        return {}
    shares = facts.contributions(sorted(open_buckets, key=lambda b: b.start), at)
    _write_contributions(shares)
    sums = {b.key: facts.Aggregate() for b in open_buckets}
    for (period, _ticket, department_id, role, item), (num20, den2, count) in shares.items():
        sums[period].add((department_id, role, item), num20, den2, count)
    return sums


def _write_contributions(shares: dict) -> None:
    rows = [(*key, *figures) for key, figures in shares.items()]
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":  # tens of thousands of rows: COPY
        columns = ", ".join(f'"{c}"' for c in CONTRIBUTION_COLUMNS)
        with connection.connection.driver_connection.cursor() as cursor:
            with cursor.copy(f"COPY score_contribution ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    db.session.execute(insert(ScoreContribution), [dict(zip(CONTRIBUTION_COLUMNS, row, strict=True)) for row in rows])


def recompute(period: str, at: datetime | None = None) -> int:
    """Compute and store every department's scorecards of the period from the tickets' history; a frozen
    month is left alone. An open month also keeps each ticket's share, for the incremental updates."""
    at = at or now()
    _lock()
    if _frozen([period]):
        return 0
    version = current_weights()
    freeze = is_closed(period, at)
    bucket = _bucket(period, at)
    if period == ROLLING or freeze:
        aggregate = _read(bucket, at)
        if period != ROLLING:
            _keep_contributions([period], [], at)
    else:  # an open month: its sums are those of the tickets' shares
        aggregate = _keep_contributions([period], [bucket], at)[period]
    return _store(period, aggregate, version, at, freeze)


def update_tickets(ticket_ids: set[int], periods: list[str], at: datetime | None = None) -> int:
    """The incremental update after these tickets changed: in each open month, what they counted for
    (their kept shares) is replaced by what they count for now, and every scorecard of the month is
    computed again from the sums (the city rates change with them). The same rows as a full recompute
    at the same moment (tested). A month never computed, or closing now, is recomputed in full; a
    frozen month stays as it is. `periods` are the months of the changes; the months the tickets
    counted for before and every open month are looked at too (a fact's moment can lie in another
    month than the change, a rating's for instance at the part's completion)."""
    at = at or now()
    _lock()
    tickets = sorted(ticket_ids)
    before = set(
        db.session.scalars(select(ScoreContribution.period).where(ScoreContribution.ticket_id.in_(tickets)).distinct())
    )
    computed = set(
        db.session.scalars(
            select(Scorecard.period).where(Scorecard.period != ROLLING, Scorecard.frozen.is_(False)).distinct()
        )
    )
    given = {p for p in periods if p != ROLLING}
    candidates = (given | before | computed) - _frozen([*given, *before, *computed])
    done, deltas = 0, []
    for period in sorted(candidates):
        if period in computed and not is_closed(period, at):
            deltas.append(period)
        else:
            done += recompute(period, at)
    if not deltas:
        return done
    since = db.session.scalar(select(func.min(Scorecard.computed_at)).where(Scorecard.period.in_(deltas)))
    tickets = sorted(set(tickets) | _newly_late(since, at))
    if not tickets:
        return done
    old = db.session.execute(
        select(*[getattr(ScoreContribution, c) for c in CONTRIBUTION_COLUMNS]).where(
            ScoreContribution.ticket_id.in_(tickets), ScoreContribution.period.in_(deltas)
        )
    ).all()
    buckets = [_bucket(p, at) for p in deltas]
    new = facts.contributions(buckets, at, tickets)
    cards: dict[str, list[Scorecard]] = {p: [] for p in deltas}
    for card in db.session.scalars(select(Scorecard).where(Scorecard.period.in_(deltas))):
        cards[card.period].append(card)
    version = current_weights()
    sums = {p: _stored_aggregate(cards[p]) for p in deltas}
    for row_period, _ticket, department_id, role, item, num20, den2, count in old:
        sums[row_period].add((department_id, role, item), -num20, -den2, -count)
    for (row_period, _ticket, department_id, role, item), (num20, den2, count) in new.items():
        sums[row_period].add((department_id, role, item), num20, den2, count)
    done += sum(_store(p, sums[p], version, at, False) for p in deltas)
    db.session.execute(
        delete(ScoreContribution).where(ScoreContribution.ticket_id.in_(tickets), ScoreContribution.period.in_(deltas))
    )
    _write_contributions(new)
    return done


def _newly_late(since: datetime | None, at: datetime) -> set[int]:
    """Tickets with a clock still running whose due time passed since the months were last computed: a
    clock counts as late from its due time, a change no event of the ticket may announce (the sweep's
    checkpoint at 100 % has fired before when the due time moved after it)."""
    if since is None:
        return set()
    stmt = select(SlaClock.ticket_id).where(
        SlaClock.state == ClockState.RUNNING,
        or_(
            and_(SlaClock.interim_due_at.is_(None), SlaClock.due_at >= since, SlaClock.due_at < at),
            and_(SlaClock.interim_due_at >= since, SlaClock.interim_due_at < at),
        ),
    )
    return set(db.session.scalars(stmt.distinct()))


def _read(bucket: facts.Bucket, at: datetime) -> facts.Aggregate:
    if bucket.key == ROLLING:
        found = facts.aggregate([], at, rolling=bucket)
    else:
        found = facts.aggregate([bucket], at)
    return found.get(bucket.key, facts.Aggregate())


def recompute_all(periods: list[str], at: datetime | None = None) -> int:
    """A full recompute of many months (and the rolling 30 days) at once: each table is read once for all."""
    at = at or now()
    _lock()
    months = sorted(p for p in set(periods) - _frozen(periods) if p != ROLLING)
    rolling = _bucket(ROLLING, at) if ROLLING in periods else None
    version = current_weights()
    buckets = {p: _bucket(p, at) for p in months}
    aggregates = facts.aggregate(list(buckets.values()), at, rolling=rolling)
    # the open months' sums are those of the tickets' shares, read beside (see _keep_contributions)
    aggregates.update(_keep_contributions(months, [b for p, b in buckets.items() if not is_closed(p, at)], at))
    done = sum(_store(p, aggregates.get(p, facts.Aggregate()), version, at, is_closed(p, at)) for p in months)
    if rolling is not None:
        done += _store(ROLLING, aggregates.get(ROLLING, facts.Aggregate()), version, at, False)
    return done


def tickets_behind(card: Scorecard, item: str, page: int = 1, per_page: int = 100) -> tuple[list[int], int]:
    """The tickets behind one component or penalty term of a stored scorecard (a page of them, and how
    many in all), read from the same facts and at the same moment as the card was computed."""
    at = card.computed_at
    ids, total = facts.tickets_behind(
        _bucket(card.period, at), at, card.department_id, card.role, item, limit=page * per_page
    )
    return ids[(page - 1) * per_page :], total


def periods_with_activity() -> list[str]:
    """Every month that has ticket events (for a full recompute)."""
    # every ticket's history starts with its submission: the earliest one, through the (type, time) index
    first = db.session.scalar(select(func.min(TicketEvent.at)).where(TicketEvent.type == "submitted"))
    if first is None:
        return []
    out, cursor, last = [], first, now()
    while cursor <= last + timedelta(days=31):
        period = period_of(cursor)
        if period not in out:
            out.append(period)
        cursor += timedelta(days=28)
    return [p for p in out if period_bounds(p)[0] <= last]


def scorecards(actor: Any, period: str) -> list[Scorecard]:
    """The stored scorecards of a period, best first (computed now if missing; R30 always fresh)."""
    authorize(actor, "scoring.view")
    period_bounds(period)  # validates
    newest = db.session.scalar(select(func.max(Scorecard.computed_at)).where(Scorecard.period == period))
    stale = (
        period == ROLLING
        and newest is not None
        and now() - newest > timedelta(seconds=current_app.config["SCORING_ROLLING_MAX_AGE"])
    )
    if newest is None or stale:
        recompute(period)
    stmt = select(Scorecard).where(Scorecard.period == period).order_by(Scorecard.score.desc(), Scorecard.department_id)
    return list(db.session.scalars(stmt))


def card_json(card: Scorecard, full: bool = True) -> dict:
    out = {
        "department": card.department.code,
        "department_name": {"zh": card.department.name_zh, "en": card.department.name_en},
        "period": card.period,
        "role": card.role,
        "score": card.score,
        "items": card.items,
        "penalty_points": card.penalty_points,
        "weights_version": card.weights_version.number,
        "frozen": card.frozen,
    }
    if full:
        out["components"] = card.components
        out["penalties"] = card.penalties
    return out


def department_or_404(code: str) -> Department:
    department = db.session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise NotFound(_("No such department."))
    return department
