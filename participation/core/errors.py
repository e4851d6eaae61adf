"""Domain errors raised by services, and the one place that maps them to responses."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """Base of the errors a service may raise; carries an HTTP status and a stable code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str | None = None, fields: dict[str, list[str]] | None = None):
        super().__init__(message or self.default_message())
        self.message = message or self.default_message()
        self.fields = fields or {}

    def default_message(self) -> str:
        return _("The request could not be processed.")


class BadRequest(DomainError):
    status, code = 400, "bad_request"


class NotAuthenticated(DomainError):
    status, code = 401, "not_authenticated"

    def default_message(self) -> str:
        return _("Please log in first.")


class PermissionDenied(DomainError):
    status, code = 403, "forbidden"

    def default_message(self) -> str:
        return _("You are not allowed to do this.")


class NotFound(DomainError):
    status, code = 404, "not_found"

    def default_message(self) -> str:
        return _("Not found.")


class Conflict(DomainError):
    status, code = 409, "conflict"


class PayloadTooLarge(DomainError):
    status, code = 413, "too_large"

    def default_message(self) -> str:
        return _("The request is too large.")


class UnsupportedMediaType(DomainError):
    status, code = 415, "unsupported_media_type"

    def default_message(self) -> str:
        return _("Send the request as application/json.")


class ValidationFailed(DomainError):
    status, code = 422, "invalid"

    def default_message(self) -> str:
        return _("Some fields are not valid.")


def wants_json() -> bool:
    """API paths and clients that ask for JSON get JSON errors."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    """The one shape of every JSON error."""
    body: dict = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


def _http_message(status: int) -> str:
    return {
        400: _("The request could not be understood."),
        401: _("Please log in first."),
        403: _("You are not allowed to do this."),
        404: _("Not found."),
        405: _("This method is not allowed here."),
        413: _("The request is too large."),
        429: _("Too many requests. Please wait a moment and try again."),
    }.get(status, _("Something went wrong."))


def _respond(status: int, code: str, message: str, fields: dict | None = None):
    if wants_json():
        return jsonify(error_body(code, message, fields)), status
    return render_template("error.html", status=status, message=message, fields=fields or {}), status


def register_error_handlers(app: Flask) -> None:
    """Map domain and HTTP errors to JSON or HTML, never a stack trace."""

    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        return _respond(error.status, error.code, error.message, error.fields)

    @app.errorhandler(StaleDataError)
    def _stale(error: StaleDataError):
        from participation.extensions import db

        db.session.rollback()
        return _respond(409, "conflict", _("Someone else changed this at the same moment. Reload and try again."))

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return _respond(
            400, "csrf_failed", _("The form expired or lacks its security token. Reload the page and try again.")
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        status = error.code or 500
        return _respond(status, _HTTP_CODES.get(status, "error"), _http_message(status))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unhandled error")
        from participation.extensions import db

        db.session.rollback()
        return _respond(500, "internal_error", _("Something went wrong on our side. Nothing was saved."))
