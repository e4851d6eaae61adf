"""De-identification rules one by one: pseudonyms, scrubbing, coarse dates, the k-anonymity plan."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from participation.exports import deid

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_pseudonyms_keyed_by_project():
    a, b = deid.project_key("secret", "A"), deid.project_key("secret", "B")
    assert deid.pseudonym(a, "resp", 7) == deid.pseudonym(a, "resp", 7)
    assert deid.pseudonym(a, "resp", 7) != deid.pseudonym(b, "resp", 7)
    assert deid.pseudonym(a, "resp", 7) != deid.pseudonym(a, "ticket", 7)
    assert deid.pseudonym(a, "resp", 7) != deid.pseudonym(deid.project_key("other", "A"), "resp", 7)
    assert len(deid.pseudonym(a, "resp", 7)) == deid.pseudonym_width()


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("call 13812345678 now", "call [MOBILE] now", "mobile"),
        ("电话：138-1234-5678。", "电话：[MOBILE]。", "mobile"),
        ("tel +86 139 1234 5678", "tel [MOBILE]", "mobile"),
        ("身份证11010519491231002X号", "身份证[ID]号", "id"),
        ("身份证 440301199003071230 号", "身份证 [ID] 号", "id"),
        ("mail li.hua+parks@mail.example.com.cn!", "mail [EMAIL]!", "email"),
        ("车牌粤B12345停在门口", "车牌[PLATE]停在门口", "plate"),
        ("新能源车沪AD12345", "新能源车[PLATE]", "plate"),
        ("京A·88888", "[PLATE]", "plate"),
    ],
)
def test_scrub_replaces_personal_data(text, expected, kind):
    scrubbed, found = deid.scrub(text)
    assert scrubbed == expected and found[kind] == 1


def test_scrub_keeps_ordinary_numbers_and_checks_the_id_check_digit():
    text = "订单号 110105194912310022，2026年10月，12345路公交，价格 138 元"  # 18 digits, wrong check digit
    assert deid.scrub(text) == (text, Counter())


def test_scrub_removes_known_names():
    assert deid.scrub("我是王小明，王小明反映", names=("王小明", None, "")) == (
        "我是[NAME]，[NAME]反映",
        Counter({"name": 2}),
    )


def test_coarsen_in_city_time():
    # 16:30 UTC on 31 October is 00:30 on 1 November in Shanghai
    moment = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
    assert deid.coarsen(moment, "month", SHANGHAI) == 202611
    assert deid.coarsen(moment, "quarter", SHANGHAI) == 20264
    assert deid.coarsen(moment, "year", SHANGHAI) == 2026
    assert deid.coarsen(datetime(2027, 1, 1, 4, tzinfo=UTC), "week", SHANGHAI) == 202653  # ISO week of 2026
    assert deid.coarsen(None, "month", SHANGHAI) is None


def counts(groups: dict[str, dict[tuple, int]]) -> dict[str, Counter]:
    return {level: Counter(groups.get(level, {})) for level in deid.LEVELS}


def test_plan_takes_the_finest_level_that_needs_little_suppression():
    groups = {
        "week": {(202640, 1): 3, (202641, 1): 3, (202642, 1): 3},
        "month": {(202610, 1): 9},
        "quarter": {(20264, 1): 9},
        "year": {(2026, 1): 9},
    }
    plan = deid.plan(counts(groups), "week", k=5)
    assert plan.level == "month" and plan.suppressed == set() and plan.rows_suppressed == 0


def test_plan_suppresses_small_groups_and_pools_them_up_to_k():
    month = {(202610, 1): 100, (202610, 2): 2, (202610, 3): 6, (202610, 4): 40}
    groups = {level: month for level in ("month", "quarter", "year")}
    plan = deid.plan(counts(groups), "month", k=5)
    # group 2 alone (2 rows) would be a suppressed group smaller than k: the smallest other group joins it
    assert plan.level == "month" and plan.suppressed == {(202610, 2), (202610, 3)} and plan.rows_suppressed == 8


def test_plan_withholds_everything_below_k():
    plan = deid.plan(counts({level: {(1,): 4} for level in deid.LEVELS}), "month", k=5)
    assert plan.withheld and plan.rows == 4


def test_plan_on_nothing():
    plan = deid.plan(counts({}), "week", k=5)
    assert not plan.withheld and plan.rows == 0 and plan.level == "week"


@pytest.mark.parametrize("key", [b"k" * 32, b"", b"long key " * 20])
def test_pseudonymiser_gives_the_hmac_pseudonym(key):
    for kind in ("resp", "ticket"):
        many = deid.pseudonymiser(key, kind)
        for record_id in (1, 42, 10**12):
            assert many(record_id) == deid.pseudonym(key, kind, record_id)


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Asia/Kathmandu", "America/New_York", "Australia/Lord_Howe"])
@pytest.mark.parametrize("level", deid.LEVELS)
def test_quarter_hour_coarsener_gives_what_coarsen_gives(zone, level):
    import random
    from datetime import timedelta

    tz = ZoneInfo(zone)
    rng = random.Random(7)
    start = datetime(2025, 12, 25, tzinfo=UTC)
    moments = [start + timedelta(seconds=rng.randrange(0, 2 * 365 * 86400)) for _ in range(3000)]
    # around every local midnight of a stretch that holds New Year and a change of clocks
    moments += [start + timedelta(minutes=m) for m in range(0, 60 * 24 * 120, 7)]
    coarsen = deid.quarter_hour_coarsener(level, tz)
    assert [coarsen(m) for m in moments] == [deid.coarsen(m, level, tz) for m in moments]
    assert coarsen(None) is None
