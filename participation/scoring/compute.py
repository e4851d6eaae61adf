"""The scorecard arithmetic of ARCHITECTURE section 5: a pure function of the period's facts.

Components (rates in [0, 1], each shrunk toward the city-wide rate of the same role and period
with `(x + k·p0) / (n + k)`):

- response: sign-for clocks of the department's parts that stopped in the period, and for the lead
  the first-contact clocks; on time = the clock was met.
- resolution: resolve clocks that stopped in the period on tickets the department led (lead) or
  co-handled (co); a success is on time and not reopened within 30 days; plus callbacks in the period:
  a success when the citizen says "solved".
- satisfaction: callbacks in the period (satisfied 1.0, basically 0.6, dissatisfied 0); a co-handler's
  joint tickets count with half weight.
- collaboration: for co parts, contributions on time and the lead's 1–5 rating (as rating / 5); for both
  roles, the department's return and transfer requests ruled in the period that were not overruled.

Score = 100 × Σ weight·shrunk / Σ weight − penalties (points per incident, capped), never below 0.
Penalties: reopenings of tickets it led, wrongful (overruled) returns and transfers, resolutions the
callback contradicts ("not solved"), pauses for the citizen without any contact before them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

COMPONENTS = ("response", "resolution", "satisfaction", "collaboration")
PENALTY_TERMS = ("reopen", "wrongful_dispute", "contradicted_closure", "pause_without_contact")
ROLES = ("lead", "co")
SATISFACTION_VALUE = {1: 1.0, 2: 0.6, 3: 0.0}
REOPEN_WINDOW = timedelta(days=30)

DEFAULT_WEIGHTS = {"response": 20, "resolution": 35, "satisfaction": 30, "collaboration": 15}
DEFAULT_PENALTIES = {"reopen": 2.0, "wrongful_dispute": 3.0, "contradicted_closure": 2.0, "pause_without_contact": 2.0}


@dataclass(frozen=True)
class ClockFact:
    kind: str  # sign_for | first_contact | resolve | contribution
    ticket_id: int
    department_id: int | None  # the part's department, or the ticket's lead for ticket clocks
    met: bool
    stopped_at: datetime
    role: str = "lead"  # sign-for clocks: the part's role
    co_department_ids: tuple[int, ...] = ()  # resolve clocks: the ticket's co-handlers
    reopened_at: datetime | None = None  # resolve clocks: the first reopening after it stopped


@dataclass(frozen=True)
class CallbackFact:
    ticket_id: int
    at: datetime
    solved: bool
    satisfaction: int
    lead_department_id: int | None
    co_department_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class DisputeFact:
    ticket_id: int
    department_id: int
    role: str
    overruled: bool


@dataclass(frozen=True)
class RatingFact:
    ticket_id: int
    department_id: int
    rating: int


@dataclass(frozen=True)
class IncidentFact:
    """A penalty incident: reopen, contradicted closure, pause without contact (lead role)."""

    term: str
    ticket_id: int
    department_id: int


@dataclass
class Facts:
    clocks: list[ClockFact] = field(default_factory=list)
    callbacks: list[CallbackFact] = field(default_factory=list)
    disputes: list[DisputeFact] = field(default_factory=list)
    ratings: list[RatingFact] = field(default_factory=list)
    incidents: list[IncidentFact] = field(default_factory=list)


@dataclass
class Tally:
    """Numerator, denominator and the tickets behind them (for the drill-down)."""

    num: float = 0.0
    den: float = 0.0
    tickets: set[int] = field(default_factory=set)

    def add(self, value: float, weight: float, ticket_id: int) -> None:
        self.num += value * weight
        self.den += weight
        self.tickets.add(ticket_id)


@dataclass
class Result:
    department_id: int
    role: str
    components: dict
    penalties: dict
    penalty_points: float
    score: float
    items: int


def tally(facts: Facts) -> dict[tuple[int, str, str], Tally]:
    """(department, role, component) -> Tally over the period's facts."""
    out: dict[tuple[int, str, str], Tally] = defaultdict(Tally)

    def add(department_id: int | None, role: str, component: str, value: float, ticket_id: int, weight: float = 1.0):
        if department_id is not None:
            out[(department_id, role, component)].add(value, weight, ticket_id)

    for clock in facts.clocks:
        if clock.kind == "sign_for":
            add(clock.department_id, clock.role, "response", float(clock.met), clock.ticket_id)
        elif clock.kind == "first_contact":
            add(clock.department_id, "lead", "response", float(clock.met), clock.ticket_id)
        elif clock.kind == "contribution":
            add(clock.department_id, "co", "collaboration", float(clock.met), clock.ticket_id)
        elif clock.kind == "resolve":
            reopened = clock.reopened_at is not None and clock.reopened_at - clock.stopped_at <= REOPEN_WINDOW
            value = float(clock.met and not reopened)
            add(clock.department_id, "lead", "resolution", value, clock.ticket_id)
            for co in clock.co_department_ids:
                add(co, "co", "resolution", value, clock.ticket_id)
    for callback in facts.callbacks:
        value = SATISFACTION_VALUE.get(callback.satisfaction, 0.0)
        add(callback.lead_department_id, "lead", "satisfaction", value, callback.ticket_id)
        add(callback.lead_department_id, "lead", "resolution", float(callback.solved), callback.ticket_id)
        for co in callback.co_department_ids:
            add(co, "co", "satisfaction", value, callback.ticket_id, weight=0.5)
            add(co, "co", "resolution", float(callback.solved), callback.ticket_id, weight=0.5)
    for dispute in facts.disputes:
        add(dispute.department_id, dispute.role, "collaboration", float(not dispute.overruled), dispute.ticket_id)
    for rating in facts.ratings:
        add(rating.department_id, "co", "collaboration", rating.rating / 5, rating.ticket_id)
    return out


def compute(
    facts: Facts,
    department_ids: list[int],
    *,
    weights: dict[str, float],
    penalties: dict[str, float],
    penalty_cap: float,
    shrink_k: float,
    default_rate: float = 0.5,
) -> list[Result]:
    """Every department's scorecard for both roles."""
    tallies = tally(facts)
    city: dict[tuple[str, str], float] = {}
    for role in ROLES:
        for component in COMPONENTS:
            parts = [t for (d, r, c), t in tallies.items() if r == role and c == component]
            den = sum(t.den for t in parts)
            city[(role, component)] = sum(t.num for t in parts) / den if den else default_rate
    incidents: dict[tuple[int, str], list[int]] = defaultdict(list)
    for incident in facts.incidents:
        incidents[(incident.department_id, incident.term)].append(incident.ticket_id)
    for dispute in facts.disputes:
        if dispute.overruled:
            incidents[(dispute.department_id, f"wrongful_dispute:{dispute.role}")].append(dispute.ticket_id)
    total_weight = sum(weights.get(c, 0) for c in COMPONENTS) or 1
    results = []
    for department_id in department_ids:
        for role in ROLES:
            components = {}
            weighted = 0.0
            items = 0
            for component in COMPONENTS:
                t = tallies.get((department_id, role, component), Tally())
                p0 = city[(role, component)]
                shrunk = (t.num + shrink_k * p0) / (t.den + shrink_k) if (t.den + shrink_k) else p0
                weight = weights.get(component, 0)
                weighted += weight * shrunk
                items += len(t.tickets)
                components[component] = {
                    "num": round(t.num, 4),
                    "den": round(t.den, 4),
                    "raw": round(t.num / t.den, 4) if t.den else None,
                    "city": round(p0, 4),
                    "shrunk": round(shrunk, 4),
                    "weight": weight,
                    "tickets": sorted(t.tickets),
                }
            terms = {}
            for term in PENALTY_TERMS:
                key = f"wrongful_dispute:{role}" if term == "wrongful_dispute" else term
                tickets = (
                    incidents.get((department_id, key), []) if (role == "lead" or term == "wrongful_dispute") else []
                )
                terms[term] = {
                    "count": len(tickets),
                    "points": round(len(tickets) * penalties.get(term, 0.0), 4),
                    "tickets": sorted(set(tickets)),
                }
            raw_points = sum(v["points"] for v in terms.values())
            points = min(penalty_cap, raw_points)
            score = max(0.0, 100 * weighted / total_weight - points)
            results.append(Result(department_id, role, components, terms, round(points, 4), round(score, 2), items))
    return results
