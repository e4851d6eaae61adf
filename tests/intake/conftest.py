"""Fixtures for intake: the routing cast."""

from __future__ import annotations

from tests.routing.conftest import joint_ticket, people, submit  # noqa: F401  (fixtures reused)
