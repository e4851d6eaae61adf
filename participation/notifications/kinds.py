"""The kinds of notification, their labels, and their texts rendered in the reader's language.

A notification stores its kind and parameters, never its text: the app renders it in the
reader's current language; an e-mail is rendered once, in the recipient's language, when written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l

from participation.core.i18n import current_language


@dataclass(frozen=True)
class Kind:
    code: str
    label: Any  # a lazy string
    audience: str  # "staff" or "public": who may receive it (for the preferences page)
    texts: dict[str, Any] = field(default_factory=dict)  # variant -> lazy string with %(name)s params


CLOCK = {
    "sign_for": _l("sign-for"),
    "first_contact": _l("first contact"),
    "resolve": _l("resolution"),
    "contribution": _l("contribution"),
}

KINDS: dict[str, Kind] = {
    k.code: k
    for k in (
        Kind(
            "ticket_assigned",
            _l("A ticket is assigned to my department"),
            "staff",
            {
                "": _l("Ticket #%(ticket)s was assigned to %(department)s: %(title)s"),
                "invited": _l("%(department)s was invited to co-handle ticket #%(ticket)s: %(title)s"),
                "lead": _l("%(department)s now leads ticket #%(ticket)s: %(title)s"),
            },
        ),
        Kind(
            "deadline_warning",
            _l("A deadline is coming near"),
            "staff",
            {"": _l("Ticket #%(ticket)s: %(level)s%% of the %(clock)s time is used (due %(due)s).")},
        ),
        Kind(
            "deadline_overdue",
            _l("A deadline has passed"),
            "staff",
            {"": _l("Ticket #%(ticket)s: the %(clock)s deadline has passed (due %(due)s).")},
        ),
        Kind(
            "escalated",
            _l("A ticket is escalated"),
            "staff",
            {
                "": _l(
                    "Ticket #%(ticket)s is escalated: the %(clock)s deadline is long past (%(level)s%%, due %(due)s)."
                ),
                "callback": _l(
                    "Ticket #%(ticket)s is escalated: the citizen was not satisfied again after it was reopened; "
                    "the coordination centre supervises it."
                ),
            },
        ),
        Kind(
            "ticket_reopened",
            _l("A ticket my department leads is reopened"),
            "staff",
            {"": _l("Ticket #%(ticket)s was reopened and is back with %(department)s: %(reason)s")},
        ),
        Kind(
            "co_handlers_changed",
            _l("The co-handlers of a ticket my department leads change"),
            "staff",
            {
                "joined": _l("%(department)s joined ticket #%(ticket)s as a co-handler: %(title)s"),
                "left": _l("%(department)s no longer co-handles ticket #%(ticket)s: %(title)s"),
            },
        ),
        Kind(
            "citizen_information",
            _l("A sender gives the information my department asked for"),
            "staff",
            {"": _l("The sender of ticket #%(ticket)s gave the information asked for; the deadlines run again.")},
        ),
        Kind(
            "part_ended",
            _l("My department's part of a ticket ends without its work"),
            "staff",
            {
                "waived": _l("The coordinator waived the part of %(department)s in ticket #%(ticket)s: %(reason)s"),
                "removed": _l("The coordinator removed %(department)s from ticket #%(ticket)s: %(reason)s"),
                "lead_swapped": _l(
                    "Ticket #%(ticket)s is now led by %(new)s; %(department)s has left the ticket: %(reason)s"
                ),
            },
        ),
        Kind(
            "dispute_opened",
            _l("A department asks to return or transfer a part"),
            "staff",
            {
                "": _l("%(department)s asks to return its part of ticket #%(ticket)s."),
                "transfer": _l("%(department)s asks to transfer its part of ticket #%(ticket)s."),
            },
        ),
        Kind(
            "dispute_ruled",
            _l("The coordinator rules on a return request"),
            "staff",
            {
                "upheld": _l("The coordinator upheld the return request of %(department)s on ticket #%(ticket)s."),
                "overruled": _l(
                    "The coordinator overruled the return request of %(department)s on ticket #%(ticket)s."
                ),
                "transfer_upheld": _l(
                    "The coordinator approved the transfer request of %(department)s on ticket #%(ticket)s."
                ),
                "transfer_overruled": _l(
                    "The coordinator refused the transfer request of %(department)s on ticket #%(ticket)s."
                ),
            },
        ),
        Kind(
            "ticket_update",
            _l("News about my requests"),
            "public",
            {
                "": _l("Your request %(code)s was updated."),
                "reply": _l("The department replied to your request %(code)s."),
                "resolved": _l("Your request %(code)s is resolved."),
                "rejected": _l("Your request %(code)s was not accepted."),
                "reopened": _l("Your request %(code)s was reopened."),
                "waiting": _l("Your request %(code)s waits for information from you: %(reason)s"),
            },
        ),
        Kind(
            "ticket_merged",
            _l("My request is merged with another"),
            "public",
            {
                "": _l(
                    "Your request %(code)s is handled together with an earlier request about the same problem; "
                    "you will hear how it goes."
                )
            },
        ),
        Kind(
            "callback_request",
            _l("My request is resolved: how was it handled? (callback)"),
            "public",
            {
                "": _l(
                    "Your request %(code)s is resolved. Please tell us whether it was solved and how satisfied you are."
                )
            },
        ),
        Kind(
            "survey_invitation",
            _l("An invitation to answer a survey"),
            "public",
            {"": _l("You are invited to answer the survey “%(title)s”. The link works once.")},
        ),
        Kind(
            "master_update",
            _l("News about a request mine was merged into"),
            "public",
            {"": _l("The request that yours (%(code)s) was merged into has news: %(event)s")},
        ),
    )
}


def kind_label(code: str) -> str:
    kind = KINDS.get(code)
    return str(kind.label) if kind else code


class _Params(dict):
    """Missing parameters render as nothing rather than failing the whole text."""

    def __missing__(self, key: str) -> str:
        return ""


def _localise(value: Any, language: str) -> Any:
    """A {"zh": ..., "en": ...} parameter becomes the text in `language`."""
    if isinstance(value, dict) and ("zh" in value or "en" in value):
        return value.get(language) or value.get("zh") or value.get("en") or ""
    return value


def render(code: str, params: dict | None, language: str | None = None) -> str:
    """The text of one notification in the current language (call inside force_locale for another)."""
    from participation.core.labels import public_event_label, system_text

    language = language or current_language()
    params = dict(params or {})
    kind = KINDS.get(code)
    if kind is None:
        return code
    variant = params.get("variant", "")
    template = kind.texts.get(variant) or kind.texts.get("") or next(iter(kind.texts.values()))
    values = _Params({k: _localise(v, language) for k, v in params.items()})
    if "clock" in values:
        values["clock"] = str(CLOCK.get(values["clock"], values["clock"]))
    if "reason" in values:
        values["reason"] = system_text(str(values["reason"]))
    if "event" in values:
        values["event"] = public_event_label(str(values["event"]))  # told to a sender
    return str(template) % values
