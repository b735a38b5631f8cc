"""Scheduled jobs: due in their zone, run once among many workers, retried, and recorded."""

from __future__ import annotations

import datetime as dt
import threading
import time

from _delivery import app_db, engage_settings, sessions_for, smtp_server
from sqlalchemy import select

from retain.config import ScheduledJob, Settings
from retain.engage._tables import JobRun
from retain.engage.schedule import Scheduler, latest_slot, recent_runs

__all__ = ["app_db"]

UTC = dt.datetime


def test_latest_slot_in_the_jobs_zone():
    job = ScheduledJob(name="n", command=["x"], time="06:00", zone="Asia/Tokyo")
    # 2026-12-06 20:59 UTC is 12-07 05:59 in Tokyo: the due slot is 12-06 06:00 JST.
    assert latest_slot(job, UTC(2026, 12, 6, 20, 59), "UTC") == UTC(2026, 12, 5, 21, 0)
    assert latest_slot(job, UTC(2026, 12, 6, 21, 0), "UTC") == UTC(2026, 12, 6, 21, 0)
    # Mondays only (2026-12-07 is a Monday): on Sunday the 6th the slot is the Monday before.
    monday = ScheduledJob(name="m", command=["x"], time="06:00", days=["mon"])
    assert latest_slot(monday, UTC(2026, 12, 6, 12, 0), "UTC") == UTC(2026, 11, 30, 6, 0)
    assert latest_slot(monday, UTC(2026, 12, 7, 6, 0), "UTC") == UTC(2026, 12, 7, 6, 0)


def _settings(tmp_path, url: str, **job) -> Settings:
    settings = engage_settings(tmp_path, url)
    values = {"name": "nightly", "command": ["churn", "score"], "time": "00:00", "retries": 2}
    values.update(job)
    settings.schedule = [ScheduledJob(**values)]
    return settings


def test_two_workers_never_run_the_same_job_twice(app_db, tmp_path):
    sessions = sessions_for(app_db)
    settings = _settings(tmp_path, app_db)
    calls: list[str] = []

    def runner(job):
        calls.append(job.name)
        time.sleep(0.2)  # long enough for the other workers to look meanwhile
        return True, "ok"

    schedulers = [Scheduler(settings, sessions_for(app_db), runner=runner) for _ in range(3)]
    threads = [threading.Thread(target=s.run_due) for s in schedulers]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert calls == ["nightly"]
    for s in schedulers:  # and not again once done
        assert s.run_due() == []
    with sessions() as session:
        (run,) = recent_runs(session)
    assert (run.state, run.attempt, run.detail) == ("succeeded", 1, "ok")


def test_a_failure_is_retried_after_its_wait_then_given_up(app_db, tmp_path):
    sessions = sessions_for(app_db)
    settings = _settings(tmp_path, app_db, retries=2, retry_minutes=5)
    now = UTC(2026, 12, 6, 12, 0)

    def boom(job):
        raise RuntimeError("scores table missing")

    scheduler = Scheduler(settings, sessions, runner=boom)
    (first,) = scheduler.run_due(now)
    assert (first.attempt, first.succeeded) == (1, False)
    assert "scores table missing" in first.detail
    later = now
    assert scheduler.run_due(later + dt.timedelta(minutes=1)) == []
    (second,) = scheduler.run_due(later + dt.timedelta(minutes=6))
    assert second.attempt == 2
    (third,) = scheduler.run_due(later + dt.timedelta(minutes=12))
    assert third.attempt == 3
    assert scheduler.run_due(later + dt.timedelta(minutes=60)) == []  # 1 try + 2 retries
    with sessions() as session:
        states = [r.state for r in session.scalars(select(JobRun).order_by(JobRun.attempt))]
    assert states == ["failed", "failed", "failed"]


def test_a_run_whose_worker_died_is_retried_after_its_lease(app_db, tmp_path):
    sessions = sessions_for(app_db)
    settings = _settings(tmp_path, app_db, timeout_minutes=1)
    now = UTC(2026, 12, 6, 12, 0)
    slot = latest_slot(settings.schedule[0], now, "UTC")
    with sessions() as session:
        session.add(
            JobRun(
                job="nightly",
                slot=slot,
                attempt=1,
                state="running",
                worker="dead-worker",
                started_at=now,
                lease_expires_at=now + dt.timedelta(minutes=2),
            )
        )
        session.commit()
    scheduler = Scheduler(settings, sessions, runner=lambda job: (True, "ok"))
    assert scheduler.run_due(now + dt.timedelta(minutes=1)) == []  # still within its lease
    (retry,) = scheduler.run_due(now + dt.timedelta(minutes=3))
    assert (retry.attempt, retry.succeeded) == (2, True)
    with sessions() as session:
        runs = session.scalars(select(JobRun).order_by(JobRun.attempt)).all()
    assert [(r.state, r.detail[:5]) for r in runs] == [("failed", "lost:"), ("succeeded", "ok")]


def test_the_default_runner_runs_a_retain_command(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    sessions = sessions_for(url)
    settings = _settings(tmp_path, url, command=["worker", "--help"])
    (outcome,) = Scheduler(settings, sessions).run_due()
    assert outcome.succeeded and outcome.detail.startswith("exit 0")
    failing = _settings(tmp_path, url, name="bad", command=["no-such-command"])
    (bad,) = Scheduler(failing, sessions).run_due()
    assert not bad.succeeded and bad.detail.startswith("exit 2")


def test_the_report_is_mailed_to_the_list(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    with smtp_server() as (handler, port):
        settings = engage_settings(tmp_path, url, port)
        job = ScheduledJob(name="weekly", email_report_to=["boss@shop.example", "cfo@shop.example"])
        report = tmp_path / "report.html"
        report.write_text("<h1>KPIs</h1>")
        ok, detail = Scheduler(settings, sessions_for(url))._mail_report(job, report)
    assert ok, detail
    (mail,) = handler.messages
    assert mail["To"] == "boss@shop.example, cfo@shop.example"
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == "report.html"
    assert attachment.get_content() == "<h1>KPIs</h1>"
