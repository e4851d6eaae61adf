"""Fixtures for routing: staff of three departments, a coordinator, and a dispatched joint ticket."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from participation.core.uow import transaction
from participation.deadlines.services import recompute
from participation.extensions import db as _db
from participation.intake import services as intake
from participation.routing import services
from participation.routing.models import Ticket


@pytest.fixture
def people(catalog, make_user):
    return SimpleNamespace(
        citizen=make_user("citizen"),
        env=make_user("department_staff", departments=("ENV",)),
        urban=make_user("department_staff", departments=("URBAN",)),
        transport=make_user("department_staff", departments=("TRANSPORT",)),
        coordinator=make_user("coordinator"),
    )


@pytest.fixture
def submit(people):
    def do(text: str = "工地半夜施工，噪音太大，渣土车还把路压坏了", **extra):
        with transaction():
            submission, _ = intake.submit(
                people.citizen, {"kind": "complaint", "text": text, "district": "EAST-HILL", **extra}
            )
        return submission.ticket

    return do


@pytest.fixture
def joint_ticket(people, submit):
    """A ticket led by ENV with URBAN co-handling, dispatched by the coordinator."""
    ticket = submit()
    with transaction():
        services.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", ["URBAN"])
    return ticket


def late_joint_ticket(people) -> Ticket:
    """A noise complaint led by ENV with URBAN, dispatched by the coordinator, that came in 60 days ago.

    Its first-contact and resolution clocks are therefore late (past every checkpoint).
    """
    with transaction():
        submission, _ = intake.submit(
            people.citizen, {"kind": "complaint", "text": "工地半夜施工，噪音太大", "district": "EAST-HILL"}
        )
    ticket_id = submission.ticket.id
    with transaction():
        services.dispatch(people.coordinator, ticket_id, ["NOISE"], "ENV", ["URBAN"])
    with transaction():
        ticket = _db.session.get(Ticket, ticket_id)
        ticket.created_at -= timedelta(days=60)
        recompute(ticket)
    return ticket


def resolve_joint(ticket, people, reply: str = "Fixed the noise barrier."):
    """Bring the joint ticket (ENV lead, URBAN co) to resolution: sign for what is pending, contribute, resolve."""
    lead, co = part_of(ticket, "ENV"), part_of(ticket, "URBAN")
    with transaction():
        if lead.status.value == "pending":
            services.accept(people.env, lead.id)
        if co.status.value == "pending":
            services.accept(people.urban, co.id)
        if co.status.value == "accepted":
            services.contribute(people.urban, co.id, "Checked the permits.")
        services.resolve(people.env, ticket.id, reply)
    return ticket


def part_of(ticket, code: str):
    return next(p for p in ticket.parts if p.department.code == code)
