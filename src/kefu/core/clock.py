"""The one place that reads the wall clock, so tests and jobs can move time deliberately."""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    """Timezone-aware UTC time; `freeze` pins it for tests and replays."""

    def __init__(self) -> None:
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        return self._frozen if self._frozen is not None else datetime.now(UTC)

    def freeze(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("clock times must be timezone-aware")
        self._frozen = at.astimezone(UTC)

    def unfreeze(self) -> None:
        self._frozen = None


clock = Clock()


def utcnow() -> datetime:
    return clock.now()


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC, so re-attach it."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
