"""Business-hour arithmetic: how many seconds of a calendar's open time lie between two instants.

SLA clocks count either every second (`CalendarHours`, 24/7) or only the open hours of a
business calendar (`BusinessHours`). Both implement the `Calendar` protocol so callers never
branch on the kind.

Open hours are wall-clock times in the calendar's IANA zone. An open interval covers exactly
the instants whose local wall-clock time lies inside it, which settles DST sensibly:
- spring forward: wall times that never happen (02:00-03:00 in Berlin) contribute nothing,
  so 09:00-18:00 stays 9 h but 01:00-04:00 on that day is 2 h;
- fall back: wall times that happen twice count twice, so 01:00-04:00 on that day is 4 h.
All inputs must be timezone-aware; results are aware UTC. Nothing here touches the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^(\d{2}):(\d{2})$")
_DAY = timedelta(days=1)
# Offsets in the tz database stay within UTC-12..UTC+14; this margin covers any local day.
_OFFSET_MARGIN = timedelta(hours=15)
# A calendar whose open hours are all holidays for this long cannot meet any target.
_MAX_SEARCH_DAYS = 3 * 366

Interval = tuple[datetime, datetime]


class Calendar(Protocol):
    """Counts SLA time: only the seconds that the calendar considers working time."""

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Working seconds in [start, end); 0 when end is not after start."""
        ...

    def add_seconds(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant at which `seconds` of working time have passed since start."""
        ...


def _require_aware(*values: datetime) -> None:
    for value in values:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: SLA arithmetic needs timezone-aware datetimes")


def _require_seconds(seconds: float) -> None:
    if seconds < 0 or seconds != seconds:  # the second test rejects NaN
        raise ValueError("seconds must be a non-negative number")


@dataclass(frozen=True)
class CalendarHours:
    """Every hour counts (24/7), the default for SLA policies without business hours."""

    def seconds_between(self, start: datetime, end: datetime) -> float:
        _require_aware(start, end)
        return max(0.0, (end - start).total_seconds())

    def add_seconds(self, start: datetime, seconds: float) -> datetime:
        _require_aware(start)
        _require_seconds(seconds)
        return start.astimezone(UTC) + timedelta(seconds=seconds)


def parse_hhmm(value: str, *, allow_24: bool = False) -> time | None:
    """Parse "HH:MM"; returns None for "24:00" (end of day) when allowed."""
    match = _HHMM.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"invalid time {value!r}: expected HH:MM")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if allow_24 and hours == 24 and minutes == 0:
        return None
    if hours > 23 or minutes > 59:
        raise ValueError(f"invalid time {value!r}: expected HH:MM between 00:00 and 24:00")
    return time(hours, minutes)


def load_zone(name: str) -> ZoneInfo:
    """An IANA zone, or ValueError (zoneinfo's own errors are KeyError or OSError-like)."""
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name:
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


# An open interval within a local day, as offsets from local midnight (end may be 24 h).
DayInterval = tuple[timedelta, timedelta]


def parse_weekly_hours(
    weekly_hours: Mapping[str, Sequence[Sequence[str]]],
) -> tuple[tuple[DayInterval, ...], ...]:
    """Validate {"mon": [["09:00", "18:00"]], ...} into seven sorted, non-overlapping lists.

    Intervals may touch (09:00-12:00, 12:00-13:00) but not overlap; each must end after it
    starts and within its own day ("24:00" is the end of the day; overnight shifts are two
    intervals on consecutive days).
    """
    if not isinstance(weekly_hours, Mapping):
        raise ValueError("weekly hours must be an object keyed by weekday")
    unknown = sorted(set(weekly_hours) - set(WEEKDAYS))
    if unknown:
        raise ValueError(f"unknown weekday(s) {unknown}: use {', '.join(WEEKDAYS)}")
    week: list[tuple[DayInterval, ...]] = []
    for day in WEEKDAYS:
        raw = weekly_hours.get(day) or []
        if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
            raise ValueError(f"{day}: expected a list of [start, end] pairs")
        intervals: list[DayInterval] = []
        for pair in raw:
            if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise ValueError(f"{day}: expected [start, end] pairs like ['09:00', '18:00']")
            start = parse_hhmm(pair[0])
            end = parse_hhmm(pair[1], allow_24=True)
            assert start is not None  # "24:00" is refused as a start
            start_delta = timedelta(hours=start.hour, minutes=start.minute)
            end_delta = _DAY if end is None else timedelta(hours=end.hour, minutes=end.minute)
            if end_delta <= start_delta:
                raise ValueError(f"{day}: interval {pair[0]}-{pair[1]} must end after it starts")
            intervals.append((start_delta, end_delta))
        intervals.sort()
        for (_, previous_end), (next_start, _) in pairwise(intervals):
            if next_start < previous_end:
                raise ValueError(f"{day}: intervals overlap")
        week.append(tuple(intervals))
    if not any(week):
        raise ValueError("weekly hours have no open interval: SLA clocks would never run")
    return tuple(week)


def parse_holidays(holidays: Iterable[str]) -> frozenset[date]:
    days: set[date] = set()
    for value in holidays:
        try:
            days.add(date.fromisoformat(value))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid holiday {value!r}: expected YYYY-MM-DD") from exc
    return frozenset(days)


@dataclass(frozen=True)
class BusinessHours:
    """Open hours per weekday in a time zone, minus holidays (local dates).

    Build it with `BusinessHours.from_spec`, which validates the stored JSON shapes.
    """

    timezone: str
    week: tuple[tuple[DayInterval, ...], ...]
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def from_spec(
        cls,
        timezone: str,
        weekly_hours: Mapping[str, Sequence[Sequence[str]]],
        holidays: Iterable[str] = (),
    ) -> BusinessHours:
        load_zone(timezone)
        return cls(timezone, parse_weekly_hours(weekly_hours), parse_holidays(holidays))

    @property
    def zone(self) -> ZoneInfo:
        return load_zone(self.timezone)

    def open_intervals(self, day: date) -> tuple[Interval, ...]:
        """The UTC instants whose local wall time falls in the day's open hours."""
        return _open_intervals(self, day)

    def _intervals_from(self, start: datetime) -> Iterator[Interval]:
        """Open UTC intervals that end after `start`, in order, clipped to begin at start."""
        first_day = start.astimezone(self.zone).date() - _DAY  # DST overlaps reach back a day
        for offset in range(_MAX_SEARCH_DAYS):
            for begin, end in self.open_intervals(first_day + timedelta(days=offset)):
                if end > start:
                    yield max(begin, start), end
        raise ValueError("the calendar has no open hours within three years")

    def seconds_between(self, start: datetime, end: datetime) -> float:
        _require_aware(start, end)
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return 0.0
        total = timedelta(0)
        zone = self.zone
        day = start.astimezone(zone).date() - _DAY
        last_day = end.astimezone(zone).date() + _DAY
        while day <= last_day:
            for begin, finish in self.open_intervals(day):
                lo, hi = max(begin, start), min(finish, end)
                if hi > lo:
                    total += hi - lo
            day += _DAY
        return total.total_seconds()

    def add_seconds(self, start: datetime, seconds: float) -> datetime:
        _require_aware(start)
        _require_seconds(seconds)
        start = start.astimezone(UTC)
        remaining = timedelta(seconds=seconds)
        if not remaining:
            return start
        for begin, end in self._intervals_from(start):
            length = end - begin
            if remaining <= length:
                return begin + remaining
            remaining -= length
        raise AssertionError("unreachable: _intervals_from raises when it runs out")


def _offset_segments(
    zone: ZoneInfo, lo: datetime, hi: datetime
) -> list[tuple[Interval, timedelta]]:
    """Split [lo, hi) (UTC) into pieces of constant UTC offset in `zone`."""

    def offset(at: datetime) -> timedelta:
        value = at.astimezone(zone).utcoffset()
        assert value is not None
        return value

    segments: list[tuple[Interval, timedelta]] = []
    seg_start, seg_offset = lo, offset(lo)
    probe = lo
    while probe < hi:
        nxt = min(probe + timedelta(hours=1), hi)
        if offset(nxt) != seg_offset:
            # Binary-search the transition to the second; tz data never changes twice an hour.
            a, b = probe, nxt
            while b - a > timedelta(seconds=1):
                mid = a + (b - a) / 2
                if offset(mid) == seg_offset:
                    a = mid
                else:
                    b = mid
            segments.append(((seg_start, b), seg_offset))
            seg_start, seg_offset = b, offset(b)
        probe = nxt
    segments.append(((seg_start, hi), seg_offset))
    return segments


@lru_cache(maxsize=4096)
def _open_intervals(cal: BusinessHours, day: date) -> tuple[Interval, ...]:
    if day in cal.holidays:
        return ()
    day_intervals = cal.week[day.weekday()]
    if not day_intervals:
        return ()
    midnight = datetime(day.year, day.month, day.day)  # naive local wall clock
    lo = (midnight - _OFFSET_MARGIN).replace(tzinfo=UTC)
    hi = (midnight + _DAY + _OFFSET_MARGIN).replace(tzinfo=UTC)
    pieces: list[Interval] = []
    for (seg_lo, seg_hi), offset in _offset_segments(cal.zone, lo, hi):
        # Within a segment wall time = UTC + offset, so intersect in wall time and map back.
        wall_lo = seg_lo.replace(tzinfo=None) + offset
        wall_hi = seg_hi.replace(tzinfo=None) + offset
        for open_from, open_to in day_intervals:
            a = max(wall_lo, midnight + open_from)
            b = min(wall_hi, midnight + open_to)
            if b > a:
                pieces.append(((a - offset).replace(tzinfo=UTC), (b - offset).replace(tzinfo=UTC)))
    pieces.sort()
    merged: list[Interval] = []
    for begin, end in pieces:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return tuple(merged)


def business_seconds_between(cal: Calendar, start_utc: datetime, end_utc: datetime) -> float:
    """Working seconds of `cal` in [start, end); 0 when end is not after start."""
    return cal.seconds_between(start_utc, end_utc)


def add_business_seconds(cal: Calendar, start_utc: datetime, seconds: float) -> datetime:
    """When `seconds` of working time will have passed since start (aware UTC)."""
    return cal.add_seconds(start_utc, seconds)


def _active_windows(
    start: datetime, pauses: Sequence[Interval]
) -> Iterator[tuple[datetime, datetime | None]]:
    """The windows after start in which a clock runs, given (sorted, merged) pauses."""
    cursor = start
    for pause_from, pause_to in pauses:
        if pause_to <= cursor:
            continue
        if pause_from > cursor:
            yield cursor, pause_from
        cursor = max(cursor, pause_to)
    yield cursor, None


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping copies of the given intervals (empty ones dropped)."""
    merged: list[Interval] = []
    for begin, end in sorted((b.astimezone(UTC), e.astimezone(UTC)) for b, e in intervals):
        if end <= begin:
            continue
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def active_seconds_between(
    cal: Calendar, start: datetime, end: datetime, pauses: Sequence[Interval] = ()
) -> float:
    """Working seconds in [start, end) outside the pauses (e.g. waiting for the customer)."""
    _require_aware(start, end)
    total = 0.0
    for window_from, window_to in _active_windows(start.astimezone(UTC), merge_intervals(pauses)):
        stop = end if window_to is None else min(window_to, end)
        if stop <= window_from:
            break
        total += cal.seconds_between(window_from, stop)
    return total


def due_after(
    cal: Calendar, start: datetime, seconds: float, pauses: Sequence[Interval] = ()
) -> datetime:
    """When `seconds` of working time outside the pauses will have passed since start."""
    _require_aware(start)
    _require_seconds(seconds)
    remaining = seconds
    for window_from, window_to in _active_windows(start.astimezone(UTC), merge_intervals(pauses)):
        if window_to is None:
            return cal.add_seconds(window_from, remaining)
        available = cal.seconds_between(window_from, window_to)
        if remaining <= available:
            return cal.add_seconds(window_from, remaining)
        remaining -= available
    raise AssertionError("unreachable: the last window is open-ended")


__all__ = [
    "WEEKDAYS",
    "BusinessHours",
    "Calendar",
    "CalendarHours",
    "active_seconds_between",
    "add_business_seconds",
    "business_seconds_between",
    "due_after",
    "load_zone",
    "merge_intervals",
    "parse_hhmm",
    "parse_holidays",
    "parse_weekly_hours",
]
