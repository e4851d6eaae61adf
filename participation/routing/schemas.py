"""What the router reads from a catalog document: the catalog file format (catalog/schemas.py), read
leniently, since `routing evaluate` also takes catalogs written elsewhere.

A name or a description may be one text or one per language (`{"zh": ..., "en": ...}`, any
languages); SLAs and department names are not needed; unknown fields are ignored. What the router
cannot do without is refused with its place: a category without a code or a lead, a list that is not
a list, a code given twice.
"""

from __future__ import annotations

from typing import Annotated, Any

from flask_babel import gettext as _
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError

from participation.core.errors import ValidationFailed
from participation.core.validation import errors_to_fields, typeable


def _characters(value: Any) -> Any:
    """A catalog's text is refused where a request's would be (control characters, lone surrogates)."""
    if isinstance(value, str) and not typeable(value):
        raise ValueError(_("Contains characters that are not allowed."))
    return value


Code = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=40),
    AfterValidator(_characters),
]
Text = Annotated[str, StringConstraints(strict=True, max_length=2000), AfterValidator(_characters)]


def _texts(value: Any) -> Any:
    """A name or a description: one text, or one text per language."""
    if isinstance(value, str) or (
        isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    ):
        for text in value.values() if isinstance(value, dict) else [value]:
            _characters(text)
        return value
    raise ValueError(_('A text, or one text per language (for example {"zh": "…", "en": "…"}).'))


Texts = Annotated[str | dict[str, str], BeforeValidator(_texts)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RoutedCategory(_Lenient):
    code: Code
    name: Texts
    description: Texts = ""
    lead: Code
    co: list[Code] = []
    keywords: list[Text] = []
    examples: list[Annotated[str, StringConstraints(strict=True, max_length=20000), AfterValidator(_characters)]] = []
    district_co: bool = False
    enterprise_only: bool = False
    active: bool = True

    def texts(self) -> list[str]:
        """The category's words for the router: names, descriptions, keywords, examples."""
        out: list[str] = []
        for value in (self.name, self.description):
            out.extend(value.values() if isinstance(value, dict) else [value])
        out.extend(self.keywords)
        out.extend(self.examples)
        return [t for t in out if t and t.strip()]


class RoutedDistrict(_Lenient):
    code: Code
    office: Code | None = None


class RoutedCatalog(_Lenient):
    categories: list[RoutedCategory] = []
    districts: list[RoutedDistrict] = []


def read_catalog(doc: Any, name: str = "catalog") -> RoutedCatalog:
    """Validate a catalog document for routing; every problem is reported with its place."""
    message = _("The catalog cannot be used for routing.")
    try:
        catalog = RoutedCatalog.model_validate(doc)
    except ValidationError as error:
        fields = {f"{name}.{k}" if k != "_" else name: v for k, v in errors_to_fields(error).items()}
        raise ValidationFailed(message, fields=fields) from None
    fields: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for i, category in enumerate(catalog.categories):
        first = seen.setdefault(category.code, i)
        if first != i:
            text = _(
                "Duplicate code %(code)s (first at %(section)s[%(first)s]).",
                code=category.code,
                section="categories",
                first=first,
            )
            fields[f"{name}.categories[{i}].code"] = [text]
    if fields:
        raise ValidationFailed(message, fields=fields)
    return catalog
