"""Network diagnostics, reported beside the scorecards: the co-handling graph and ping-pong pairs.

co_handling(period): every unordered pair of departments that both had a part (lead or co, not
ended) on a ticket created or resolved in the period, with the pair's joint tickets, the share of
them resolved on time (the ticket's latest stopped resolve clock met, among the resolved ones) and
the mean satisfaction of their callbacks (satisfied 1.0, basically 0.6, dissatisfied 0).

ping_pong(period): department A sent a ticket to B (a return or transfer naming B, the coordinator
naming B on an upheld return, or the lead swapped from A to B) and B sent it back to A on the same
ticket; counted when the move back happened in the period.

Both read a handful of set-based queries; nothing is queried per ticket. `network(actor, period)`, which
the page and the API call, keeps the pairs the actor may see (rule `scoring.network.pair`: coordinators
all, department admins those involving one of their departments); a department's node then counts the
joint tickets of its visible pairs only, so nothing is told about the pairs left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import Any

from sqlalchemy import or_, select

from participation.catalog.models import Department
from participation.core.permissions import authorize, can
from participation.deadlines.models import ClockKind, ClockState, SlaClock
from participation.extensions import db
from participation.routing.models import Dispute, PartStatus, Ticket, TicketEvent, TicketPart
from participation.scoring.services import ROLLING, now, period_bounds
from participation.surveys.models import CallbackResult

SATISFACTION_VALUES = {1: 1.0, 2: 0.6, 3: 0.0}

Visible = Callable[[int, int], bool]  # (department id, department id) -> whether the pair is shown


@dataclass(frozen=True)
class Pair:
    """Two departments of the network, as the permission rule `scoring.network.pair` reads them."""

    department_ids: frozenset[int]


def _everything(_a: int, _b: int) -> bool:
    return True


def _bounds(period: str) -> tuple[datetime, datetime]:
    start, end = period_bounds(period)
    return (start, min(end, now())) if period == ROLLING else (start, end)


def _departments(ids: set[int]) -> dict[int, Department]:
    if not ids:
        return {}
    return {d.id: d for d in db.session.scalars(select(Department).where(Department.id.in_(ids)))}


def _rate(num: float, den: int) -> float | None:
    return round(num / den, 4) if den else None


def period_tickets(start: datetime, end: datetime) -> Any:
    """The ids of the tickets created or resolved in [start, end), as a subquery."""
    in_period = or_(
        (Ticket.created_at >= start) & (Ticket.created_at < end),
        (Ticket.resolved_at >= start) & (Ticket.resolved_at < end),
    )
    resolved_in_period = select(SlaClock.ticket_id).where(
        SlaClock.kind == ClockKind.RESOLVE,
        SlaClock.state.in_([ClockState.MET, ClockState.MISSED]),
        SlaClock.stopped_at >= start,
        SlaClock.stopped_at < end,
    )  # resolved in the period, even if reopened since
    return select(Ticket.id).where(or_(in_period, Ticket.id.in_(resolved_in_period))).scalar_subquery()


def co_handling(period: str, visible: Visible = _everything) -> dict[str, list[dict[str, Any]]]:
    """The co-handling graph of the period: the visible pairs (edges) and their departments (nodes)."""
    start, end = _bounds(period)
    tickets = period_tickets(start, end)
    # 1. the departments on each ticket of the period
    on_ticket: dict[int, set[int]] = defaultdict(set)
    for ticket_id, department_id in db.session.execute(
        select(TicketPart.ticket_id, TicketPart.department_id).where(
            TicketPart.ticket_id.in_(tickets), TicketPart.status != PartStatus.ENDED
        )
    ):
        on_ticket[ticket_id].add(department_id)
    joint = {t: ds for t, ds in on_ticket.items() if len(ds) >= 2}
    if not joint:
        return {"nodes": [], "edges": []}
    # 2. the latest stopped resolve clock of each ticket: met or missed
    on_time: dict[int, bool] = {}
    for ticket_id, state in db.session.execute(
        select(SlaClock.ticket_id, SlaClock.state)
        .where(
            SlaClock.ticket_id.in_(tickets),
            SlaClock.kind == ClockKind.RESOLVE,
            SlaClock.state.in_([ClockState.MET, ClockState.MISSED]),
        )
        .order_by(SlaClock.ticket_id, SlaClock.cycle, SlaClock.stopped_at)
    ):
        on_time[ticket_id] = state == ClockState.MET  # the last row of a ticket wins
    # 3. callbacks of the tickets
    answers: dict[int, list[float]] = defaultdict(list)
    for ticket_id, satisfaction in db.session.execute(
        select(CallbackResult.ticket_id, CallbackResult.satisfaction).where(CallbackResult.ticket_id.in_(tickets))
    ):
        if satisfaction in SATISFACTION_VALUES:
            answers[ticket_id].append(SATISFACTION_VALUES[satisfaction])

    pairs: dict[tuple[int, int], list[int]] = defaultdict(list)
    for ticket_id in sorted(joint):
        for a, b in combinations(sorted(joint[ticket_id]), 2):
            pairs[(a, b)].append(ticket_id)
    pairs = {(a, b): ticket_ids for (a, b), ticket_ids in pairs.items() if visible(a, b)}
    if not pairs:
        return {"nodes": [], "edges": []}
    # a department's joint tickets among the visible pairs (every one of them when all pairs are visible)
    on_department: dict[int, set[int]] = defaultdict(set)
    for (a, b), ticket_ids in pairs.items():
        on_department[a].update(ticket_ids)
        on_department[b].update(ticket_ids)
    per_department = {d: len(ticket_ids) for d, ticket_ids in on_department.items()}
    names = _departments(set(per_department))

    edges = []
    for (a, b), ticket_ids in pairs.items():
        resolved = [on_time[t] for t in ticket_ids if t in on_time]
        values = [v for t in ticket_ids for v in answers.get(t, [])]
        edges.append(
            {
                "a": names[a].code,
                "b": names[b].code,
                "joint_tickets": len(ticket_ids),
                "resolved": len(resolved),
                "on_time": sum(resolved),
                "on_time_rate": _rate(sum(resolved), len(resolved)),
                "callbacks": len(values),
                "satisfaction_rate": _rate(sum(values), len(values)),
                "ticket_ids": ticket_ids,
            }
        )
    edges.sort(key=lambda e: (-e["joint_tickets"], e["a"], e["b"]))
    nodes = sorted(
        (
            {"department": d.code, "name_zh": d.name_zh, "name_en": d.name_en, "joint_tickets": per_department[i]}
            for i, d in names.items()
        ),
        key=lambda n: n["department"],
    )
    return {"nodes": nodes, "edges": edges}


def _moves(start: datetime, end: datetime) -> dict[int, list[tuple[datetime, int, int]]]:
    """Every move (at, from, to) between departments on the tickets that had a move in [start, end)."""
    moved = (
        select(Dispute.ticket_id)
        .where(Dispute.created_at >= start, Dispute.created_at < end)
        .union(
            select(TicketEvent.ticket_id).where(
                TicketEvent.at >= start,
                TicketEvent.at < end,
                TicketEvent.type.in_(["lead.swapped", "dispute.upheld"]),
            )
        )
        .scalar_subquery()
    )
    codes = {code: id_ for id_, code in db.session.execute(select(Department.id, Department.code))}
    moves: dict[int, list[tuple[datetime, int, int]]] = defaultdict(list)
    named: set[int] = set()
    for dispute_id, ticket_id, source, target, at in db.session.execute(
        select(
            Dispute.id, Dispute.ticket_id, Dispute.department_id, Dispute.suggested_department_id, Dispute.created_at
        ).where(Dispute.ticket_id.in_(moved))
    ):
        if target is not None:
            named.add(dispute_id)
            moves[ticket_id].append((at, source, target))
    for ticket_id, kind, source, at, payload in db.session.execute(
        select(TicketEvent.ticket_id, TicketEvent.type, TicketEvent.department_id, TicketEvent.at, TicketEvent.payload)
        .where(TicketEvent.ticket_id.in_(moved), TicketEvent.type.in_(["lead.swapped", "dispute.upheld"]))
        .order_by(TicketEvent.id)
    ):
        payload = payload or {}
        if kind == "lead.swapped":  # the event's department is the new lead
            origin, target = codes.get(payload.get("previous")), source
        else:  # an upheld return that named no department: the coordinator named it
            if payload.get("dispute_id") in named:
                continue
            origin, target = source, codes.get(payload.get("new_department"))
        if origin is not None and target is not None and origin != target:
            moves[ticket_id].append((at, origin, target))
    for ticket_moves in moves.values():
        ticket_moves.sort(key=lambda m: m[0])
    return moves


def ping_pong(period: str, visible: Visible = _everything) -> list[dict[str, Any]]:
    """The visible ping-pong pairs of the period, with the tickets that went there and back."""
    start, end = _bounds(period)
    found: dict[tuple[int, int], list[int]] = defaultdict(list)
    for ticket_id, ticket_moves in _moves(start, end).items():
        seen: set[tuple[int, int]] = set()
        for at, source, target in ticket_moves:
            first = (target, source)  # B -> A answers an earlier A -> B
            if first in seen and start <= at < end:
                found[first].append(ticket_id)
                seen.discard(first)
            else:
                seen.add((source, target))
    found = {(a, b): ticket_ids for (a, b), ticket_ids in found.items() if visible(a, b)}
    names = _departments({d for pair in found for d in pair})
    out = [
        {
            "from": names[a].code,
            "to": names[b].code,
            "from_name": {"zh": names[a].name_zh, "en": names[a].name_en},
            "to_name": {"zh": names[b].name_zh, "en": names[b].name_en},
            "count": len(ticket_ids),
            "ticket_ids": sorted(set(ticket_ids)),
        }
        for (a, b), ticket_ids in found.items()
    ]
    out.sort(key=lambda p: (-p["count"], p["from"], p["to"]))
    return out


def network(actor: Any, period: str) -> dict[str, Any]:
    """Both diagnostics of a period, for the page and the API: the pairs the actor may see."""
    authorize(actor, "scoring.view")

    def visible(a: int, b: int) -> bool:
        return can(actor, "scoring.network.pair", Pair(frozenset((a, b))))

    return {"period": period, **co_handling(period, visible), "ping_pong": ping_pong(period, visible)}
