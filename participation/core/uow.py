"""Unit of work: adapters own the transaction; side effects run only after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from participation.extensions import db

_AFTER_COMMIT = "participation.after_commit"
_AFTER_ROLLBACK = "participation.after_rollback"
_DISCARD = "participation.discard_side_effects"


def after_commit(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run fn(*args) once the current transaction commits; drop it if it rolls back."""
    db.session.info.setdefault(_AFTER_COMMIT, []).append((fn, args, kwargs))


def on_rollback(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run fn(*args) if the current transaction rolls back (for example, remove a stored file)."""
    db.session.info.setdefault(_AFTER_ROLLBACK, []).append((fn, args, kwargs))


@contextmanager
def side_effects_discarded() -> Iterator[None]:
    """Commits in this block drop their after-commit side effects (bulk generation of past data:
    nobody is listening to its live events, and its e-mails and background refreshes are not wanted)."""
    db.session.info[_DISCARD] = True
    try:
        yield
    finally:
        db.session.info.pop(_DISCARD, None)


@contextmanager
def transaction() -> Iterator[None]:
    """Commit what the block did, or roll all of it back."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint was released: the real commit is still to come
        return
    callbacks = session.info.pop(_AFTER_COMMIT, [])
    session.info.pop(_AFTER_ROLLBACK, None)
    if session.info.get(_DISCARD):
        return
    for fn, args, kwargs in callbacks:
        try:
            fn(*args, **kwargs)
        except Exception:  # the change is committed; a failed side effect must not turn it into an error
            logging.getLogger(__name__).exception("after-commit side effect %r failed", fn)


@event.listens_for(Session, "after_soft_rollback")
def _run_after_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is not None:
        return
    session.info.pop(_AFTER_COMMIT, None)
    for fn, args, kwargs in session.info.pop(_AFTER_ROLLBACK, []):
        fn(*args, **kwargs)
