"""Issue 16 item 18: reads side by side on a DuckDB file the service holds, the at-risk list
served from one joined frame per line until a write, and the same answers under concurrency."""

from __future__ import annotations

import importlib
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from retain.app import create_app
from retain.app.auth import service as auth
from retain.config import Settings

AT_RISK = "/api/v1/customers/at-risk"
at_risk_module = importlib.import_module("retain.targeting.at_risk")  # the name is the function's


@pytest.fixture
def served(_warehouse_template: Path, tmp_path: Path) -> Iterator[tuple[TestClient, str, Any]]:
    """The service over its own copy of the hand-made warehouse file (it opens the file)."""
    path = tmp_path / "w.duckdb"
    shutil.copyfile(_warehouse_template, path)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        warehouse_url=f"duckdb:///{path}",
        models_dir=tmp_path / "models",
    )
    app = create_app(settings, migrate=True)
    with app.state.sessionmaker() as session:
        _, key = auth.create_api_key(session, name="admin", role="admin", created_by="tests")
        session.commit()
    with TestClient(app) as client:
        yield client, key, app.state.warehouse


def test_the_list_is_joined_once_until_a_write(
    served: tuple[TestClient, str, Any], monkeypatch: pytest.MonkeyPatch
):
    client, key, warehouse = served
    calls: list[str] = []
    real = at_risk_module.joined

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(at_risk_module, "joined", counted)
    headers = {"X-API-Key": key}
    first = client.get(AT_RISK, headers=headers)
    assert first.status_code == 200, first.text
    rows = first.json()["data"]
    assert rows, "the hand-made business has customers at risk"
    again = client.get(AT_RISK, headers=headers)
    narrowed = client.get(AT_RISK, params={"country": rows[0]["country"]}, headers=headers)
    assert again.json() == first.json() and narrowed.status_code == 200
    assert len(calls) == 1  # the page, the same page again and a filtered one: one join
    who = rows[0]["customer_id"]
    sent = client.post(
        "/api/v1/ingest/customers",
        json={"records": [{"customer_id": who, "country": "FR"}]},
        headers=headers,
    )
    assert sent.status_code == 200, sent.text
    assert warehouse.generation == 1
    after = client.get(AT_RISK, params={"country": "fr"}, headers=headers)
    listed = after.json()["data"]
    assert [r["customer_id"] for r in listed] == [who]  # the write is seen at once
    assert len(calls) == 2


def test_concurrent_reads_answer_as_sequential_ones(served: tuple[TestClient, str, Any]):
    client, key, warehouse = served
    headers = {"X-API-Key": key}
    lists = [AT_RISK, f"{AT_RISK}?risk_band=low", f"{AT_RISK}?sort=probability"]
    lists += [f"{AT_RISK}?country={c}" for c in ("jp", "KR", "us")]
    paths = [*lists, *(f"/api/v1/customers/c{i}" for i in range(1, 7))]
    expected = {p: client.get(p, headers=headers).json() for p in paths}
    warehouse.frames.clear()  # every list query below runs, side by side, none from memory
    warehouse.max_in_flight = 1000  # all 70 at once: this test is about answers, not shedding
    got: list[tuple[str, int, Any]] = []
    lock = threading.Lock()

    def call(path: str) -> None:
        answer = client.get(path, headers=headers)
        with lock:
            got.append((path, answer.status_code, answer.json()))

    threads = [threading.Thread(target=call, args=(p,)) for p in paths * 5]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(got) == len(paths) * 5
    for path, status, body in got:
        assert status == 200, (path, body)
        assert body == expected[path], path


def test_concurrent_requests_for_one_expired_page_compute_it_once(
    served: tuple[TestClient, str, Any], monkeypatch: pytest.MonkeyPatch
):
    client, key, warehouse = served
    headers = {"X-API-Key": key}
    path = f"{AT_RISK}?risk_band=high&risk_band=medium&risk_band=low"
    expected = client.get(path, headers=headers).json()
    computed: list[int] = []
    real = at_risk_module.ordered

    def slow(*args: Any, **kwargs: Any) -> Any:  # only a page being computed gets here
        computed.append(1)
        threading.Event().wait(0.3)  # long enough for every request below to arrive meanwhile
        return real(*args, **kwargs)

    monkeypatch.setattr(at_risk_module, "ordered", slow)
    warehouse.frames.clear()  # the page expired (as every minute)
    got: list[Any] = []
    threads = [
        threading.Thread(target=lambda: got.append(client.get(path, headers=headers)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [r.status_code for r in got] == [200] * 8
    assert all(r.json() == expected for r in got)
    assert len(computed) == 1  # not once per request


def test_waiters_compute_their_own_page_when_the_first_computation_fails():
    from retain.app.customers.at_risk import _OneAtATime

    shared = _OneAtATime()
    started, release = threading.Event(), threading.Event()
    page: Any = object()
    results: list[Any] = []

    def failing() -> Any:
        started.set()
        release.wait(5)
        raise RuntimeError("the warehouse went away")

    def first() -> None:
        with pytest.raises(RuntimeError):
            shared.run("k", failing)

    leader = threading.Thread(target=first)
    leader.start()
    started.wait(5)
    waiter = threading.Thread(target=lambda: results.append(shared.run("k", lambda: page)))
    waiter.start()
    threading.Event().wait(0.1)  # the waiter is waiting on the leader
    release.set()
    leader.join(5)
    waiter.join(5)
    assert results == [page]
    assert shared.run("k", lambda: "again") == "again"  # nothing left running under the key
