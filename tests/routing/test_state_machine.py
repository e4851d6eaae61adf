"""Property test: no sequence of calls, by anyone, breaks the ticket invariants of ARCHITECTURE.md section 3."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from participation.core.errors import DomainError
from participation.core.uow import transaction
from participation.routing import services
from participation.routing.models import (
    ACTIVE_PART_STATUSES,
    Dispute,
    DisputeStatus,
    PartRole,
    PartStatus,
    TicketStatus,
)

DEPARTMENTS = ["ENV", "URBAN", "TRANSPORT"]
ACTORS = ["env", "urban", "transport", "coordinator", "citizen"]

step = st.one_of(
    st.tuples(st.just("accept"), st.sampled_from(ACTORS), st.sampled_from(DEPARTMENTS)),
    st.tuples(st.just("contribute"), st.sampled_from(ACTORS), st.sampled_from(DEPARTMENTS)),
    st.tuples(st.just("return"), st.sampled_from(ACTORS), st.sampled_from(DEPARTMENTS)),
    st.tuples(st.just("rule_upheld"), st.sampled_from(ACTORS), st.sampled_from(DEPARTMENTS)),
    st.tuples(st.just("rule_overruled"), st.sampled_from(ACTORS), st.sampled_from(DEPARTMENTS)),
    st.tuples(st.just("invite"), st.sampled_from(ACTORS), st.sampled_from(DEPARTMENTS)),
    st.tuples(st.just("waive"), st.sampled_from(ACTORS), st.sampled_from(DEPARTMENTS)),
    st.tuples(st.just("swap_lead"), st.sampled_from(ACTORS), st.sampled_from(DEPARTMENTS)),
    st.tuples(st.just("resolve"), st.sampled_from(ACTORS), st.sampled_from(DEPARTMENTS)),
    st.tuples(st.just("reopen"), st.sampled_from(ACTORS), st.sampled_from(DEPARTMENTS)),
    st.tuples(st.just("reject"), st.sampled_from(ACTORS), st.sampled_from(DEPARTMENTS)),
)


def _part(ticket, code):
    return next((p for p in ticket.parts if p.department.code == code), None)


def _apply(ticket, people, name, who, code):
    actor = getattr(people, who)
    part = _part(ticket, code)
    part_id = part.id if part is not None else 0
    if name == "accept":
        services.accept(actor, part_id)
    elif name == "contribute":
        services.contribute(actor, part_id, "done")
    elif name == "return":
        services.request_return(actor, part_id, "transfer", "not ours", DEPARTMENTS[(DEPARTMENTS.index(code) + 1) % 3])
    elif name.startswith("rule_"):
        from sqlalchemy import select

        from participation.extensions import db

        dispute = db.session.scalar(
            select(Dispute).where(Dispute.ticket_id == ticket.id, Dispute.status == DisputeStatus.OPEN)
        )
        services.rule(actor, dispute.id if dispute else 0, name.removeprefix("rule_"), "", None)
    elif name == "invite":
        services.invite(actor, ticket.id, code)
    elif name == "waive":
        services.waive(actor, part_id, "not needed")
    elif name == "swap_lead":
        services.swap_lead(actor, ticket.id, code, "coordinator decision")
    elif name == "resolve":
        services.resolve(actor, ticket.id, "fixed")
    elif name == "reopen":
        services.reopen(actor, ticket.id, "still broken")
    elif name == "reject":
        services.reject(actor, ticket.id, "spam")


def check_invariants(ticket):
    leads = [p for p in ticket.parts if p.role == PartRole.LEAD and p.status != PartStatus.ENDED]
    if ticket.status not in (TicketStatus.REJECTED, TicketStatus.WITHDRAWN):
        assert len(leads) == 1, "exactly one active lead"
        assert leads[0].department_id == ticket.lead_department_id
    if ticket.status == TicketStatus.RESOLVED:
        assert all(
            p.status in (PartStatus.DONE, PartStatus.WAIVED, PartStatus.ENDED)
            for p in ticket.parts
            if p.role == PartRole.CO
        ), "resolved only when every co part is done or waived"
        assert leads[0].status == PartStatus.DONE
    if ticket.status == TicketStatus.IN_PROGRESS:
        assert leads[0].status in (PartStatus.ACCEPTED, PartStatus.RETURN_REQUESTED)
    for p in ticket.parts:
        if p.status in (PartStatus.ACCEPTED, PartStatus.DONE):
            assert p.accepted_at is not None
        if p.status == PartStatus.RETURN_REQUESTED:
            assert any(d.part_id == p.id and d.status == DisputeStatus.OPEN for d in _disputes(ticket))
    assert len({p.department_id for p in ticket.parts if p.status in ACTIVE_PART_STATUSES}) == len(
        [p for p in ticket.parts if p.status in ACTIVE_PART_STATUSES]
    )


def _disputes(ticket):
    from sqlalchemy import select

    from participation.extensions import db

    return list(db.session.scalars(select(Dispute).where(Dispute.ticket_id == ticket.id)))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(step, min_size=1, max_size=15))
def test_no_sequence_breaks_the_invariants(db, people, submit, steps):
    ticket = submit()
    with transaction():
        services.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", ["URBAN"])
    events = len(ticket.events)
    for name, who, code in steps:
        try:
            with transaction():
                _apply(ticket, people, name, who, code)
        except DomainError:
            pass
        db.session.expire_all()
        check_invariants(ticket)
        assert len(ticket.events) >= events, "history only grows"
        events = len(ticket.events)
