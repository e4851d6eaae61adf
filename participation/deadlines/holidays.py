"""China's public holidays and make-up working days, as calendar exceptions.

The State Council publishes each year's schedule in November or December; `chinesecalendar`
carries the published years. For a later year only the statutory holidays are known
(from `holidays`), so those are marked provisional and have no make-up working days yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import cache
from typing import TypedDict

import chinese_calendar
import holidays as statutory

_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


class DayException(TypedDict):
    day: date
    kind: str  # "holiday" | "workday"
    name_zh: str
    name_en: str
    provisional: bool


@cache
def official_years() -> frozenset[int]:
    """The years whose official schedule the installed `chinesecalendar` knows."""
    return frozenset(day.year for day in chinese_calendar.holidays)


def _official(year: int) -> list[DayException]:
    out: list[DayException] = []
    for day, holiday in chinese_calendar.holidays.items():
        if day.year == year and day.weekday() < 5:
            name = str(getattr(holiday, "value", holiday))
            zh = _NAMES_ZH.get(name, name)
            out.append({"day": day, "kind": "holiday", "name_zh": zh, "name_en": name, "provisional": False})
    for day, holiday in chinese_calendar.workdays.items():
        if day.year == year and day.weekday() >= 5:
            name = str(getattr(holiday, "value", holiday))
            out.append(
                {
                    "day": day,
                    "kind": "workday",
                    "name_zh": f"{_NAMES_ZH.get(name, name)}调休上班",
                    "name_en": f"{name} make-up working day",
                    "provisional": False,
                }
            )
    return out


def _provisional(year: int) -> list[DayException]:
    """Statutory holidays (with the in-lieu weekday for one on a weekend) falling on weekdays."""
    english = statutory.China(years=year, language="en_US")
    chinese = statutory.China(years=year, language="zh_CN")
    return [
        {
            "day": day,
            "kind": "holiday",
            "name_zh": chinese.get(day, name)[:100],
            "name_en": name[:100],
            "provisional": True,
        }
        for day, name in sorted(english.items())
        if day.weekday() < 5
    ]


def china_exceptions(years: Iterable[int]) -> list[DayException]:
    """Holidays on weekdays and make-up working days on weekends, for each year, in date order."""
    out: list[DayException] = []
    for year in sorted(set(years)):
        out.extend(_official(year) if year in official_years() else _provisional(year))
    return sorted(out, key=lambda e: e["day"])
