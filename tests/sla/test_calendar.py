"""Business-hour arithmetic. Expected values are worked out by hand in the comments.

Offsets used: Asia/Singapore is UTC+8 all year. Europe/Berlin is CET (UTC+1) and CEST
(UTC+2); in 2026 it springs forward on 29 March (02:00 CET -> 03:00 CEST, at 01:00 UTC) and
falls back on 25 October (03:00 CEST -> 02:00 CET, at 01:00 UTC). America/New_York is EST
(UTC-5) and EDT (UTC-4); in 2026 it springs forward on 8 March (02:00 EST -> 03:00 EDT, at
07:00 UTC) and falls back on 1 November (02:00 EDT -> 01:00 EST, at 06:00 UTC).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from kefu.sla.calendar import (
    BusinessHours,
    CalendarHours,
    active_seconds_between,
    add_business_seconds,
    business_seconds_between,
    due_after,
)
from kefu.sla.schemas import CalendarCreate

H = 3600.0
NINE_TO_SIX = [["09:00", "18:00"]]
WEEKDAYS_9_18 = {d: NINE_TO_SIX for d in ("mon", "tue", "wed", "thu", "fri")}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def singapore(holidays: list[str] | None = None) -> BusinessHours:
    return BusinessHours.from_spec("Asia/Singapore", WEEKDAYS_9_18, holidays or [])


# --- Singapore: no DST ----------------------------------------------------------------------


def test_span_over_two_days() -> None:
    cal = singapore()
    # Mon 23 Nov 10:00 SGT (02:00 UTC) -> Tue 24 Nov 11:00 SGT (03:00 UTC): 8 h + 2 h.
    assert business_seconds_between(cal, utc(2026, 11, 23, 2), utc(2026, 11, 24, 3)) == 10 * H


def test_add_over_weekend() -> None:
    cal = singapore()
    # Fri 27 Nov 17:00 SGT + 9 h: 1 h on Friday, 8 h on Monday -> Mon 30 Nov 17:00 SGT = 09:00 UTC.
    assert add_business_seconds(cal, utc(2026, 11, 27, 9), 9 * H) == utc(2026, 11, 30, 9)


def test_start_and_end_outside_hours() -> None:
    cal = singapore()
    # Sat 28 Nov 12:00 SGT -> Mon 30 Nov 10:30 SGT (02:30 UTC): only Monday 09:00-10:30 counts.
    assert cal.seconds_between(utc(2026, 11, 28, 4), utc(2026, 11, 30, 2, 30)) == 1.5 * H
    # From Saturday, the first business second ends at Mon 09:00:01 SGT (01:00:01 UTC).
    assert cal.add_seconds(utc(2026, 11, 28, 4), 1) == utc(2026, 11, 30, 1, 0, 1)
    # Tue 20:00 SGT -> Wed 08:00 SGT: entirely closed.
    assert cal.seconds_between(utc(2026, 11, 24, 12), utc(2026, 11, 25, 0)) == 0.0


def test_end_before_start_is_zero_and_zero_seconds_is_start() -> None:
    cal = singapore()
    assert cal.seconds_between(utc(2026, 11, 24, 5), utc(2026, 11, 24, 4)) == 0.0
    # Adding nothing does not jump to the next opening: the clock has not run at all.
    assert cal.add_seconds(utc(2026, 11, 28, 4), 0) == utc(2026, 11, 28, 4)


def test_add_ending_exactly_at_close_stays_that_day() -> None:
    cal = singapore()
    # Mon 09:00 SGT + 9 h is Mon 18:00 SGT (10:00 UTC), not Tue 09:00.
    assert cal.add_seconds(utc(2026, 11, 23, 1), 9 * H) == utc(2026, 11, 23, 10)


def test_holiday_is_closed() -> None:
    cal = singapore(["2026-12-25"])
    # Thu 24 Dec 17:00 SGT + 2 h: 1 h Thursday; Fri 25 is a holiday; Sat/Sun closed;
    # Mon 28 Dec 09:00 + 1 h = 10:00 SGT = 02:00 UTC.
    assert cal.add_seconds(utc(2026, 12, 24, 9), 2 * H) == utc(2026, 12, 28, 2)
    # Thu 24 Dec 00:00 SGT -> Tue 29 Dec 00:00 SGT: Thu 9 h + Mon 9 h.
    assert cal.seconds_between(utc(2026, 12, 23, 16), utc(2026, 12, 28, 16)) == 18 * H


def test_holidays_are_local_dates() -> None:
    # Open 07:00-09:00 SGT = 23:00-01:00 UTC, straddling UTC midnight. Holiday Fri 25 Dec (local).
    hours = {d: [["07:00", "09:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    cal = BusinessHours.from_spec("Asia/Singapore", hours, ["2026-12-25"])
    # 23 Dec 22:00 UTC -> 25 Dec 02:00 UTC holds Thu 24 Dec 07:00-09:00 SGT (23 Dec 23:00 -
    # 24 Dec 01:00 UTC, open) and Fri 25 Dec 07:00-09:00 SGT (24 Dec 23:00 - 25 Dec 01:00 UTC,
    # the holiday, although most of it lies on 24 Dec in UTC): 2 h.
    assert cal.seconds_between(utc(2026, 12, 23, 22), utc(2026, 12, 25, 2)) == 2 * H


# --- several intervals a day -----------------------------------------------------------------


def berlin_split() -> BusinessHours:
    hours = {
        d: [["13:00", "17:00"], ["09:00", "12:00"]] for d in ("mon", "tue", "wed", "thu", "fri")
    }
    return BusinessHours.from_spec("Europe/Berlin", hours)


def test_lunch_break_not_counted() -> None:
    cal = berlin_split()
    # Mon 23 Nov (CET): 11:00 -> 14:00 local (10:00 -> 13:00 UTC) = 11-12 and 13-14 = 2 h.
    assert cal.seconds_between(utc(2026, 11, 23, 10), utc(2026, 11, 23, 13)) == 2 * H
    # 11:30 + 2 h: 30 min to 12:00, lunch, 13:00 + 1.5 h = 14:30 CET = 13:30 UTC.
    assert cal.add_seconds(utc(2026, 11, 23, 10, 30), 2 * H) == utc(2026, 11, 23, 13, 30)
    # 11:00 + 1 h ends exactly at the start of lunch (12:00 CET = 11:00 UTC).
    assert cal.add_seconds(utc(2026, 11, 23, 10), 1 * H) == utc(2026, 11, 23, 11)
    # A full day is 3 h + 4 h.
    assert cal.seconds_between(utc(2026, 11, 22, 23), utc(2026, 11, 23, 23)) == 7 * H


def test_touching_intervals_and_end_of_day() -> None:
    hours = {"mon": [["00:00", "12:00"], ["12:00", "24:00"]]}
    cal = BusinessHours.from_spec("Asia/Singapore", hours)
    # Mon 23 Nov 00:00 SGT (Sun 22 Nov 16:00 UTC) to Tue 00:00 SGT: the whole day.
    assert cal.seconds_between(utc(2026, 11, 22, 16), utc(2026, 11, 23, 16)) == 24 * H
    assert cal.open_intervals(date(2026, 11, 23)) == (
        (utc(2026, 11, 22, 16), utc(2026, 11, 23, 16)),
    )


# --- DST: Europe/Berlin ----------------------------------------------------------------------


def berlin_every_day(sunday: list[list[str]] | None = None) -> BusinessHours:
    hours = {d: NINE_TO_SIX for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
    hours["sun"] = sunday or NINE_TO_SIX
    return BusinessHours.from_spec("Europe/Berlin", hours)


def test_berlin_spring_forward_keeps_wall_clock_hours() -> None:
    cal = berlin_every_day()
    # Sat 28 Mar 09:00-18:00 CET = 08:00-17:00 UTC; Sun 29 Mar 09:00-18:00 CEST = 07:00-16:00 UTC.
    assert cal.open_intervals(date(2026, 3, 28)) == ((utc(2026, 3, 28, 8), utc(2026, 3, 28, 17)),)
    assert cal.open_intervals(date(2026, 3, 29)) == ((utc(2026, 3, 29, 7), utc(2026, 3, 29, 16)),)
    assert cal.seconds_between(utc(2026, 3, 28), utc(2026, 3, 30)) == 18 * H
    # Sat 17:00 CET (16:00 UTC) + 2 h: 1 h Saturday, then Sun 09:00 CEST + 1 h = 08:00 UTC.
    assert cal.add_seconds(utc(2026, 3, 28, 16), 2 * H) == utc(2026, 3, 29, 8)


def test_berlin_spring_forward_gap_counts_nothing() -> None:
    # Sunday 01:00-04:00 local: 01:00 CET = 00:00 UTC, 04:00 CEST = 02:00 UTC, so 2 h.
    cal = berlin_every_day([["01:00", "04:00"]])
    assert cal.open_intervals(date(2026, 3, 29)) == ((utc(2026, 3, 29, 0), utc(2026, 3, 29, 2)),)
    # From 01:30 CET (00:30 UTC) + 1 h: 30 min to the jump at 01:00 UTC, then 30 min of CEST.
    assert cal.add_seconds(utc(2026, 3, 29, 0, 30), 1 * H) == utc(2026, 3, 29, 1, 30)
    # 02:30-04:00 local starts in the gap: it opens at the jump (03:00 CEST = 01:00 UTC): 1 h.
    cal = berlin_every_day([["02:30", "04:00"]])
    assert cal.open_intervals(date(2026, 3, 29)) == ((utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)),)
    # 02:15-02:45 never happens that day; a week later it is a normal 30 minutes.
    cal = berlin_every_day([["02:15", "02:45"]])
    assert cal.open_intervals(date(2026, 3, 29)) == ()
    assert cal.seconds_between(utc(2026, 4, 5), utc(2026, 4, 5, 3)) == 0.5 * H


def test_berlin_fall_back_repeated_hour_counts_twice() -> None:
    # Sunday 01:00-04:00 local on 25 Oct: 01:00 CEST = 24 Oct 23:00 UTC, 04:00 CET = 03:00 UTC.
    cal = berlin_every_day([["01:00", "04:00"]])
    assert cal.open_intervals(date(2026, 10, 25)) == (
        (utc(2026, 10, 24, 23), utc(2026, 10, 25, 3)),
    )
    assert cal.seconds_between(utc(2026, 10, 24, 20), utc(2026, 10, 25, 12)) == 4 * H
    # 02:15-02:45 happens twice: 00:15-00:45 UTC (CEST) and 01:15-01:45 UTC (CET).
    cal = berlin_every_day([["02:15", "02:45"]])
    assert cal.open_intervals(date(2026, 10, 25)) == (
        (utc(2026, 10, 25, 0, 15), utc(2026, 10, 25, 0, 45)),
        (utc(2026, 10, 25, 1, 15), utc(2026, 10, 25, 1, 45)),
    )
    # 20 min from 02:30 CEST (00:30 UTC): 15 min, the clock turns back, 5 min more from 02:15 CET.
    assert cal.add_seconds(utc(2026, 10, 25, 0, 30), 20 * 60) == utc(2026, 10, 25, 1, 20)


def test_berlin_fall_back_business_day() -> None:
    cal = berlin_every_day()
    # Sun 25 Oct 09:00-18:00 CET = 08:00-17:00 UTC; Sat 24 Oct was CEST: 07:00-16:00 UTC.
    assert cal.open_intervals(date(2026, 10, 24)) == (
        (utc(2026, 10, 24, 7), utc(2026, 10, 24, 16)),
    )
    assert cal.open_intervals(date(2026, 10, 25)) == (
        (utc(2026, 10, 25, 8), utc(2026, 10, 25, 17)),
    )
    # Sat 17:00 CEST (15:00 UTC) + 3 h: 1 h Saturday, then Sun 09:00 CET + 2 h = 10:00 UTC.
    assert cal.add_seconds(utc(2026, 10, 24, 15), 3 * H) == utc(2026, 10, 25, 10)


# --- DST: America/New_York -------------------------------------------------------------------


def new_york(sunday: list[list[str]] | None = None) -> BusinessHours:
    hours = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    if sunday:
        hours["sun"] = sunday
    return BusinessHours.from_spec("America/New_York", hours)


def test_new_york_spring_forward() -> None:
    cal = new_york()
    # Fri 6 Mar 16:00 EST (21:00 UTC) + 2 h: 1 h Friday; Mon 9 Mar 09:00 EDT + 1 h = 14:00 UTC.
    assert cal.add_seconds(utc(2026, 3, 6, 21), 2 * H) == utc(2026, 3, 9, 14)
    # In calendar hours the same 2 h end on Friday at 23:00 UTC.
    assert CalendarHours().add_seconds(utc(2026, 3, 6, 21), 2 * H) == utc(2026, 3, 6, 23)
    # A Sunday open all day is 23 h long: 00:00 EST = 05:00 UTC to Mon 00:00 EDT = 04:00 UTC.
    cal = new_york([["00:00", "24:00"]])
    assert cal.seconds_between(utc(2026, 3, 8), utc(2026, 3, 9, 13)) == 23 * H
    # 01:00-04:00 local: 01:00 EST = 06:00 UTC, 04:00 EDT = 08:00 UTC -> 2 h.
    cal = new_york([["01:00", "04:00"]])
    assert cal.open_intervals(date(2026, 3, 8)) == ((utc(2026, 3, 8, 6), utc(2026, 3, 8, 8)),)


def test_new_york_fall_back() -> None:
    # A Sunday open all day is 25 h long: 00:00 EDT = 04:00 UTC to Mon 00:00 EST = 05:00 UTC.
    cal = new_york([["00:00", "24:00"]])
    assert cal.seconds_between(utc(2026, 11, 1), utc(2026, 11, 2, 13)) == 25 * H
    # 01:00-02:00 local happens twice: 01:00 EDT (05:00 UTC) to 02:00 EST (07:00 UTC).
    cal = new_york([["01:00", "02:00"]])
    assert cal.open_intervals(date(2026, 11, 1)) == ((utc(2026, 11, 1, 5), utc(2026, 11, 1, 7)),)
    # Fri 30 Oct 16:00 EDT (20:00 UTC) + 2 h (weekdays only): Mon 2 Nov 10:00 EST = 15:00 UTC.
    assert new_york().add_seconds(utc(2026, 10, 30, 20), 2 * H) == utc(2026, 11, 2, 15)


# --- round trip ------------------------------------------------------------------------------


CALENDARS = [
    singapore(["2026-12-25", "2026-01-01"]),
    berlin_split(),
    berlin_every_day([["01:00", "04:00"], ["10:00", "12:30"]]),
    berlin_every_day([["02:15", "02:45"], ["23:00", "24:00"]]),
    new_york([["00:00", "01:30"], ["01:45", "24:00"]]),
    BusinessHours.from_spec("America/New_York", {"sun": [["01:00", "02:30"]]}),
    CalendarHours(),
]


@pytest.mark.parametrize("cal", CALENDARS, ids=lambda c: getattr(c, "timezone", "24/7"))
def test_add_then_measure_round_trips(cal: BusinessHours | CalendarHours) -> None:
    rng = random.Random(20260329)
    year_start = utc(2026, 1, 1)
    for _ in range(300):
        start = year_start + timedelta(seconds=rng.randrange(365 * 24 * 3600))
        if rng.random() < 0.2:
            # Start right inside a DST transition week now and then.
            pivot = rng.choice(
                [utc(2026, 3, 8, 7), utc(2026, 3, 29, 1), utc(2026, 10, 25, 1), utc(2026, 11, 1, 6)]
            )
            start = pivot + timedelta(seconds=rng.randrange(-2 * 86400, 2 * 86400))
        seconds = rng.choice([rng.randrange(0, 200 * 3600), rng.random() * 50 * 3600])
        end = cal.add_seconds(start, seconds)
        assert end >= start
        assert cal.seconds_between(start, end) == pytest.approx(seconds, abs=1e-5)
        if seconds >= 1:
            # `end` is the earliest such instant: a second earlier, not enough had passed.
            assert cal.seconds_between(start, end - timedelta(seconds=1)) < seconds


def test_results_are_utc_and_inputs_any_aware_zone() -> None:
    from zoneinfo import ZoneInfo

    cal = singapore()
    local_start = datetime(2026, 11, 23, 10, tzinfo=ZoneInfo("Asia/Singapore"))
    end = cal.add_seconds(local_start, H)
    assert end.tzinfo is UTC
    assert end == utc(2026, 11, 23, 3)


# --- pauses ----------------------------------------------------------------------------------


def test_pauses_stop_the_clock() -> None:
    cal = CalendarHours()
    start = utc(2026, 5, 4, 8)
    pauses = [
        (utc(2026, 5, 4, 9), utc(2026, 5, 4, 10)),
        (utc(2026, 5, 4, 9, 30), utc(2026, 5, 4, 11)),
    ]
    # 08:00-12:00 is 4 h, minus the merged pause 09:00-11:00: 2 h.
    assert active_seconds_between(cal, start, utc(2026, 5, 4, 12), pauses) == 2 * H
    # 3 h target: 1 h before the pause, then 2 h from 11:00 -> 13:00.
    assert due_after(cal, start, 3 * H, pauses) == utc(2026, 5, 4, 13)


def test_pauses_with_business_hours() -> None:
    cal = singapore()
    # Mon 23 Nov 09:00 SGT (01:00 UTC), paused 10:00-16:00 SGT; 4 h target:
    # 1 h before the pause, then 16:00-18:00 (2 h), then Tue 09:00 + 1 h = 10:00 SGT = 02:00 UTC.
    pauses = [(utc(2026, 11, 23, 2), utc(2026, 11, 23, 8))]
    assert due_after(cal, utc(2026, 11, 23, 1), 4 * H, pauses) == utc(2026, 11, 24, 2)
    assert active_seconds_between(cal, utc(2026, 11, 23, 1), utc(2026, 11, 24, 2), pauses) == 4 * H


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"mon": [["9:00", "18:00"]]}, "HH:MM"),
        ({"mon": [["09:00", "25:00"]]}, "HH:MM"),
        ({"mon": [["09:60", "18:00"]]}, "HH:MM"),
        ({"mon": [["24:00", "24:00"]]}, "HH:MM"),
        ({"mon": [["18:00", "09:00"]]}, "end after"),
        ({"mon": [["09:00", "09:00"]]}, "end after"),
        ({"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}, "overlap"),
        ({"monday": [["09:00", "18:00"]]}, "unknown weekday"),
        ({"mon": [["09:00"]]}, "pairs"),
        ({"mon": "09:00-18:00"}, "pairs"),
        ({}, "no open interval"),
        ({"mon": []}, "no open interval"),
    ],
)
def test_bad_weekly_hours(hours: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessHours.from_spec("Asia/Singapore", hours)  # type: ignore[arg-type]


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime"])
def test_unknown_time_zone(zone: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        BusinessHours.from_spec(zone, WEEKDAYS_9_18)


def test_bad_holiday() -> None:
    with pytest.raises(ValueError, match="holiday"):
        BusinessHours.from_spec("Asia/Singapore", WEEKDAYS_9_18, ["25/12/2026"])


def test_naive_datetimes_refused() -> None:
    naive = datetime(2026, 11, 23, 10)
    for cal in (singapore(), CalendarHours()):
        with pytest.raises(ValueError, match="naive"):
            cal.seconds_between(naive, utc(2026, 11, 24))
        with pytest.raises(ValueError, match="naive"):
            cal.add_seconds(naive, 60)


def test_negative_seconds_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        singapore().add_seconds(utc(2026, 11, 23), -1)


def test_calendar_that_never_opens_fails_instead_of_looping() -> None:
    # Open on Tuesdays only, and every day for four years is a holiday.
    cal = BusinessHours.from_spec("Asia/Singapore", {"tue": NINE_TO_SIX}, [])
    holidays = frozenset(date(2026, 1, 1) + timedelta(days=i) for i in range(4 * 366))
    closed = BusinessHours(cal.timezone, cal.week, holidays)
    with pytest.raises(ValueError, match="no open hours"):
        closed.add_seconds(utc(2026, 1, 1), 60)


def test_schema_rejects_bad_calendar() -> None:
    with pytest.raises(ValidationError) as info:
        CalendarCreate(name="x", timezone="Asia/Singapore", weekly_hours={"mon": [["9", "18"]]})
    assert info.value.errors()[0]["loc"] == ("weekly_hours",)
    with pytest.raises(ValidationError) as info:
        CalendarCreate(name="x", timezone="Nowhere/City", weekly_hours=WEEKDAYS_9_18)
    assert info.value.errors()[0]["loc"] == ("timezone",)
    ok = CalendarCreate(
        name="SG",
        timezone="Asia/Singapore",
        weekly_hours=WEEKDAYS_9_18,
        holidays=["2026-12-25", "2026-01-01", "2026-12-25"],
    )
    assert ok.holidays == ["2026-01-01", "2026-12-25"]
