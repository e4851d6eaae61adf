"""Locale selection and bilingual model fields."""

from __future__ import annotations

from flask import current_app, has_request_context, request, session
from flask_babel import get_locale
from flask_login import current_user


def select_locale() -> str:
    """The user's choice this session, then their profile, then the browser, then Chinese."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    if current_user and current_user.is_authenticated and current_user.preferred_locale in languages:
        return current_user.preferred_locale
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def current_language() -> str:
    """'zh' or 'en' for the request being served (zh outside a request)."""
    try:
        return get_locale().language if get_locale() else "zh"
    except RuntimeError:
        return "zh"


class Bilingual:
    """Mixin for models with name_zh/name_en (and description_zh/_en): pick by the current locale."""

    def text(self, field: str, language: str | None = None) -> str:
        language = language or current_language()
        value = getattr(self, f"{field}_{language}", None)
        return value or getattr(self, f"{field}_zh", "") or getattr(self, f"{field}_en", "")

    @property
    def name(self) -> str:
        return self.text("name")
