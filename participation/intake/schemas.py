"""Input of a submission, shared by the web form and the JSON API."""

from __future__ import annotations

from typing import Annotated

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator

from participation.core.validation import visible
from participation.intake.models import Kind

Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] = ""
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=30)] = ""
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] = ""


class SubmissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    category: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    district: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    address: Short = ""
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)] | None = None
    lng: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)] | None = None
    anonymous: StrictBool = False
    contact: ContactIn | None = None

    @field_validator("text")
    @classmethod
    def _something_to_read(cls, value: str) -> str:
        if not visible(value):  # zero-width spaces and direction marks only: nothing a department could act on
            raise ValueError(_("This field cannot be empty."))
        return value

    @field_validator("category", "district", mode="before")
    @classmethod
    def _blank_is_none(cls, value):
        return None if isinstance(value, str) and not value.strip() else value
