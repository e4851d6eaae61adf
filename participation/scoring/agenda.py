"""The joint-meeting agenda: category × department-pair clusters of a period with many disputes, late
joint tickets or low satisfaction, each with its evidence; stored as agenda items the coordinator works.

Clusters (`compute_clusters`). The joint tickets of a period are the tickets created or resolved in it
(`network.period_tickets`) on which two or more departments have had a part. Unlike the network graph,
a department whose part ended (a return upheld, a transfer, a removal) still counts: that friction is
what the meeting is for. A joint ticket belongs to the cluster of its primary category and each
unordered pair of its departments. Everything known about those tickets counts, up to now:

- joint_tickets: the cluster's joint tickets;
- disputes: returns and transfers raised on them by either department of the pair;
- late: joint tickets whose latest stopped resolve clock was missed, or whose resolve clock still runs
  past its due time;
- low_satisfaction: callbacks on them that were dissatisfied (code 3) or said "not solved";
- issues = disputes + late + low_satisfaction; troubled = joint tickets with at least one issue;
- severity = (3·disputes + 2·late + 2·low_satisfaction) × (0.5 + 0.5 · troubled / joint_tickets),
  the weights being AGENDA_WEIGHTS. The sum is how much went wrong; the factor (0.5 to 1) puts a pair
  whose joint tickets mostly go wrong ahead of a busy pair with as many problems spread thin.

A cluster qualifies for the agenda with at least AGENDA_MIN_TICKETS (3) joint tickets and at least
AGENDA_MIN_ISSUES (2) issues. A handful of set-based queries; nothing is queried per ticket.

Agenda items (`build` and one service call per coordinator action, each audited): building adds an
item for every new qualifying cluster and refreshes the evidence of the open ones (idempotent, one item
per period, category and pair); then open → discussed → decided, or dismissed; a decided item may carry
out its decision as a change of the category's lead and co-handling departments, made through the
catalog's own service (which the router reads on every decision) and recorded with before and after.
"""

from __future__ import annotations

import re
from collections import defaultdict
from itertools import combinations
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from participation.accounts.models import User
from participation.catalog import services as catalog
from participation.catalog.models import Category
from participation.core.audit import AuditLog, audit
from participation.core.errors import NotFound, ValidationFailed
from participation.core.permissions import authorize, can, is_authenticated
from participation.deadlines.models import ClockKind, ClockState, SlaClock
from participation.extensions import db
from participation.intake.models import Submission
from participation.routing.models import Dispute, Ticket, TicketCategory, TicketPart
from participation.scoring.models import AgendaItem, AgendaStatus
from participation.scoring.network import _bounds, _departments, period_tickets
from participation.scoring.services import ROLLING, now
from participation.surveys.models import CallbackResult

COUNTS = ("disputes", "late", "low_satisfaction")
TEXT_MAX = 2000
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


# -- arguments -----------------------------------------------------------------------------------


def check_period(value: str | None) -> str:
    """ "R30" or a month "YYYY-MM" from 2000 to 2100; anything else is a 422 on the field `period`."""
    period = (value or "").strip() if isinstance(value, str) else ""
    if period == ROLLING:
        return period
    match = _MONTH.match(period)
    if not match or not (2000 <= int(match.group(1)) <= 2100 and 1 <= int(match.group(2)) <= 12):
        raise ValidationFailed(fields={"period": [_("Give a month as YYYY-MM, or R30 for the last 30 days.")]})
    return period


def _text(value: Any, field: str, required: bool) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        raise ValidationFailed(fields={field: [_("Wrong type of value.")]})
    if required and not text:
        raise ValidationFailed(fields={field: [_("This field cannot be empty.")]})
    if len(text) > TEXT_MAX:
        raise ValidationFailed(fields={field: [_("At most %(n)s characters.", n=TEXT_MAX)]})
    return text


# -- clusters ------------------------------------------------------------------------------------


def severity(counts: dict[str, int], troubled: int, joint: int) -> float:
    """The module docstring's formula."""
    weights = current_app.config["AGENDA_WEIGHTS"]
    points = sum(float(weights.get(name, 0.0)) * counts[name] for name in COUNTS)
    return round(points * (0.5 + 0.5 * troubled / joint), 2) if joint else 0.0


def compute_clusters(period: str) -> list[dict[str, Any]]:
    """Every category × department-pair cluster of the period's joint tickets, most severe first,
    each with `qualifies` (above the thresholds) and the tickets behind every count."""
    period = check_period(period)
    start, end = _bounds(period)
    tickets = period_tickets(start, end)
    # 1. every department that has had a part on each ticket of the period
    on_ticket: dict[int, set[int]] = defaultdict(set)
    for ticket_id, department_id in db.session.execute(
        select(TicketPart.ticket_id, TicketPart.department_id).where(TicketPart.ticket_id.in_(tickets))
    ):
        on_ticket[ticket_id].add(department_id)
    joint = {t: ds for t, ds in on_ticket.items() if len(ds) >= 2}
    if not joint:
        return []
    with_parts = select(TicketPart.ticket_id).where(TicketPart.ticket_id.in_(tickets)).distinct().scalar_subquery()
    # (the tickets with parts, a superset of the joint ones: the queries below stay set-based)
    # 2. the primary category and the tracking code of each
    primary = dict(
        db.session.execute(
            select(TicketCategory.ticket_id, TicketCategory.category_id).where(
                TicketCategory.ticket_id.in_(with_parts), TicketCategory.primary
            )
        ).all()
    )
    codes = dict(
        db.session.execute(
            select(Ticket.id, Submission.tracking_code)
            .join(Submission, Submission.id == Ticket.submission_id)
            .where(Ticket.id.in_(with_parts))
        ).all()
    )
    # 3. returns and transfers raised on them
    disputes: dict[int, list[tuple[int, int, str, str]]] = defaultdict(list)
    for dispute_id, ticket_id, department_id, kind, status in db.session.execute(
        select(Dispute.id, Dispute.ticket_id, Dispute.department_id, Dispute.kind, Dispute.status)
        .where(Dispute.ticket_id.in_(with_parts))
        .order_by(Dispute.id)
    ):
        disputes[ticket_id].append((dispute_id, department_id, kind.value, status.value))
    # 4. late: the latest stopped resolve clock missed, or a resolve clock running past its due time
    latest_stopped: dict[int, ClockState] = {}
    running_late: set[int] = set()
    moment = now()
    for ticket_id, state, due, interim in db.session.execute(
        select(SlaClock.ticket_id, SlaClock.state, SlaClock.due_at, SlaClock.interim_due_at)
        .where(
            SlaClock.ticket_id.in_(with_parts),
            SlaClock.kind == ClockKind.RESOLVE,
            SlaClock.state.in_([ClockState.MET, ClockState.MISSED, ClockState.RUNNING]),
        )
        .order_by(SlaClock.ticket_id, SlaClock.cycle, SlaClock.stopped_at)
    ):
        if state == ClockState.RUNNING:
            if (interim or due) < moment:
                running_late.add(ticket_id)
        else:
            latest_stopped[ticket_id] = state  # the last row of a ticket wins
    late = {t: "running" for t in running_late}
    late.update({t: "missed" for t, s in latest_stopped.items() if s == ClockState.MISSED and t not in late})
    # 5. low-satisfaction callbacks
    low: dict[int, list[tuple[int, int, bool]]] = defaultdict(list)
    for callback_id, ticket_id, satisfaction, solved in db.session.execute(
        select(CallbackResult.id, CallbackResult.ticket_id, CallbackResult.satisfaction, CallbackResult.solved)
        .where(
            CallbackResult.ticket_id.in_(with_parts),
            or_(CallbackResult.satisfaction == 3, CallbackResult.solved.is_(False)),
        )
        .order_by(CallbackResult.id)
    ):
        low[ticket_id].append((callback_id, satisfaction, solved))

    groups: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    for ticket_id in sorted(joint):
        category_id = primary.get(ticket_id)
        if category_id is None:
            continue
        for a, b in combinations(sorted(joint[ticket_id]), 2):
            groups[(category_id, a, b)].append(ticket_id)
    if not groups:
        return []
    names = _departments({d for _c, a, b in groups for d in (a, b)})
    categories = {
        c.id: c for c in db.session.scalars(select(Category).where(Category.id.in_({c for c, _a, _b in groups})))
    }
    min_tickets = int(current_app.config["AGENDA_MIN_TICKETS"])
    min_issues = int(current_app.config["AGENDA_MIN_ISSUES"])

    def ref(ticket_id: int, **extra: Any) -> dict[str, Any]:
        return {"ticket_id": ticket_id, "tracking_code": codes.get(ticket_id), **extra}

    out = []
    for (category_id, a, b), ticket_ids in groups.items():
        evidence: dict[str, list[dict[str, Any]]] = {
            "joint_tickets": [ref(t) for t in ticket_ids],
            "disputes": [
                ref(t, dispute_id=d, kind=kind, status=status, department=names[dept].code)
                for t in ticket_ids
                for d, dept, kind, status in disputes.get(t, [])
                if dept in (a, b)
            ],
            "late": [ref(t, clock=late[t]) for t in ticket_ids if t in late],
            "low_satisfaction": [
                ref(t, callback_id=c, satisfaction=s, solved=bool(solved))
                for t in ticket_ids
                for c, s, solved in low.get(t, [])
            ],
        }
        counts = {name: len(evidence[name]) for name in COUNTS}
        troubled = len({e["ticket_id"] for name in COUNTS for e in evidence[name]})
        issues = sum(counts.values())
        category = categories[category_id]
        out.append(
            {
                "period": period,
                "category": category.code,
                "category_id": category_id,
                "category_name": {"zh": category.name_zh, "en": category.name_en},
                "departments": [names[a].code, names[b].code],
                "department_ids": [a, b],
                "department_names": [{"zh": names[d].name_zh, "en": names[d].name_en} for d in (a, b)],
                "joint_tickets": len(ticket_ids),
                **counts,
                "issues": issues,
                "troubled": troubled,
                "severity": severity(counts, troubled, len(ticket_ids)),
                "qualifies": len(ticket_ids) >= min_tickets and issues >= min_issues,
                "evidence": evidence,
            }
        )
    out.sort(key=lambda c: (-c["severity"], -c["joint_tickets"], c["category"], c["departments"]))
    return out


def clusters(actor: Any, period: str) -> list[dict[str, Any]]:
    """The qualifying clusters of a period, not stored (coordinators)."""
    authorize(actor, "scoring.agenda.manage")
    return [c for c in compute_clusters(period) if c["qualifies"]]


# -- stored items --------------------------------------------------------------------------------


def _actor_id(actor: Any) -> int | None:
    return getattr(actor, "id", None) if is_authenticated(actor) else None


def build(actor: Any, period: str) -> dict[str, Any]:
    """Put the period's new qualifying clusters on the agenda and refresh the evidence of its open items."""
    authorize(actor, "scoring.agenda.manage")
    period = check_period(period)
    found = compute_clusters(period)
    existing = {
        (i.category_id, i.dept_a_id, i.dept_b_id): i
        for i in db.session.scalars(select(AgendaItem).where(AgendaItem.period == period))
    }
    at = now()
    created, refreshed = [], []
    seen = set()
    for cluster in found:
        key = (cluster["category_id"], *cluster["department_ids"])
        seen.add(key)
        item = existing.get(key)
        if item is not None:
            if item.status == AgendaStatus.OPEN:
                item.refresh(cluster, cluster["severity"], at)
                refreshed.append(item.id)
            continue
        if not cluster["qualifies"]:
            continue
        item = AgendaItem(
            period=period,
            category_id=key[0],
            dept_a_id=key[1],
            dept_b_id=key[2],
            status=AgendaStatus.OPEN,
            severity=cluster["severity"],
            evidence=cluster,
            evidence_at=at,
        )
        try:
            with db.session.begin_nested():  # a coordinator building at the same moment may win the insert
                db.session.add(item)
        except IntegrityError:
            continue
        created.append(item.id)
    for key, item in existing.items():
        if key not in seen and item.status == AgendaStatus.OPEN:  # its tickets left the cluster
            empty = {**item.evidence, "joint_tickets": 0, "issues": 0, "troubled": 0, "severity": 0.0}
            empty.update({name: 0 for name in COUNTS}, qualifies=False)
            empty["evidence"] = {name: [] for name in ("joint_tickets", *COUNTS)}
            item.refresh(empty, 0.0, at)
            refreshed.append(item.id)
    db.session.flush()
    audit(actor, "scoring.agenda.built", None, period=period, created=created, refreshed=refreshed)
    return {"period": period, "created": created, "refreshed": refreshed}


def items(actor: Any, period: str) -> list[AgendaItem]:
    """The agenda items of a period the actor may see, most severe first."""
    authorize(actor, "scoring.agenda.view")
    period = check_period(period)
    rows = db.session.scalars(
        select(AgendaItem).where(AgendaItem.period == period).order_by(AgendaItem.severity.desc(), AgendaItem.id)
    )
    return [item for item in rows if can(actor, "scoring.agenda.view", item)]


def _load(item_id: Any) -> AgendaItem:
    item = db.session.get(AgendaItem, item_id) if isinstance(item_id, int) else None
    if item is None:
        raise NotFound(_("No such agenda item."))
    return item


def get_item(actor: Any, item_id: int) -> AgendaItem:
    item = _load(item_id)
    authorize(actor, "scoring.agenda.view", item)
    return item


def mark_discussed(actor: Any, item_id: int) -> AgendaItem:
    """The joint meeting has discussed the item."""
    item = _load(item_id)
    authorize(actor, "scoring.agenda.manage", item)
    item.mark_discussed(_actor_id(actor), now())
    audit(actor, "scoring.agenda.discussed", item, period=item.period)
    return item


def record_decision(actor: Any, item_id: int, text: Any) -> AgendaItem:
    """What the joint meeting decided (required, at most TEXT_MAX characters)."""
    item = _load(item_id)
    authorize(actor, "scoring.agenda.manage", item)
    decision = _text(text, "decision", required=True)
    item.decide(decision, _actor_id(actor), now())
    audit(actor, "scoring.agenda.decided", item, period=item.period, decision=decision)
    return item


def dismiss(actor: Any, item_id: int, reason: Any = "") -> AgendaItem:
    """Take the item off the agenda (an optional reason)."""
    item = _load(item_id)
    authorize(actor, "scoring.agenda.manage", item)
    why = _text(reason, "reason", required=False)
    item.dismiss(why, _actor_id(actor), now())
    audit(actor, "scoring.agenda.dismissed", item, period=item.period, reason=why)
    return item


def apply_catalog_change(actor: Any, item_id: int, lead: Any = None, co: Any = None) -> AgendaItem:
    """Carry out a decision: set the category's lead and/or co-handling departments (None keeps that side).

    Goes through the catalog's service (its checks and audit); the router follows from its next decision."""
    item = _load(item_id)
    authorize(actor, "scoring.agenda.manage", item)
    item.check_catalog_change()
    change = catalog.set_category_departments(actor, item.category.code, lead, co, source=f"agenda:{item.id}")
    item.record_catalog_change(change, _actor_id(actor), now())
    audit(actor, "scoring.agenda.catalog_changed", item, period=item.period, **change)
    return item


def history(item: AgendaItem) -> list[dict[str, Any]]:
    """The audit entries of the item, oldest first, with who did them."""
    rows = db.session.execute(
        select(AuditLog, User.display_name)
        .outerjoin(User, User.id == AuditLog.actor_id)
        .where(AuditLog.target_type == "AgendaItem", AuditLog.target_id == str(item.id))
        .order_by(AuditLog.at, AuditLog.id)
    )
    return [{"at": entry.at, "action": entry.action, "actor": name, "payload": entry.payload} for entry, name in rows]


def readable_evidence(actor: Any, item: AgendaItem) -> dict[str, Any]:
    """The item's evidence as this reader may read it: its tickets' tracking codes whole for the coordination
    centre, shortened for the departments it judges, as every code is (routing.ticket.code: the holder of a
    code answers the callback of a request sent without an account)."""
    from participation.routing.permissions import shown_code

    stored = item.evidence or {}
    refs = {
        name: [
            {**ref, "tracking_code": shown_code(actor, None, ref["tracking_code"])}
            if isinstance(ref, dict) and isinstance(ref.get("tracking_code"), str)
            else ref
            for ref in rows
        ]
        for name, rows in (stored.get("evidence") or {}).items()
    }
    return {**stored, "evidence": refs}


def item_json(item: AgendaItem, actor: Any) -> dict[str, Any]:
    return {
        "id": item.id,
        "period": item.period,
        "category": item.category.code,
        "departments": [item.dept_a.code, item.dept_b.code],
        "status": item.status.value,
        "severity": item.severity,
        "evidence": readable_evidence(actor, item),
        "evidence_at": item.evidence_at.isoformat(),
        "discussed_at": item.discussed_at.isoformat() if item.discussed_at else None,
        "decision": item.decision,
        "decided_at": item.decided_at.isoformat() if item.decided_at else None,
        "dismiss_reason": item.dismiss_reason,
        "dismissed_at": item.dismissed_at.isoformat() if item.dismissed_at else None,
        "catalog_change": item.catalog_change,
        "catalog_changed_at": item.catalog_changed_at.isoformat() if item.catalog_changed_at else None,
    }
