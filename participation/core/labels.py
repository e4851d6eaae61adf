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

PART_STATUS = {
    "pending": _l("Waiting to be signed for"),
    "accepted": _l("Signed for"),
    "done": _l("Done"),
    "waived": _l("Waived"),
    "return_requested": _l("Return requested"),
    "ended": _l("Left the ticket"),
}

PART_ROLE = {"lead": _l("Lead department"), "co": _l("Co-handling department")}

EVENT = {
    "submitted": _l("The request was submitted."),
    "status.triage": _l("Checked and waiting for dispatch to the responsible departments."),
    "status.withdrawn": _l("Withdrawn by the submitter."),
    "routed": _l("The router made a suggestion."),
    "duplicate.suggested": _l("Possible duplicates were found."),
    "merged": _l("Merged with an earlier request about the same problem; it is handled there."),
    "follower.added": _l("A duplicate request was merged into this ticket."),
    "master.changed": _l("Its master ticket was merged into another ticket."),
    "dispatched": _l("Dispatched to the responsible departments."),
    "part.accepted": _l("A department signed for its part."),
    "status.in_progress": _l("The lead department is working on it."),
    "status.dispatched": _l("Back with the departments for signing."),
    "reply": _l("Reply from the lead department."),
    "note": _l("Internal note."),
    "part.invited": _l("A co-handling department was invited."),
    "part.contributed": _l("A co-handling department finished its contribution."),
    "part.rated": _l("The lead rated a contribution."),
    "part.return_requested": _l("A department asked to return or transfer its part."),
    "dispute.upheld": _l("The coordinator upheld a return."),
    "dispute.overruled": _l("The coordinator overruled a return."),
    "dispute.closed": _l("An open return or transfer request was settled as the part ended."),
    "part.waived": _l("A co-handling part was waived."),
    "part.removed": _l("A co-handling department was removed."),
    "lead.swapped": _l("The lead department changed."),
    "lead.changed": _l("A new lead department takes the request over."),
    "recategorised": _l("The coordinator corrected the categories."),
    "status.resolved": _l("Resolved by the lead department."),
    "status.rejected": _l("Not accepted."),
    "status.reopened": _l("Reopened."),
    "callback.recorded": _l("The citizen answered the callback."),
    "callback.escalated": _l("Not satisfied again: escalated to the coordination centre."),
    "status.closed": _l("Closed."),
    "clock.paused": _l("The deadlines were paused."),
    "clock.resumed": _l("The deadlines run again."),
    "citizen.information": _l("The sender added information."),
    "contact.recorded": _l("The lead department contacted the submitter."),
    "deadline.interim": _l("The coordinator set an interim deadline."),
    "deadline.checkpoint": _l("A deadline checkpoint was reached."),
}

CLOCK = {
    "sign_for": _l("Sign for"),
    "first_contact": _l("First contact"),
    "resolve": _l("Resolution"),
    "contribution": _l("Contribution"),
}

CLOCK_STATE = {
    "running": _l("Running"),
    "paused": _l("Paused"),
    "met": _l("On time"),
    "missed": _l("Late"),
    "cancelled": _l("Stopped"),
}


# Texts the platform itself writes into a ticket's history (a reopening after an unhappy callback). They
# are stored as written (in English since the thirteenth session, in the sender's language before) and
# shown in the reader's language.
UNHAPPY = "The citizen was not satisfied with the resolution."
UNHAPPY_AGAIN = "The citizen was not satisfied again; the coordination centre supervises."
UNSOLVED = "The citizen reported that the problem is not solved."
UNSOLVED_AGAIN = "The citizen reported again that the problem is not solved; the coordination centre supervises."
CITIZEN_ANSWERED = "The sender gave the information asked for."
PAUSE_ENDED_WITH_TICKET = "The pause ended as the ticket left the open states."
_SYSTEM_TEXT = {
    PAUSE_ENDED_WITH_TICKET: _l("The pause ended as the ticket left the open states."),
    UNSOLVED: _l("The citizen reported that the problem is not solved."),
    UNSOLVED_AGAIN: _l(
        "The citizen reported again that the problem is not solved; the coordination centre supervises."
    ),
    CITIZEN_ANSWERED: _l("The sender gave the information asked for."),
    "cap reached": _l("The pause reached its longest allowed length; the deadlines run again."),
    "withdrawn": _l("The request was withdrawn."),
    UNHAPPY: _l("The citizen was not satisfied with the resolution."),
    "市民对办理结果不满意。": _l("The citizen was not satisfied with the resolution."),
    UNHAPPY_AGAIN: _l("The citizen was not satisfied again; the coordination centre supervises."),
    "市民再次表示不满意，由协调中心督办。": _l(
        "The citizen was not satisfied again; the coordination centre supervises."
    ),
}

SATISFACTION = {1: _l("satisfied"), 2: _l("basically satisfied"), 3: _l("dissatisfied")}


def system_text(text: str | None) -> str:
    """A text of the history in the reader's language when the platform wrote it; a person's text as it is."""
    if not text:
        return ""
    label = _SYSTEM_TEXT.get(text)
    return str(label) if label is not None else text


def halfwidth(text: str) -> str:
    """Full-width letters, digits and signs (as a Chinese input method types them: ＨＣ－７Ｋ, ３) and the
    ideographic space, as their ASCII forms; nothing else changes."""
    return text.translate(_HALFWIDTH)


_HALFWIDTH = {0x3000: 0x20, **{code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}}


def satisfaction_label(code) -> str:
    return str(SATISFACTION.get(code, code))


def status_label(code: str) -> str:
    return str(STATUS.get(code, code))


def kind_label(code: str) -> str:
    return str(KIND.get(code, code))


def role_label(code: str) -> str:
    return str(ROLE.get(code, code))


def event_label(code: str) -> str:
    return str(EVENT.get(code, STATUS.get(code.removeprefix("status."), code)))


# The same events as the sender reads them on the tracking page and in their notices: what it means for the
# request, not the departments' bookkeeping.
PUBLIC_EVENT = {
    "submitted": _l("Your request was received."),
    "clock.paused": _l("The departments asked for more information."),
    "clock.resumed": _l("Handling goes on."),
    "status.reopened": _l("Your request is being handled again."),
    "lead.changed": _l("Another department now leads the handling of your request; it signs for it first."),
}


def public_event_label(code: str) -> str:
    label = PUBLIC_EVENT.get(code)
    return str(label) if label is not None else event_label(code)


def part_status_label(code: str) -> str:
    return str(PART_STATUS.get(code, code))


def part_role_label(code: str) -> str:
    return str(PART_ROLE.get(code, code))


def clock_label(code: str) -> str:
    return str(CLOCK.get(code, code))


def clock_state_label(code: str) -> str:
    return str(CLOCK_STATE.get(code, code))


def late_label(minutes: float) -> str:
    """How late, in business time: "3 h 20 min"."""
    from flask_babel import gettext as _

    minutes = int(round(minutes))
    if minutes < 1:
        return _("less than a minute")
    hours, rest = divmod(minutes, 60)
    if hours and not rest:
        return _("%(h)s h", h=hours)
    if hours:
        return _("%(h)s h %(m)s min", h=hours, m=rest)
    return _("%(m)s min", m=rest)


SECTION = {"departments": _l("Departments"), "districts": _l("Districts"), "categories": _l("Categories")}


def section_label(code: str) -> str:
    return str(SECTION.get(code, code))


def name_list(names) -> str:
    """Names joined as the reader's language lists them: 甲、乙 in Chinese, "A, B" in English."""
    from participation.core.i18n import current_language

    return ("、" if current_language() == "zh" else ", ").join(str(n) for n in names)
