"""Real-time helpers: room names, and emits that run only after commit."""

from __future__ import annotations

from typing import Any

from flask_socketio import join_room

from participation.core.uow import after_commit
from participation.extensions import socketio


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def organisation_room(organisation_id: int) -> str:
    return f"org:{organisation_id}"


def tracking_room(code: str) -> str:
    return f"track:{code}"


def join(room: str) -> None:
    """Put the current Socket.IO client in a room; a client that left while its join was on its way (a page
    closed right after it loaded) is no longer there to join, and nothing is to be done."""
    try:
        join_room(room)
    except ValueError:  # "sid is not connected to requested namespace"
        pass


def emit_now(event: str, data: Any, room: str | list[str], namespace: str) -> None:
    """Emit to a room (or to several, each client once), from a web process or a worker (through the
    message queue)."""
    socketio.emit(event, data, to=room, namespace=namespace)


def publish(event: str, data: Any, rooms: list[str], namespace: str) -> None:
    """Emit to each room once the current transaction has committed."""
    for room in rooms:
        after_commit(emit_now, event, data, room, namespace)
