"""Labels the platform writes for people: lateness, codes and texts in the reader's language."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from participation.core.labels import event_label, late_label


@pytest.mark.parametrize(
    ("minutes", "en", "zh"),
    [
        (0, "less than a minute", "不到1分钟"),
        (0.4, "less than a minute", "不到1分钟"),
        (1, "1 min", "1分钟"),
        (200, "3 h 20 min", "3小时20分钟"),
        (2880, "48 h", "48小时"),  # whole hours say no "0 min"
    ],
)
def test_late_label(app, minutes, en, zh):
    with app.test_request_context(), force_locale("en"):
        assert late_label(minutes) == en
    with app.test_request_context(), force_locale("zh"):  # written as the ages beside it are: 20小时
        assert late_label(minutes) == zh


def test_every_event_the_platform_records_has_a_label(app):
    with app.test_request_context(), force_locale("en"):
        for code in ("callback.escalated", "citizen.information", "clock.paused", "status.reopened"):
            assert event_label(code) != code


def test_names_are_listed_as_the_reader_lists_them(app):
    from participation.core.labels import name_list

    with app.test_request_context(), force_locale("zh"):
        assert name_list(["住房和城乡建设局", "港口街道办事处"]) == "住房和城乡建设局、港口街道办事处"
    with app.test_request_context(), force_locale("en"):
        assert name_list(["Housing", "Port"]) == "Housing, Port"
