"""Synthetic city work for the demo, the tests and the benchmarks (`flask demo generate`).

Months of submissions arrive with weekday and hour profiles, bursts and a skewed category mix,
and each becomes a ticket that the real services carry through its life: dispatch, signing for,
disputes and rulings, contact, pauses, contributions, resolution, callbacks and reopening. A few
departments, chosen from the seed, game the system in known ways; the manifest names them.

Simulated time: `core.models.simulated_time` makes `utcnow()` return the simulated instant, so
column defaults (TicketEvent.at, created_at, ...), the services' own timestamps and the deadline
recomputation (`deadlines.services.now`) all see it. Every ticket is a small process (a Python
generator that yields when it next acts); the processes of all tickets run in one time-ordered
queue, so the world is consistent at every simulated instant and the deadline sweep runs between
them as the beat would. The same seed gives the same events: every random choice comes from
`random.Random` streams derived from the seed, and ties in the queue break in insertion order.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select, update

from participation.accounts.models import Role, User
from participation.catalog.models import Category, Department, District
from participation.core.errors import Conflict, ValidationFailed
from participation.core.models import simulated_time
from participation.core.permissions import SYSTEM
from participation.core.uow import side_effects_discarded
from participation.extensions import db
from participation.notifications.models import OutboxMessage, OutboxStatus
from participation.routing.models import (
    DisputeStatus,
    PartRole,
    PartStatus,
    Ticket,
    TicketEvent,
    TicketPart,
    TicketStatus,
)

BEHAVIOURS = ("fast_close_reopen", "bouncing", "late_contribution", "pause_without_contact")
EMAIL_DOMAIN = "gen.demo.city"

# Arrivals: relative weight of each weekday (Monday first) and of each local hour.
WEEKDAY_WEIGHTS = (1.0, 1.0, 0.97, 0.95, 0.9, 0.5, 0.4)
HOUR_WEIGHTS = (
    0.15, 0.08, 0.05, 0.04, 0.05, 0.12, 0.35, 0.8, 1.5, 2.1, 2.3, 2.0,
    1.3, 1.4, 1.9, 1.9, 1.7, 1.4, 1.1, 1.0, 0.9, 0.7, 0.45, 0.25,
)  # fmt: skip
BURST_SHARE = 0.08  # of all tickets, arriving in category bursts of a few days
ZIPF_EXPONENT = 1.1  # the category mix: a few common categories, a long tail

# Behaviour of clean departments and of the planted ones (probabilities per ticket or part).
AUTO_DISPATCH = 0.8  # the router is sure; the rest wait in triage for the coordinator
REJECT = 0.01
WITHDRAW = 0.025
CLEAN_DISPUTE, PLANTED_DISPUTE = 0.04, 0.6
CLEAN_OVERRULE, PLANTED_OVERRULE = 0.3, 0.85
CLEAN_PAUSE, PLANTED_PAUSE = 0.05, 0.65
CLEAN_LATE_CONTRIBUTION, PLANTED_LATE_CONTRIBUTION = 0.08, 0.8
PLANTED_FAST_CLOSE = 0.75
CONTACT = 0.75
PROGRESS_REPLY = 0.35
INVITE = 0.03
CALLBACK_ANSWERED = 0.85
RATE_CONTRIBUTION = 0.6
MAX_POLLS = 40  # the lead checks this many times for unfinished co parts, then the coordinator waives them

REPLIES = (
    "已派人现场核查并处理完毕，感谢您的反映。",
    "经核实，问题已整改到位，如有反复请再次反映。",
    "We inspected the site and fixed the problem. Thank you for reporting it.",
    "相关单位已按要求完成整改，后续将加强日常巡查。",
)
FAST_REPLIES = ("已处理。", "已转相关单位处理完毕。", "Handled.")


@dataclass
class Options:
    tickets: int
    seed: int
    months: int = 6
    until: date | None = None  # the period ends at the start of this day (city time); default today
    planted: int = 1  # departments per gaming behaviour
    batch: int = 200  # process steps per transaction
    sweep_minutes: int = 60  # how often the deadline sweep runs in simulated time


@dataclass(order=True)
class Arrival:
    at: datetime
    index: int
    category: Category = field(compare=False)
    district: District = field(compare=False)
    seed: int = field(compare=False)
    burst: bool = field(compare=False, default=False)


def period_of(until: date, months: int, timezone: str) -> tuple[datetime, datetime]:
    """From the first day of the month `months` before `until`'s month, up to the start of `until` (UTC)."""
    zone = ZoneInfo(timezone)
    month_index = until.year * 12 + until.month - 1 - months
    first = date(month_index // 12, month_index % 12 + 1, 1)
    start = datetime(first.year, first.month, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=zone).astimezone(UTC)
    return start, end


def generate(options: Options, echo: Callable[[str], None] = lambda _m: None) -> dict:
    """Create the data and return the manifest (the planted behaviours, the period and the counts)."""
    if options.tickets < 1 or options.months < 1 or options.planted < 1:
        raise ValidationFailed(fields={"tickets": ["Give at least one ticket, month and planted department."]})
    run = _Run(options, echo)
    return run.execute()


def event_digest() -> str:
    """A digest of every ticket's events (tracking code, type, time, department) and callback results."""
    from participation.intake.models import Submission
    from participation.surveys.models import CallbackResult

    digest = hashlib.sha256()
    codes = dict(db.session.execute(select(Ticket.id, Submission.tracking_code).join(Ticket.submission)).all())
    departments = dict(db.session.execute(select(Department.id, Department.code)).all())
    rows = db.session.execute(
        select(TicketEvent.ticket_id, TicketEvent.type, TicketEvent.at, TicketEvent.department_id).order_by(
            TicketEvent.ticket_id, TicketEvent.id
        )
    )
    for ticket_id, type_, at, department_id in rows:
        digest.update(f"{codes[ticket_id]}|{type_}|{at.isoformat()}|{departments.get(department_id)}\n".encode())
    results = db.session.execute(
        select(
            CallbackResult.ticket_id,
            CallbackResult.round,
            CallbackResult.solved,
            CallbackResult.satisfaction,
            CallbackResult.outcome,
            CallbackResult.at,
        ).order_by(CallbackResult.ticket_id, CallbackResult.id)
    )
    for ticket_id, round_, solved, satisfaction, outcome, at in results:
        digest.update(f"cb|{codes[ticket_id]}|{round_}|{solved}|{satisfaction}|{outcome}|{at.isoformat()}\n".encode())
    return digest.hexdigest()


Process = Generator[datetime, None, Any]


class _Run:
    """One generation: the catalog, the accounts, the arrivals and the time-ordered queue of processes."""

    def __init__(self, options: Options, echo: Callable[[str], None]) -> None:
        self.options = options
        self.echo = echo
        self.rng = Random(options.seed)
        config = current_app.config
        self.timezone = config["CITY_TIMEZONE"]
        until = options.until or datetime.now(ZoneInfo(self.timezone)).date()
        self.start, self.end = period_of(until, options.months, self.timezone)
        self.counts: Counter[str] = Counter()
        self.queue: list[tuple[datetime, int, Process]] = []
        self.sequence = itertools.count()
        self.now = self.start
        self.steps = 0
        self.calendar = None
        self.pending = 0
        self.target_cache: dict[tuple[int | None, str], dict[str, int]] = {}

    # -- set-up -------------------------------------------------------------------------------

    def _load_catalog(self) -> None:
        self.categories = list(db.session.scalars(select(Category).where(Category.active).order_by(Category.code)))
        self.departments = {
            d.code: d for d in db.session.scalars(select(Department).where(Department.active).order_by(Department.code))
        }
        districts = list(db.session.scalars(select(District).order_by(District.code)))
        self.districts = [d for d in districts if not d.children] or districts
        if not self.categories or not self.departments or not self.districts:
            raise Conflict(
                "The catalog is empty: run `flask --app participation demo load` first (or import a catalog)."
            )
        if db.session.scalar(select(func.count()).select_from(Ticket)):
            raise Conflict(
                "The database already has tickets: generate into an empty database "
                "(the same seed gives the same data only from empty)."
            )

    def _accounts(self) -> None:
        """One staff member per department, a coordinator and a pool of citizens (same addresses every run)."""
        from werkzeug.security import generate_password_hash

        from participation.cli import DEMO_PASSWORD

        password_hash = generate_password_hash(DEMO_PASSWORD)  # hashed once: every generated account shares it
        existing = {u.email: u for u in db.session.scalars(select(User).where(User.email.like(f"%@{EMAIL_DOMAIN}")))}

        def account(local: str, name: str, role: Role, departments: set[int] = frozenset()) -> User:
            email = f"{local}@{EMAIL_DOMAIN}"
            user = existing.get(email)
            if user is None:
                user = User(email=email, display_name=name, preferred_locale="zh", password_hash=password_hash)
                db.session.add(user)
            user.set_roles({role})
            user.set_departments(set(departments))
            return user

        self.coordinator = account("coordinator", "协调中心（生成）Coordinator", Role.COORDINATOR)
        self.staff = {
            d.id: account(f"staff.{code.lower()}", f"{d.name_zh} 工作人员", Role.DEPARTMENT_STAFF, {d.id})
            for code, d in self.departments.items()
        }
        pool = min(2000, max(20, self.options.tickets // 4))
        self.citizens = [account(f"citizen.{n:04d}", f"市民 {n:04d}", Role.CITIZEN) for n in range(pool)]
        db.session.flush()

    # -- the plan -------------------------------------------------------------------------------

    def _category_weights(self) -> list[float]:
        order = list(range(len(self.categories)))
        self.rng.shuffle(order)
        weights = [0.0] * len(self.categories)
        for rank, index in enumerate(order, 1):
            weights[index] = 1.0 / rank**ZIPF_EXPONENT
        return weights

    def _choose_planted(self, weights: list[float]) -> dict[str, list[str]]:
        """Departments with enough work in the role each behaviour needs, chosen from the seed."""
        lead: Counter[str] = Counter()
        co: Counter[str] = Counter()
        for category, weight in zip(self.categories, weights, strict=True):
            lead[category.lead.code] += weight
            for department in category.co:
                co[department.code] += weight * 0.4
        offices = {d.office.code for d in self.districts if d.office is not None}
        both = lead + co
        chosen: set[str] = set()
        planted: dict[str, list[str]] = {}
        k = self.options.planted
        for behaviour, volume in (
            ("fast_close_reopen", lead),
            ("pause_without_contact", lead),
            ("late_contribution", co),
            ("bouncing", both),
        ):
            ranked = sorted(
                (c for c in volume if c not in chosen and c not in offices and c in self.departments),
                key=lambda c: (-volume[c], c),
            )
            pool = ranked[: k + 2]  # busy enough for the behaviour to show in a small run
            picked = sorted(self.rng.sample(pool, min(k, len(pool))))
            chosen.update(picked)
            planted[behaviour] = picked
        return planted

    def _arrivals(self, weights: list[float]) -> list[Arrival]:
        rng = self.rng
        zone = ZoneInfo(self.timezone)
        first = self.start.astimezone(zone).date()
        days = [first + timedelta(days=n) for n in range((self.end - self.start).days + 1)]
        days = [d for d in days if datetime(d.year, d.month, d.day, tzinfo=zone) < self.end]
        day_weights = [WEEKDAY_WEIGHTS[d.weekday()] * rng.lognormvariate(0, 0.15) for d in days]
        district_weights = [rng.uniform(0.3, 1.7) for _d in self.districts]
        total = self.options.tickets
        burst_total = int(total * BURST_SHARE) if total >= 20 else 0
        self.bursts: list[dict] = []
        plan: list[tuple[date, Category, District, bool]] = []
        n_bursts = max(1, round(self.options.months * 0.7)) if burst_total else 0
        tail = sorted(range(len(self.categories)), key=lambda i: -weights[i])[3:] or list(range(len(self.categories)))
        for b in range(n_bursts):
            size = burst_total // n_bursts + (1 if b < burst_total % n_bursts else 0)
            category = self.categories[rng.choice(tail)]
            district = rng.choices(self.districts, weights=district_weights)[0]
            length = rng.randint(2, 5)
            start = rng.randrange(max(1, len(days) - length))
            window = days[start : start + length]
            self.bursts.append(
                {"category": category.code, "district": district.code, "from": window[0].isoformat(), "days": length}
            )
            for _n in range(size):
                place = district if rng.random() < 0.7 else rng.choices(self.districts, weights=district_weights)[0]
                plan.append((rng.choice(window), category, place, True))
        for _n in range(total - len(plan)):
            day = rng.choices(days, weights=day_weights)[0]
            category = rng.choices(self.categories, weights=weights)[0]
            district = rng.choices(self.districts, weights=district_weights)[0]
            plan.append((day, category, district, False))
        arrivals = []
        for index, (day, category, district, burst) in enumerate(plan):
            hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
            local = datetime(day.year, day.month, day.day, hour, tzinfo=zone) + timedelta(seconds=rng.randrange(3600))
            at = min(max(local.astimezone(UTC), self.start), self.end - timedelta(seconds=1))
            arrivals.append(Arrival(at, index, category, district, rng.getrandbits(64), burst))
        arrivals.sort()
        return arrivals

    # -- running --------------------------------------------------------------------------------

    def execute(self) -> dict:
        began = time.perf_counter()
        config = current_app.config
        saved = config["ROUTING_RETRAIN_AFTER"]
        config["ROUTING_RETRAIN_AFTER"] = 10**9  # no retraining mid-run; `flask routing retrain` afterwards
        try:
            with side_effects_discarded():
                with simulated_time(self.start):
                    self._load_catalog()
                    weights = self._category_weights()
                    self.planted = self._choose_planted(weights)
                    self.planted_sets = {b: set(codes) for b, codes in self.planted.items()}
                    arrivals = self._arrivals(weights)
                    self._accounts()
                    outbox_before = db.session.scalar(select(func.max(OutboxMessage.id))) or 0
                    db.session.commit()
                for arrival in arrivals:
                    self._spawn(arrival.at, self._ticket(arrival))
                self._loop()
                self._settle_outbox(outbox_before)
        except BaseException:
            db.session.rollback()
            raise
        finally:
            config["ROUTING_RETRAIN_AFTER"] = saved
        seconds = time.perf_counter() - began
        self.counts["tickets"] = self.options.tickets
        self.counts["events"] = db.session.scalar(select(func.count()).select_from(TicketEvent)) or 0
        self.echo(
            f"Generated {self.options.tickets} tickets ({self.counts['events']} events) in {seconds:.1f} s: "
            f"{self.options.tickets / seconds:.1f} tickets/s."
        )
        return {
            "seed": self.options.seed,
            "tickets": self.options.tickets,
            "months": self.options.months,
            "period": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            "timezone": self.timezone,
            "planted": self.planted,
            "bursts": self.bursts,
            "counts": dict(sorted(self.counts.items())),
            "seconds": round(seconds, 2),
        }

    @staticmethod
    def _settle_outbox(after_id: int) -> None:
        """The simulated past's e-mails count as delivered when they were queued, so nobody is mailed now."""
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id > after_id, OutboxMessage.status == OutboxStatus.PENDING)
            .values(status=OutboxStatus.SENT, sent_at=OutboxMessage.created_at)
        )
        db.session.commit()

    def _spawn(self, at: datetime, process: Process) -> None:
        heapq.heappush(self.queue, (at, next(self.sequence), process))

    def _loop(self) -> None:
        """Run the processes in time order, several steps per transaction, the deadline sweep between them."""
        interval = timedelta(minutes=self.options.sweep_minutes)
        next_sweep = self.start + interval
        while self.queue:
            at, _seq, process = heapq.heappop(self.queue)
            if at >= self.end:
                process.close()  # beyond the period: what is still open stays open
                continue
            while next_sweep <= at:
                self._sweep(next_sweep)
                next_sweep += interval
            self.now = at
            with simulated_time(at):
                try:
                    wake = next(process)
                except StopIteration:
                    wake = None
            self.steps += 1
            self.pending += 1
            if self.pending >= self.options.batch:
                self._commit(at)
            if wake is not None:
                self._spawn(max(wake, at), process)
        while next_sweep <= self.end:
            self._sweep(next_sweep)
            next_sweep += interval
        self._commit(self.end)

    def _commit(self, at: datetime) -> None:
        """Commit at simulated time `at`: the clocks of the tickets changed since are recomputed as of then."""
        with simulated_time(at):
            db.session.commit()
        self.pending = 0

    def _sweep(self, at: datetime) -> None:
        """The beat's deadline sweep at `at`, on clocks brought up to date first."""
        from participation.deadlines.services import sweep

        if self.pending:
            self._commit(at)
        with simulated_time(at):
            fired = sweep(at)
        if fired or db.session.new or db.session.dirty:
            self.pending += 1
        self.counts["checkpoints"] += fired

    # -- time -------------------------------------------------------------------------------------

    def calendar_of(self, ticket: Ticket):
        """The ticket's calendar (urgent items run 24x7), read once per run."""
        from participation.deadlines.calendar import AroundTheClock
        from participation.deadlines.services import URGENT, current_calendar

        if self.calendar is None:
            self.calendar = current_calendar()
        if ticket.priority == URGENT:
            return AroundTheClock(version_id=self.calendar.version_id)
        return self.calendar

    def later(self, ticket: Ticket, minutes: float) -> datetime:
        """`minutes` of the ticket's business time from now (staff work in office hours; urgent items 24x7)."""
        return self.calendar_of(ticket).add(self.now, max(1.0, minutes))

    def after(self, minutes: float) -> datetime:
        return self.now + timedelta(minutes=max(1.0, minutes))

    def callback_time(self, rng: Random) -> datetime:
        """Callbacks are made by the hotline between 9:00 and 20:00 city time, half a day to three days later."""
        zone = ZoneInfo(self.timezone)
        at = (self.now + timedelta(hours=rng.uniform(12, 72))).astimezone(zone)
        if at.hour < 9:
            at = at.replace(hour=9) + timedelta(minutes=rng.randrange(120))
        elif at.hour >= 20:
            at = (at + timedelta(days=1)).replace(hour=9) + timedelta(minutes=rng.randrange(120))
        return at.astimezone(UTC)

    def targets(self, ticket: Ticket) -> dict[str, int]:
        """The ticket's SLA targets in business minutes (policies do not change during a run)."""
        from participation.deadlines.services import targets_for

        key = (ticket.primary_category.id if ticket.primary_category else None, ticket.priority)
        if key not in self.target_cache:
            self.target_cache[key] = targets_for(ticket)
        return self.target_cache[key]

    # -- helpers ----------------------------------------------------------------------------------

    def is_planted(self, behaviour: str, department: Department | None) -> bool:
        return department is not None and department.code in self.planted_sets[behaviour]

    @staticmethod
    def working(ticket: Ticket) -> bool:
        return ticket.status in (TicketStatus.DISPATCHED, TicketStatus.IN_PROGRESS, TicketStatus.REOPENED)

    def tracking_code(self, rng: Random) -> str:
        from participation.intake.services import CODE_ALPHABET

        return "HC-" + "".join(rng.choice(CODE_ALPHABET) for _i in range(10))

    def other_department(self, rng: Random, ticket: Ticket, category: Category) -> Department:
        """A plausible department to hand a part to: one of the category's, else any bureau not on the ticket."""
        taken = {p.department_id for p in ticket.parts if p.status != PartStatus.ENDED}
        related = [d for d in [category.lead, *category.co] if d.id not in taken and d.active]
        if related:
            return rng.choice(related)
        offices = {d.office_id for d in self.districts}
        free = [d for d in self.departments.values() if d.id not in taken and d.id not in offices]
        return rng.choice(free)

    # -- a ticket's life ------------------------------------------------------------------------

    def _ticket(self, arrival: Arrival) -> Iterator[datetime]:
        from participation.intake import services as intake
        from participation.routing import services as routing

        rng = Random(arrival.seed)
        category = arrival.category
        citizen = self.citizens[rng.randrange(len(self.citizens))]
        text = rng.choice(category.examples or [category.name_zh])
        anonymous = rng.random() < 0.04
        payload: dict[str, Any] = {
            "kind": rng.choices(("complaint", "inquiry", "proposal"), weights=(80, 15, 5))[0],
            "text": text,
            "district": arrival.district.code,
            "anonymous": anonymous,
        }
        if not category.enterprise_only and rng.random() < 0.5:
            payload["category"] = category.code
        submission, _created = intake.submit(citizen, payload)
        submission.tracking_code = self.tracking_code(rng)  # reproducible, unlike the random service codes
        lowered = text.lower()
        submission.language = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"
        submission.keywords = [k for k in category.keywords if k.lower() in lowered][:8]
        submission.analysed_at = self.now  # the analysis task then has nothing left to do
        ticket = submission.ticket
        self.counts["submitted"] += 1
        self.counts["burst_tickets"] += arrival.burst
        self.counts[f"priority.{ticket.priority}"] += 1
        withdraw_at = None
        if not anonymous and rng.random() < WITHDRAW:
            withdraw_at = self.now + timedelta(hours=rng.uniform(2, 96))

        yield self.after(rng.uniform(0.1, 1.5))  # the background analysis
        routing.change_status(ticket, TicketStatus.TRIAGE.value, None, public=True)
        if withdraw_at is not None:
            self._spawn(withdraw_at, self._withdraw(ticket, citizen))
        lead = category.lead
        candidates = list(category.co)
        office = arrival.district.office
        if category.district_co and office is not None and office.id != lead.id and rng.random() < 0.5:
            candidates.append(office)
        wanted = rng.choices((0, 1, 2), weights=(35, 45, 20))[0]
        co = rng.sample(candidates, min(wanted, len(candidates)))
        automatic = rng.random() < AUTO_DISPATCH
        confidence = round(rng.uniform(0.55, 0.97) if automatic else rng.uniform(0.08, 0.29), 4)
        decision = {
            "categories": [{"code": category.code, "confidence": confidence}],
            "lead": lead.code,
            "co": [d.code for d in co],
            "needs_triage": not automatic,
            "confidence": confidence,
            "suggestions": [],
        }
        ticket.routing_confidence = confidence
        routing.record(ticket, "routed", None, confidence=confidence, decision=decision)
        if automatic:
            routing._dispatch(ticket, [category.code], lead.code, [d.code for d in co], SYSTEM, automatic=True)
            self.counts["dispatched.automatic"] += 1
        else:
            yield self.later(ticket, rng.uniform(15, 240))  # waits in triage for the coordinator
            if ticket.status != TicketStatus.TRIAGE:
                return
            if rng.random() < REJECT / (1 - AUTO_DISPATCH):
                routing.reject(self.coordinator, ticket.id, "内容无法核实，不予受理。")
                self.counts["rejected"] += 1
                return
            routing.dispatch(self.coordinator, ticket.id, [category.code], lead.code, [d.code for d in co])
            self.counts["dispatched.coordinator"] += 1
        for part in ticket.parts:
            if part.role == PartRole.CO:
                self._spawn(self.now, self._co_part(ticket, part, category, Random(rng.getrandbits(64))))
        yield from self._lead(ticket, category, rng)

    def _withdraw(self, ticket: Ticket, citizen: User) -> Iterator[datetime]:
        from participation.intake import services as intake

        if ticket.status in (TicketStatus.TRIAGE, TicketStatus.DISPATCHED, TicketStatus.IN_PROGRESS):
            intake.withdraw(citizen, ticket.submission.tracking_code, "问题已自行解决。")
            self.counts["withdrawn"] += 1
        return
        yield  # a process, like the others

    def _sign_for(self, ticket: Ticket, part: TicketPart, category: Category, rng: Random) -> Process:
        """The department signs for its part and may then ask the coordinator to take it back.

        Returns True when the department works on the part (signed for, or the return overruled)."""
        from participation.routing import services as routing

        department = part.department
        staff = self.staff[part.department_id]
        target = self.targets(ticket)["sign_for"]
        late = rng.random() < 0.1
        yield self.later(ticket, target * (rng.uniform(1.1, 2.5) if late else rng.lognormvariate(math.log(0.25), 0.6)))
        if not self.working(ticket) or part.status != PartStatus.PENDING:
            return part.status == PartStatus.ACCEPTED and self.working(ticket)
        routing.accept(staff, part.id)
        bouncing = self.is_planted("bouncing", department)
        if rng.random() >= (PLANTED_DISPUTE if bouncing else CLEAN_DISPUTE):
            return True
        yield self.later(ticket, rng.uniform(5, 90))
        if not self.working(ticket) or part.status != PartStatus.ACCEPTED:
            return False
        suggested = self.other_department(rng, ticket, category)
        kind = "transfer" if rng.random() < 0.5 else "return"
        named = suggested.code if part.role == PartRole.LEAD or kind == "transfer" else None
        dispute = routing.request_return(staff, part.id, kind, "不属于本单位职责范围，建议改派。", named)
        self.counts[f"disputes.{kind}"] += 1
        yield self.later(ticket, rng.uniform(30, 480))  # the coordinator rules
        if dispute.status != DisputeStatus.OPEN or not self.working(ticket):
            return False
        overrule = rng.random() < (PLANTED_OVERRULE if bouncing else CLEAN_OVERRULE)
        decision = "overruled" if overrule else "upheld"
        named_now = None
        if not overrule and part.role == PartRole.LEAD and ticket.part_for(suggested.id) is not None:
            named_now = self.other_department(
                rng, ticket, category
            ).code  # it joined meanwhile: the coordinator names another
        routing.rule(self.coordinator, dispute.id, decision, "按职责清单裁定。", named_now)
        self.counts[f"disputes.{decision}"] += 1
        if overrule:
            return True
        if part.role == PartRole.CO and kind == "transfer":
            new = ticket.part_for(suggested.id)
            if new is not None and new.role == PartRole.CO and new.status == PartStatus.PENDING:
                self._spawn(self.now, self._co_part(ticket, new, category, Random(rng.getrandbits(64))))
        return False

    def _co_part(self, ticket: Ticket, part: TicketPart, category: Category, rng: Random) -> Iterator[datetime]:
        from participation.routing import services as routing

        working = yield from self._sign_for(ticket, part, category, rng)
        if not working:
            return
        target = self.targets(ticket)["contribution"]
        late = rng.random() < (
            PLANTED_LATE_CONTRIBUTION
            if self.is_planted("late_contribution", part.department)
            else CLEAN_LATE_CONTRIBUTION
        )
        if late:
            due = self.later_from(ticket, part.assigned_at, target)
            wake = self.calendar_of(ticket).add(max(self.now, due), rng.uniform(60, 2 * 450))
        else:
            elapsed = self.minutes_since(ticket, part.assigned_at)
            wake = self.later(ticket, max(10.0, target * rng.uniform(0.15, 0.85) - elapsed))
        yield wake
        if not self.working(ticket) or part.status != PartStatus.ACCEPTED:
            return
        routing.contribute(self.staff[part.department_id], part.id, "已完成本单位职责范围内的配合工作。")
        self.counts["contributions"] += 1
        if rng.random() < RATE_CONTRIBUTION:
            yield self.later(ticket, rng.uniform(10, 600))
            lead = ticket.lead_department_id
            if part.status == PartStatus.DONE and lead is not None:
                rating = rng.choice((2, 3, 3)) if late else rng.choice((4, 5, 5))
                routing.rate(self.staff[lead], part.id, rating)

    def later_from(self, ticket: Ticket, start: datetime, minutes: float) -> datetime:
        return self.calendar_of(ticket).add(start, minutes)

    def minutes_since(self, ticket: Ticket, start: datetime) -> float:
        return self.calendar_of(ticket).minutes_between(start, self.now)

    def _lead(self, ticket: Ticket, category: Category, rng: Random) -> Iterator[datetime]:
        """The lead department's work: sign for, contact, maybe pause, reply, resolve, then the callbacks."""
        from participation.deadlines import services as deadlines
        from participation.routing import services as routing
        from participation.surveys import callbacks

        for _attempt in range(4):  # an upheld transfer hands the lead to another department
            part = ticket.lead_part
            if part is None or not self.working(ticket):
                return
            if (yield from self._sign_for(ticket, part, category, rng)):
                break
        else:
            return
        if not self.working(ticket) or ticket.lead_part is None or ticket.lead_part.status != PartStatus.ACCEPTED:
            return
        department = ticket.lead_department
        staff = self.staff[department.id]
        targets = self.targets(ticket)
        accepted_at = self.now
        contacted = False
        if self.is_planted("pause_without_contact", department) and rng.random() < PLANTED_PAUSE:
            yield self.later(ticket, rng.uniform(10, 120))
            if not self.working(ticket) or ticket.paused_since is not None:
                return
            deadlines.pause(staff, ticket.id, "waiting_citizen", "等待市民补充材料。")
            self.counts["pauses"] += 1
            self.counts["pauses.without_contact"] += 1
            yield from self._resume(ticket, staff, rng)
        if rng.random() < CONTACT:
            late = rng.random() < 0.1
            target = targets["first_contact"]
            yield self.later(ticket, target * (rng.uniform(1.1, 2.0) if late else rng.uniform(0.05, 0.7)))
            if not self.working(ticket):
                return
            deadlines.record_contact(staff, ticket.id, "已电话联系市民，了解具体情况。")
            self.counts["contacts"] += 1
            contacted = True
        if contacted and rng.random() < CLEAN_PAUSE and ticket.paused_since is None:
            yield self.later(ticket, rng.uniform(10, 240))
            if not self.working(ticket) or ticket.paused_since is not None:
                return
            deadlines.pause(staff, ticket.id, "waiting_citizen", "市民需补充现场照片。")
            self.counts["pauses"] += 1
            yield from self._resume(ticket, staff, rng)
        if rng.random() < INVITE:
            yield self.later(ticket, rng.uniform(30, 480))
            if not self.working(ticket):
                return
            extra = self.other_department(rng, ticket, category)
            new = routing.invite(staff, ticket.id, extra.code, "请协助处理。")
            self.counts["invitations"] += 1
            self._spawn(self.now, self._co_part(ticket, new, category, Random(rng.getrandbits(64))))
        fast = self.is_planted("fast_close_reopen", department) and rng.random() < PLANTED_FAST_CLOSE
        if rng.random() < PROGRESS_REPLY and not fast:
            yield self.later(ticket, targets["resolve"] * rng.uniform(0.05, 0.3))
            if not self.working(ticket):
                return
            routing.reply_public(staff, ticket.id, "已安排工作人员跟进处理，请耐心等待。")
            self.counts["replies"] += 1
        late = not fast and rng.random() < 0.12
        if fast:
            work = rng.uniform(15, 120)
        elif late:
            work = targets["resolve"] * rng.uniform(1.05, 1.8)
        else:
            work = targets["resolve"] * rng.lognormvariate(math.log(0.35), 0.5)
        done_at = self.later_from(ticket, accepted_at, work)
        yield max(done_at, self.after(5))
        if not (yield from self._wait_for_co(ticket, rng)):
            return
        routing.resolve(staff, ticket.id, rng.choice(FAST_REPLIES if fast else REPLIES))
        self.counts["resolved"] += 1
        self.counts["resolved.fast"] += fast
        for round_ in range(1, 4):
            if rng.random() >= (0.97 if fast and round_ == 1 else CALLBACK_ANSWERED):
                return
            yield self.callback_time(rng)
            if ticket.status != TicketStatus.RESOLVED:
                return
            answers = self._answers(rng, fast and round_ == 1, late)
            callbacks.answer_by_tracking_code(SYSTEM, ticket.submission.tracking_code, answers)
            self.counts["callbacks"] += 1
            self.counts[f"callbacks.satisfaction.{answers['satisfaction']}"] += 1
            if ticket.status != TicketStatus.REOPENED:
                return
            self.counts["reopened"] += 1
            self.counts["reopened.after_fast"] += fast and round_ == 1
            self.counts["escalated"] += ticket.escalation_level >= 2
            staff = self.staff[ticket.lead_department_id]
            yield self.later(ticket, targets["resolve"] * rng.uniform(0.1, 0.6))
            if not (yield from self._wait_for_co(ticket, rng)):
                return
            routing.resolve(staff, ticket.id, rng.choice(REPLIES))
            self.counts["resolved"] += 1
            fast = late = False

    def _resume(self, ticket: Ticket, staff: User, rng: Random) -> Iterator[datetime]:
        from participation.deadlines import services as deadlines

        yield self.later(ticket, rng.uniform(0.5, 3.5) * 450)
        if ticket.paused_since is not None and ticket.is_open:
            deadlines.resume(staff, ticket.id, "市民已补充材料。")

    def _wait_for_co(self, ticket: Ticket, rng: Random) -> Process:
        """Wait until every co part is finished; after long waiting the coordinator waives what is left."""
        from participation.routing import services as routing

        for _poll in range(MAX_POLLS):
            if not self.working(ticket):
                return False
            lead = ticket.lead_part
            if lead is None or lead.status != PartStatus.ACCEPTED:
                return False
            if ticket.status == TicketStatus.DISPATCHED:
                return False
            waiting = [
                p
                for p in ticket.parts
                if p.role == PartRole.CO and p.status not in (PartStatus.DONE, PartStatus.WAIVED, PartStatus.ENDED)
            ]
            if not waiting and ticket.paused_since is None:
                return True
            yield self.later(ticket, rng.uniform(60, 240))
        for part in ticket.parts:
            if part.role == PartRole.CO and part.status in (
                PartStatus.PENDING,
                PartStatus.ACCEPTED,
                PartStatus.RETURN_REQUESTED,
            ):
                routing.waive(self.coordinator, part.id, "协办单位长期未反馈，由协调中心豁免。")
                self.counts["waived"] += 1
        return self.working(ticket) and ticket.paused_since is None and ticket.status != TicketStatus.DISPATCHED

    @staticmethod
    def _answers(rng: Random, fast: bool, late: bool) -> dict[str, int]:
        from participation.surveys.callbacks import BASICALLY, DISSATISFIED, NOT_SOLVED, SATISFIED, SOLVED

        if fast:
            solved = NOT_SOLVED if rng.random() < 0.85 else SOLVED
        else:
            solved = NOT_SOLVED if rng.random() < (0.15 if late else 0.06) else SOLVED
        if solved == NOT_SOLVED:
            weights = (5, 25, 70)
        elif late:
            weights = (40, 40, 20)
        else:
            weights = (65, 28, 7)
        satisfaction = rng.choices((SATISFIED, BASICALLY, DISSATISFIED), weights=weights)[0]
        rating = {SATISFIED: rng.choice((4, 5, 5)), BASICALLY: rng.choice((3, 4)), DISSATISFIED: rng.choice((1, 2))}
        return {"solved": solved, "satisfaction": satisfaction, "rating": rating[satisfaction]}
