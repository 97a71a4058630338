"""Seed a desk that looks lived-in: agents, customers, SLA policies and a fortnight of tickets.

Everything goes through the domain services, so the audit chain, ticket events and SLA links
are the real thing, not fixtures. Ticket histories are planned first and then replayed in
global time order with the clock frozen at each step, so the audit log reads chronologically
and SLA clocks (and breaches) come out as they would have in real life.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import random
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.audit.models import AuditEntry
from kefu.audit.service import Actor
from kefu.core.clock import clock, utcnow
from kefu.core.settings import get_settings
from kefu.demo import content
from kefu.demo.content import EN, ZH, TicketTemplate
from kefu.demo.documents import create_identity_reviews
from kefu.identity import service as identity
from kefu.identity.mfa import totp
from kefu.identity.mfa.models import OwnerType
from kefu.identity.models import Agent, Customer, CustomerTier, Role
from kefu.sla import service as sla
from kefu.sla.models import BusinessCalendar, SlaBreach, SlaPolicy
from kefu.sla.schemas import CalendarCreate, PolicyCreate
from kefu.tickets import service as tickets_service
from kefu.tickets.models import (
    Category,
    Channel,
    MessageKind,
    Priority,
    Status,
    Team,
    Ticket,
    Tier,
)

DEMO_PASSWORD = "kefu-demo-password"  # noqa: S105 - printed for people to sign in to the demo
ADMIN_EMAIL = "admin@demo.kefu"
SEED = 20260101
HISTORY = timedelta(days=14)

T = TypeVar("T")


@dataclass(frozen=True)
class DemoAgent:
    email: str
    display_name: str
    role: Role
    teams: tuple[str, ...]
    languages: tuple[str, ...]
    language: str


SUPPORT, RISK, COMPLIANCE = Team.SUPPORT.value, Team.RISK.value, Team.COMPLIANCE.value
DEMO_AGENTS: tuple[DemoAgent, ...] = (
    DemoAgent(ADMIN_EMAIL, "Demo Admin", Role.ADMIN, (SUPPORT, RISK, COMPLIANCE), (EN, ZH), EN),
    DemoAgent(
        "supervisor@demo.kefu", "陈静 Chen Jing", Role.SUPERVISOR, (SUPPORT, RISK), (EN, ZH), ZH
    ),
    DemoAgent("risk@demo.kefu", "Marcus Weber", Role.RISK_OFFICER, (RISK,), (EN, ZH), EN),
    DemoAgent("risk.lin@demo.kefu", "林伟", Role.RISK_OFFICER, (RISK,), (ZH,), ZH),
    DemoAgent(
        "compliance@demo.kefu", "Sophie Koh", Role.COMPLIANCE_OFFICER, (COMPLIANCE,), (EN, ZH), EN
    ),
    DemoAgent("agent@demo.kefu", "Tan Wei Ming", Role.AGENT, (SUPPORT,), (EN, ZH), EN),
    DemoAgent("wang.fang@demo.kefu", "王芳", Role.AGENT, (SUPPORT,), (ZH,), ZH),
    DemoAgent("li.na@demo.kefu", "李娜", Role.AGENT, (SUPPORT,), (ZH,), ZH),
    DemoAgent("lena.fischer@demo.kefu", "Lena Fischer", Role.AGENT, (SUPPORT,), (EN,), EN),
    DemoAgent("daniel.lim@demo.kefu", "Daniel Lim", Role.AGENT, (SUPPORT,), (EN, ZH), EN),
)

# 2026 public holidays (local dates), observed days included.
SG_HOLIDAYS_2026 = (
    "2026-01-01",
    "2026-02-17",
    "2026-02-18",
    "2026-03-21",
    "2026-04-03",
    "2026-05-01",
    "2026-05-27",
    "2026-05-31",
    "2026-06-01",
    "2026-08-09",
    "2026-08-10",
    "2026-11-08",
    "2026-11-09",
    "2026-12-25",
)
DE_HOLIDAYS_2026 = (
    "2026-01-01",
    "2026-04-03",
    "2026-04-06",
    "2026-05-01",
    "2026-05-14",
    "2026-05-25",
    "2026-10-03",
    "2026-12-25",
    "2026-12-26",
)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

CATEGORY_WEIGHTS: dict[Category, float] = {
    Category.DEPOSIT: 3.0,
    Category.WITHDRAWAL: 3.0,
    Category.ACCOUNT: 2.0,
    Category.KYC: 2.0,
    Category.SECURITY: 1.5,
    Category.FUTURES: 1.5,
    Category.TRADING: 1.0,
    Category.POLICY: 0.7,
    Category.OTHER: 0.8,
}
OUTCOME_WEIGHTS: dict[Status, int] = {
    Status.NEW: 12,
    Status.OPEN: 22,
    Status.PENDING_CUSTOMER: 14,
    Status.PENDING_INTERNAL: 6,
    Status.SOLVED: 26,
    Status.CLOSED: 20,
}
CHANNEL_WEIGHTS: dict[Channel, int] = {
    Channel.WEB: 45,
    Channel.EMAIL: 25,
    Channel.API: 10,
    Channel.BOT: 20,
}


# --- the plan -----------------------------------------------------------------------------------


@dataclass
class _Step:
    """One thing that happens to a ticket after it is opened."""

    offset: timedelta
    kind: str  # assign, reply, note, customer, status, escalate, handoff
    text: str = ""
    status: Status | None = None


@dataclass
class _TicketPlan:
    index: int
    customer: Customer
    template: TicketTemplate
    facts: dict[str, str]
    channel: Channel
    priority: Priority
    created_at: datetime
    steps: list[_Step] = field(default_factory=list)
    ticket: Ticket | None = None

    @property
    def language(self) -> str:
        return self.template.language

    def fill(self, text: str) -> str:
        return text.format(**self.facts)


def _weighted(rng: random.Random, weights: dict[T, float] | dict[T, int]) -> T:
    keys = list(weights)
    return rng.choices(keys, weights=[float(weights[k]) for k in keys])[0]


def _minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


def _first_response_delay(rng: random.Random, urgent: bool) -> timedelta:
    """Mostly prompt, sometimes slow, now and then very late: that is what breaches are made of."""
    roll = rng.random()
    if urgent:
        return _minutes(rng.randint(3, 40) if roll < 0.8 else rng.randint(40, 240))
    if roll < 0.7:
        return _minutes(rng.randint(5, 90))
    if roll < 0.9:
        return _minutes(rng.randint(90, 600))
    return _minutes(rng.randint(600, 2000))


def _plan_steps(rng: random.Random, plan: _TicketPlan) -> list[_Step]:
    lang = plan.language
    category = plan.template.category
    tier, _team = tickets_service.route(category, plan.template.asset_related, _start_tier(plan))
    outcome = _weighted(rng, OUTCOME_WEIGHTS)
    steps: list[_Step] = []
    elapsed = timedelta(0)

    def add(after: timedelta, kind: str, text: str = "", status: Status | None = None) -> None:
        nonlocal elapsed
        elapsed += max(after, timedelta(seconds=30))
        steps.append(_Step(elapsed, kind, text, status))

    if tier == Tier.BOT:
        add(_minutes(rng.randint(1, 8)), "handoff", rng.choice(content.BOT_HANDOFF_REASONS[lang]))
    if outcome != Status.NEW or rng.random() < 0.5:
        add(_minutes(rng.randint(1, 40)), "assign")
    if outcome == Status.NEW:
        if rng.random() < 0.3:
            add(_minutes(rng.randint(10, 120)), "note", rng.choice(content.INTERNAL_NOTES[lang]))
        return steps

    urgent = tier == Tier.RISK or plan.priority == Priority.URGENT
    first = content.FIRST_REPLIES[lang][category]
    add(_first_response_delay(rng, urgent), "reply", first)
    # Now and then a support ticket turns out to be about asset security after all.
    if (
        tier != Tier.RISK
        and category in (Category.ACCOUNT, Category.DEPOSIT, Category.WITHDRAWAL)
        and rng.random() < 0.15
    ):
        add(_minutes(rng.randint(5, 60)), "note", rng.choice(content.INTERNAL_NOTES[lang]))
        add(_minutes(rng.randint(1, 10)), "escalate", rng.choice(content.ESCALATION_REASONS[lang]))
        add(_minutes(rng.randint(1, 20)), "assign")
    elif rng.random() < 0.3:
        add(_minutes(rng.randint(5, 180)), "note", rng.choice(content.INTERNAL_NOTES[lang]))

    if outcome == Status.OPEN:
        if rng.random() < 0.4:
            add(
                _minutes(rng.randint(30, 600)),
                "customer",
                rng.choice(content.CUSTOMER_FOLLOW_UPS[lang]),
            )
        return steps
    if outcome == Status.PENDING_INTERNAL:
        add(_minutes(rng.randint(5, 120)), "note", rng.choice(content.INTERNAL_NOTES[lang]))
        add(_minutes(1), "status", "", Status.PENDING_INTERNAL)
        return steps
    if outcome == Status.PENDING_CUSTOMER or rng.random() < 0.5:
        add(_minutes(rng.randint(2, 30)), "reply", rng.choice(content.ASK_FOR_INFO[lang]))
        add(_minutes(1), "status", "", Status.PENDING_CUSTOMER)
        if outcome == Status.PENDING_CUSTOMER:
            return steps
        add(
            _minutes(rng.randint(20, 900)),
            "customer",
            rng.choice(content.CUSTOMER_FOLLOW_UPS[lang]),
        )
    add(_minutes(rng.randint(10, 480)), "reply", rng.choice(content.SOLVED_REPLIES[lang]))
    add(_minutes(1), "status", "", Status.SOLVED)
    if outcome == Status.CLOSED:
        add(timedelta(days=rng.choice((2, 3, 4))), "status", "", Status.CLOSED)
    return steps


def _start_tier(plan: _TicketPlan) -> Tier:
    return Tier.BOT if plan.channel == Channel.BOT else Tier.AGENT


def _templates_by(language: str, category: Category | None = None) -> list[TicketTemplate]:
    return [
        t
        for t in content.TEMPLATES
        if t.language == language and (category is None or t.category == category)
    ]


def _plan_tickets(
    rng: random.Random, customers: Sequence[Customer], count: int, now: datetime
) -> list[_TicketPlan]:
    by_language: dict[str, list[Customer]] = {
        lang: [c for c in customers if c.language == lang] for lang in (ZH, EN)
    }
    categories = list(Category)
    plans: list[_TicketPlan] = []
    for index in range(count):
        if index < 2 * len(categories):
            # The first tickets cover every (language, category) pair, whatever the count.
            language = (ZH, EN)[index % 2]
            template = rng.choice(_templates_by(language, categories[index // 2]))
            customer = rng.choice(by_language[language])
        else:
            customer = rng.choice(customers)
            category = _weighted(rng, CATEGORY_WEIGHTS)
            template = rng.choice(_templates_by(customer.language, category))
        priority = template.priority
        if customer.tier != CustomerTier.STANDARD and priority == Priority.NORMAL:
            priority = Priority.HIGH if rng.random() < 0.5 else priority
        elif template.category in (Category.OTHER, Category.POLICY) and rng.random() < 0.3:
            priority = Priority.LOW
        # Recent days are busier: the age skews towards now.
        age = HISTORY * (rng.random() ** 1.6) + _minutes(rng.randint(3, 30))
        plan = _TicketPlan(
            index=index,
            customer=customer,
            template=template,
            facts=content.ticket_facts(rng),
            channel=_weighted(rng, CHANNEL_WEIGHTS),
            priority=priority,
            created_at=now - age,
        )
        plan.steps = _plan_steps(rng, plan)
        plans.append(plan)
    return plans


# --- replaying the plan -------------------------------------------------------------------------


class _Desk:
    """Replays planned steps through the services, choosing who acts as a person would."""

    def __init__(self, session: Session, agents: dict[str, Agent], rng: random.Random) -> None:
        self.session = session
        self.agents = agents
        self.rng = rng
        self.supervisor = agents["supervisor@demo.kefu"]

    def create(self, plan: _TicketPlan) -> None:
        template = plan.template
        plan.ticket = tickets_service.create_ticket(
            self.session,
            customer=plan.customer,
            subject=plan.fill(template.subject)[:200],
            body=plan.fill(template.body),
            category=template.category,
            actor=Actor.bot() if plan.channel == Channel.BOT else Actor.customer(plan.customer.id),
            priority=plan.priority,
            channel=plan.channel,
            asset_related=template.asset_related,
            language=template.language,
            tags=[*template.tags, plan.facts["asset"].lower()]
            if template.category in (Category.DEPOSIT, Category.WITHDRAWAL)
            else list(template.tags),
        )

    def _acting_agent(self, ticket: Ticket) -> Agent:
        """The assignee, else whoever serves the queue: someone real always writes the reply."""
        if ticket.assignee_id is not None:
            for agent in self.agents.values():
                if agent.id == ticket.assignee_id:
                    return agent
        for agent in self.agents.values():
            if agent.role != Role.ADMIN and tickets_service.agent_serves_queue(
                agent, ticket.team, ticket.language
            ):
                return agent
        return self.supervisor

    def step(self, plan: _TicketPlan, step: _Step) -> None:
        ticket = plan.ticket
        assert ticket is not None
        session = self.session
        agent = self._acting_agent(ticket)
        actor = Actor.agent(agent.id)
        if step.kind == "assign":
            self._assign(ticket)
        elif step.kind == "reply":
            tickets_service.add_message(
                session, ticket, kind=MessageKind.AGENT, actor=actor, body=plan.fill(step.text)
            )
        elif step.kind == "note":
            tickets_service.add_message(
                session,
                ticket,
                kind=MessageKind.INTERNAL_NOTE,
                actor=actor,
                body=plan.fill(step.text),
            )
        elif step.kind == "customer":
            tickets_service.add_message(
                session,
                ticket,
                kind=MessageKind.CUSTOMER,
                actor=Actor.customer(plan.customer.id),
                body=plan.fill(step.text),
            )
        elif step.kind == "status":
            assert step.status is not None
            reason = "No reply from the customer for 48 h" if step.status == Status.CLOSED else None
            tickets_service.change_status(session, ticket, step.status, actor, reason)
        elif step.kind == "handoff":
            tickets_service.escalate(session, ticket, Actor.bot(), step.text, to_tier=Tier.AGENT)
        elif step.kind == "escalate":
            tickets_service.escalate(session, ticket, actor, step.text, to_tier=Tier.RISK)
        else:  # pragma: no cover - a typo in the plan
            raise ValueError(f"unknown step {step.kind}")

    def _assign(self, ticket: Ticket) -> None:
        # Mostly round-robin; sometimes the supervisor hands a ticket to someone by name.
        eligible = [
            a
            for a in self.agents.values()
            if a.role not in (Role.ADMIN, Role.SUPERVISOR)
            and tickets_service.agent_serves_queue(a, ticket.team, ticket.language)
        ]
        if eligible and self.rng.random() < 0.2:
            tickets_service.assign(
                self.session, ticket, self.rng.choice(eligible), Actor.agent(self.supervisor.id)
            )
            return
        # A full queue leaves the ticket unassigned, as it would on a busy day.
        with contextlib.suppress(tickets_service.NoAgentAvailable):
            tickets_service.auto_assign(self.session, ticket, Actor.system())


# --- setup ------------------------------------------------------------------------------------


def _create_agents(session: Session) -> dict[str, Agent]:
    agents: dict[str, Agent] = {}
    for spec in DEMO_AGENTS:
        agents[spec.email] = identity.create_agent(
            session,
            email=spec.email,
            display_name=spec.display_name,
            password=DEMO_PASSWORD,
            role=spec.role,
            teams=list(spec.teams),
            languages=list(spec.languages),
            language=spec.language,
        )
    # The admin configures the desk; round-robin should not bury them in tickets.
    agents[ADMIN_EMAIL].max_open_tickets = 5
    for agent in agents.values():
        totp.enrol_known_seed(
            session, totp.Owner(OwnerType.AGENT, agent.id), demo_totp_secret(agent.email)
        )
        agent.mfa_enrolled = True
    return agents


def demo_totp_secret(email: str) -> str:
    """A demo agent's authenticator key: derived from the email alone and published (like
    the demo password), so that anyone trying the demo can compute the second factor —
    `kefu mfa demo-code EMAIL` prints the current code. Never for real agents."""
    digest = hashlib.sha256(f"kefu-demo-totp|{email.strip().lower()}".encode()).digest()
    return base64.b32encode(digest[:20]).decode("ascii")


def is_demo_agent(email: str) -> bool:
    return email.strip().lower() in {spec.email for spec in DEMO_AGENTS}


def _ascii(name: str) -> str:
    replaced = name.replace("ü", "ue").replace("ö", "oe").replace("ä", "ae").replace("ß", "ss")
    folded = unicodedata.normalize("NFKD", replaced).encode("ascii", "ignore").decode()
    return ".".join(part.lower() for part in folded.replace(".", "").split())


def _phone(rng: random.Random, jurisdiction: str) -> str:
    digits = "0123456789"
    if jurisdiction == "SG":
        return "+65" + rng.choice("89") + "".join(rng.choices(digits, k=7))
    if jurisdiction == "DE":
        return "+49" + rng.choice(("151", "160", "170", "176")) + "".join(rng.choices(digits, k=8))
    if jurisdiction == "HK":
        return "+852" + rng.choice("569") + "".join(rng.choices(digits, k=7))
    return "+1202555" + "01" + "".join(rng.choices(digits, k=2))  # 555-01xx: fictional


@dataclass(frozen=True)
class _CustomerSpec:
    name: str
    email_local: str
    language: str
    jurisdiction: str
    tier: str


def _customer_specs(rng: random.Random) -> list[_CustomerSpec]:
    """About 60 exchange users: mostly SG and DE, a few HK and US; zh-CN and en speakers."""
    specs: list[_CustomerSpec] = []
    zh_names = rng.sample(
        [(s + g, f"{gp}.{sp}") for s, sp in content.ZH_SURNAMES for g, gp in content.ZH_GIVEN],
        24,
    )
    zh_places = ["SG"] * 14 + ["DE"] * 6 + ["HK"] * 4
    for (name, local), place in zip(zh_names, zh_places, strict=True):
        specs.append(_CustomerSpec(name, local, ZH, place, _individual_tier(rng)))
    for names, place in (
        (content.EN_NAMES_SG, "SG"),
        (content.EN_NAMES_DE[:15], "DE"),
        (content.EN_NAMES_US[:3], "US"),
    ):
        for name in names:
            specs.append(_CustomerSpec(name, _ascii(name), EN, place, _individual_tier(rng)))
    for name, place in content.INSTITUTIONS:
        language = ZH if place == "HK" else EN
        local = "treasury." + (_ascii(name).split(".")[0] or "desk")
        specs.append(_CustomerSpec(name, local, language, place, CustomerTier.INSTITUTIONAL))
    return specs


def _individual_tier(rng: random.Random) -> str:
    return CustomerTier.VIP if rng.random() < 0.2 else CustomerTier.STANDARD


def _create_customers(session: Session, rng: random.Random) -> list[Customer]:
    customers = []
    for number, spec in enumerate(_customer_specs(rng), start=100001):
        domain = rng.choice(("example.com", "example.net", "example.org"))
        customers.append(
            identity.upsert_customer(
                session,
                external_id=f"demo-{number}",
                display_name=spec.name,
                jurisdiction=spec.jurisdiction,
                language=spec.language,
                email=f"{spec.email_local}{rng.randint(1, 99)}@{domain}",
                phone=_phone(rng, spec.jurisdiction),
                tier=spec.tier,
            )
        )
    return customers


def _calendar(session: Session, data: CalendarCreate, actor: Actor) -> BusinessCalendar:
    existing = session.scalar(select(BusinessCalendar).where(BusinessCalendar.name == data.name))
    return existing or sla.create_calendar(session, data, actor)


def _create_sla(session: Session, actor: Actor) -> list[SlaPolicy]:
    """Two business calendars and jurisdiction policies around the product's defaults.

    Order matters (first match wins): security first, then the SG VIP promise, then each
    jurisdiction's business-hours policy, then the catch-all.
    """
    singapore = _calendar(
        session,
        CalendarCreate(
            name="Singapore business hours",
            timezone="Asia/Singapore",
            weekly_hours={day: [["09:00", "18:00"]] for day in _WEEKDAYS},
            holidays=list(SG_HOLIDAYS_2026),
        ),
        actor,
    )
    germany = _calendar(
        session,
        CalendarCreate(
            name="Germany business hours",
            timezone="Europe/Berlin",
            weekly_hours={day: [["09:00", "17:30"]] for day in _WEEKDAYS},
            holidays=list(DE_HOLIDAYS_2026),
        ),
        actor,
    )
    sla.ensure_default_policies(session, actor)  # Security at 1, Default after it
    policies = [
        PolicyCreate(
            name="Singapore VIP",
            position=2,
            jurisdictions=["SG"],
            customer_tiers=[CustomerTier.VIP.value, CustomerTier.INSTITUTIONAL.value],
            first_response_minutes=2 * 60,
            next_response_minutes=4 * 60,
            resolution_minutes=24 * 60,
        ),
        PolicyCreate(
            name="Singapore standard (business hours)",
            position=3,
            jurisdictions=["SG"],
            first_response_minutes=4 * 60,
            next_response_minutes=8 * 60,
            resolution_minutes=24 * 60,
            business_hours=True,
            calendar_id=singapore.id,
        ),
        PolicyCreate(
            name="Germany standard (business hours)",
            position=4,
            jurisdictions=["DE"],
            first_response_minutes=8 * 60,
            next_response_minutes=8 * 60,
            resolution_minutes=24 * 60,
            business_hours=True,
            calendar_id=germany.id,
        ),
    ]
    existing = set(session.scalars(select(SlaPolicy.name)))
    for data in policies:
        if data.name not in existing:
            sla.create_policy(session, data, actor)
    return sla.list_policies(session)


# --- entry point ------------------------------------------------------------------------------


def _default_base_url() -> str:
    settings = get_settings()
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    return f"http://{host}:{settings.port}"


def _count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _sign_in_lines(base_url: str) -> list[str]:
    lines = [
        f"Agent console: {base_url}/console",
        f"API docs:      {base_url}/docs",
        f"Demo exchange: {base_url}/demo/exchange (chat widget as a demo customer)",
        f"Sign in (every demo agent's password is {DEMO_PASSWORD!r}):",
    ]
    for spec in DEMO_AGENTS:
        lines.append(
            f"  {spec.email:<25} {spec.role.value:<19} teams={','.join(spec.teams):<24} "
            f"languages={','.join(spec.languages)}"
        )
    lines += [
        "Second factor: every demo agent has an authenticator app set up with a published demo",
        "key. Print an agent's current six-digit code with `kefu mfa demo-code EMAIL`, or add",
        "the key to an authenticator app (account = the email):",
    ]
    for spec in DEMO_AGENTS:
        lines.append(f"  {spec.email:<25} {demo_totp_secret(spec.email)}")
    return lines


def seed_demo(session: Session, tickets: int = 300, *, base_url: str | None = None) -> str:
    """Create the demo desk once and describe it; later calls only describe it.

    Runs in the caller's transaction (the CLI commits it). The clock is frozen while the past
    is replayed and always released afterwards, also on error.
    """
    base_url = base_url or _default_base_url()
    if session.scalar(select(Agent.id).where(Agent.email == ADMIN_EMAIL)) is not None:
        return "\n".join(
            [
                f"Demo data already present ({_count(session, Ticket)} tickets); nothing created.",
                _seed_exchange(session),  # desks seeded before the demo exchange existed
                _load_knowledge_base(session),
                *_sign_in_lines(base_url),
            ]
        )
    from kefu.wiring import wire

    wire()  # tickets must start their SLA clocks as they are created
    rng = random.Random(SEED)
    now = utcnow()
    try:
        clock.freeze(now - HISTORY - timedelta(days=1))
        agents = _create_agents(session)
        customers = _create_customers(session, rng)
        policies = _create_sla(session, Actor.agent(agents["supervisor@demo.kefu"].id))
        plans = _plan_tickets(rng, customers, tickets, now)
        desk = _Desk(session, agents, rng)
        timeline: list[tuple[datetime, int, int, _TicketPlan, _Step | None]] = []
        for plan in plans:
            timeline.append((plan.created_at, plan.index, 0, plan, None))
            for number, step in enumerate(plan.steps, start=1):
                at = plan.created_at + step.offset
                if at >= now:
                    break  # the rest of this ticket's story has not happened yet
                timeline.append((at, plan.index, number, plan, step))
        timeline.sort(key=lambda item: (item[0], item[1], item[2]))
        for at, _index, _number, plan, maybe_step in timeline:
            clock.freeze(at)
            if maybe_step is None:
                desk.create(plan)
            else:
                desk.step(plan, maybe_step)
        create_identity_reviews(session, customers)
    finally:
        clock.unfreeze()
    breaches = sla.scan_breaches(session)
    session.flush()
    exchange = _seed_exchange(session)
    knowledge_base = _load_knowledge_base(session)
    report = _report(
        session, plans, len(agents), len(customers), len(policies), len(breaches), base_url
    )
    return f"{report}\n{exchange}\n{knowledge_base}"


def _seed_exchange(session: Session) -> str:
    """The demo exchange's books for the demo customers (same external ids); idempotent."""
    from kefu.exchange.demo_data import DemoAccountSpec, seed_exchange

    customers = session.scalars(select(Customer).order_by(Customer.external_id))
    specs = [DemoAccountSpec(c.external_id, c.jurisdiction) for c in customers]
    return seed_exchange(session, specs, utcnow())


def _load_knowledge_base(session: Session) -> str:
    """The starter articles and templates; loading is idempotent, so an older demo database
    gains them on its next start."""
    from kefu.kb.loader import load_content

    return str(load_content(session))


def _report(
    session: Session,
    plans: Sequence[_TicketPlan],
    agents: int,
    customers: int,
    policies: int,
    breaches: int,
    base_url: str,
) -> str:
    made = [p.ticket for p in plans if p.ticket is not None]
    by_status = Counter(t.status for t in made)
    by_language = Counter(t.language for t in made)
    by_queue = Counter(t.queue for t in made)
    asset_related = sum(1 for t in made if t.asset_related)
    statuses = ", ".join(f"{s.value} {by_status.get(s.value, 0)}" for s in Status)
    queues = ", ".join(f"{q} {n}" for q, n in sorted(by_queue.items()))
    breached_tickets = session.scalar(select(func.count(func.distinct(SlaBreach.ticket_id)))) or 0
    volume = Decimal(len(made))
    return "\n".join(
        [
            "kefu demo data created:",
            f"  {agents} agents, {customers} customers, {policies} SLA policies, "
            f"2 business calendars",
            f"  {len(made)} tickets over the past {HISTORY.days} days "
            f"(zh-CN {by_language.get(ZH, 0)}, en {by_language.get(EN, 0)}; "
            f"{asset_related} asset-related)",
            f"  by status: {statuses}",
            f"  by queue: {queues}",
            f"  SLA: {breaches} breaches on {breached_tickets} tickets "
            f"({(Decimal(breached_tickets) / volume * 100 if volume else Decimal(0)):.0f}%)",
            f"  audit log: {_count(session, AuditEntry)} entries",
            *_sign_in_lines(base_url),
        ]
    )
