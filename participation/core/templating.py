"""Jinja helpers: permission checks, bilingual names, status labels, dates."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from flask_babel import format_datetime
from flask_login import current_user

from participation.core.i18n import current_language
from participation.core.labels import (
    clock_label,
    clock_state_label,
    event_label,
    kind_label,
    late_label,
    name_list,
    part_role_label,
    part_status_label,
    public_event_label,
    role_label,
    satisfaction_label,
    section_label,
    status_label,
    system_text,
)
from participation.core.permissions import can


def shown_code(actor, ticket) -> str:
    from participation.routing.permissions import shown_code as shown

    return shown(actor, ticket)


def register_template_helpers(app: Flask) -> None:
    @app.context_processor
    def _helpers():
        return {
            "can": lambda name, obj=None: can(current_user, name, obj),
            "shown_code": lambda ticket: shown_code(current_user, ticket),
            "lang": current_language(),
            # A label's colon as the reader's language writes it: full-width in Chinese ("状态：").
            "colon": lambda: "：" if current_language() == "zh" else ": ",
            "status_label": status_label,
            "kind_label": kind_label,
            "event_label": event_label,
            "public_event_label": public_event_label,
            "role_label": role_label,
            "part_status_label": part_status_label,
            "part_role_label": part_role_label,
            "section_label": section_label,
            "system_text": system_text,
            "satisfaction_label": satisfaction_label,
            "clock_label": clock_label,
            "clock_state_label": clock_state_label,
            "late_label": late_label,
            "name_list": name_list,  # 甲、乙 in Chinese, "A, B" in English
            "city_name": app.config["CITY_NAME"].get(current_language(), app.config["CITY_NAME"]["zh"]),
            "reload_url": reload_url,
        }

    app.jinja_env.filters["dt"] = dt
    app.jinja_env.filters["excerpt"] = excerpt
    app.jinja_env.filters["age"] = age


def reload_url() -> str | None:
    """Where reloading a page that answers a form (a refused one, with its messages) should go: the same
    address read again when it has a page of its own, else the page the form was sent from; None when
    neither is known. static/js/app.js puts it in the browser's history, so a reload reads the page
    instead of asking to send the form again."""
    if request.method != "POST":
        return None
    from werkzeug.exceptions import HTTPException
    from werkzeug.routing import RequestRedirect

    def local(parts) -> str | None:  # a path on this site only ("//elsewhere" is another site's)
        if not parts.path.startswith("/") or parts.path.startswith("//"):
            return None
        return parts.path + (f"?{parts.query}" if parts.query else "")

    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        adapter.match(request.path, method="GET")
        return request.script_root + request.full_path.rstrip("?")
    except RequestRedirect as redirect:
        return local(urlsplit(redirect.new_url))
    except HTTPException:
        pass
    sent_from = urlsplit(request.referrer or "")
    return local(sent_from) if sent_from.netloc == request.host else None


def excerpt(text: str | None, length: int = 60) -> str:
    """The start of a text for a list: on one line, at most `length` characters, "…" where it was cut."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"


def dt(value: datetime | str | None) -> str:
    """A moment in the city's time zone (a datetime, or the ISO text of one as public views carry it; a
    moment without a zone is UTC, as the database stores it)."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return format_datetime(value, "yyyy-MM-dd HH:mm")


def age(value) -> str:
    """How long ago, in the largest whole unit (for inbox and queues)."""
    from flask_babel import format_timedelta

    from participation.core.models import utcnow

    return format_timedelta(utcnow() - value, granularity="minute") if value else ""
