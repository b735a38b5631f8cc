"""Invitations, one answer per invitation, detractor follow-ups, answers in interactions."""

from __future__ import annotations

import datetime as dt
import json
import re

import pyarrow as pa
import pytest
from _survey_db import SECRET, sessions, settings
from sqlalchemy import select

import retain.warehouse as wh
from retain.engage._tables import OutboxMessage
from retain.features.snapshot import _SCORE_RE
from retain.ingest import ingest
from retain.voice import surveys
from retain.voice._case_tables import CustomerTask
from retain.voice._survey_tables import FollowUpTask, SurveyInvitation, SurveyResponse
from retain.voice.links import LinkError

NOW = dt.datetime(2026, 12, 1, 9, 0, 0)


def test_an_invitation_stores_only_the_hash_of_its_link_id(tmp_path):
    make = sessions(tmp_path)
    with make() as s:
        inv = surveys.invite(s, SECRET, survey="nps", customer_id="C1", language="ko", now=NOW)
        s.commit()
        row = s.get(SurveyInvitation, inv.invitation_id)
        assert row is not None and row.token_hash != inv.claims.link_id
        assert inv.claims.link_id not in inv.token.split(".")[1]
        assert row.expires_at == NOW + surveys.DEFAULT_TTL


def test_an_answer_is_accepted_once(tmp_path):
    make = sessions(tmp_path)
    with make() as s:
        inv = surveys.invite(s, SECRET, survey="nps", customer_id="C1", now=NOW)
        s.commit()
        r = surveys.answer(s, SECRET, inv.token, score=10, comment=" great ", now=NOW)
        assert (r.score, r.comment, r.customer_id) == (10, "great", "C1")
        with pytest.raises(LinkError) as err:
            surveys.answer(s, SECRET, inv.token, score=0, now=NOW)
        assert err.value.reason == "used"
        assert s.scalars(select(SurveyResponse.score)).all() == [10]


def test_an_expired_invitation_takes_no_answer(tmp_path):
    make = sessions(tmp_path)
    with make() as s:
        inv = surveys.invite(
            s, SECRET, survey="csat", customer_id="C1", ttl=dt.timedelta(hours=1), now=NOW
        )
        s.commit()
        with pytest.raises(LinkError) as err:
            surveys.answer(s, SECRET, inv.token, score=4, now=NOW + dt.timedelta(hours=1))
        assert err.value.reason == "expired"
        assert s.scalars(select(SurveyResponse)).all() == []


def test_a_genuine_token_without_its_row_is_unknown(tmp_path):
    make = sessions(tmp_path)
    with make() as s:
        inv = surveys.invite(s, SECRET, survey="nps", customer_id="C1", now=NOW)
        s.rollback()  # the row never committed
        with pytest.raises(LinkError) as err:
            surveys.open_invitation(s, SECRET, inv.token, now=NOW)
        assert err.value.reason == "unknown"


@pytest.mark.parametrize(
    ("survey", "bad", "good"), [("nps", 11, 0), ("nps", -1, 10), ("csat", 0, 5), ("ces", 8, 1)]
)
def test_scores_outside_the_scale_are_refused_and_the_link_stays_open(tmp_path, survey, bad, good):
    make = sessions(tmp_path)
    with make() as s:
        inv = surveys.invite(s, SECRET, survey=survey, customer_id="C1", now=NOW)
        s.commit()
        with pytest.raises(surveys.AnswerError):
            surveys.answer(s, SECRET, inv.token, score=bad, now=NOW)
        with pytest.raises(surveys.AnswerError):
            surveys.answer(s, SECRET, inv.token, score=None, now=NOW)
        assert surveys.answer(s, SECRET, inv.token, score=good, now=NOW).score == good


def test_a_free_survey_keeps_its_answers_and_no_score(tmp_path):
    make = sessions(tmp_path)
    with make() as s:
        surveys.ensure_survey(s, "onboarding", "free", ["What did you miss?"])
        inv = surveys.invite(s, SECRET, survey="onboarding", customer_id="C1", now=NOW)
        s.commit()
        r = surveys.answer(
            s, SECRET, inv.token, score=7, answers={"q1": "リマインダー"}, comment="x", now=NOW
        )
        assert r.score is None and json.loads(r.answers) == {"q1": "リマインダー"}


def test_only_detractors_open_follow_ups(tmp_path):
    make = sessions(tmp_path)
    with make() as s:
        for cid, score in [("C1", 6), ("C2", 7), ("C3", 0), ("C4", 9)]:
            inv = surveys.invite(s, SECRET, survey="nps", customer_id=cid, now=NOW)
            s.commit()
            surveys.answer(s, SECRET, inv.token, score=score, comment=f"c{score}", now=NOW)
        tasks = s.scalars(select(FollowUpTask).order_by(FollowUpTask.customer_id)).all()
        assert [(t.customer_id, t.kind, t.state, t.detail) for t in tasks] == [
            ("C1", "detractor_followup", "open", "c6"),
            ("C3", "detractor_followup", "open", "c0"),
        ]
        todo = s.scalars(select(CustomerTask).order_by(CustomerTask.customer_id)).all()
        assert [(t.customer_id, t.owner, t.done) for t in todo] == [
            ("C1", surveys.FOLLOWUP_OWNER, False),
            ("C3", surveys.FOLLOWUP_OWNER, False),
        ]
        assert todo[0].due_on == (NOW + dt.timedelta(days=2)).date() and "c6" in todo[0].title


def test_answers_land_in_interactions_once_and_feed_the_score_feature(tmp_path):
    make = sessions(tmp_path)
    cfg = settings(tmp_path)
    ingest("customers", pa.table({"customer_id": ["C1", "C2"]}), settings=cfg)
    with make() as s:
        for cid, score in [("C1", 3), ("C2", 10)]:
            inv = surveys.invite(s, SECRET, survey="nps", customer_id=cid, now=NOW)
            s.commit()
            surveys.answer(s, SECRET, inv.token, score=score, comment="<b>'=1+1'</b>", now=NOW)
        assert surveys.append_interactions(s, cfg) == 2
        assert surveys.append_interactions(s, cfg) == 0
    con = wh.connect(cfg.warehouse_url)
    try:
        rows = con.table("interactions").to_pyarrow().to_pylist()
    finally:
        con.disconnect()
    assert sorted((r["customer_id"], r["kind"]) for r in rows) == [
        ("C1", "survey_answer"),
        ("C2", "survey_answer"),
    ]
    props = {r["customer_id"]: json.loads(r["properties"]) for r in rows}
    assert props["C1"] == {"survey": "nps", "score": 3, "comment": "<b>'=1+1'</b>"}
    # the churn features' survey score reads "score" from the properties text
    by_id = {r["customer_id"]: r["properties"] for r in rows}
    assert [re.search(_SCORE_RE, by_id[c]).group(1) for c in ("C1", "C2")] == ["3", "10"]


def test_a_playbook_invitation_is_one_outbox_message_with_the_link(tmp_path):
    make = sessions(tmp_path)
    with make() as s:
        inv = surveys.enqueue_invitation(
            s,
            SECRET,
            survey="nps",
            customer_id="C1",
            recipient="c1@example.com",
            base_url="https://retain.example/",
            language="ja",
            playbook="nps-quarterly",
        )
        s.commit()
        (msg,) = s.scalars(select(OutboxMessage)).all()
        body = json.loads(msg.payload)
        assert f"https://retain.example/s/{inv.token}" in body["body"]
        assert (msg.language, msg.advertising, msg.playbook) == ("ja", False, "nps-quarterly")
        assert "アンケート" in body["subject"]


def test_concurrent_submits_of_one_link_count_once(tmp_path):
    import threading

    make = sessions(tmp_path)
    with make() as s:
        inv = surveys.invite(s, SECRET, survey="nps", customer_id="C1")
        s.commit()
    outcomes: list[str] = []
    start = threading.Barrier(6)

    def submit(score: int) -> None:
        with make() as s:
            start.wait()
            try:
                surveys.answer(s, SECRET, inv.token, score=score)
                outcomes.append("accepted")
            except LinkError as err:
                outcomes.append(err.reason)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(outcomes) == ["accepted"] + ["used"] * 5
    with make() as s:
        assert len(s.scalars(select(SurveyResponse)).all()) == 1
