"""The exportable datasets: their variables, the rows they read (streamed, in id order), and how a raw
row becomes a de-identified row of codes.

A dataset reads rows with one SELECT (`select`), so the benchmark can hand the very same query to
PostgreSQL's COPY. Quasi-identifiers (the coarsened date and the chosen columns among `QUASI`) are
what k-anonymity protects; `qi_keys` gives a raw row's combination at each date level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.sql import Select

from participation.core import labels
from participation.exports import deid
from participation.exports.variables import NOT_APPLICABLE, NOT_ASKED, REFUSED, SUPPRESSED, Variable, bilingual

DATE_LEVEL_LABELS = {
    "week": ("年份与ISO周（YYYYWW）", "year and ISO week (YYYYWW)"),
    "month": ("年月（YYYYMM）", "year and month (YYYYMM)"),
    "quarter": ("年份与季度（YYYYQ）", "year and quarter (YYYYQ)"),
    "year": ("年份（YYYY）", "year (YYYY)"),
}


@dataclass
class Context:
    """Everything a dataset needs to read and shape rows: resolved filters and the chosen options."""

    survey: Any = None  # surveys.models.Survey for survey-responses
    date_from: datetime | None = None  # UTC, inclusive
    date_to: datetime | None = None  # UTC, exclusive
    district_id: int | None = None
    category_id: int | None = None
    department_id: int | None = None
    quasi: tuple[str, ...] = ()  # the chosen quasi-identifier columns (besides the date)
    date_level: str = "month"
    key: bytes = b""  # the project's pseudonym key
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    catalog: dict[str, dict[int, tuple[str, str]]] = field(default_factory=dict)  # labels of catalog codes


def _catalog_labels() -> dict[str, dict[int, tuple[str, str]]]:
    """Codes of departments, districts and categories (their ids) with "CODE name" labels in zh and en."""
    from participation.catalog.models import Category, Department, District
    from participation.extensions import db

    labels: dict[str, dict[int, tuple[str, str]]] = {}
    for name, model in (("department", Department), ("district", District), ("category", Category)):
        rows = db.session.execute(select(model.id, model.code, model.name_zh, model.name_en).order_by(model.id))
        labels[name] = {i: (f"{code} {zh}", f"{code} {en}") for i, code, zh, en in rows}
    return labels


def _code_var(name: str, label, codes: dict[int, tuple[str, str]]) -> Variable:
    zh, en = bilingual(label)
    return Variable(name, zh, en, "code", codes)


def _number(name: str, label, kind: str = "number") -> Variable:
    zh, en = bilingual(label)
    return Variable(name, zh, en, kind)  # type: ignore[arg-type]


def _pseudonym_var(name: str, label) -> Variable:
    zh, en = bilingual(label)
    return Variable(name, zh, en, "string", width=deid.pseudonym_width())


def _period_var(level: str) -> Variable:
    zh, en = DATE_LEVEL_LABELS[level]
    return Variable("period", f"时期：{zh}", f"period: {en}", "integer")


def _code(value: Any) -> int:
    return NOT_APPLICABLE if value is None else int(value)


YES_NO = {1: ("是", "yes"), 0: ("否", "no")}


class Dataset:
    """One exportable dataset."""

    name = ""
    label = ("", "")
    QUASI: tuple[str, ...] = ()  # columns that may be chosen as quasi-identifiers
    has_people = True  # False: no person behind a row (k-anonymity does not apply)
    moment_name = ""  # the column of qi_select holding the row's moment ("": rows have none)
    raw_rows = False  # True: the transformer takes the driver's plain tuples too (see bundle.pages)

    def variables(self, ctx: Context) -> list[Variable]:
        raise NotImplementedError

    def select(self, ctx: Context, ids: tuple[int, int] | None = None) -> Select:
        """The rows, in key order; `ids` (after, last): one page's key range, for a join that must be bounded by it
        too (PostgreSQL does not carry the range across a join)."""
        raise NotImplementedError

    def moment(self, row: Any) -> datetime | None:
        return getattr(row, self.moment_name) if self.moment_name else None

    def key(self):
        """The id column the rows are ordered and paged by (every select starts with it)."""
        raise NotImplementedError

    def quasi_values(self, ctx: Context, row: Any) -> tuple:
        """The chosen quasi-identifier columns' codes of a raw row (without the date)."""
        return tuple(_code(getattr(row, name)) for name in ctx.quasi)

    def qi_keys(self, ctx: Context, row: Any, levels: tuple[str, ...]) -> list[tuple]:
        """A raw row's quasi-identifier combination at each date level (the columns read once)."""
        moment, quasi = self.moment(row), self.quasi_values(ctx, row)
        return [(deid.coarsen(moment, level, ctx.zone), *quasi) for level in levels]

    def transformer(self, ctx: Context, level: str, suppressed: set[tuple]) -> Callable[[Any], tuple]:
        raise NotImplementedError

    def text_select(self, ctx: Context) -> Select | None:
        """Free-text answers (response id, question, text) of the exported rows, if the dataset has any."""
        return None


def _within(column, ids: tuple[int, int] | None) -> list:
    """Conditions keeping column in the page's range (after, last]; none without a range."""
    return [] if ids is None else [column > ids[0], column <= ids[1]]


def _quasi_variables(ctx: Context, builders: dict[str, Callable[[], Variable]]) -> list[Variable]:
    return [builders[name]() for name in ctx.quasi]


# ---- survey responses --------------------------------------------------------------------------------


@dataclass
class _Question:
    name: str
    type: str
    label: tuple[str, str]
    choices: dict[int, tuple[str, str]]
    show_if: tuple[str, frozenset[int]] | None
    versions: set[int]  # version ids that ask it


CHANNELS = {1: ("公开", "public"), 2: ("邀请", "invitation"), 3: ("回访", "callback")}
CHANNEL_CODES = {"public": 1, "invitation": 2, "callback": 3}
LANGUAGES = {1: ("中文", "Chinese"), 2: ("英文", "English")}
LANGUAGE_CODES = {"zh": 1, "en": 2}


def _dummy_name(question: str, code: int, taken: set[str]) -> str:
    """A multiple-choice question's variable for one code: name_code (m for minus), at most 32 characters."""
    suffix = f"_{'m' if code < 0 else ''}{abs(code)}"
    name = question[: 32 - len(suffix)] + suffix
    n = 1
    while name.lower() in taken:
        n += 1
        extra = f"{suffix}_{n}"
        name = question[: 32 - len(extra)] + extra
    taken.add(name.lower())
    return name


class SurveyResponses(Dataset):
    """Completed responses of one survey: one row each, a column per question (per code for multiple)."""

    name = "survey-responses"
    QUASI = ("district", "category", "department", "language")
    moment_name = "completed_at"
    raw_rows = True

    def questions(self, ctx: Context) -> list[_Question]:
        """Every question of the survey's versions, in the newest version's order, then older ones'."""
        from participation.extensions import db
        from participation.surveys.models import SurveyVersion

        versions = db.session.scalars(
            select(SurveyVersion).where(SurveyVersion.survey_id == ctx.survey.id).order_by(SurveyVersion.number.desc())
        ).all()
        found: dict[str, _Question] = {}
        for version in versions:
            for q in version.definition.get("questions", []):
                if q["name"] in found:
                    found[q["name"]].versions.add(version.id)
                    continue
                choices = {c["code"]: (c["label"]["zh"], c["label"]["en"]) for c in q.get("choices") or []}
                show = q.get("show_if")
                found[q["name"]] = _Question(
                    q["name"],
                    q["type"],
                    (q["label"]["zh"], q["label"]["en"]),
                    choices,
                    (show["question"], frozenset(show["in"])) if show else None,
                    {version.id},
                )
        return list(found.values())

    def _version_numbers(self, ctx: Context) -> dict[int, int]:
        from participation.extensions import db
        from participation.surveys.models import SurveyVersion

        rows = db.session.execute(
            select(SurveyVersion.id, SurveyVersion.number).where(SurveyVersion.survey_id == ctx.survey.id)
        )
        return {i: n for i, n in rows}

    def _columns(self, ctx: Context) -> list[tuple[_Question, int | None, str]]:
        """(question, code for a multiple-choice dummy or None, variable name) of every answer column."""
        taken = {"resp", "ticket", "version", "channel", "period", *self.QUASI}
        columns = []
        for q in self.questions(ctx):
            if q.type == "text":
                continue
            if q.type == "multiple":
                for code in q.choices:
                    columns.append((q, code, _dummy_name(q.name, code, taken)))
            else:
                taken.add(q.name.lower())
                columns.append((q, None, q.name))
        return columns

    def variables(self, ctx: Context) -> list[Variable]:
        catalog = ctx.catalog
        out = [
            _pseudonym_var("resp", _l("Response (pseudonym)")),
            _pseudonym_var("ticket", _l("Ticket (pseudonym; blank when none)")),
            _number("version", _l("Survey version answered"), "integer"),
            _code_var("channel", _l("How the survey reached the respondent"), CHANNELS),
            _period_var(ctx.date_level),
        ]
        builders = {
            "district": lambda: _code_var("district", _l("District"), catalog["district"]),
            "category": lambda: _code_var("category", _l("Category of the ticket"), catalog["category"]),
            "department": lambda: _code_var("department", _l("Department asked about"), catalog["department"]),
            "language": lambda: _code_var("language", _l("Language of the response"), LANGUAGES),
        }
        out += _quasi_variables(ctx, builders)
        for q, code, name in self._columns(ctx):
            if code is None:
                kind = "code" if q.choices or q.type == "single" else "integer"
                out.append(Variable(name, q.label[0], q.label[1], kind, dict(q.choices)))
            else:
                zh, en = q.choices[code]
                out.append(
                    Variable(name, f"{q.label[0]}：{zh}", f"{q.label[1]}: {en}", "code", {1: YES_NO[1], 0: YES_NO[0]})
                )
        return out

    def select(self, ctx: Context, ids: tuple[int, int] | None = None) -> Select:
        from participation.surveys.models import Answer, Response, ResponseStatus

        answer_columns = []
        for q, code, name in self._columns(ctx):
            if code is None:
                answer_columns.append(func.max(case((Answer.question == q.name, Answer.value_int))).label(f"a_{name}"))
            else:
                answer_columns.append(
                    func.max(case((and_(Answer.question == q.name, Answer.value_int == code), 1), else_=0)).label(
                        f"a_{name}"
                    )
                )
        # whether a multiple-choice question was answered at all (any code chosen)
        multiple = sorted({q.name for q, code, _n in self._columns(ctx) if code is not None})
        answered = [func.max(case((Answer.question == m, 1), else_=0)).label(f"n_{m}") for m in multiple]
        stmt = (
            select(
                Response.id,
                Response.ticket_id,
                Response.version_id,
                Response.channel,
                Response.language,
                Response.completed_at,
                Response.district_id.label("district"),
                Response.category_id.label("category"),
                Response.department_id.label("department"),
                *answer_columns,
                *answered,
            )
            .outerjoin(Answer, and_(Answer.response_id == Response.id, *_within(Answer.response_id, ids)))
            .where(Response.survey_id == ctx.survey.id, Response.status == ResponseStatus.COMPLETE)
            .group_by(Response.id)
            .order_by(Response.id)
        )
        return self._filtered(stmt, ctx)

    def _filtered(self, stmt: Select, ctx: Context) -> Select:
        from participation.surveys.models import Response

        if ctx.date_from is not None:
            stmt = stmt.where(Response.completed_at >= ctx.date_from)
        if ctx.date_to is not None:
            stmt = stmt.where(Response.completed_at < ctx.date_to)
        for column, value in (
            (Response.district_id, ctx.district_id),
            (Response.category_id, ctx.category_id),
            (Response.department_id, ctx.department_id),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        return stmt

    def count_select(self, ctx: Context) -> Select:
        from participation.surveys.models import Response, ResponseStatus

        stmt = select(func.count(Response.id)).where(
            Response.survey_id == ctx.survey.id, Response.status == ResponseStatus.COMPLETE
        )
        return self._filtered(stmt, ctx)

    def qi_select(self, ctx: Context) -> Select:
        """Only what the k-anonymity pass needs: the moment and the quasi-identifiers."""
        from participation.surveys.models import Response, ResponseStatus

        stmt = select(
            Response.id,
            Response.completed_at,
            Response.district_id.label("district"),
            Response.category_id.label("category"),
            Response.department_id.label("department"),
            Response.language,
        ).where(Response.survey_id == ctx.survey.id, Response.status == ResponseStatus.COMPLETE)
        return self._filtered(stmt, ctx).order_by(Response.id)

    def key(self):
        from participation.surveys.models import Response

        return Response.id

    def quasi_values(self, ctx: Context, row: Any) -> tuple:
        return tuple(
            LANGUAGE_CODES.get(row.language, NOT_APPLICABLE) if name == "language" else _code(getattr(row, name))
            for name in ctx.quasi
        )

    def transformer(self, ctx: Context, level: str, suppressed: set[tuple]) -> Callable[[Any], tuple]:
        key, zone = ctx.key, ctx.zone
        numbers = self._version_numbers(ctx)
        columns = self._columns(ctx)
        at = {name: i for i, name in enumerate(self.select(ctx).selected_columns.keys())}  # rows read by position
        by_name = {q.name: q for q, _c, _n in columns}
        blank = " " * deid.pseudonym_width()
        hidden_all = (SUPPRESSED,) * (len(ctx.quasi) + 1)
        coarsen = deid.quarter_hour_coarsener(level, zone)
        resp_pseudonym, ticket_pseudonym = deid.pseudonymiser(key, "resp"), deid.pseudonymiser(key, "ticket")
        i_id, i_ticket, i_version, i_channel, i_moment = (
            at[name] for name in ("id", "ticket_id", "version_id", "channel", "completed_at")
        )
        quasi = [(at[name], name == "language") for name in ctx.quasi]

        def condition(q: _Question) -> tuple | bool:
            """When q is shown: always, never, ("any", dummy positions) or ("in", position, codes)."""
            if q.show_if is None:
                return True
            controlling, codes = q.show_if
            source = by_name.get(controlling)
            if source is None:
                return False
            if source.type == "multiple":
                return ("any", [at[f"a_{n}"] for s, c, n in columns if s is source and c in codes])
            return ("in", at[f"a_{source.name}"], codes)

        conditions = {name: condition(q) for name, q in by_name.items()}

        from participation.surveys.models import Distribution

        def compiled(version: int) -> Callable[[Any], tuple]:
            """One version's row transformation as straight-line code (no loop, no branch per column):
            the transformation of a million rows spends its time here. Only positions, codes and names
            defined above go into the source."""
            names: dict[str, Any] = {
                "coarsen": coarsen,
                "suppressed": suppressed,
                "hidden_all": hidden_all,
                "resp_pseudonym": resp_pseudonym,
                "ticket_pseudonym": ticket_pseudonym,
                "blank": blank,
                # the channel as SQLAlchemy gives it, and as the driver gives it (the name it is stored by)
                "channels": {
                    **CHANNEL_CODES,
                    **{d.name: CHANNEL_CODES.get(d.value, NOT_APPLICABLE) for d in Distribution},
                },
                "languages": LANGUAGE_CODES,
            }
            na, refused = NOT_APPLICABLE, REFUSED
            qi = [f"coarsen(row[{i_moment}])"]
            for i, language in quasi:
                qi.append(
                    f"languages.get(row[{i}], {na})" if language else f"({na} if row[{i}] is None else int(row[{i}]))"
                )
            cells = []
            for q, code, name in columns:
                if version not in q.versions:
                    cells.append(str(NOT_ASKED))
                    continue
                shown = conditions[q.name]
                if shown is False:
                    cells.append(str(na))
                    continue
                i = at[f"a_{name}"]
                if code is None:
                    value = f"({refused} if row[{i}] is None else row[{i}])"
                else:
                    value = f"(row[{i}] if row[{at[f'n_{q.name}']}] else {refused})"
                if shown is not True:
                    if shown[0] == "any":
                        test = " or ".join(f"row[{j}] == 1" for j in shown[1]) or "False"
                    else:
                        codes = f"codes_{len(cells)}"
                        names[codes] = frozenset(shown[2])
                        test = f"row[{shown[1]}] in {codes}"
                    value = f"({value} if ({test}) else {na})"
                cells.append(value)
            source = "\n".join(
                [
                    "def transform(row):",
                    f"    qi = ({', '.join(qi)},)",
                    "    if qi in suppressed:",
                    "        qi = hidden_all",
                    f"    ticket = row[{i_ticket}]",
                    "    return (",
                    f"        resp_pseudonym(row[{i_id}]),",
                    "        ticket_pseudonym(ticket) if ticket is not None else blank,",
                    f"        {numbers.get(version, na)},",
                    f"        channels.get(str(row[{i_channel}]), {na}),",
                    "        *qi,",
                    *[f"        {cell}," for cell in cells],
                    "    )",
                ]
            )
            exec(compile(source, f"<survey-responses version {version}>", "exec"), names)  # noqa: S102 - generated above
            return names["transform"]

        by_version: dict[int, Callable[[Any], tuple]] = {}

        def transform(row: Any) -> tuple:
            version = row[i_version]
            one = by_version.get(version)
            if one is None:
                one = by_version[version] = compiled(version)
            return one(row)

        return transform

    def text_select(self, ctx: Context) -> Select | None:
        """Free-text answers with the name the linked ticket's sender gave (scrubbed from the text too)."""
        from participation.intake.models import Submission
        from participation.routing.models import Ticket
        from participation.surveys.models import Answer, Response, ResponseStatus

        text_questions = [q.name for q in self.questions(ctx) if q.type == "text"]
        if not text_questions:
            return None
        stmt = (
            select(
                Answer.id,
                Response.id.label("response_id"),
                Answer.question,
                Answer.value_text,
                Submission.contact_name,
            )
            .join(Answer, Answer.response_id == Response.id)
            .outerjoin(Ticket, Ticket.id == Response.ticket_id)
            .outerjoin(Submission, Submission.id == Ticket.submission_id)
            .where(
                Response.survey_id == ctx.survey.id,
                Response.status == ResponseStatus.COMPLETE,
                Answer.question.in_(text_questions),
                Answer.value_text.is_not(None),
                Answer.value_text != "",
            )
            .order_by(Answer.id)
        )
        return self._filtered(stmt, ctx)


# ---- callback results ----------------------------------------------------------------------------------

SATISFACTION = {1: ("满意", "satisfied"), 2: ("基本满意", "basically satisfied"), 3: ("不满意", "dissatisfied")}
OUTCOMES = {1: ("办结", "closed"), 2: ("重新办理", "reopened"), 3: ("升级督办", "escalated")}
OUTCOME_CODES = {"closed": 1, "reopened": 2, "escalated": 3}
SUBMITTERS = {1: ("市民", "citizen"), 2: ("企业", "enterprise")}
KIND_CODES = {"proposal": 1, "complaint": 2, "inquiry": 3, "praise": 4}  # codes stay fixed as kinds are added
RATINGS = {i: (str(i), str(i)) for i in range(1, 6)}


class Callbacks(Dataset):
    """Callback results (one row per answer to a resolution), with the ticket's timings and routing."""

    name = "callbacks"
    QUASI = ("district", "category", "lead_department", "submitter")
    moment_name = "at"

    def variables(self, ctx: Context) -> list[Variable]:
        catalog = ctx.catalog
        builders = {
            "district": lambda: _code_var("district", _l("District"), catalog["district"]),
            "category": lambda: _code_var("category", _l("Primary category"), catalog["category"]),
            "lead_department": lambda: _code_var(
                "lead_department", _l("Lead department asked about"), catalog["department"]
            ),
            "submitter": lambda: _code_var("submitter", _l("Submitted by"), SUBMITTERS),
        }
        return [
            _pseudonym_var("ticket", _l("Ticket (pseudonym)")),
            _period_var(ctx.date_level),
            *_quasi_variables(ctx, builders),
            _code_var("kind", _l("Kind of submission"), {c: bilingual(labels.KIND[k]) for k, c in KIND_CODES.items()}),
            _number("round", _l("Callback round (1 after the first resolution)"), "integer"),
            _code_var("follower", _l("Answered by the sender of a merged duplicate"), YES_NO),
            _code_var("solved", _l("Problem solved"), YES_NO),
            _code_var("satisfaction", _l("Satisfaction"), SATISFACTION),
            _code_var("rating", _l("Rating (1-5)"), RATINGS),
            _code_var("outcome", _l("What the answer did to the ticket"), OUTCOMES),
            _number("co_departments", _l("Number of co-handling departments"), "integer"),
            _number("reopens", _l("Times the ticket was reopened"), "integer"),
            _number("hours_to_dispatch", _l("Hours from submission to dispatch")),
            _number("hours_to_resolution", _l("Hours from submission to resolution")),
            _code_var("late", _l("Resolved after its deadline"), YES_NO),
        ]

    def _base(self, ctx: Context, *columns) -> Select:
        from participation.intake.models import Submission
        from participation.routing.models import Ticket
        from participation.surveys.models import CallbackResult

        stmt = (
            select(*columns)
            .select_from(CallbackResult)
            .join(Ticket, Ticket.id == CallbackResult.ticket_id)
            .join(Submission, Submission.id == Ticket.submission_id)
        )
        if ctx.date_from is not None:
            stmt = stmt.where(CallbackResult.at >= ctx.date_from)
        if ctx.date_to is not None:
            stmt = stmt.where(CallbackResult.at < ctx.date_to)
        if ctx.district_id is not None:
            stmt = stmt.where(Ticket.district_id == ctx.district_id)
        if ctx.category_id is not None:
            stmt = stmt.where(self._primary_category() == ctx.category_id)
        if ctx.department_id is not None:
            stmt = stmt.where(CallbackResult.lead_department_id == ctx.department_id)
        return stmt

    @staticmethod
    def _primary_category():
        from participation.intake.models import Submission
        from participation.routing.models import Ticket, TicketCategory

        primary = (
            select(TicketCategory.category_id)
            .where(TicketCategory.ticket_id == Ticket.id, TicketCategory.primary.is_(True))
            .limit(1)
            .scalar_subquery()
        )
        return func.coalesce(primary, Submission.category_id)

    def _quasi_columns(self):
        from participation.intake.models import Submission
        from participation.routing.models import Ticket
        from participation.surveys.models import CallbackResult

        return (
            CallbackResult.at,
            Ticket.district_id.label("district"),
            self._primary_category().label("category"),
            CallbackResult.lead_department_id.label("lead_department"),
            case((Submission.organisation_id.is_not(None), 2), else_=1).label("submitter"),
        )

    def select(self, ctx: Context, ids: tuple[int, int] | None = None) -> Select:
        from participation.deadlines.models import ClockKind, ClockState, SlaClock
        from participation.intake.models import Submission
        from participation.routing.models import PartRole, Ticket, TicketPart
        from participation.surveys.models import CallbackResult

        co = (
            select(func.count(TicketPart.id))
            .where(TicketPart.ticket_id == Ticket.id, TicketPart.role == PartRole.CO)
            .scalar_subquery()
        )
        clock = and_(SlaClock.ticket_id == Ticket.id, SlaClock.kind == ClockKind.RESOLVE, SlaClock.part_id.is_(None))
        late = case(
            (exists().where(clock, SlaClock.state == ClockState.MISSED), 1),
            (exists().where(clock, or_(SlaClock.state == ClockState.MET)), 0),
            else_=literal(None),
        )
        stmt = self._base(
            ctx,
            CallbackResult.id,
            CallbackResult.ticket_id,
            *self._quasi_columns(),
            Submission.kind,
            CallbackResult.round,
            CallbackResult.follower,
            CallbackResult.solved,
            CallbackResult.satisfaction,
            CallbackResult.rating,
            CallbackResult.outcome,
            co.label("co_departments"),
            Ticket.reopen_count,
            Submission.created_at,
            Ticket.dispatched_at,
            Ticket.resolved_at,
            late.label("late"),
        )
        return stmt.order_by(CallbackResult.id)

    def count_select(self, ctx: Context) -> Select:
        from participation.surveys.models import CallbackResult

        return self._base(ctx, func.count(CallbackResult.id))

    def qi_select(self, ctx: Context) -> Select:
        from participation.surveys.models import CallbackResult

        return self._base(ctx, CallbackResult.id, *self._quasi_columns()).order_by(CallbackResult.id)

    def key(self):
        from participation.surveys.models import CallbackResult

        return CallbackResult.id

    def transformer(self, ctx: Context, level: str, suppressed: set[tuple]) -> Callable[[Any], tuple]:
        hidden_all = (SUPPRESSED,) * (len(ctx.quasi) + 1)
        coarsen = deid.quarter_hour_coarsener(level, ctx.zone)
        ticket_pseudonym = deid.pseudonymiser(ctx.key, "ticket")

        def hours(start: datetime | None, end: datetime | None) -> float:
            if start is None or end is None:
                return NOT_APPLICABLE
            return round((end - start).total_seconds() / 3600, 1)

        def transform(raw: Any) -> tuple:
            qi = (coarsen(raw.at), *self.quasi_values(ctx, raw))
            if qi in suppressed:
                qi = hidden_all
            return (
                ticket_pseudonym(raw.ticket_id),
                *qi,
                KIND_CODES.get(str(raw.kind), NOT_APPLICABLE),
                raw.round,
                int(bool(raw.follower)),
                int(bool(raw.solved)),
                _code(raw.satisfaction),
                NOT_ASKED if raw.rating is None else raw.rating,
                OUTCOME_CODES.get(raw.outcome, NOT_APPLICABLE),
                raw.co_departments or 0,
                raw.reopen_count or 0,
                hours(raw.created_at, raw.dispatched_at),
                hours(raw.created_at, raw.resolved_at),
                _code(raw.late),
            )

        return transform


# ---- monthly scorecards --------------------------------------------------------------------------------

ROLE_CODES = {"lead": 1, "co": 2}


class Scorecards(Dataset):
    """Monthly department scorecards: score, penalty points, and every component's rate and tallies."""

    name = "scorecards"
    QUASI = ()
    has_people = False

    def variables(self, ctx: Context) -> list[Variable]:
        from participation.scoring.compute import COMPONENTS, DEFAULT_PENALTIES

        out = [
            Variable("period", "月份（YYYYMM）", "month (YYYYMM)", "integer"),
            _code_var("department", _l("Department"), ctx.catalog["department"]),
            _code_var("role", _l("Role"), {c: bilingual(labels.PART_ROLE[r]) for r, c in ROLE_CODES.items()}),
            _number("score", _l("Score (0-100)")),
            _number("penalty_points", _l("Penalty points (capped)")),
            _number("items", _l("Things measured"), "integer"),
            _number("weights_version", _l("Weights version"), "integer"),
            _code_var("frozen", _l("Month frozen"), YES_NO),
        ]
        for c in COMPONENTS:
            zh, en = bilingual(_l("Component"))
            out += [
                Variable(f"{c}_rate", f"{zh} {c}：收缩后比率", f"{en} {c}: shrunk rate", "number"),
                Variable(f"{c}_num", f"{zh} {c}：分子", f"{en} {c}: numerator", "number"),
                Variable(f"{c}_den", f"{zh} {c}：分母", f"{en} {c}: denominator", "number"),
            ]
        for term in DEFAULT_PENALTIES:
            zh, en = bilingual(_l("Penalty incidents"))
            out.append(Variable(f"pen_{term}", f"{zh}：{term}", f"{en}: {term}", "integer"))
        return out

    def _base(self, ctx: Context, *columns) -> Select:
        from participation.scoring.models import Scorecard

        stmt = select(*columns).where(Scorecard.period != "R30")
        if ctx.date_from is not None:
            stmt = stmt.where(Scorecard.period >= _month(ctx.date_from, ctx.zone))
        if ctx.date_to is not None:
            stmt = stmt.where(Scorecard.period <= _month(ctx.date_to, ctx.zone, end=True))
        if ctx.department_id is not None:
            stmt = stmt.where(Scorecard.department_id == ctx.department_id)
        return stmt

    def select(self, ctx: Context, ids: tuple[int, int] | None = None) -> Select:
        from participation.scoring.models import Scorecard, WeightsVersion

        return (
            self._base(
                ctx,
                Scorecard.id,
                Scorecard.period,
                Scorecard.department_id,
                Scorecard.role,
                Scorecard.score,
                Scorecard.penalty_points,
                Scorecard.items,
                WeightsVersion.number.label("weights_number"),
                Scorecard.frozen,
                Scorecard.components,
                Scorecard.penalties,
            )
            .join(WeightsVersion, WeightsVersion.id == Scorecard.weights_version_id)
            .order_by(Scorecard.id)
        )

    def key(self):
        from participation.scoring.models import Scorecard

        return Scorecard.id

    def count_select(self, ctx: Context) -> Select:
        from participation.scoring.models import Scorecard

        return self._base(ctx, func.count(Scorecard.id))

    def qi_select(self, ctx: Context) -> Select:
        raise NotImplementedError("scorecards have no person behind them")

    def transformer(self, ctx: Context, level: str, suppressed: set[tuple]) -> Callable[[Any], tuple]:
        from participation.scoring.compute import COMPONENTS, DEFAULT_PENALTIES

        def transform(raw: Any) -> tuple:
            year, month = raw.period.split("-")
            out: list = [
                int(year) * 100 + int(month),
                raw.department_id,
                ROLE_CODES.get(raw.role, NOT_APPLICABLE),
                round(raw.score, 2),
                round(raw.penalty_points, 2),
                raw.items,
                raw.weights_number,
                int(bool(raw.frozen)),
            ]
            for c in COMPONENTS:
                comp = (raw.components or {}).get(c) or {}
                rate = comp.get("shrunk")
                out += [
                    NOT_APPLICABLE if rate is None else round(rate, 4),
                    comp.get("num", NOT_APPLICABLE),
                    comp.get("den", NOT_APPLICABLE),
                ]
            for term in DEFAULT_PENALTIES:
                out.append(int(((raw.penalties or {}).get(term) or {}).get("count", 0)))
            return tuple(out)

        return transform


def _month(moment: datetime, zone: ZoneInfo, end: bool = False) -> str:
    from datetime import timedelta

    local = moment.astimezone(zone)
    if end:  # date_to is exclusive: the month of the instant before it
        local = (moment - timedelta(microseconds=1)).astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}"


DATASETS: dict[str, Dataset] = {d.name: d for d in (SurveyResponses(), Callbacks(), Scorecards())}
