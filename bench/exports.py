"""Research exports of survey responses on PostgreSQL: CSV and .sav beside PostgreSQL's own COPY.

    .venv/bin/python bench/exports.py [--rows 1000000] [--small 100000] [--seed 7] [--fresh]

The data is made once into the database `participation_bench_exports` (kept for later runs, `--fresh`
makes it anew, never in git): the schema, the demo catalog, one published survey (single choice with a
show-if text, multiple choice shown if, a Likert block of three items, a 1-5 rating, NPS, a comment) and
`--rows` complete responses with their answers, written with COPY. Completion times rise with the id
over a year, so the first `--small` responses are exactly those before a date: the smaller export is the
same export with a `date_to` filter.

Each figure is measured in a fresh process, so its peak RSS is its own:
- COPY: `COPY (<the export's SELECT, binds inlined>) TO STDOUT WITH CSV HEADER` into a file (the baseline);
- csv: `bundle.run` with formats ("csv",), as the product does it: the k-anonymity pass, the rows
  streamed into data.csv and data_excel.csv, the codebook, README, checksums and the ZIP;
- sav: the same with formats ("sav",) (the product writes both CSV files beside the .sav).
Rates are rows per second of the whole run; the k-anonymity pass, the streaming and the finishing
(codebook, checksums, ZIP) are timed apart.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import ROOT, fresh_postgres, server_env

NAME = "participation_bench_exports"
SURVEY = "BENCH-PARKS"
PROJECT = "BENCH-STUDY"
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=365)
COPY_TARGET = 0.3
MEMORY_TARGET_MB = 300


def _label(zh: str, en: str) -> dict:
    return {"zh": zh, "en": en}


AGREE = [_label("很不同意", "Strongly disagree"), _label("不同意", "Disagree"), _label("一般", "Neutral")]
AGREE += [_label("同意", "Agree"), _label("很同意", "Strongly agree")]
DEFINITION = {
    "code": SURVEY,
    "title": _label("公园满意度调查", "Parks satisfaction survey"),
    "questions": [
        {
            "name": "visited",
            "type": "single",
            "label": _label("您去过公园吗？", "Have you visited a park?"),
            "choices": [{"code": 1, "label": _label("去过", "Yes")}, {"code": 2, "label": _label("没去过", "No")}],
            "required": True,
        },
        {
            "name": "why_not",
            "type": "text",
            "label": _label("为什么没去？", "Why not?"),
            "required": False,
            "show_if": {"question": "visited", "in": [2]},
        },
        {
            "name": "used",
            "type": "multiple",
            "label": _label("您用过哪些设施？", "Which facilities did you use?"),
            "choices": [
                {"code": 1, "label": _label("步道", "Paths")},
                {"code": 2, "label": _label("厕所", "Toilets")},
                {"code": 3, "label": _label("运动场", "Sports fields")},
                {"code": 4, "label": _label("儿童游乐区", "Playground")},
            ],
            "required": False,
            "show_if": {"question": "visited", "in": [1]},
        },
        *[
            {
                "name": name,
                "type": "likert5",
                "label": _label(zh, en),
                "choices": [{"code": i + 1, "label": text} for i, text in enumerate(AGREE)],
                "required": False,
                "group": "quality",
            }
            for name, zh, en in (
                ("clean", "公园很干净", "The park is clean"),
                ("safe", "公园很安全", "The park is safe"),
                ("staff", "工作人员很友善", "The staff are friendly"),
            )
        ],
        {"name": "rating", "type": "rating5", "label": _label("总体评分", "Overall rating"), "required": False},
        {"name": "nps", "type": "nps", "label": _label("您会推荐吗？", "Would you recommend it?"), "required": True},
        {"name": "comment", "type": "text", "label": _label("其他意见", "Anything else?"), "required": False},
    ],
}
TEXTS = ["太远了", "没有时间", "不知道在哪里", "希望多些长椅", "晚上灯光不够", "厕所需要打扫", "很好"]


def _moment(i: int, rows: int) -> datetime:
    """The completion time of the i-th response (1-based): rising with i, evenly over SPAN."""
    return START + (i - 1) * (SPAN / rows)


def _has(url: str, rows: int) -> bool:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            have = conn.execute(text("SELECT count(*) FROM survey_response WHERE status = 'COMPLETE'")).scalar()
        engine.dispose()
    except Exception:  # noqa: BLE001 - no such database or table yet
        return False
    return have == rows


def generate(rows: int, seed: int) -> None:
    """Schema, demo catalog, the survey, and `rows` complete responses with answers (COPY)."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from participation import create_app
    from participation.catalog import services as catalog
    from participation.catalog.models import Category, District
    from participation.cli import DEMO_CATALOG
    from participation.core.permissions import SYSTEM
    from participation.core.uow import transaction
    from participation.extensions import db
    from participation.surveys import services as surveys

    app = create_app()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        with transaction():
            catalog.import_file(SYSTEM, DEMO_CATALOG)
        with transaction():
            surveys.save_definition(SYSTEM, DEFINITION, distribution="public", publish=True)
        survey = surveys.get_survey(SURVEY)
        survey_id, version_id = survey.id, survey.current_version_id
        districts = list(db.session.scalars(select(District.id).order_by(District.id)))
        categories = list(db.session.execute(select(Category.id, Category.lead_id).order_by(Category.id)))
        db.session.rollback()
        rng = random.Random(seed)
        # uneven, as a city is: some districts and categories far bigger than others
        district_weights = [1 / (1 + i * 0.25) for i in range(len(districts))]
        category_weights = [1 / (1 + i * 0.15) for i in range(len(categories))]
        raw = db.engine.raw_connection()
        began = time.perf_counter()
        try:
            with raw.driver_connection.cursor() as cur:
                cur.execute("SET synchronous_commit = off")
                response_copy = (
                    "COPY survey_response (id, survey_id, version_id, status, channel, department_id, district_id,"
                    " category_id, language, started_at, completed_at) FROM STDIN"
                )
                answer_copy = "COPY survey_answer (response_id, question, value_int, value_text) FROM STDIN"
                block = 50_000
                for first in range(1, rows + 1, block):
                    responses, answers = [], []
                    last = min(rows, first + block - 1)
                    district_of = rng.choices(districts, district_weights, k=last - first + 1)
                    category_of = rng.choices(categories, category_weights, k=last - first + 1)
                    for i in range(first, last + 1):
                        at = _moment(i, rows)
                        category, department = category_of[i - first]
                        language = "en" if rng.random() < 0.1 else "zh"
                        responses.append(
                            f"{i}\t{survey_id}\t{version_id}\tCOMPLETE\tPUBLIC\t{department}\t"
                            f"{district_of[i - first]}\t{category}\t{language}\t"
                            f"{(at - timedelta(minutes=4)).isoformat()}\t{at.isoformat()}\n"
                        )
                        answers.extend(_answers(rng, i))
                    with cur.copy(response_copy) as copy:
                        copy.write("".join(responses))
                    with cur.copy(answer_copy) as copy:
                        copy.write("".join(answers))
                    raw.driver_connection.commit()
                cur.execute("SELECT setval(pg_get_serial_sequence('survey_response', 'id'), %s)", (rows,))
                raw.driver_connection.commit()
            raw.driver_connection.autocommit = True
            raw.driver_connection.execute("VACUUM ANALYZE survey_response")
            raw.driver_connection.execute("VACUUM ANALYZE survey_answer")
        finally:
            raw.close()
        print(f"generated {rows} responses in {time.perf_counter() - began:.0f} s", flush=True)


def _answers(rng: random.Random, i: int) -> list[str]:
    """The answer rows (COPY text format) of response i."""
    out = []
    visited = 1 if rng.random() < 0.85 else 2
    out.append(f"{i}\tvisited\t{visited}\t\\N\n")
    if visited == 2 and rng.random() < 0.5:
        out.append(f"{i}\twhy_not\t\\N\t{rng.choice(TEXTS)}\n")
    if visited == 1:
        chosen = [code for code, p in ((1, 0.7), (2, 0.4), (3, 0.25), (4, 0.2)) if rng.random() < p]
        out += [f"{i}\tused\t{code}\t\\N\n" for code in chosen]
    mood = rng.choice((2, 3, 4, 4, 5))
    for question in ("clean", "safe", "staff"):
        if rng.random() < 0.95:
            out.append(f"{i}\t{question}\t{min(5, max(1, mood + rng.choice((-1, 0, 0, 1))))}\t\\N\n")
    if rng.random() < 0.9:
        out.append(f"{i}\trating\t{min(5, max(1, mood + rng.choice((-1, 0, 1))))}\t\\N\n")
    out.append(f"{i}\tnps\t{min(10, max(0, 2 * mood + rng.choice((-2, -1, 0, 1))))}\t\\N\n")
    if rng.random() < 0.2:
        out.append(f"{i}\tcomment\t\\N\t{rng.choice(TEXTS)}\n")
    return out


# ---- one measurement, in its own process -------------------------------------------------------------


def _context(rows: int, total: int):
    """The export's context as spec_for resolves it, limited to the first `rows` responses."""
    from zoneinfo import ZoneInfo

    from flask import current_app

    from participation.exports import deid
    from participation.exports.datasets import DATASETS, Context, _catalog_labels
    from participation.surveys import services as surveys

    ctx = Context(
        survey=surveys.get_survey(SURVEY),
        date_level="month",
        quasi=DATASETS["survey-responses"].QUASI,
        zone=ZoneInfo(current_app.config["CITY_TIMEZONE"]),
        key=deid.project_key("bench-pseudonym-secret", PROJECT),
        catalog=_catalog_labels(),
    )
    if rows < total:
        ctx.date_to = _moment(rows + 1, total)
    return ctx


def child(kind: str, rows: int, total: int, profile: str | None) -> dict:
    from participation import create_app
    from participation.exports import bundle
    from participation.exports.datasets import DATASETS
    from participation.extensions import db

    dataset = DATASETS["survey-responses"]
    out = Path(tempfile.mkdtemp(prefix="bench-exports-"))
    app = create_app()
    result: dict = {"kind": kind}
    with app.app_context():
        ctx = _context(rows, total)
        result["rows"] = db.session.execute(dataset.count_select(ctx)).scalar_one()
        if kind == "copy":
            from sqlalchemy.dialects import postgresql

            sql = dataset.select(ctx).compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
            db.session.rollback()
            raw = db.engine.raw_connection()
            try:
                began = time.perf_counter()
                with raw.driver_connection.cursor() as cur, open(out / "copy.csv", "wb") as handle:
                    with cur.copy(f"COPY ({sql}) TO STDOUT WITH CSV HEADER") as copy:
                        for data in copy:
                            handle.write(data)
                result["seconds"] = time.perf_counter() - began
            finally:
                raw.close()
            with open(out / "copy.csv", "rb") as handle:
                result["lines"] = sum(1 for _line in handle) - 1
            result["bytes"] = (out / "copy.csv").stat().st_size
        else:
            marks: dict[str, float] = {}
            plan = bundle._plan

            def timed_plan(*args):
                began = time.perf_counter()
                try:
                    return plan(*args)
                finally:
                    marks["planned"] = time.perf_counter()
                    marks["k_anonymity"] = marks["planned"] - began

            def progress(done: int, total_rows: int | None) -> None:
                marks["streamed"] = time.perf_counter()

            bundle._plan = timed_plan  # timed apart; the run is otherwise the product's own
            spec = bundle.Spec(
                dataset=dataset.name,
                ctx=ctx,
                formats=(kind,),
                batch=app.config["EXPORT_BATCH_ROWS"],
                provenance={"project": PROJECT, "survey": SURVEY, "purpose": "benchmark"},
            )
            profiler = None
            if profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            began = time.perf_counter()
            summary = bundle.run(spec, out / "bundle.zip", progress)
            ended = time.perf_counter()
            if profiler:
                profiler.disable()
                profiler.dump_stats(profile)
            result.update(
                seconds=ended - began,
                k_anonymity=marks["k_anonymity"],
                stream=marks["streamed"] - marks["planned"],  # the last batch written
                finish=ended - marks["streamed"],
                exported=summary["rows"],
                date_level=summary["date_level"],
                suppressed=summary["anonymity"]["rows_suppressed"],
                bytes=(out / "bundle.zip").stat().st_size,
            )
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    subprocess.run(["rm", "-rf", str(out)], check=False)
    return result


def measure(kind: str, rows: int, total: int, env: dict[str, str], profile: str | None = None) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--small", str(rows), "--rows", str(total)]
    if profile:
        command += ["--profile", profile]
    done = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fresh", action="store_true", help="make the data anew")
    parser.add_argument("--profile", help="cProfile the csv export of --small rows into this file")
    parser.add_argument("--child", choices=("copy", "csv", "sav"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    base = os.environ.get("BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")
    url = f"{base}/{NAME}"
    env = server_env(url)
    if args.child:
        os.environ.update(env)
        print(json.dumps(child(args.child, args.small, args.rows, args.profile)))
        return
    if args.fresh or not _has(url, args.rows):
        fresh_postgres(NAME)
        os.environ.update(env)
        generate(args.rows, args.seed)
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "participation", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    if args.profile:
        result = measure("csv", args.small, args.rows, env, args.profile)
        print(f"profiled the csv export of {result['rows']} rows into {args.profile} ({result['seconds']:.1f} s)")
        return

    sizes = sorted({args.small, args.rows})
    results = []
    for rows in sizes:
        for kind in ("copy", "csv", "sav"):
            results.append(measure(kind, rows, args.rows, env))
            r = results[-1]
            print(f"  measured {kind} at {r['rows']} rows: {r['seconds']:.1f} s", file=sys.stderr, flush=True)
    copy_rate = {r["rows"]: r["rows"] / r["seconds"] for r in results if r["kind"] == "copy"}
    print(f"{'rows':>9} {'what':<5} {'seconds':>8} {'rows/s':>9} {'x COPY':>7} {'peak MB':>8}  phases")
    for r in results:
        rate = r["rows"] / r["seconds"]
        phases = (
            f"k-anonymity {r['k_anonymity']:.1f} s, stream {r['stream']:.1f} s, finish {r['finish']:.1f} s; "
            f"{r['date_level']}, {r['suppressed']} rows suppressed; zip {r['bytes'] / 1e6:.0f} MB"
            if r["kind"] != "copy"
            else f"{r['lines']} lines, {r['bytes'] / 1e6:.0f} MB"
        )
        print(
            f"{r['rows']:>9} {r['kind']:<5} {r['seconds']:>8.2f} {rate:>9.0f} "
            f"{rate / copy_rate[r['rows']]:>7.3f} {r['peak_rss_mb']:>8.0f}  {phases}"
        )
    for kind in ("csv", "sav"):
        runs = {r["rows"]: r for r in results if r["kind"] == kind}
        ratios = [r["rows"] / r["seconds"] / copy_rate[n] for n, r in runs.items()]
        peaks = [r["peak_rss_mb"] for r in runs.values()]
        if kind == "csv":
            met = min(ratios) >= COPY_TARGET
            print(
                f"csv rate >= {COPY_TARGET} x COPY: {'met' if met else 'NOT MET'} "
                f"({', '.join(f'{x:.3f}' for x in ratios)})"
            )
        flat = max(peaks) <= 1.1 * min(peaks)
        print(
            f"{kind} peak memory < {MEMORY_TARGET_MB} MB and the same at {' and '.join(map(str, sizes))} rows "
            f"(within 10 %): {'met' if max(peaks) < MEMORY_TARGET_MB and flat else 'NOT MET'} "
            f"({', '.join(f'{p:.0f}' for p in peaks)} MB)"
        )


if __name__ == "__main__":
    main()
