"""The one registry of permission rules: every check in the product goes through here.

Each feature's permissions module registers named rules; services call
`authorize(actor, name, obj)`, templates call `can(...)`. An unknown rule name is a
programming error, not a silent "no".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import g, has_request_context

from participation.core.errors import NotAuthenticated, PermissionDenied

Rule = Callable[[Any, Any], bool]
_RULES: dict[str, Rule] = {}


def rule(name: str) -> Callable[[Rule], Rule]:
    """Register the function as the rule for `name`."""

    def decorate(fn: Rule) -> Rule:
        if name in _RULES:
            raise RuntimeError(f"permission rule {name!r} registered twice")
        _RULES[name] = fn
        return fn

    return decorate


def rules() -> dict[str, Rule]:
    """All registered rules (for the permission matrix test)."""
    return dict(_RULES)


class SystemActor:
    """The platform itself, acting from the command line or a scheduled job."""

    id = None
    is_authenticated = True
    is_active = True
    display_name = "system"

    def has_role(self, *roles: Any) -> bool:
        return True

    @property
    def roles(self) -> set:
        return set()

    @property
    def department_ids(self) -> set:
        return set()


SYSTEM = SystemActor()


def is_authenticated(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def can(actor: Any, name: str, obj: Any = None) -> bool:
    """Whether actor (a user, or None / anonymous) may do `name` on obj."""
    try:
        check = _RULES[name]
    except KeyError:
        raise LookupError(f"no permission rule named {name!r}") from None
    if actor is SYSTEM:
        return True
    if is_authenticated(actor) and not actor.is_active:
        return False
    return bool(check(actor if is_authenticated(actor) else None, obj))


def authorize(actor: Any, name: str, obj: Any = None) -> None:
    """Raise unless actor may do `name` on obj; anonymous actors are asked to log in."""
    if has_request_context():
        g.setdefault("authorized", []).append(name)
    if not can(actor, name, obj):
        raise PermissionDenied() if is_authenticated(actor) else NotAuthenticated()
