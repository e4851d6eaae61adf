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
from dataclasses import dataclass

from participation.scoring.facts import Aggregate, Tally

COMPONENTS = ("response", "resolution", "satisfaction", "collaboration")
PENALTY_TERMS = ("reopen", "wrongful_dispute", "contradicted_closure", "pause_without_contact")
ROLES = ("lead", "co")
SATISFACTION_VALUE = {1: 1.0, 2: 0.6, 3: 0.0}

DEFAULT_WEIGHTS = {"response": 20, "resolution": 35, "satisfaction": 30, "collaboration": 15}
DEFAULT_PENALTIES = {"reopen": 2.0, "wrongful_dispute": 3.0, "contradicted_closure": 2.0, "pause_without_contact": 2.0}


@dataclass
class Result:
    department_id: int
    role: str
    components: dict
    penalties: dict
    penalty_points: float
    score: float
    items: int


def city_rates(aggregate: Aggregate, default_rate: float) -> dict[tuple[str, str], float]:
    """The city-wide rate of each role and component: every department's numerators over denominators."""
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for (_d, role, component), t in aggregate.tallies.items():
        sums[(role, component)][0] += t.num20
        sums[(role, component)][1] += t.den2
    return {
        (role, c): (sums[(role, c)][0] / 10 / sums[(role, c)][1] if sums[(role, c)][1] else default_rate)
        for role in ROLES
        for c in COMPONENTS
    }


def compute(
    aggregate: Aggregate,
    department_ids: list[int],
    *,
    weights: dict[str, float],
    penalties: dict[str, float],
    penalty_cap: float,
    shrink_k: float,
    default_rate: float = 0.5,
) -> list[Result]:
    """Every department's scorecard for both roles, from the period's tallies and incidents."""
    city = city_rates(aggregate, default_rate)
    total_weight = sum(weights.get(c, 0) for c in COMPONENTS) or 1
    results = []
    for department_id in department_ids:
        for role in ROLES:
            components = {}
            weighted = 0.0
            items = 0
            for component in COMPONENTS:
                t = aggregate.tallies.get((department_id, role, component), Tally())
                p0 = city[(role, component)]
                shrunk = (t.num + shrink_k * p0) / (t.den + shrink_k) if (t.den + shrink_k) else p0
                weight = weights.get(component, 0)
                weighted += weight * shrunk
                items += t.count
                components[component] = {
                    "num": round(t.num, 4),
                    "den": round(t.den, 4),
                    "raw": round(t.num / t.den, 4) if t.den else None,
                    "city": round(p0, 4),
                    "shrunk": round(shrunk, 4),
                    "weight": weight,
                    "count": t.count,
                }
            terms = {}
            for term in PENALTY_TERMS:
                count = aggregate.incidents.get((department_id, role, term), 0)
                terms[term] = {"count": count, "points": round(count * penalties.get(term, 0.0), 4)}
            points = min(penalty_cap, sum(v["points"] for v in terms.values()))
            score = max(0.0, 100 * weighted / total_weight - points)
            results.append(Result(department_id, role, components, terms, round(points, 4), round(score, 2), items))
    return results
