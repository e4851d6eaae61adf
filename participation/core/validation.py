"""Turning pydantic errors and JSON bodies into ValidationFailed / BadRequest with field paths."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, TypeVar

from flask import Request
from flask_babel import gettext as _
from pydantic import BaseModel, ValidationError

from participation.core.errors import BadRequest, UnsupportedMediaType, ValidationFailed

M = TypeVar("M", bound=BaseModel)


def field_path(loc: tuple[Any, ...]) -> str:
    """('categories', 3, 'lead') -> 'categories[3].lead'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "_"


def _message(err: dict) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return _("This field is required.")
    if kind == "extra_forbidden":
        return _("Unknown field.")
    if kind == "string_too_long":
        return _("At most %(n)s characters.", n=ctx.get("max_length"))
    if kind == "string_too_short":
        return _("This field cannot be empty.")
    if kind == "less_than_equal":
        return _("At most %(n)s.", n=ctx.get("le"))
    if kind == "greater_than_equal":
        return _("At least %(n)s.", n=ctx.get("ge"))
    if kind == "less_than":
        return _("Less than %(n)s.", n=ctx.get("lt"))
    if kind == "greater_than":
        return _("More than %(n)s.", n=ctx.get("gt"))
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("Give a whole number.")
    if kind in ("float_parsing", "float_type"):
        return _("Give a number.")
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "model_attributes_type":
        return _("Wrong type of value.")
    if kind == "enum" or kind == "literal_error":
        return _("Not one of the allowed values: %(v)s.", v=ctx.get("expected", ""))
    if kind == "string_pattern_mismatch":
        return _("Not in the expected format.")
    if kind == "finite_number":
        return _("Give a finite number.")
    if kind == "too_short" or kind == "too_long":
        return _("Wrong number of items.")
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return _("Not a valid value.")


def errors_to_fields(error: ValidationError, prefix: tuple[Any, ...] = ()) -> dict[str, list[str]]:
    """Group pydantic's errors by their path in the input."""
    fields: dict[str, list[str]] = {}
    for err in error.errors():
        fields.setdefault(field_path(prefix + tuple(err["loc"])), []).append(_message(err))
    return fields


def validate(model: type[M], data: Any) -> M:
    """Validate data against a schema, raising ValidationFailed with every field's problems."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(fields=errors_to_fields(error)) from None


def json_body(request: Request) -> dict:
    """The request's JSON object: 415 for another content type, 400 for malformed JSON."""
    if not request.is_json:
        raise UnsupportedMediaType()
    data = parsed_json(request)
    if data is None:
        raise BadRequest(_("The body is not valid JSON."))
    if not isinstance(data, dict):
        raise BadRequest(_("The body must be a JSON object."))
    return data


def parsed_json(request: Request) -> Any:
    """The request's JSON, or None when it is not valid JSON; nested too deep for the parser (a
    thousand brackets) counts as not valid, not as a server error."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def record_id(value: object) -> int | None:
    """A JSON value as a database row id (a positive integer in the database's range), or None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return value
    return None


# C0 controls, and UTF-16 surrogates standing alone (JSON's "\ud800" escape): never text a person typed,
# and no UTF-8 for the database, the router or the search to take (PostgreSQL also refuses NUL).
_UNTYPEABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def typeable(text: str) -> bool:
    """Is the text free of C0 control characters (tab and line breaks aside) and lone surrogates?"""
    return _UNTYPEABLE.search(text) is None


def visible(text: str) -> bool:
    """Does the text hold anything to read: more than spaces and invisible format characters (zero-width
    spaces, direction marks, a byte-order mark)?"""
    return any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text)


_FULL_WIDTH_DIGITS = {0x3000: 0x20, **{0xFF10 + d: 0x30 + d for d in range(10)}}


API_LIMIT_MAX = 1000  # the most rows a list of the API gives at once when asked for `limit`


def query_limit(value: str | None, errors: dict[str, list[str]]) -> int | None:
    """A list's `limit` query parameter: None when not given (the whole list), else 1 to API_LIMIT_MAX;
    anything else is a field error added to `errors`."""
    if value is None:
        return None
    limit = small_int(value)
    if limit is None or not 1 <= limit <= API_LIMIT_MAX:
        errors["limit"] = [_("Give a whole number from 1 to 1000.")]
        return None
    return limit


def small_int(value: str | None) -> int | None:
    """A form value as a database-sized non-negative integer, or None (full-width digits, as a Chinese
    input method types them, count as digits)."""
    if value is None:
        return None
    value = value.translate(_FULL_WIDTH_DIGITS).strip()
    if not re.fullmatch(r"[0-9]{1,9}", value):
        return None
    return int(value)


def form_int(name: str) -> int:
    """A required integer field of the posted form; a clear field error otherwise."""
    from flask import request
    from flask_babel import gettext as _

    from participation.core.errors import ValidationFailed

    value = small_int(request.form.get(name))
    if value is None:
        raise ValidationFailed(fields={name: [_("Wrong type of value.")]})
    return value
