"""Two staff members sign for the same part at the same moment: exactly one wins (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.orm.exc import StaleDataError

from participation.core.errors import Conflict
from participation.core.uow import transaction
from participation.extensions import db as _db
from participation.routing import services
from tests.routing.conftest import part_of


def test_two_staff_accept_the_same_part_at_once(app, db, people, make_user, joint_ticket):
    if _db.engine.dialect.name != "postgresql":
        pytest.skip("needs two real connections with row locks (PostgreSQL)")
    second = make_user("department_staff", departments=("ENV",))
    part_id = part_of(joint_ticket, "ENV").id
    first_id, second_id = people.env.id, second.id
    both_loaded = threading.Barrier(2, timeout=20)
    outcomes: list[str] = []

    def sign(user_id: int) -> None:
        from participation.accounts.models import User

        with app.app_context():  # its own session and its own connection
            user = _db.session.get(User, user_id)
            try:
                with transaction():
                    part = services.get_part(part_id, None)
                    assert part.status.value == "pending"
                    both_loaded.wait()
                    services.accept(user, part_id)
                outcomes.append("won")
            except (Conflict, StaleDataError):
                outcomes.append("lost")
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=sign, args=(uid,)) for uid in (first_id, second_id)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["lost", "won"]
    db.session.expire_all()
    part = services.get_part(part_id, None)
    assert part.status.value == "accepted" and part.accepted_by_id in (first_id, second_id)
    accepted = [e for e in part.ticket.events if e.type == "part.accepted"]
    assert len(accepted) == 1
