"""Request and response shapes for SLA policies, calendars, ticket SLA status and breaches.

Validation happens here, before a service runs: a bad weekly-hours object, time zone or
holiday is a 422 with the field named, never a 500 from deep inside the calendar maths.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kefu.identity.models import CustomerTier
from kefu.sla.calendar import load_zone, parse_holidays, parse_weekly_hours
from kefu.tickets.models import Category, Priority

WeeklyHours = dict[str, list[list[str]]]


def _check_weekly_hours(value: WeeklyHours) -> WeeklyHours:
    parse_weekly_hours(value)  # raises ValueError, which pydantic reports as a 422
    return {day: [list(pair) for pair in intervals] for day, intervals in value.items()}


def _check_timezone(value: str) -> str:
    load_zone(value)
    return value


def _check_holidays(value: list[str]) -> list[str]:
    return sorted(d.isoformat() for d in parse_holidays(value))


def _clean(values: list[str], *, upper: bool = False) -> list[str]:
    cleaned = {v.strip().upper() if upper else v.strip() for v in values if v.strip()}
    return sorted(cleaned)


def _check_members(values: list[str], allowed: type[Any], label: str) -> list[str]:
    known = {m.value for m in allowed}
    cleaned = _clean([v.lower() for v in values])
    unknown = [v for v in cleaned if v not in known]
    if unknown:
        raise ValueError(f"unknown {label} {unknown}: use {sorted(known)}")
    return cleaned


class CalendarCreate(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    timezone: str = Field(max_length=64)
    weekly_hours: WeeklyHours
    holidays: list[str] = Field(default_factory=list)

    _tz = field_validator("timezone")(_check_timezone)
    _hours = field_validator("weekly_hours")(_check_weekly_hours)
    _holidays = field_validator("holidays")(_check_holidays)


class CalendarUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    timezone: str | None = Field(default=None, max_length=64)
    weekly_hours: WeeklyHours | None = None
    holidays: list[str] | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)

    @field_validator("weekly_hours")
    @classmethod
    def _hours(cls, value: WeeklyHours | None) -> WeeklyHours | None:
        return None if value is None else _check_weekly_hours(value)

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_holidays(value)


class CalendarOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    timezone: str
    weekly_hours: WeeklyHours
    holidays: list[str]
    created_at: datetime
    updated_at: datetime


Minutes = Field(default=None, ge=1, le=366 * 24 * 60)


class _PolicyFields(BaseModel):
    """Criteria and targets shared by create and update; lists are normalised for matching."""

    @field_validator("jurisdictions", check_fields=False)
    @classmethod
    def _jurisdictions(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = _clean(value, upper=True)
        bad = [v for v in cleaned if len(v) != 2 or not v.isalpha()]
        if bad:
            raise ValueError(f"jurisdictions must be ISO 3166-1 alpha-2 codes, got {bad}")
        return cleaned

    @field_validator("languages", check_fields=False)
    @classmethod
    def _languages(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _clean(value)

    @field_validator("categories", check_fields=False)
    @classmethod
    def _categories(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_members(value, Category, "categories")

    @field_validator("priorities", check_fields=False)
    @classmethod
    def _priorities(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_members(value, Priority, "priorities")

    @field_validator("customer_tiers", check_fields=False)
    @classmethod
    def _tiers(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_members(value, CustomerTier, "customer tiers")


class PolicyCreate(_PolicyFields):
    name: str = Field(min_length=1, max_length=120)
    # 1-based place in the match order; omitted means last. Others move down to make room.
    position: int | None = Field(default=None, ge=1)
    active: bool = True
    jurisdictions: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    priorities: list[str] = Field(default_factory=list)
    customer_tiers: list[str] = Field(default_factory=list)
    first_response_minutes: int | None = Minutes
    next_response_minutes: int | None = Minutes
    resolution_minutes: int | None = Minutes
    business_hours: bool = False
    calendar_id: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PolicyCreate:
        if (
            self.first_response_minutes is None
            and self.next_response_minutes is None
            and self.resolution_minutes is None
        ):
            raise ValueError("a policy needs at least one target")
        if self.business_hours and self.calendar_id is None:
            raise ValueError("business_hours needs a calendar_id")
        return self


class PolicyUpdate(_PolicyFields):
    """Only the fields sent are changed; send `null` to clear a target."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    position: int | None = Field(default=None, ge=1)
    active: bool | None = None
    jurisdictions: list[str] | None = None
    languages: list[str] | None = None
    categories: list[str] | None = None
    priorities: list[str] | None = None
    customer_tiers: list[str] | None = None
    first_response_minutes: int | None = Minutes
    next_response_minutes: int | None = Minutes
    resolution_minutes: int | None = Minutes
    business_hours: bool | None = None
    calendar_id: str | None = None


class PolicyOrder(BaseModel):
    """Every policy id, in the new match order."""

    policy_ids: list[str] = Field(min_length=1)


class PolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    position: int
    active: bool
    jurisdictions: list[str]
    languages: list[str]
    categories: list[str]
    priorities: list[str]
    customer_tiers: list[str]
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    business_hours: bool
    calendar_id: str | None
    created_at: datetime
    updated_at: datetime


class TargetStatusOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    target: str
    cycle: int
    target_seconds: int
    started_at: datetime
    due_at: datetime
    met_at: datetime | None
    elapsed_seconds: float
    remaining_seconds: float
    state: str
    paused: bool


class SlaStatusOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ticket_id: str
    policy_id: str | None
    policy_name: str | None
    business_hours: bool
    paused: bool
    computed_at: datetime
    targets: list[TargetStatusOut]
    next_response_cycles: list[TargetStatusOut]


class BreachOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    ticket_id: str
    target: str
    cycle: int
    due_at: datetime
    detected_at: datetime
    actions: list[dict[str, Any]]
