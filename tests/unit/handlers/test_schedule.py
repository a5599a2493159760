"""When does a Repository sync next? Cron, default period and failure backoff."""

from __future__ import annotations

import datetime

from lanai.api import models
from lanai.handlers import mirroring, syncfailures
from lanai.handlers.repository import Schedule

NOW = datetime.datetime(2026, 1, 1, 12, 0, 30, tzinfo=datetime.UTC)


def spec(schedule: str = "") -> models.RepositorySpec:
    return models.RepositorySpec.model_validate(
        {"git": {"repo": "r"}, "sync": {"schedule": schedule}}
    )


def test_default_period_without_a_schedule() -> None:
    assert Schedule(default_period=60, retry_cap=30).next_delay(spec(), NOW) == 60


def test_cron_schedule_gives_the_time_to_the_next_slot() -> None:
    assert Schedule(60, 30).next_delay(spec("*/10 * * * *"), NOW) == 9 * 60 + 30


def test_a_bad_cron_expression_falls_back_to_the_default_period() -> None:
    assert Schedule(60, 30).next_delay(spec("not cron"), NOW) == 60


def test_failures_back_off_exponentially_up_to_the_cap() -> None:
    schedule = Schedule(60, retry_cap=10)
    delays = []
    for failures in range(1, 7):
        schedule.failures = failures
        delays.append(schedule.next_delay(spec("*/10 * * * *"), NOW))
    assert delays == [1, 2, 4, 8, 10, 10]


def test_a_refused_object_due_again_brings_the_next_sync_forward() -> None:
    now = [1000.0]
    schedule = Schedule(60, retry_cap=10)
    schedule.failed_writes = syncfailures.FailedWrites(first_retry=5, clock=lambda: now[0])
    assert schedule.next_delay(spec(), NOW) == 60
    applied = mirroring.Applied()
    key = ("PackageRevision", "a")
    applied.attempted = {key}
    applied.failed = {key: mirroring.WriteFailure("PackageRevision", "a", "create", 503, "x")}
    schedule.failed_writes.update({key}, applied)
    assert schedule.next_delay(spec(), NOW) == 5
    now[0] += 4.5
    assert schedule.next_delay(spec(), NOW) == 1  # never a busy loop
    schedule.failures = 1
    assert schedule.next_delay(spec(), NOW) == 1
