"""Recurring jobs of ``retain worker`` (``[[schedule]]`` in retain.toml), each run recorded.

A job is a retain command (``["churn", "score"]``, ``["playbooks", "run"]``) run at a local time
in its zone on chosen weekdays, optionally followed by e-mailing the report to a list. Each slot
(the job's latest due time) is tried by inserting ``(job, slot, attempt)`` into
``engage_job_runs``: the unique key lets exactly one worker win a try, so two workers never run
the same job twice. A failed try is retried after ``retry_minutes`` up to ``retries`` times; a
try whose worker died is declared lost when its lease passes and retried the same way. A worker
that was down runs each job's latest missed slot once when it comes back, not every slot missed.
Slots are instants (:func:`slot_instant`): a time inside a spring-forward gap runs the gap's
length later, a time in the repeated fall-back hour runs at its first occurrence, once.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from retain.appdb import utcnow
from retain.config import ScheduledJob, Settings
from retain.engage._tables import JobRun
from retain.engage.email import SmtpSender
from retain.engage.outbox import insert_ignoring

__all__ = ["JobOutcome", "Runner", "Scheduler", "latest_slot", "recent_runs", "slot_instant"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: How far back a missed slot is still run (a week: a weekly job is never skipped).
_CATCH_UP = dt.timedelta(days=7)

#: Runs one job; returns (succeeded, detail). The default runs ``python -m retain COMMAND``.
Runner = Callable[[ScheduledJob], tuple[bool, str]]


def slot_instant(day: dt.date, time: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The instant (naive UTC) of local ``time`` on ``day`` in ``zone``, across DST changes.

    A local time that does not exist (inside a spring-forward gap) maps forward by the gap:
    02:30 on the night New York moves from 02:00 EST to 03:00 EDT is 03:30 EDT (07:30 UTC), the
    rule of RFC 5545 (3.3.5) and of PEP 495's ``fold=0``. A local time that happens twice (the
    fall-back hour) is its first occurrence, so the job runs once, not twice.
    """
    local = dt.datetime.combine(day, time, tzinfo=zone)  # fold=0: the offset before a change
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def latest_slot(job: ScheduledJob, now: dt.datetime, default_zone: str) -> dt.datetime | None:
    """The job's most recent due time at or before ``now`` (both naive UTC), or None.

    Compared as instants: wall times of one zone compare naively in Python (PEP 495), which
    made a slot in a spring-forward gap due at the gap's end yet recorded an hour later.
    """
    zone = zoneinfo.ZoneInfo(job.zone or default_zone)
    local_now = now.replace(tzinfo=dt.UTC).astimezone(zone)
    hour, minute = (int(part) for part in job.time.split(":"))
    for back in range(_CATCH_UP.days + 1):
        day = local_now.date() - dt.timedelta(days=back)
        if job.days and _DAYS[day.weekday()] not in job.days:
            continue
        slot = slot_instant(day, dt.time(hour, minute), zone)
        if slot <= now:
            return slot
    return None


@dataclass(frozen=True)
class JobOutcome:
    """One try this worker made."""

    job: str
    slot: dt.datetime
    attempt: int
    succeeded: bool
    detail: str


class Scheduler:
    """Runs the due jobs of ``settings.schedule``; safe with any number of workers at once."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        *,
        runner: Runner | None = None,
        config_path: str | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.config_path = config_path
        self.runner = runner or self._run_command
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    def run_due(self, now: dt.datetime | None = None) -> list[JobOutcome]:
        """Try every job whose slot is due and not yet done; return what this worker ran."""
        outcomes = []
        for job in self.settings.schedule:
            current = now or utcnow()
            slot = latest_slot(job, current, self.settings.time_zone)
            if slot is None:
                continue
            attempt = self._claim(job, slot, current)
            if attempt is None:
                continue
            try:
                ok, detail = self.runner(job)
            except Exception as exc:  # a job's failure is recorded, never the worker's end
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            self._finish(job, slot, attempt, ok, detail, started=current)
            outcomes.append(JobOutcome(job.name, slot, attempt, ok, detail))
        return outcomes

    def _claim(self, job: ScheduledJob, slot: dt.datetime, now: dt.datetime) -> int | None:
        """Insert the next try of (job, slot) when it is due; the attempt number if we won it."""
        with self.sessions() as session:
            last = session.scalars(
                select(JobRun)
                .where(JobRun.job == job.name, JobRun.slot == slot)
                .order_by(JobRun.attempt.desc())
                .limit(1)
            ).first()
            if last is not None:
                if last.state == "succeeded":
                    return None
                if last.state == "running":
                    if last.lease_expires_at >= now:
                        return None
                    session.execute(  # its worker died: the try is lost, retry it
                        update(JobRun)
                        .where(JobRun.id == last.id, JobRun.state == "running")
                        .values(
                            state="failed",
                            finished_at=now,
                            retry_at=now,
                            detail="lost: the worker stopped during the run",
                        )
                    )
                    session.commit()
                    last.retry_at = now
                if last.attempt > job.retries or (last.retry_at and last.retry_at > now):
                    return None
            attempt = 1 if last is None else last.attempt + 1
            lease = now + dt.timedelta(minutes=job.timeout_minutes + 1)
            values = {
                "job": job.name,
                "slot": slot,
                "attempt": attempt,
                "state": "running",
                "worker": self.worker,
                "started_at": now,
                "lease_expires_at": lease,
            }
            won = insert_ignoring(session, JobRun.__table__, values)
            session.commit()
            return attempt if won else None

    def _finish(
        self,
        job: ScheduledJob,
        slot: dt.datetime,
        attempt: int,
        ok: bool,
        detail: str,
        *,
        started: dt.datetime,
    ) -> None:
        """Record the try's outcome; a failure may be retried ``retry_minutes`` after it began."""
        now = utcnow()
        with self.sessions() as session:
            session.execute(
                update(JobRun)
                .where(JobRun.job == job.name, JobRun.slot == slot, JobRun.attempt == attempt)
                .values(
                    state="succeeded" if ok else "failed",
                    finished_at=now,
                    retry_at=None if ok else started + dt.timedelta(minutes=job.retry_minutes),
                    detail=detail[-4000:],
                )
            )
            session.commit()

    def _retain(self, args: Sequence[str], timeout: float) -> tuple[bool, str]:
        base = [sys.executable, "-m", "retain"]
        if self.config_path:
            base += ["--config", self.config_path]
        try:
            done = subprocess.run(  # noqa: S603  (this interpreter, retain's own commands)
                [*base, *args], capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return False, f"timed out after {timeout:.0f} s"
        tail = (done.stdout + done.stderr).strip()[-2000:]
        return done.returncode == 0, f"exit {done.returncode}: {tail}"

    def _run_command(self, job: ScheduledJob) -> tuple[bool, str]:
        timeout = job.timeout_minutes * 60
        details = []
        if job.command:
            ok, detail = self._retain(job.command, timeout)
            details.append(detail)
            if not ok:
                return False, "\n".join(details)
        if job.email_report_to:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "report.html"
                ok, detail = self._retain(["report", "-o", str(path)], timeout)
                details.append(detail)
                if not ok:
                    return False, "\n".join(details)
                ok, detail = self._mail_report(job, path)
                details.append(detail)
                return ok, "\n".join(details)
        return True, "\n".join(details)

    def _mail_report(self, job: ScheduledJob, path: Path) -> tuple[bool, str]:
        engage = self.settings.engage
        mail = EmailMessage()
        mail["From"] = engage.sender
        mail["To"] = ", ".join(job.email_report_to)
        mail["Subject"] = f"retain report ({job.name})"
        mail.set_content(f"The retain report of {utcnow():%Y-%m-%d %H:%M} UTC is attached.")
        mail.add_attachment(
            path.read_bytes(), maintype="text", subtype="html", filename="report.html"
        )
        sender = SmtpSender(self.settings)
        try:
            result = sender.send(mail)
        finally:
            sender.close()
        return result.ok, f"report mailed to {len(job.email_report_to)}: {result.detail}"


def recent_runs(session: Session, limit: int = 50) -> Sequence[JobRun]:
    """The latest job runs, newest first (what the API and the CLI show)."""
    return session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)).all()
