"""Trigger syntax and the cron parser: what a deploy accepts, its canonical spelling, what
matches, and the next time of a schedule against a minute-by-minute search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from performer_edge.core.events import Event
from performer_edge.errors import InvalidInput
from performer_edge.functions.cron import CronSchedule
from performer_edge.functions.triggers import (
    CronTrigger,
    EventTrigger,
    parse_trigger,
    split_triggers,
)


def event(kind: str, scope: str = "") -> Event:
    return Event(b"o" * 32, 1, 0, kind, scope, b"\xa0", b"s" * 64, 1)


@pytest.mark.parametrize(
    ("given_text", "canonical"),
    [
        ("event:auth.user_signed_up", "event:auth.user_signed_up"),
        ("event:app.order_placed", "event:app.order_placed"),
        ("event:row.", "event:row."),
        ("event:row.insert:orders", "event:row.insert:public.orders"),
        ("event:row.:public.orders", "event:row.:public.orders"),
        ("cron:*/5   * * * *", "cron:*/5 * * * *"),
        ("cron:@hourly", "cron:@hourly"),
    ],
)
def test_triggers_parse_to_their_canonical_text(given_text: str, canonical: str) -> None:
    assert parse_trigger(given_text).text == canonical


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("on:insert", "must start with event: or cron:"),
        ("event:", "is not an event kind"),
        ("event:Row.Insert", "is not an event kind"),
        ("event:function.deployed", "triggers follow kinds under"),
        ("event:cluster.", "triggers follow kinds under"),
        ("event:app.ping:orders", "only row kinds"),
        ("event:row.insert:.orders", "the schema is empty"),
        ("event:row.insert:events", "reserved"),
        ("cron:* * * *", "five fields"),
        ("cron:60 * * * *", "is not a minute"),
        ("cron:* * * 13 *", "is not a month"),
        ("cron:*/0 * * * *", "positive number"),
        ("cron:5-1 * * * *", "runs backwards"),
        ("cron:0 0 30 feb *", "no date matches"),
    ],
)
def test_bad_triggers_say_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as caught:
        parse_trigger(text)
    assert caught.value.error_code == "invalid_triggers"


def test_event_triggers_match_kinds_families_and_tables() -> None:
    exact = parse_trigger("event:app.order_placed")
    family = parse_trigger("event:row.")
    table = parse_trigger("event:row.insert:orders")
    private = parse_trigger("event:row.:private.notes")
    assert isinstance(table, EventTrigger)
    assert exact.matches(event("app.order_placed"))  # type: ignore[union-attr]
    assert not exact.matches(event("app.order_placed_twice"))  # type: ignore[union-attr]
    assert family.matches(event("row.delete", "table:x"))  # type: ignore[union-attr]
    assert table.matches(event("row.insert", "table:orders"))
    assert not table.matches(event("row.update", "table:orders"))
    assert not table.matches(event("row.insert", "table:orders_archive"))
    assert private.matches(event("row.update", "table:private_notes"))  # type: ignore[union-attr]


def test_a_comma_list_of_triggers_keeps_the_commas_of_a_schedule() -> None:
    text = "event:app.a,cron:0,30 * * * *, event:row.insert:orders"
    assert split_triggers(text) == ["event:app.a", "cron:0,30 * * * *", "event:row.insert:orders"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ("*/5 * * * *", "2026-01-01T10:03", "2026-01-01T10:05"),
        ("*/5 * * * *", "2026-01-01T10:05:30", "2026-01-01T10:10"),
        ("0 0 * * *", "2026-12-31T23:59", "2027-01-01T00:00"),
        ("7/15 * * * *", "2026-01-01T10:40", "2026-01-01T10:52"),
        ("0 9 * * mon-fri", "2026-11-27T10:00", "2026-11-30T09:00"),  # Friday -> Monday
        ("0 0 29 2 *", "2026-03-01T00:00", "2028-02-29T00:00"),
        ("0 0 13 * 5", "2026-02-01T00:00", "2026-02-06T00:00"),  # day 13 OR a Friday
        ("0 0 * * 7", "2026-11-29T00:00", "2026-12-06T00:00"),  # 7 is Sunday too
        ("@monthly", "2026-01-15T00:00", "2026-02-01T00:00"),
    ],
)
def test_next_times(schedule: str, after: str, expected: str) -> None:
    assert CronSchedule.parse(schedule).next_after(at(after)) == at(expected)


FIELD = st.one_of(
    st.just("*"),
    st.integers(1, 20).map(lambda n: f"*/{n}"),
    st.tuples(st.integers(0, 5), st.integers(0, 9)).map(lambda t: f"{t[0]}-{t[0] + t[1]}"),
    st.lists(st.integers(0, 6), min_size=1, max_size=3).map(lambda v: ",".join(map(str, v))),
)


@settings(max_examples=150, deadline=None)
@given(
    minute=FIELD,
    hour=FIELD,
    dom=st.sampled_from(["*", "1", "1-10", "*/3", "15,28"]),
    dow=st.sampled_from(["*", "0", "1-5", "6,0"]),
    start=st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1)),
)
def test_next_after_is_the_first_matching_minute(
    minute: str, hour: str, dom: str, dow: str, start: datetime
) -> None:
    schedule = CronSchedule.parse(f"{minute} {hour} {dom} * {dow}")
    after = start.replace(tzinfo=UTC)
    found = schedule.next_after(after)
    assert found is not None
    assert found > after
    assert schedule.matches(found)
    probe = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while probe < found and probe < after + timedelta(days=3):  # nothing matches in between
        assert not schedule.matches(probe), probe
        probe += timedelta(minutes=1)


def test_a_cron_trigger_carries_its_schedule() -> None:
    trigger = parse_trigger("cron:0 12 * * *")
    assert isinstance(trigger, CronTrigger)
    assert trigger.schedule.matches(at("2026-05-05T12:00"))
    assert not trigger.schedule.matches(at("2026-05-05T12:01"))
