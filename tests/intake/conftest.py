"""Fixtures for intake: the routing cast."""

from __future__ import annotations

from tests.routing.conftest import people  # noqa: F401  (fixture reused)
