"""What a research export's columns are: names valid in SPSS and Stata, zh/en labels, codes with labels.

Every column other than a pseudonym is numeric, so the declared missing codes (-1 to -9) can sit in any
of them; a coarsened date is a number too (YYYYMM for a month, YYYYWW for an ISO week).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["code", "integer", "number", "string"]

# The declared missing codes (ARCHITECTURE.md section 6), with their labels in both languages.
NOT_APPLICABLE, SUPPRESSED, REFUSED, DONT_KNOW, NOT_ASKED = -1, -6, -7, -8, -9
MISSING: dict[int, tuple[str, str]] = {
    NOT_APPLICABLE: ("不适用", "not applicable"),
    SUPPRESSED: ("已抑制（小组）", "suppressed (small group)"),
    REFUSED: ("拒答/未答", "refused / no answer"),
    DONT_KNOW: ("不知道", "don't know"),
    NOT_ASKED: ("未问", "not asked"),
}
MISSING_RANGE = (-9, -1)  # every declared missing code lies in it; no substantive code does


@dataclass(frozen=True)
class Variable:
    """One column of an export."""

    name: str  # letters, digits and _, starting with a letter, at most 32 characters
    label_zh: str
    label_en: str
    kind: Kind = "code"
    codes: dict[int, tuple[str, str]] = field(default_factory=dict)  # value -> (zh, en); code variables
    width: int = 0  # string variables: every value has exactly this many ASCII characters

    def label(self, language: str) -> str:
        return self.label_zh if language == "zh" else self.label_en

    def value_labels(self, language: str) -> dict[int, str]:
        """Labels of the substantive codes and of the declared missing codes, in one language."""
        index = 0 if language == "zh" else 1
        labels = {code: pair[index] for code, pair in self.codes.items()}
        if self.kind != "string":
            labels.update({code: pair[index] for code, pair in MISSING.items()})
        return labels

    @property
    def numeric(self) -> bool:
        return self.kind != "string"


def bilingual(text) -> tuple[str, str]:
    """A lazily translated string in both catalogues (labels are written in both languages)."""
    from flask_babel import force_locale

    with force_locale("zh"):
        zh = str(text)
    with force_locale("en"):
        en = str(text)
    return zh, en
