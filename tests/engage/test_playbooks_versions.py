"""Stored playbook versions over a file: laid over the base, checked, raced, attributed."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _engage_data import AS_OF, CUSTOMERS, orders
from sqlalchemy import select

import retain.warehouse as wh
from retain.app import make_engine, make_sessionmaker, upgrade
from retain.config import Settings
from retain.engage import playbook_versions as versions
from retain.engage._tables import OutboxMessage
from retain.engage.execute import run_playbooks
from retain.engage.playbook_versions import definition_of, effective_book, save
from retain.engage.playbooks import shipped_playbooks
from retain.errors import ConfigError, ConflictError, DataValidationError
from retain.features import Sources
from retain.ingest import ingest


@pytest.fixture
def sessions(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    return make_sessionmaker(make_engine(url))


def test_edits_lay_over_the_file_and_a_deletion_removes_it(sessions) -> None:
    base = shipped_playbooks()
    with sessions() as s:
        winback = definition_of(base.get("winback-60"))
        save(
            s,
            base,
            name="winback-60",
            definition=winback | {"holdout": 0.5},
            expected=1,
            author="a@example.com",
        )
        save(s, base, name="birthday", definition=None, expected=1, author="a@example.com")
        new = {
            "name": "winback-120",
            "trigger": {"kind": "inactive", "days": 120},
            "template": "winback",
        }
        save(s, base, name="winback-120", definition=new, expected=None, author="b", create=True)
        s.commit()
        book = effective_book(s, base)
    names = [p.name for p in book.playbooks]
    assert "birthday" not in names and "winback-120" in names
    assert book.get("winback-60").holdout == 0.5
    assert (
        book.version("winback-60"),
        book.version("winback-120"),
        book.version("renewal-30"),
    ) == (2, 1, 1)
    assert [p.name for p in shipped_playbooks().playbooks if p.name != "birthday"] == names[:-1]


def test_an_invalid_edit_is_refused_and_nothing_is_stored(sessions) -> None:
    base = shipped_playbooks()
    with sessions() as s:
        bad = definition_of(base.get("winback-60")) | {"channel": "pigeon"}
        with pytest.raises(DataValidationError) as caught:
            save(s, base, name="winback-60", definition=bad, expected=1, author="a")
        (violation,) = caught.value.violations
        assert (violation.column, violation.rule) == ("channel", "literal_error")
        s.rollback()
        assert s.scalars(select(versions.PlaybookVersion)).first() is None


def test_two_edits_of_one_version_end_in_one_conflict(sessions, monkeypatch) -> None:
    """The race the version check cannot see: the unique key turns it into a ConflictError."""
    base = shipped_playbooks()
    first = definition_of(base.get("winback-60"))
    with sessions() as s:
        stale = versions._latest(s)  # what the slower writer read ...
    with sessions() as s:  # ... before the faster one stored version 2
        save(
            s, base, name="winback-60", definition=first | {"holdout": 0.3}, expected=1, author="a"
        )
        s.commit()
    monkeypatch.setattr(versions, "_latest", lambda _session: stale)
    with sessions() as s, pytest.raises(ConflictError):
        save(
            s, base, name="winback-60", definition=first | {"holdout": 0.4}, expected=1, author="b"
        )
    monkeypatch.undo()
    with sessions() as s:
        assert effective_book(s, base).get("winback-60").holdout == 0.3


def test_a_run_records_the_version_that_decided(sessions, tmp_path: Path) -> None:
    con = wh.connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    wh.create_tables(con)
    ingest("customers", pd.DataFrame(CUSTOMERS), con=con)
    ingest("orders", orders(), con=con)
    settings = Settings(
        database_url="sqlite://", warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}"
    )
    base = shipped_playbooks()
    with sessions() as s:
        edited = definition_of(base.get("winback-60")) | {"holdout": 0.5}
        save(s, base, name="winback-60", definition=edited, expected=1, author="a")
        s.commit()
        book = effective_book(s, base)
        _, report = run_playbooks(
            s,
            Sources.from_warehouse(con),
            book,
            settings=settings,
            now=AS_OF,
            names=["winback-60"],
            con=con,
        )
        s.commit()
        rows = s.scalars(select(OutboxMessage)).all()
    assert report is not None and report.queued == len(rows) > 0
    assert {json.loads(r.payload)["playbook_version"] for r in rows} == {2}
    held = con.table("interactions").filter(lambda r: r.kind == "holdout").to_pandas()
    assert len(held) and {json.loads(p)["version"] for p in held["properties"]} == {2}
    con.disconnect()


def test_threads_materializing_the_same_templates_at_once_all_succeed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parallel requests after a restart write one folder: no thread loses its part file."""
    import threading
    import uuid

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    errors: list[BaseException] = []
    for _ in range(5):
        body = "b" * 5000 + uuid.uuid4().hex
        content = {"t": {lang: {"subject": "s", "body": body} for lang in ("en", "ja", "ko")}}
        barrier = threading.Barrier(8)

        def go(
            content: dict[str, Any] = content,
            barrier: threading.Barrier = barrier,
            body: str = body,
        ) -> None:
            barrier.wait()
            try:
                folder = versions._materialize(content)
                assert (folder / "t.en.toml").read_text(encoding="utf-8").endswith(f'"{body}"\n')
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=go) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []


def test_edited_templates_live_in_a_private_folder_of_this_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another account cannot plant templates the service would read: 0700, ours, no link."""
    import os

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = versions._materialize({"t": {"en": {"subject": "s", "body": "b"}}})
    root = folder.parent
    assert root.stat().st_uid == os.getuid() and root.stat().st_mode & 0o777 == 0o700
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for child in sorted(root.rglob("*"), reverse=True):
        child.unlink() if child.is_file() else child.rmdir()
    root.rmdir()
    root.symlink_to(elsewhere)  # a link planted where the folder goes is refused
    with pytest.raises(ConfigError):
        versions._materialize({"t": {"en": {"subject": "s", "body": "c"}}})


def test_switching_to_another_template_leaves_the_old_texts_behind(sessions) -> None:
    """Stored texts belong to the template they were written for: after a change of template
    name the playbook uses that template's files, and no other playbook's template is shadowed."""
    from retain.engage.messages import load_template

    base = shipped_playbooks()
    winback = definition_of(base.get("winback-60"))
    own = {"en": {"subject": "OWN WINBACK", "body": "Hello {{ customer.first_name }}"}}
    with sessions() as s:
        save(s, base, name="winback-60", definition=winback, templates=own, expected=1, author="a")
        save(
            s,
            base,
            name="winback-60",
            definition=winback | {"template": "renewal"},
            expected=2,
            author="a",
        )
        s.commit()
        book = effective_book(s, base)
    renewal = load_template("renewal", book.template_dirs)
    shipped = load_template("renewal", base.template_dirs)
    assert renewal.languages["en"] == shipped.languages["en"]
    assert book.get("renewal-30").template == "renewal"


def test_own_texts_for_a_template_another_playbook_uses_are_refused(sessions) -> None:
    """A new playbook bringing texts for ``winback`` would change winback-60's messages (and
    not its version): refused as a clash, nothing stored, winback-60 keeps the files' texts."""
    base = shipped_playbooks()
    new = {"trigger": {"kind": "inactive", "days": 120}, "template": "winback"}
    own = {"en": {"subject": "OTHER", "body": "Hello {{ customer.first_name }}"}}
    with sessions() as s:
        with pytest.raises(ConflictError) as caught:
            save(
                s,
                base,
                name="winback-120",
                definition=new,
                templates=own,
                expected=None,
                author="a",
                create=True,
            )
        assert "winback-60" in caught.value.message
        s.rollback()
        assert s.scalars(select(versions.PlaybookVersion)).first() is None
