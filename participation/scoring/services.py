"""Scorecards: gather a period's facts from the tickets' history, compute, store; weights versions; reading.

A month is frozen once it has been computed after its end plus SCORING_FREEZE_DAYS (late callbacks
still count until then); a frozen month is never computed again. The rolling 30 days ("R30") are
computed on demand. Incremental updates recompute the affected period after each relevant commit,
through Celery; a full recompute gives the same rows (the same function does both).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, select

from participation.catalog.models import Department
from participation.core.audit import audit
from participation.core.errors import NotFound, ValidationFailed
from participation.core.models import utcnow
from participation.core.permissions import authorize
from participation.deadlines.models import ClockKind, ClockState, SlaClock
from participation.extensions import db
from participation.routing.models import Dispute, DisputeStatus, PartRole, PartStatus, TicketEvent, TicketPart
from participation.scoring import compute as scoring
from participation.scoring.models import Scorecard, WeightsVersion
from participation.surveys.models import CallbackResult

ROLLING = "R30"
RELEVANT = {
    "part.accepted", "part.contributed", "part.rated", "reply", "contact.recorded", "status.resolved",
    "status.reopened", "status.closed", "dispute.upheld", "dispute.overruled", "clock.paused",
    "callback.recorded", "deadline.checkpoint",
}  # fmt: skip


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


# -- facts ---------------------------------------------------------------------------------------


def _co_departments(ticket_ids: set[int]) -> dict[int, tuple[int, ...]]:
    if not ticket_ids:
        return {}
    rows = db.session.execute(
        select(TicketPart.ticket_id, TicketPart.department_id).where(
            TicketPart.ticket_id.in_(ticket_ids), TicketPart.role == PartRole.CO, TicketPart.status != PartStatus.ENDED
        )
    )
    out: dict[int, list[int]] = {}
    for ticket_id, department_id in rows:
        out.setdefault(ticket_id, []).append(department_id)
    return {t: tuple(sorted(ds)) for t, ds in out.items()}


def gather(start: datetime, end: datetime, at: datetime) -> scoring.Facts:
    """Everything the period's scorecards are made of, read from the stored history."""
    facts = scoring.Facts()
    due = func.coalesce(SlaClock.interim_due_at, SlaClock.due_at)
    stopped = (
        select(SlaClock, TicketPart.role)
        .outerjoin(TicketPart, TicketPart.id == SlaClock.part_id)
        .where(
            (
                (SlaClock.state.in_([ClockState.MET, ClockState.MISSED]))
                & (SlaClock.stopped_at >= start)
                & (SlaClock.stopped_at < end)
            )
            | ((SlaClock.state == ClockState.RUNNING) & (due >= start) & (due < end) & (due < at))
        )
    )
    rows = db.session.execute(stopped).all()
    resolve_ids = {c.ticket_id for c, _r in rows if c.kind == ClockKind.RESOLVE}
    co = _co_departments(resolve_ids)
    reopenings: dict[int, list[datetime]] = {}
    if resolve_ids:
        for ticket_id, when in db.session.execute(
            select(TicketEvent.ticket_id, TicketEvent.at).where(
                TicketEvent.ticket_id.in_(resolve_ids), TicketEvent.type == "status.reopened"
            )
        ):
            reopenings.setdefault(ticket_id, []).append(when)
    for clock, role in rows:
        moment = clock.stopped_at or clock.effective_due
        reopened = min((t for t in reopenings.get(clock.ticket_id, []) if t > moment), default=None)
        facts.clocks.append(
            scoring.ClockFact(
                kind=clock.kind.value,
                ticket_id=clock.ticket_id,
                department_id=clock.department_id,
                met=clock.state == ClockState.MET,
                stopped_at=moment,
                role=role.value if role is not None else "lead",
                co_department_ids=co.get(clock.ticket_id, ()) if clock.kind == ClockKind.RESOLVE else (),
                reopened_at=reopened,
            )
        )
    callbacks = db.session.scalars(
        select(CallbackResult).where(CallbackResult.at >= start, CallbackResult.at < end)
    ).all()
    co_cb = _co_departments({c.ticket_id for c in callbacks})
    for result in callbacks:
        facts.callbacks.append(
            scoring.CallbackFact(
                ticket_id=result.ticket_id,
                at=result.at,
                solved=result.solved,
                satisfaction=result.satisfaction,
                lead_department_id=result.lead_department_id,
                co_department_ids=co_cb.get(result.ticket_id, ()),
            )
        )
        if not result.solved and result.lead_department_id is not None:
            facts.incidents.append(
                scoring.IncidentFact("contradicted_closure", result.ticket_id, result.lead_department_id)
            )
    for dispute, role in db.session.execute(
        select(Dispute, TicketPart.role)
        .join(TicketPart, TicketPart.id == Dispute.part_id)
        .where(
            Dispute.ruled_at >= start,
            Dispute.ruled_at < end,
            Dispute.status.in_([DisputeStatus.UPHELD, DisputeStatus.OVERRULED]),
        )
    ):
        facts.disputes.append(
            scoring.DisputeFact(
                dispute.ticket_id, dispute.department_id, role.value, dispute.status == DisputeStatus.OVERRULED
            )
        )
    for part in db.session.scalars(
        select(TicketPart).where(
            TicketPart.role == PartRole.CO,
            TicketPart.rating.is_not(None),
            TicketPart.done_at >= start,
            TicketPart.done_at < end,
        )
    ):
        facts.ratings.append(scoring.RatingFact(part.ticket_id, part.department_id, part.rating))
    from participation.routing.models import Ticket

    events = db.session.execute(
        select(TicketEvent.ticket_id, TicketEvent.type, TicketEvent.at, TicketEvent.payload, Ticket.lead_department_id)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.at >= start, TicketEvent.at < end, TicketEvent.type.in_(["status.reopened", "clock.paused"]))
    ).all()
    paused = {t for t, kind, _at, _p, _l in events if kind == "clock.paused"}
    contacts: dict[int, datetime] = {}
    if paused:
        for ticket_id, first in db.session.execute(
            select(TicketEvent.ticket_id, func.min(TicketEvent.at))
            .where(TicketEvent.ticket_id.in_(paused), TicketEvent.type.in_(["reply", "contact.recorded"]))
            .group_by(TicketEvent.ticket_id)
        ):
            contacts[ticket_id] = first
    for ticket_id, kind, when, payload, lead in events:
        if lead is None:
            continue
        if kind == "status.reopened":
            facts.incidents.append(scoring.IncidentFact("reopen", ticket_id, lead))
        elif (payload or {}).get("kind", "waiting_citizen") == "waiting_citizen":
            first = contacts.get(ticket_id)
            if first is None or first > when:
                facts.incidents.append(scoring.IncidentFact("pause_without_contact", ticket_id, lead))
    return facts


# -- computing and storing -----------------------------------------------------------------------


def compute_period(period: str, at: datetime | None = None) -> list[scoring.Result]:
    at = at or now()
    start, end = period_bounds(period, at)
    version = current_weights()
    departments = list(db.session.scalars(select(Department.id).where(Department.active).order_by(Department.id)))
    return scoring.compute(
        gather(start, min(end, at) if period == ROLLING else end, at),
        departments,
        weights=version.weights,
        penalties=version.penalties,
        penalty_cap=version.penalty_cap,
        shrink_k=version.shrink_k,
        default_rate=float(current_app.config["SCORING_DEFAULT_RATE"]),
    )


def recompute(period: str, at: datetime | None = None) -> int:
    """Compute and store every department's scorecards of the period; a frozen month is left alone."""
    at = at or now()
    frozen = db.session.scalar(
        select(func.count()).select_from(Scorecard).where(Scorecard.period == period, Scorecard.frozen)
    )
    if frozen:
        return 0
    results = compute_period(period, at)
    version = current_weights()
    freeze = is_closed(period, at)
    db.session.execute(delete(Scorecard).where(Scorecard.period == period))
    for result in results:
        db.session.add(
            Scorecard(
                department_id=result.department_id,
                period=period,
                role=result.role,
                weights_version_id=version.id,
                components=result.components,
                penalties=result.penalties,
                penalty_points=result.penalty_points,
                score=result.score,
                items=result.items,
                frozen=freeze,
                computed_at=at,
            )
        )
    db.session.flush()
    return len(results)


def periods_with_activity() -> list[str]:
    """Every month that has ticket events (for a full recompute)."""
    first = db.session.scalar(select(func.min(TicketEvent.at)))
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
    exists = db.session.scalar(select(func.count()).select_from(Scorecard).where(Scorecard.period == period))
    if period == ROLLING or not exists:
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
