"""Exports written batch by batch must read back exactly, with labels and declared missing codes, in every format."""

from __future__ import annotations

from pathlib import Path

import pyreadstat
import pytest

from participation.exports.formats import FORMATS, STATA_MISSING, SUFFIXES, open_writer
from participation.exports.variables import MISSING, Variable

VARIABLES = [
    Variable("pid", "假名", "pseudonym", "string", width=10),
    Variable("satisfied", "满意度", "Satisfaction", "code", {1: ("满意", "satisfied"), 2: ("不满意", "dissatisfied")}),
    Variable("a" * 32, "等待天数" * 30, ("Days waited " * 10).strip(), "number"),
    Variable("month", "月份", "Month", "integer"),
]
CODES = [1, 2, -1, -6, -7, -8, -9]


def make_rows(count: int) -> list[tuple]:
    return [
        (f"r_{i:08x}", CODES[i % len(CODES)], [1.5, -8, 12.25, 0][i % 4], [202401 + i % 12, -6][i % 5 == 4])
        for i in range(count)
    ]


def write(fmt: str, directory: Path, batches: list[list[tuple]], language: str = "en") -> Path:
    path = directory / f"export{SUFFIXES[fmt]}"
    writer = open_writer(fmt, path, VARIABLES, language=language, file_label="调查 survey")
    for batch in batches:
        writer.write(batch)
    writer.close()
    assert sorted(p.name for p in directory.iterdir()) == [path.name], "temporary files were left behind"
    return path


BATCH_SIZES = [[], [1], [7, 1, 23, 4]]


@pytest.mark.parametrize("sizes", BATCH_SIZES, ids=["empty", "one", "four-batches"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_sav_round_trip(tmp_path, sizes, language):
    rows = make_rows(sum(sizes))
    batches = [rows[sum(sizes[:i]) : sum(sizes[: i + 1])] for i in range(len(sizes))]
    path = write("sav", tmp_path, batches, language)

    frame, meta = pyreadstat.read_sav(path, user_missing=True)

    assert meta.number_rows == len(rows) == len(frame)
    assert meta.column_names == [v.name for v in VARIABLES]
    assert meta.column_labels == [v.label(language).encode()[:255].decode() for v in VARIABLES]  # readstat cuts
    assert [tuple(r) for r in frame.itertuples(index=False)] == rows
    numeric = [v.name for v in VARIABLES if v.numeric]
    assert meta.missing_ranges == {name: [{"lo": -9.0, "hi": -1.0}] for name in numeric}
    assert meta.variable_value_labels["satisfied"] == VARIABLES[1].value_labels(language)
    assert meta.variable_value_labels["month"] == {code: MISSING[code][language != "zh"] for code in MISSING}
    assert meta.variable_measure["satisfied"] == "nominal" and meta.variable_measure["month"] == "scale"
    assert meta.original_variable_types == {"pid": "A10", "satisfied": "F8.0", "a" * 32: "F10.2", "month": "F10.0"}
    assert meta.file_label == "调查 survey"


@pytest.mark.parametrize("sizes", BATCH_SIZES, ids=["empty", "one", "four-batches"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_dta_round_trip(tmp_path, sizes, language):
    rows = make_rows(sum(sizes))
    batches = [rows[sum(sizes[:i]) : sum(sizes[: i + 1])] for i in range(len(sizes))]
    path = write("dta", tmp_path, batches, language)

    frame, meta = pyreadstat.read_dta(path, user_missing=True)

    assert meta.number_rows == len(rows) == len(frame)
    assert meta.column_names == [v.name for v in VARIABLES]
    assert meta.column_labels == [v.label(language)[:80] for v in VARIABLES]
    tagged = [tuple(STATA_MISSING.get(x, x) if isinstance(x, int) else x for x in row) for row in rows]
    assert [tuple(r) for r in frame.itertuples(index=False)] == tagged
    names = meta.column_names
    present = {name: sorted({r[i] for r in tagged if isinstance(r[i], str)}) for i, name in enumerate(names)}
    assert meta.missing_user_values == {name: letters for name, letters in present.items() if letters and name != "pid"}
    labels = {STATA_MISSING.get(code, code): text for code, text in VARIABLES[1].value_labels(language).items()}
    assert meta.variable_value_labels["satisfied"] == labels
    assert meta.variable_to_label == {v.name: v.name for v in VARIABLES if v.numeric}
    assert meta.file_label == "调查 survey"


def test_dta_extended_missing_read_by_pandas(tmp_path):
    """A second, independent reader sees Stata's .a to .i and the labels on them."""
    import pandas as pd

    path = write("dta", tmp_path, [make_rows(7)])
    with pd.io.stata.StataReader(path) as reader:
        frame = reader.read(convert_missing=True, convert_categoricals=False)
        labels = reader.value_labels()
    assert [str(x) for x in frame["satisfied"]] == ["1.0", "2.0", ".a", ".f", ".g", ".h", ".i"]
    assert labels["satisfied"][1] == "satisfied" and len(labels["satisfied"]) == 2 + len(MISSING)


@pytest.mark.parametrize("fmt", ["csv", "csv-bom"])
def test_csv(tmp_path, fmt):
    rows = [("r_00000001", 1, 1.5, 202401), ("r_00000002", -9, -8, -6), ("r_00000003", 2, None, 202412)]
    path = write(fmt, tmp_path, [rows[:2], [], rows[2:]])

    content = path.read_bytes()

    bom = b"\xef\xbb\xbf"
    assert content.startswith(bom) == (fmt == "csv-bom")
    assert content.removeprefix(bom).decode() == (
        f"pid,satisfied,{'a' * 32},month\nr_00000001,1,1.5,202401\nr_00000002,-9,-8,-6\nr_00000003,2,,202412\n"
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_abort_leaves_nothing(tmp_path, fmt):
    writer = open_writer(fmt, tmp_path / f"export{SUFFIXES[fmt]}", VARIABLES)
    writer.write(make_rows(5))
    writer.abort()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_a_batch_that_cannot_be_spliced_is_refused(tmp_path, fmt):
    writer = open_writer(fmt, tmp_path / f"export{SUFFIXES[fmt]}", VARIABLES)
    with pytest.raises(RuntimeError, match="different dictionary"):
        writer.write([("too_long_pseudonym", 1, 1.0, 202401)])
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_unknown_format(tmp_path):
    with pytest.raises(ValueError):
        open_writer("xlsx", tmp_path / "export.xlsx", VARIABLES)
