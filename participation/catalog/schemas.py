"""The catalog file format (JSON or YAML), shared by import, export and the admin pages."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, StringConstraints

Code = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")]
Name = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Bilingual(_Strict):
    zh: Name
    en: Name


class BilingualText(_Strict):
    zh: Annotated[str, StringConstraints(strict=True, max_length=2000)] = ""
    en: Annotated[str, StringConstraints(strict=True, max_length=2000)] = ""


class DepartmentIn(_Strict):
    code: Code
    name: Bilingual
    active: StrictBool = True


class DistrictIn(_Strict):
    code: Code
    name: Bilingual
    parent: Code | None = None
    office: Code | None = None


class Sla(_Strict):
    respond_hours: Annotated[StrictInt, Field(gt=0, le=720)]
    resolve_days: Annotated[StrictInt, Field(gt=0, le=365)]


class CategoryIn(_Strict):
    code: Code
    name: Bilingual
    description: BilingualText = BilingualText()
    lead: Code
    co: list[Code] = []
    keywords: list[Annotated[StrictStr, StringConstraints(min_length=1, max_length=60)]] = []
    examples: list[Annotated[StrictStr, StringConstraints(min_length=1, max_length=1000)]] = []
    sla: Sla
    district_co: StrictBool = False
    enterprise_only: StrictBool = False
    active: StrictBool = True


class CatalogFile(_Strict):
    departments: list[DepartmentIn] = []
    districts: list[DistrictIn] = []
    categories: list[CategoryIn] = []
