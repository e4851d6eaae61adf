"""Writes an export bundle: streams the rows once into every chosen format, then the data package,
codebook, README and checksums, and zips them; a failure leaves no file behind.

Memory stays bounded whatever the number of rows: rows are read and written in batches, and what is
kept per variable (counts of codes, sums) does not grow with the rows.
"""

from __future__ import annotations

import codecs
import json
import queue
import shutil
import threading
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, bindparam, cast, func, literal, select

from participation.exports import deid
from participation.exports.datasets import DATASETS, Context, Dataset
from participation.exports.formats import open_writer
from participation.exports.variables import MISSING, MISSING_RANGE, Variable

DATA = "data"
FILE_NAMES = {"csv": "data.csv", "csv-bom": "data_excel.csv", "sav": "data.sav", "dta": "data.dta"}
TEXT_FILE = "text_answers.csv"
LARGE_FILE = 1 << 20  # bytes

Progress = Callable[[int, int | None], None]


@dataclass
class Spec:
    """What to export and how (the request, resolved)."""

    dataset: str
    ctx: Context
    formats: tuple[str, ...] = ("csv", "sav", "dta")
    language: str = "en"  # labels inside .sav and .dta (the codebook has both)
    k: int = 5
    include_text: bool = False
    batch: int = 10_000
    provenance: dict = field(default_factory=dict)  # shown in README.md


class _Stats:
    """Per-variable counts for the codebook, bounded by the number of distinct codes, not of rows."""

    def __init__(self, variables: list[Variable]):
        self.variables = variables
        self.codes = [Counter() if v.kind == "code" else None for v in variables]
        self.missing = [Counter() for _v in variables]
        self.n = [0] * len(variables)
        self.sum = [0.0] * len(variables)
        self.min: list[float | None] = [None] * len(variables)
        self.max: list[float | None] = [None] * len(variables)
        self.rows = 0

    def add(self, batch: list[tuple]) -> None:
        if not batch:
            return
        self.rows += len(batch)
        lo, hi = MISSING_RANGE
        for i, (variable, column) in enumerate(zip(self.variables, zip(*batch, strict=True), strict=True)):
            if not variable.numeric:
                self.n[i] += sum(1 for v in column if v.strip())
                continue
            if self.codes[i] is not None:
                self.codes[i].update(column)
                continue
            valid = [v for v in column if v is not None and not lo <= v <= hi]
            self.missing[i].update(v for v in column if v is not None and lo <= v <= hi)
            if valid:
                self.n[i] += len(valid)
                self.sum[i] += sum(valid)
                low, high = min(valid), max(valid)
                self.min[i] = low if self.min[i] is None else min(self.min[i], low)
                self.max[i] = high if self.max[i] is None else max(self.max[i], high)

    def counts(self, i: int) -> Counter:
        """Counts of every code (substantive and missing) of variable i."""
        if self.codes[i] is not None:
            return self.codes[i]
        return self.missing[i]


def run(spec: Spec, out_path: Path, progress: Progress | None = None) -> dict:
    """Write the bundle to out_path (a ZIP); return its summary. Nothing is left behind on failure."""
    from participation.extensions import db

    dataset = DATASETS[spec.dataset]
    ctx = spec.ctx
    out_path.parent.mkdir(parents=True, exist_ok=True)
    work = out_path.parent / f".work-{uuid.uuid4().hex}"
    work.mkdir()
    partial = out_path.with_name(out_path.name + ".partial")
    writers = []
    try:
        last_id = db.session.execute(select(func.max(dataset.key()))).scalar()  # rows as of now
        total = db.session.execute(dataset.count_select(ctx).where(dataset.key() <= (last_id or 0))).scalar_one()
        if progress:
            progress(0, total)
        plan = _plan(dataset, spec, last_id or 0) if dataset.has_people else None
        level = plan.level if plan else ctx.date_level
        if level != ctx.date_level:
            ctx.date_level = level  # the period variable's label names the level actually used
        variables = dataset.variables(ctx)
        formats = ("csv", "csv-bom", *[f for f in spec.formats if f in ("sav", "dta")])
        label = f"{spec.dataset} {spec.provenance.get('project', '')}".strip()[:60]
        for fmt in formats:
            if fmt == "csv-bom":
                continue  # a byte copy of data.csv, made once it is complete
            writers.append(
                open_writer(fmt, work / FILE_NAMES[fmt], variables, language=spec.language, file_label=label)
            )
        stats = _Stats(variables)
        done = 0
        if not (plan and plan.withheld):
            transform = dataset.transformer(ctx, level, plan.suppressed if plan else set())
            by_page = lambda ids: dataset.select(ctx, ids=ids)  # noqa: E731 - the select bounds its join by the page
            for chunk in pages(dataset, by_page, last_id or 0, spec.batch, raw=dataset.raw_rows):
                batch = [transform(row) for row in chunk]
                for writer in writers:
                    writer.write(batch)
                stats.add(batch)
                done += len(batch)
                if progress:
                    progress(done, total)
        for writer in writers:
            writer.close()
        writers = []
        _excel_copy(work / FILE_NAMES["csv"], work / FILE_NAMES["csv-bom"])
        withheld = bool(plan and plan.withheld)
        scrubbed = _write_text(dataset, spec, work, withheld) if spec.include_text else None
        summary = {
            "rows": done,
            "rows_total": total,
            "date_level": level,
            "k": spec.k if dataset.has_people else None,
            "quasi_identifiers": ["period", *ctx.quasi] if dataset.has_people else [],
            "anonymity": plan.as_dict() if plan else None,
            "text": scrubbed,
            "formats": list(formats),
        }
        _write_datapackage(work, variables, spec, scrubbed is not None)
        _write_codebook(work, variables, stats, spec, summary)
        _write_readme(work, spec, summary)
        _write_checksums(work)
        summary["files"] = sorted(p.name for p in work.iterdir())
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as bundle:
            for path in sorted(work.iterdir()):
                # the data files are large and compressed fast (level 1: five times quicker, a fifth larger)
                level = 1 if path.stat().st_size > LARGE_FILE else 6
                bundle.write(path, arcname=path.name, compresslevel=level)
        partial.replace(out_path)
        return summary
    except BaseException:
        for writer in writers:
            writer.abort()
        partial.unlink(missing_ok=True)
        out_path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _excel_copy(source: Path, target: Path) -> None:
    """The CSV with a UTF-8 byte-order mark, so that Excel reads it as UTF-8."""
    with open(source, "rb") as src, open(target, "wb") as out:
        out.write(codecs.BOM_UTF8)
        shutil.copyfileobj(src, out, 1 << 20)


def pages(dataset: Dataset, stmt, last_id: int, size: int, key=None, *, raw: bool = False):
    """The statement's rows in pages by id (keyset), up to last_id: each page is its own short query, so
    progress can be committed between pages and memory holds a page or two. `stmt` may be a function of the
    page's range (`ids=(after, last_id)`) giving the statement, for a select that bounds a join by it; it is
    built once, the page's start a bound parameter.

    On PostgreSQL a helper thread reads the pages on a connection of its own, one page ahead: the database
    works on the next page while this process formats the current one. With `raw` the rows come straight
    from the driver as plain tuples, without SQLAlchemy's result processing (enumerations then come as
    their stored names): for a transformer that reads positions and expects that."""
    from participation.extensions import db

    key = dataset.key() if key is None else key
    after = bindparam("page_after", type_=Integer)
    built = stmt(ids=(after, last_id)) if callable(stmt) else stmt
    page = built.where(key > after, key <= last_id).limit(size)
    if db.engine.dialect.name == "postgresql":
        yield from _read_ahead(db.engine, page, size, raw=raw)
        return
    position = 0
    while True:
        chunk = db.session.execute(page, {"page_after": position}).all()
        if not chunk:
            return
        yield chunk
        if len(chunk) < size:
            return
        position = chunk[-1][0]


def _read_ahead(engine, page, size: int, *, raw: bool = False):
    """Pages read by a helper thread, at most one waiting; the thread stops when the reader stops."""
    waiting: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item) -> None:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read() -> None:
        try:
            # autocommit: each page its own short statement, no transaction held open through the export
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                position = 0
                while not stop.is_set():
                    chunk = _page_rows(conn, page, position, raw)
                    if chunk:
                        hand_over(chunk)
                    if len(chunk) < size:
                        break
                    position = chunk[-1][0]
            hand_over(None)
        except BaseException as exc:  # handed to the reader, raised there
            hand_over(exc)

    thread = threading.Thread(target=read, name="export-pages", daemon=True)
    thread.start()
    try:
        while True:
            item = waiting.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _page_rows(conn, page, position: int, raw: bool) -> list:
    """One page, its values bound as for any statement; with `raw` the rows are taken from the driver's cursor."""
    result = conn.execute(page, {"page_after": position})
    if not raw:
        return result.all()
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _plan(dataset: Dataset, spec: Spec, last_id: int) -> deid.Plan:
    """First pass: count rows per quasi-identifier combination at every date level, then plan."""
    from participation.extensions import db

    ctx = spec.ctx
    levels = deid.LEVELS[deid.LEVELS.index(ctx.date_level) :]
    grouped = db.engine.dialect.name == "postgresql"
    return deid.plan(_qi_counts(dataset, spec, last_id, levels, grouped=grouped), ctx.date_level, spec.k)


def _qi_counts(dataset: Dataset, spec: Spec, last_id: int, levels, *, grouped: bool) -> dict[str, Counter]:
    """Rows per quasi-identifier combination at each date level: counted by PostgreSQL per city-time ISO week
    and month (`grouped`), or row by row here."""
    ctx = spec.ctx
    counts: dict[str, Counter] = {level: Counter() for level in deid.LEVELS}
    if grouped:
        for week, month, quasi, n in _qi_groups(dataset, ctx, last_id, weeks="week" in levels):
            for level in levels:
                counts[level][(week if level == "week" else deid.from_month(month, level), *quasi)] += n
        return counts
    for chunk in pages(dataset, dataset.qi_select(ctx), last_id, spec.batch * 5):
        for row in chunk:
            for level, key in zip(levels, dataset.qi_keys(ctx, row, levels), strict=True):
                counts[level][key] += 1
    return counts


def _qi_groups(dataset: Dataset, ctx, last_id: int, *, weeks: bool):
    """(ISO week YYYYWW or None, month YYYYMM, quasi-identifier codes, rows) per group, in city time, counted by
    PostgreSQL: some thousands of groups come back instead of every row."""
    from participation.extensions import db

    sub = dataset.qi_select(ctx).where(dataset.key() <= last_id).order_by(None).subquery()
    columns = [sub.c[name] for name in ctx.quasi]
    local = func.timezone(ctx.zone.key, sub.c[dataset.moment_name])

    def number(high: str, low: str):
        return cast(func.extract(high, local) * 100 + func.extract(low, local), Integer)

    month = number("year", "month").label("month")
    week = (number("isoyear", "week") if weeks else literal(None, Integer)).label("week")
    stmt = select(week, month, *columns, func.count().label("n")).group_by(week, month, *columns)
    for row in db.session.execute(stmt):
        yield row.week, row.month, dataset.quasi_values(ctx, row), row.n


def _write_text(dataset: Dataset, spec: Spec, work: Path, withheld: bool) -> dict | None:
    """Free-text answers, scrubbed, in a file of their own: (resp, question, text); none when the rows
    are withheld (fewer than k)."""
    import csv

    from participation.extensions import db

    stmt = dataset.text_select(spec.ctx)
    found: Counter = Counter()
    answers = 0
    with open(work / TEXT_FILE, "w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["resp", "question", "text"])
        if stmt is not None and not withheld:
            from participation.surveys.models import Answer

            last = db.session.execute(select(func.max(Answer.id))).scalar() or 0
            resp_pseudonym = deid.pseudonymiser(spec.ctx.key, "resp")
            for chunk in pages(dataset, stmt, last, spec.batch, key=Answer.id):
                rows = []
                for row in chunk:
                    text, kinds = deid.scrub(row.value_text, names=(row.contact_name,))
                    found.update(kinds)
                    rows.append((resp_pseudonym(row.response_id), row.question, text))
                answers += len(rows)
                out.writerows(rows)
    return {"answers": answers, "replaced": dict(found)}


def _field(variable: Variable) -> dict:
    types = {"code": "integer", "integer": "integer", "number": "number", "string": "string"}
    out: dict[str, Any] = {
        "name": variable.name,
        "title": variable.label_en,
        "description": variable.label_zh,
        "type": types[variable.kind],
    }
    if variable.kind == "code" and variable.codes:
        out["constraints"] = {"enum": sorted(variable.codes)}
        out["categories"] = [{"value": c, "label": f"{zh} / {en}"} for c, (zh, en) in sorted(variable.codes.items())]
    return out


def _write_datapackage(work: Path, variables: list[Variable], spec: Spec, with_text: bool) -> None:
    missing = ["", *[str(code) for code in sorted(MISSING)]]
    resources = [
        {
            "name": DATA,
            "path": FILE_NAMES["csv"],
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": {"fields": [_field(v) for v in variables], "missingValues": missing},
        }
    ]
    if with_text:
        resources.append(
            {
                "name": "text_answers",
                "path": TEXT_FILE,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {
                    "fields": [
                        {"name": "resp", "type": "string", "title": "Response (pseudonym)"},
                        {"name": "question", "type": "string", "title": "Question"},
                        {"name": "text", "type": "string", "title": "Answer, scrubbed of personal data"},
                    ]
                },
            }
        )
    package = {
        "profile": "tabular-data-package",
        "name": f"participation-{spec.dataset}",
        "title": f"Participation platform export: {spec.dataset}",
        "description": spec.provenance.get("purpose", ""),
        "created": spec.provenance.get("created", datetime.now(UTC).isoformat(timespec="seconds")),
        "resources": resources,
    }
    (work / "datapackage.json").write_text(json.dumps(package, ensure_ascii=False, indent=2), encoding="utf-8")


def _md(text: Any) -> str:
    """Text for a Markdown table cell (labels may hold | or line breaks)."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _write_codebook(work: Path, variables: list[Variable], stats: _Stats, spec: Spec, summary: dict) -> None:
    lines = [
        "# Codebook / 编码手册",
        "",
        f"Dataset / 数据集: `{spec.dataset}` · rows / 行数: {stats.rows}",
        "",
        "Missing codes / 缺失值代码: "
        + "; ".join(f"{code} = {zh} / {en}" for code, (zh, en) in sorted(MISSING.items(), reverse=True)),
        "",
    ]
    for i, v in enumerate(variables):
        kind = {"code": "categorical (integer codes)", "integer": "integer", "number": "number", "string": "text"}
        lines += [f"## {v.name}", "", f"- 标签: {_md(v.label_zh)}", f"- Label: {_md(v.label_en)}"]
        lines.append(f"- Type / 类型: {kind[v.kind]}" + (f", width {v.width}" if v.kind == "string" else ""))
        if v.kind == "string":
            lines += [f"- Non-blank values / 非空值: {stats.n[i]}", ""]
            continue
        if v.kind != "code":
            mean = stats.sum[i] / stats.n[i] if stats.n[i] else None
            lines.append(
                f"- Valid / 有效值: {stats.n[i]}"
                + (f"; min {stats.min[i]}, max {stats.max[i]}, mean {mean:.3f}" if mean is not None else "")
            )
        counts = stats.counts(i)
        codes = dict(v.codes) if v.kind == "code" else {}
        rows = [(c, *codes[c], counts.get(c, 0)) for c in sorted(codes)]
        rows += [(c, zh, en, counts.get(c, 0)) for c, (zh, en) in sorted(MISSING.items(), reverse=True)]
        unlabelled = sorted(c for c in counts if c not in codes and c not in MISSING) if v.kind == "code" else []
        rows += [(c, "", "", counts[c]) for c in unlabelled]
        lines += ["", "| code | 标签 | label | count |", "|---:|---|---|---:|"]
        lines += [f"| {c} | {_md(zh)} | {_md(en)} | {n} |" for c, zh, en, n in rows]
        lines.append("")
    (work / "codebook.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_readme(work: Path, spec: Spec, summary: dict) -> None:
    p = spec.provenance
    anonymity = summary.get("anonymity") or {}
    text = summary.get("text")
    lines = [
        "# Research export / 研究数据导出",
        "",
        "## Provenance / 来源",
        "",
        f"- Dataset / 数据集: {spec.dataset}" + (f" (survey {p['survey']})" if p.get("survey") else ""),
        f"- Research project / 研究项目: {p.get('project', '')}",
        f"- Purpose / 用途: {_md(p.get('purpose', ''))}",
        f"- Filters / 筛选: {json.dumps(p.get('filters', {}), ensure_ascii=False, sort_keys=True)}",
        f"- Requested / 申请时间 (UTC): {p.get('requested', '')}",
        f"- Created / 生成时间 (UTC): {p.get('created', datetime.now(UTC).isoformat(timespec='seconds'))}",
        f"- Export job / 导出任务: {p.get('job', '')}",
        f"- Platform / 平台: participation {p.get('version', '')}",
        f"- Rows / 行数: {summary['rows']}",
        "",
        "## De-identification / 去标识化",
        "",
        "- Record identifiers are keyed pseudonyms (HMAC-SHA256 with this project's key): stable within the "
        "project, unlinkable to other projects' exports. / 记录标识为按研究项目加密的假名。",
        "- No names, telephone numbers, e-mail or postal addresses, coordinates, accounts or staff are exported. "
        "/ 不含姓名、电话、邮箱、地址、坐标、账号或工作人员信息。",
    ]
    if summary.get("k"):
        lines += [
            f"- Dates coarsened to / 日期粗化为: {summary['date_level']}"
            + (f" (requested {p.get('date_level')})" if p.get("date_level") != summary["date_level"] else ""),
            f"- k-anonymity with k = {summary['k']} over / k-匿名（k = {summary['k']}）: "
            + ", ".join(summary["quasi_identifiers"]),
            f"- Rows whose quasi-identifiers were suppressed (-6) / 准标识符被抑制的行: "
            f"{anonymity.get('rows_suppressed', 0)} in {anonymity.get('groups_suppressed', 0)} groups",
        ]
        if anonymity.get("withheld"):
            lines.append(
                f"- Fewer than {summary['k']} rows matched: none are released. / 匹配行少于 {summary['k']}：不予发布。"
            )
    else:
        lines.append("- Department-level data: no person behind a row. / 部门层面数据，不涉及个人。")
    if text is not None:
        lines.append(
            "- Free text (text_answers.csv) scrubbed of ID-card and mobile numbers, e-mail addresses and licence "
            f"plates / 自由文本已清除证件号、手机号、邮箱与车牌: {json.dumps(text['replaced'], sort_keys=True)}"
        )
    else:
        lines.append("- No free text. / 不含自由文本。")
    lines += [
        "",
        "## Files / 文件",
        "",
        "- data.csv: codes, UTF-8 / 代码值 CSV（UTF-8）",
        "- data_excel.csv: the same with a byte-order mark for Excel / 供 Excel 打开（带 BOM）",
    ]
    if "sav" in summary["formats"]:
        lines.append("- data.sav: SPSS, with variable and value labels; -9..-1 declared missing")
    if "dta" in summary["formats"]:
        lines.append("- data.dta: Stata 14+, with labels; -1 .a, -6 .f, -7 .g, -8 .h, -9 .i")
    if text is not None:
        lines.append(f"- {TEXT_FILE}: free-text answers, scrubbed / 已清理的自由文本")
    lines += [
        "- datapackage.json: Frictionless Data Package (Table Schema)",
        "- codebook.md: every variable with labels, codes and counts / 编码手册",
        "- SHA256SUMS: checksums / 校验和",
        "",
    ]
    (work / "README.md").write_text("\n".join(lines), encoding="utf-8")


def _write_checksums(work: Path) -> None:
    lines = [f"{deid.sha256_file(path)}  {path.name}" for path in sorted(work.iterdir())]
    (work / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")
