"""The work timeline: ticket stages, notes, tasks, calls and save-desk contacts, newest first."""

from __future__ import annotations

import datetime as dt

import pytest
from _case_db import sessions

from retain.errors import InvalidParameterError
from retain.voice import savedesk, tickets, work

T0 = dt.datetime(2024, 3, 1, 9, 0)


def test_timeline_merges_everything_and_hides_internal_text_from_the_customer_view(tmp_path):
    with sessions(tmp_path)() as session:
        ticket = tickets.open_ticket(session, customer_id="C1", subject="late", opened_at=T0)
        tickets.move(session, ticket, "investigating", at=T0 + dt.timedelta(hours=1))
        tickets.add_update(session, ticket, "internal only", visible=False)
        tickets.add_update(session, ticket, "we found it", visible=True)
        work.add_note(session, "C1", "prefers phone", author="ann")
        work.add_task(session, "C1", "call back", owner="bo", created_by="ann")
        work.log_call(session, "C1", agent="ann", outcome="reached", summary="ok")
        savedesk.open_case(session, kind="cancellation", customer_id="C1", reason="price")
        work.add_note(session, "C2", "someone else", author="ann")
        everything = work.timeline(session, "C1")
        kinds = sorted(e.kind for e in everything)
        assert kinds == sorted(
            [
                "ticket_opened",
                "ticket_stage",
                "ticket_note",
                "ticket_update",
                "note",
                "task",
                "call",
                "savedesk",
            ]
        )
        assert [e.at for e in everything] == sorted((e.at for e in everything), reverse=True)
        outside = work.timeline(session, "C1", internal=False)
        texts = " ".join(f"{e.text} {e.detail}" for e in outside)
        assert "we found it" in texts and "internal only" not in texts
        assert {e.kind for e in outside} == {"ticket_opened", "ticket_stage", "ticket_update"}


def test_tasks_validate_and_sort_by_due_date(tmp_path):
    with sessions(tmp_path)() as session:
        late = work.add_task(
            session, "C1", "b", owner="bo", created_by="x", due_on=dt.date(2030, 1, 2)
        )
        soon = work.add_task(
            session, "C2", "a", owner="bo", created_by="x", due_on=dt.date(2030, 1, 1)
        )
        undated = work.add_task(session, "C3", "c", owner="ann", created_by="x")
        assert [t.id for t in work.open_tasks(session)] == [soon.id, late.id, undated.id]
        assert [t.id for t in work.open_tasks(session, owner="ann")] == [undated.id]
        work.complete_task(session, soon)
        first = soon.done_at
        work.complete_task(session, soon)
        assert soon.done_at == first and soon.id not in [t.id for t in work.open_tasks(session)]
        with pytest.raises(InvalidParameterError):
            work.add_task(session, "C1", " ", owner="bo", created_by="x")
        with pytest.raises(InvalidParameterError):
            work.log_call(session, "C1", agent="a", outcome=" ")
        with pytest.raises(InvalidParameterError):
            work.add_note(session, "C1", "", author="a")
