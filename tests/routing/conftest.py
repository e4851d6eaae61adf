"""Fixtures for routing: staff of three departments, a coordinator, and a dispatched joint ticket."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from participation.core.uow import transaction
from participation.intake import services as intake
from participation.routing import services


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


def part_of(ticket, code: str):
    return next(p for p in ticket.parts if p.department.code == code)
