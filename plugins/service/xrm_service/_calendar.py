"""Business hours: weekly opening windows in a time zone, closed on public holidays.

A minute is *open* when its local time (in the calendar's time zone) falls in one of the
windows of its local weekday and its local date is neither a public holiday of the
calendar's country (the ``holidays`` package) nor one of its extra closed days. The clock
works on exact instants: :meth:`Calendar.business_time` is the open time between two
instants, :meth:`Calendar.add_business_time` the instant when a given open time has
elapsed. Daylight-saving changes are honoured: the open instants are found per stretch of
constant UTC offset, so a window that crosses a change is as long as the clock on the
wall says it is open.
"""

from __future__ import annotations

import datetime as dt
import heapq
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import holidays as holiday_data

from xrm.errors import ConfigurationError

__all__ = ["DEFAULT_CALENDAR", "WEEKDAYS", "Calendar", "parse_hours"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: every UTC offset is within ±14 h; a local date's instants lie within this of its midnight
_REACH = dt.timedelta(hours=15)
#: offset changes are found by probing at this step, then bisecting to the second
_PROBE = dt.timedelta(hours=6)
#: a calendar with no open minute in this many days is an error, not an endless search
_HORIZON_DAYS = 3 * 366
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

Window = tuple[int, int]  # minutes since local midnight: [start, end), end up to 1440


def _minutes(hours: str, minutes: str, text: str) -> int:
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 1440:
        raise ConfigurationError(f"calendar hours: {text!r} is not a time of day")
    return value


def _windows(text: str) -> tuple[Window, ...]:
    found: list[Window] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _WINDOW.match(part)
        if match is None:
            raise ConfigurationError(f"calendar hours: {part!r} is not HH:MM-HH:MM")
        start = _minutes(match[1], match[2], part)
        end = _minutes(match[3], match[4], part)
        if start >= end:
            raise ConfigurationError(f"calendar hours: {part!r} ends before it starts")
        found.append((start, end))
    return _merged(found)


def _merged(windows: Iterable[Window]) -> tuple[Window, ...]:
    result: list[list[int]] = []
    for start, end in sorted(windows):
        if not 0 <= start < end <= 1440:
            raise ConfigurationError(f"calendar hours: window {start}-{end} is not within a day")
        if result and start <= result[-1][1]:
            result[-1][1] = max(result[-1][1], end)
        else:
            result.append([start, end])
    return tuple((a, b) for a, b in result)


def _days(spec: str | int) -> list[int]:
    if isinstance(spec, int) and not isinstance(spec, bool) and 0 <= spec <= 6:
        return [spec]
    if not isinstance(spec, str):
        raise ConfigurationError(f"calendar hours: {spec!r} is not a weekday")
    names = spec.strip().lower()
    if "-" in names:
        first, _, last = names.partition("-")
        if first in WEEKDAYS and last in WEEKDAYS:
            a, b = WEEKDAYS.index(first), WEEKDAYS.index(last)
            if a <= b:
                return list(range(a, b + 1))
    elif names in WEEKDAYS:
        return [WEEKDAYS.index(names)]
    raise ConfigurationError(f"calendar hours: {spec!r} is not a weekday or a range (mon-fri)")


def parse_hours(hours: Mapping[Any, Any]) -> tuple[tuple[Window, ...], ...]:
    """Seven tuples of windows (Monday first) from ``{"mon-fri": "09:00-12:30, 13:30-18:00",
    "sat": "09:00-12:00"}``; a day may also be 0-6 and its windows ``[(540, 1080)]`` in
    minutes. Days not named are closed."""
    week: list[list[Window]] = [[] for _ in WEEKDAYS]
    for spec, windows in hours.items():
        parsed = _windows(windows) if isinstance(windows, str) else _merged(windows)
        for day in _days(spec):
            week[day].extend(parsed)
    return tuple(_merged(day) for day in week)


def _dates(values: Iterable[dt.date]) -> frozenset[dt.date]:
    return frozenset(values)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"calendar time_zone: unknown time zone {name!r}") from None


@attrs.frozen(eq=False)
class Calendar:
    """Business hours: ``hours`` per weekday in ``time_zone``, closed on the public holidays
    of ``country`` (an ISO 3166 code the ``holidays`` package knows, with an optional
    ``subdivision``: ``"FR"``, ``("DE", "BY")``) and on the ``closed`` dates."""

    name: str
    hours: tuple[tuple[Window, ...], ...] = attrs.field(converter=parse_hours)
    time_zone: str = "UTC"
    country: str | None = None
    subdivision: str | None = None
    closed: frozenset[dt.date] = attrs.field(default=frozenset(), converter=_dates)

    def __attrs_post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ConfigurationError("calendar name: must be a non-empty text")
        if not any(self.hours):
            raise ConfigurationError(f"calendar {self.name!r}: no business hours on any day")
        _zone(self.time_zone)
        if self.country is not None:
            try:
                holiday_data.country_holidays(self.country, subdiv=self.subdivision)
            except NotImplementedError as exc:
                raise ConfigurationError(f"calendar {self.name!r} country: {exc}") from None

    @cached_property
    def _zone(self) -> ZoneInfo:
        return _zone(self.time_zone)

    @cached_property
    def _public(self) -> holiday_data.HolidayBase | None:
        if self.country is None:
            return None
        return holiday_data.country_holidays(self.country, subdiv=self.subdivision)

    def is_closed_day(self, day: dt.date) -> bool:
        """Is ``day`` (a local date) a public holiday or an extra closed day?"""
        return day in self.closed or (self._public is not None and day in self._public)

    # -- the clock ---------------------------------------------------------------------
    def business_time(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """The open time between two instants (zero when ``end`` is not after ``start``)."""
        a, b = _naive(start), _naive(end)
        total = dt.timedelta()
        if b <= a:
            return total
        for lo, hi in self._open(a):
            if lo >= b:
                break
            total += min(hi, b) - lo
        return total

    def add_business_time(self, start: dt.datetime, amount: dt.timedelta) -> dt.datetime:
        """The instant when ``amount`` of open time has elapsed from ``start`` (``start``
        itself for nothing)."""
        left = amount
        if left <= dt.timedelta():
            return start.astimezone(dt.UTC)
        for lo, hi in self._open(_naive(start)):
            if hi - lo >= left:
                return (lo + left).replace(tzinfo=dt.UTC)
            left -= hi - lo
        raise AssertionError("unreachable: _open never ends")  # pragma: no cover

    def open_intervals(self, start: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """The open stretches from ``start`` on, in order, as aware UTC instants."""
        for lo, hi in self._open(_naive(start)):
            yield lo.replace(tzinfo=dt.UTC), hi.replace(tzinfo=dt.UTC)

    # -- how ---------------------------------------------------------------------------
    def _open(self, start: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Open stretches (naive UTC) ending after ``start``, clipped to it, in order.

        Stretches of different local dates never overlap (an instant has one local date),
        but around a backward offset change a later date may start before an earlier one
        ends: they wait in a heap until no later date can come before them."""
        day = (start.replace(tzinfo=dt.UTC).astimezone(self._zone)).date() - dt.timedelta(1)
        pending: list[tuple[dt.datetime, dt.datetime]] = []
        idle = 0
        while True:
            bound = _midnight(day) - _REACH
            while pending and pending[0][0] <= bound:
                lo, hi = heapq.heappop(pending)
                if hi > start:
                    idle = 0
                    yield max(lo, start), hi
            idle += 1
            if idle > _HORIZON_DAYS:
                raise ConfigurationError(
                    f"calendar {self.name!r} has no business hours within {_HORIZON_DAYS} "
                    f"days of {start.isoformat()}Z"
                )
            windows = self.hours[day.weekday()]
            if windows and not self.is_closed_day(day):
                for lo, hi in self._stretches(day, windows):
                    heapq.heappush(pending, (lo, hi))
            day += dt.timedelta(1)

    def _stretches(
        self, day: dt.date, windows: Sequence[Window]
    ) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        midnight = _midnight(day)
        for seg_lo, seg_hi, offset in self._segments(midnight - _REACH, midnight + _REACH * 3):
            local_midnight = midnight - offset  # the UTC instant of local 00:00 at this offset
            for start, end in windows:
                lo = max(seg_lo, local_midnight + dt.timedelta(minutes=start))
                hi = min(seg_hi, local_midnight + dt.timedelta(minutes=end))
                if lo < hi:
                    yield lo, hi

    def _offset(self, instant: dt.datetime) -> dt.timedelta:
        offset = instant.replace(tzinfo=dt.UTC).astimezone(self._zone).utcoffset()
        assert offset is not None
        return offset

    def _segments(
        self, lo: dt.datetime, hi: dt.datetime
    ) -> list[tuple[dt.datetime, dt.datetime, dt.timedelta]]:
        """``[lo, hi)`` cut where the zone's UTC offset changes."""
        segments = []
        current, offset = lo, self._offset(lo)
        probe = lo
        while probe < hi:
            nxt = min(probe + _PROBE, hi - dt.timedelta(seconds=1))
            if nxt <= probe:
                break
            if self._offset(nxt) != offset:
                a, b = probe, nxt  # offset(a) == offset, offset(b) differs: bisect
                while b - a > dt.timedelta(seconds=1):
                    mid = a + (b - a) // 2
                    mid = mid.replace(microsecond=0)
                    if self._offset(mid) == offset:
                        a = mid
                    else:
                        b = mid
                segments.append((current, b, offset))
                current, offset = b, self._offset(b)
                probe = b
                continue
            probe = nxt
        segments.append((current, hi, offset))
        return segments


def _naive(instant: dt.datetime) -> dt.datetime:
    if instant.tzinfo is None:
        return instant
    return instant.astimezone(dt.UTC).replace(tzinfo=None)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


#: Monday to Friday, 09:00 to 17:00 UTC, no holidays: what an application gets until it
#: configures its own (xrm_service.configure)
DEFAULT_CALENDAR = Calendar("default", {"mon-fri": "09:00-17:00"})
