"""Translated labels for codes shown to people (statuses, kinds, roles, timeline events)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

STATUS = {
    "submitted": _l("Submitted"),
    "triage": _l("Awaiting dispatch"),
    "dispatched": _l("Dispatched"),
    "in_progress": _l("In progress"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
    "reopened": _l("Reopened"),
    "duplicate": _l("Merged"),
    "rejected": _l("Rejected"),
    "withdrawn": _l("Withdrawn"),
}

KIND = {
    "complaint": _l("Complaint"),
    "proposal": _l("Proposal"),
    "inquiry": _l("Inquiry"),
    "praise": _l("Praise"),
}

ROLE = {
    "citizen": _l("Citizen"),
    "enterprise": _l("Enterprise member"),
    "department_staff": _l("Department staff"),
    "department_admin": _l("Department admin"),
    "coordinator": _l("Coordinator"),
    "moderator": _l("Moderator"),
    "researcher": _l("Researcher"),
    "admin": _l("Administrator"),
}

EVENT = {
    "submitted": _l("Your request was received."),
    "status.triage": _l("Checked and waiting for dispatch to the responsible departments."),
    "status.withdrawn": _l("Withdrawn by the submitter."),
}


def status_label(code: str) -> str:
    return str(STATUS.get(code, code))


def kind_label(code: str) -> str:
    return str(KIND.get(code, code))


def role_label(code: str) -> str:
    return str(ROLE.get(code, code))


def event_label(code: str) -> str:
    return str(EVENT.get(code, STATUS.get(code.removeprefix("status."), code)))
