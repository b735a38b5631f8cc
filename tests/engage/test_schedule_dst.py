"""Scheduled jobs across daylight-saving changes: a slot in the gap, a slot in the repeated hour.

Dates from the IANA tz database (zoneinfo, no network): New York moves 02:00 EST -> 03:00 EDT
on 2026-03-08 (07:00 UTC) and 02:00 EDT -> 01:00 EST on 2026-11-01 (06:00 UTC); Berlin moves
02:00 CET -> 03:00 CEST on 2026-03-29 (01:00 UTC) and 03:00 CEST -> 02:00 CET on 2026-10-25
(01:00 UTC).
"""

from __future__ import annotations

import datetime as dt

import pytest
from _delivery import engage_settings, sessions_for
from sqlalchemy import select

from retain.config import ScheduledJob
from retain.engage._tables import JobRun
from retain.engage.schedule import Scheduler, latest_slot, slot_instant

UTC = dt.datetime


@pytest.mark.parametrize(
    ("zone", "time", "day", "expected"),
    [
        # spring forward: 02:30 does not exist; it maps forward by the gap (03:30 local)
        ("America/New_York", "02:30", dt.date(2026, 3, 8), UTC(2026, 3, 8, 7, 30)),
        ("America/New_York", "02:00", dt.date(2026, 3, 8), UTC(2026, 3, 8, 7, 0)),
        ("Europe/Berlin", "02:30", dt.date(2026, 3, 29), UTC(2026, 3, 29, 1, 30)),
        # fall back: 01:30 (New York) and 02:30 (Berlin) happen twice; the first one counts
        ("America/New_York", "01:30", dt.date(2026, 11, 1), UTC(2026, 11, 1, 5, 30)),
        ("Europe/Berlin", "02:30", dt.date(2026, 10, 25), UTC(2026, 10, 25, 0, 30)),
        # an ordinary day either side of a change keeps its own offset
        ("America/New_York", "02:30", dt.date(2026, 3, 7), UTC(2026, 3, 7, 7, 30)),
        ("America/New_York", "02:30", dt.date(2026, 3, 9), UTC(2026, 3, 9, 6, 30)),
    ],
)
def test_slot_instant_maps_gaps_forward_and_repeats_to_the_first(zone, time, day, expected):
    import zoneinfo

    hour, minute = (int(p) for p in time.split(":"))
    assert slot_instant(day, dt.time(hour, minute), zoneinfo.ZoneInfo(zone)) == expected


def test_a_gap_slot_is_not_due_before_its_instant():
    job = ScheduledJob(name="n", command=["x"], time="02:30", zone="America/New_York")
    # 07:10 UTC is 03:10 EDT: past 02:30 on the wall clock, but before the slot's instant
    assert latest_slot(job, UTC(2026, 3, 8, 7, 10), "UTC") == UTC(2026, 3, 7, 7, 30)
    assert latest_slot(job, UTC(2026, 3, 8, 7, 30), "UTC") == UTC(2026, 3, 8, 7, 30)


def _walk(tmp_path, zone: str, time: str, start: UTC, hours: int) -> list[tuple[UTC, UTC]]:
    """Run the scheduler every 5 minutes from ``start``; (when it ran, the slot it recorded)."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    sessions = sessions_for(url)
    settings = engage_settings(tmp_path, url)
    settings.schedule = [ScheduledJob(name="nightly", command=["x"], time=time, zone=zone)]
    ran: list[UTC] = []

    def runner(job: ScheduledJob) -> tuple[bool, str]:
        ran.append(now)
        return True, "ok"

    scheduler = Scheduler(settings, sessions, runner=runner)
    now = start
    # the slot before the walk is done already, as it would be on a running system
    assert [o.succeeded for o in scheduler.run_due(start)] == [True]
    ran.clear()
    for _ in range(hours * 12):
        now += dt.timedelta(minutes=5)
        scheduler.run_due(now)
    with sessions() as session:
        slots = [r.slot for r in session.scalars(select(JobRun).order_by(JobRun.id))][1:]
    return list(zip(ran, slots, strict=True))


@pytest.mark.parametrize(
    ("zone", "time", "start", "slot"),
    [
        ("America/New_York", "02:30", UTC(2026, 3, 8, 4, 0), UTC(2026, 3, 8, 7, 30)),
        ("Europe/Berlin", "02:30", UTC(2026, 3, 28, 22, 0), UTC(2026, 3, 29, 1, 30)),
    ],
)
def test_spring_forward_runs_once_at_the_mapped_instant_and_records_it(
    tmp_path, zone, time, start, slot
):
    assert _walk(tmp_path, zone, time, start, hours=8) == [(slot, slot)]


@pytest.mark.parametrize(
    ("zone", "time", "start", "slot"),
    [
        ("America/New_York", "01:30", UTC(2026, 11, 1, 3, 0), UTC(2026, 11, 1, 5, 30)),
        ("Europe/Berlin", "02:30", UTC(2026, 10, 24, 22, 0), UTC(2026, 10, 25, 0, 30)),
    ],
)
def test_fall_back_runs_once_not_twice(tmp_path, zone, time, start, slot):
    # the walk covers both occurrences of the repeated hour and the rest of the night
    assert _walk(tmp_path, zone, time, start, hours=8) == [(slot, slot)]
