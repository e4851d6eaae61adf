"""Scoring tests reuse the routing fixtures: staff of three departments, a coordinator, a joint ticket."""

from tests.routing.conftest import joint_ticket, people, submit  # noqa: F401
