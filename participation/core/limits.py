"""Rate limits per account: one budget for a feature's pages and its JSON API together."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app
from flask_limiter.util import get_remote_address
from flask_login import current_user

from participation.extensions import limiter


def account_key() -> str:
    """Limits count per account (by address only for requests that are refused anyway)."""
    if current_user.is_authenticated and current_user.id is not None:
        return f"user:{current_user.id}"
    return get_remote_address()


def account_limit(setting: str, scope: str, methods: tuple[str, ...] = ("POST",)) -> Callable[[Any], Any]:
    """A limit read from the config key `setting`, shared by every route it decorates; refused requests
    (4xx) do not use it up."""
    return limiter.shared_limit(
        lambda: current_app.config[setting],
        scope=scope,
        key_func=account_key,
        methods=list(methods),
        deduct_when=lambda response: response.status_code < 400,
    )
