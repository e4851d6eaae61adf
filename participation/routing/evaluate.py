"""Evaluate the router on labelled cases: the figures `flask routing evaluate` prints."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from participation.core.errors import ValidationFailed
from participation.core.validation import errors_to_fields
from participation.routing.router import CatalogView, Router

Code = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=40)]


class Case(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | int | None = None
    text: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=20000)]
    district: Code | None = None
    category: Code | None = None
    enterprise: bool = False
    categories: Annotated[list[Code], Field(min_length=1)]
    lead: Code | None = None
    co: list[Code] = []


_CASES = TypeAdapter(list[Case])


def parse_cases(data: Any, name: str = "cases") -> list[Case]:
    """Validate a list of cases; every problem is reported with its place."""
    try:
        return _CASES.validate_python(data)
    except ValidationError as error:
        fields = {f"{name}{k}" if k.startswith("[") else f"{name}.{k}": v for k, v in errors_to_fields(error).items()}
        raise ValidationFailed(f"The {name} file is not a list of valid cases.", fields=fields) from None


def check_codes(cases: list[Case], catalog: CatalogView, name: str) -> None:
    """Unknown category codes are an error, not a silent miss."""
    fields: dict[str, list[str]] = {}
    for i, case in enumerate(cases):
        for j, code in enumerate(case.categories):
            if code not in catalog.categories:
                fields.setdefault(f"{name}[{i}].categories[{j}]", []).append(f"Unknown category code {code}.")
    if fields:
        raise ValidationFailed(f"The {name} file names categories the catalog does not have.", fields=fields)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def evaluate(router: Router, cases: list[Case]) -> tuple[dict, list[dict]]:
    """Run every case through the router; return the figures and each case's decision."""
    started = time.perf_counter()
    decisions = router.suggest_many(
        [c.text for c in cases], [c.district for c in cases], [c.category for c in cases], [c.enterprise for c in cases]
    )
    elapsed = time.perf_counter() - started

    primary_hits = lead_hits = 0
    tp = fp = fn = 0
    multi = multi_hits = 0
    auto = auto_hits = 0
    predictions = []
    sure: list[tuple[float, bool]] = []  # each case's confidence, and whether its primary is right
    for case, decision in zip(cases, decisions, strict=True):
        predicted = [c for c, _ in decision.categories]
        hit = predicted[0] == case.categories[0]
        sure.append((decision.confidence, hit))
        primary_hits += hit
        lead_hits += decision.lead == case.lead
        truth_co, got_co = set(case.co), set(decision.co)
        tp += len(truth_co & got_co)
        fp += len(got_co - truth_co)
        fn += len(truth_co - got_co)
        if len(case.categories) > 1:
            multi += 1
            multi_hits += set(case.categories) <= set(predicted)
        if not decision.needs_triage:
            auto += 1
            auto_hits += hit
        predictions.append(
            {
                "id": case.id,
                "categories": predicted,
                "lead": decision.lead,
                "co": decision.co,
                "needs_triage": decision.needs_triage,
            }
        )
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    if precision is None and recall is None:
        f1 = None  # no co-handler expected and none given: nothing to measure, as for precision and recall
    else:
        f1 = round(2 * precision * recall / (precision + recall), 4) if precision and recall else 0.0
    n = len(cases)
    figures = {
        "cases": n,
        "primary_category_accuracy": _ratio(primary_hits, n),
        "lead_accuracy": _ratio(lead_hits, n),
        "co_precision": precision,
        "co_recall": recall,
        "co_f1": f1,
        "multi_issue_cases": multi,
        "multi_issue_recall": _ratio(multi_hits, multi),
        "routed_without_triage": _ratio(auto, n),
        "accuracy_without_triage": _ratio(auto_hits, auto),
        "suggestions_per_second": round(n / elapsed, 1) if elapsed else None,
        "by_threshold": by_threshold(sure),
    }
    return figures, predictions


SWEEP = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)


def by_threshold(sure: list[tuple[float, bool]]) -> list[dict]:
    """For a city choosing ROUTING_CONFIDENCE_THRESHOLD on its own cases: at each threshold, the share of
    items that would be dispatched at once, and how many of those would go to the right category (the rest
    wait in the coordinator's triage queue)."""
    out = []
    for threshold in SWEEP:
        auto = [hit for confidence, hit in sure if confidence >= threshold]
        out.append(
            {
                "threshold": threshold,
                "routed_without_triage": _ratio(len(auto), len(sure)),
                "accuracy_without_triage": _ratio(sum(auto), len(auto)),
            }
        )
    return out


def confirmed_cases(since: datetime | None = None, until: datetime | None = None) -> list[dict]:
    """A city's settled routing decisions as cases for `routing evaluate` (and its `--train`): every ticket
    a dispatcher confirmed (dispatched from triage, or its categories corrected) and every ticket resolved
    or closed (dispatched at once, and handled where it went), each once, with its categories, district
    and departments as they stand. `since` and `until` bound when the ticket was submitted (from, and
    before), so that a ticket falls in one period only: a city trains on older tickets and evaluates on
    newer ones, as its router will meet them. Confirmations imported without a ticket count by their own
    date."""
    from sqlalchemy import or_, select

    from participation.extensions import db
    from participation.routing.models import PartRole, PartStatus, Ticket, TicketStatus, TrainingExample

    def within(column):
        bounds = []
        if since is not None:
            bounds.append(column >= since)
        if until is not None:
            bounds.append(column < until)
        return bounds

    confirmed = select(TrainingExample.ticket_id).where(TrainingExample.ticket_id.is_not(None))
    settled = or_(Ticket.id.in_(confirmed), Ticket.status.in_([TicketStatus.RESOLVED, TicketStatus.CLOSED]))
    out = []
    for ticket in db.session.scalars(select(Ticket).where(settled, *within(Ticket.created_at)).order_by(Ticket.id)):
        categories = [c.code for c in ticket.categories]
        if not categories:
            continue
        lead = ticket.lead_department
        out.append(
            {
                "id": f"ticket-{ticket.id}",
                "text": ticket.submission.text,
                "categories": categories,
                "district": ticket.district.code if ticket.district else None,
                "enterprise": ticket.submission.organisation_id is not None,
                "lead": lead.code if lead else None,
                "co": sorted(
                    p.department.code
                    for p in ticket.parts
                    if p.role == PartRole.CO and p.status not in (PartStatus.WAIVED, PartStatus.ENDED)
                ),
            }
        )
    imported = select(TrainingExample).where(TrainingExample.ticket_id.is_(None), *within(TrainingExample.created_at))
    for example in db.session.scalars(imported.order_by(TrainingExample.id)):
        out.append(
            {"id": f"example-{example.id}", "text": example.text, "categories": list(example.categories),
             "district": None, "lead": None, "co": []}
        )  # fmt: skip
    return out
