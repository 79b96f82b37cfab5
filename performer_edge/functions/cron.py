"""Five-field cron schedules (`minute hour day-of-month month day-of-week`, UTC): parse, match,
and find the next time. Pure: imports nothing from the node but `errors`.

The grammar is Vixie cron's: each field is `*` or a comma list of `N`, `A-B`, each optionally
`/STEP` (`*/5`, `10-50/10`, `7/15` = 7 to the field's end by 15); months and days of the week
also by three-letter English names (`jan`, `mon-fri`); a day of the week of 0 or 7 is Sunday.
As in Vixie cron, when both day fields are restricted (neither starts with `*`) a day matches if
either matches. `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly`, `@yearly`
(`@annually`) stand for their usual schedules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from performer_edge.errors import InvalidInput

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Field name, lowest value, highest value, names for the values from the lowest.
FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, WEEKDAYS),
)
# A schedule that matches no real date (`0 0 30 2 *`) is refused when no time matches in this
# many years: every day-of-month/month/weekday combination recurs within 28 years.
SEARCH_YEARS = 29


def invalid(spec: str, why: str) -> InvalidInput:
    return InvalidInput(f"invalid cron schedule {spec[:80]!r}: {why}", code="invalid_triggers")


@dataclass(frozen=True)
class CronSchedule:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday .. 6 = Saturday
    any_day: bool  # the day-of-month field starts with `*`
    any_weekday: bool  # the day-of-week field starts with `*`

    @classmethod
    def parse(cls, text: str) -> CronSchedule:
        spec = " ".join(text.split())
        expanded = MACROS.get(spec.lower(), spec)
        parts = expanded.split(" ")
        if len(parts) != 5:
            raise invalid(text, "give five fields: minute hour day-of-month month day-of-week")
        sets = [_field(text, part, *field) for part, field in zip(parts, FIELDS, strict=True)]
        weekdays = frozenset(d % 7 for d in sets[4])
        schedule = cls(
            spec,
            sets[0],
            sets[1],
            sets[2],
            sets[3],
            weekdays,
            any_day=parts[2].startswith("*"),
            any_weekday=parts[4].startswith("*"),
        )
        start = datetime(2000, 1, 1, tzinfo=UTC)
        if schedule.next_after(start, start + timedelta(days=366 * SEARCH_YEARS)) is None:
            raise invalid(text, "no date matches it")
        return schedule

    def day_matches(self, when: datetime) -> bool:
        in_month = when.day in self.days
        in_week = (when.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week  # one of them is `*`, which matches every day
        return in_month or in_week

    def matches(self, when: datetime) -> bool:
        return (
            when.minute in self.minutes
            and when.hour in self.hours
            and when.month in self.months
            and self.day_matches(when)
        )

    def next_after(self, after: datetime, limit: datetime | None = None) -> datetime | None:
        """The first matching minute strictly after `after` (UTC), or None past `limit`
        (default: SEARCH_YEARS from `after`, enough for any schedule that matches a date)."""
        when = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        end = limit or when + timedelta(days=366 * SEARCH_YEARS)
        # Skip whole months, days and hours that cannot match: a few dozen steps at most.
        while when <= end:
            if when.month not in self.months:
                when = _next_month(when)
            elif not self.day_matches(when):
                when = when.replace(hour=0, minute=0) + timedelta(days=1)
            elif when.hour not in self.hours:
                when = when.replace(minute=0) + timedelta(hours=1)
            elif when.minute not in self.minutes:
                when += timedelta(minutes=1)
            else:
                return when
        return None


def _next_month(when: datetime) -> datetime:
    year, month = (when.year + 1, 1) if when.month == 12 else (when.year, when.month + 1)
    return when.replace(year=year, month=month, day=1, hour=0, minute=0)


def _field(
    spec: str, text: str, name: str, low: int, high: int, names: tuple[str, ...]
) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        body, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise invalid(spec, f"the step in {item!r} ({name}) must be a positive number")
            step = int(step_text)
        if body == "*":
            first, last = low, high
        else:
            start, dash, end = body.partition("-")
            first = _value(spec, start, name, low, high, names)
            # `7/15` runs from 7 to the field's end; a lone `7` is just 7.
            last = _value(spec, end, name, low, high, names) if dash else high if slash else first
            if last < first:
                raise invalid(spec, f"the range {item!r} ({name}) runs backwards")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _value(spec: str, text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> int:
    lowered = text.lower()
    if lowered in names:
        return low + names.index(lowered)
    if not text.isdigit() or not low <= int(text) <= high:
        known = f" or {names[0]}..{names[-1]}" if names else ""
        raise invalid(spec, f"{text!r} is not a {name} ({low}-{high}{known})")
    return int(text)
