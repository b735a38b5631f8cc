"""The at-risk frame cache builds each line once, however many requests arrive while it is stale."""

from __future__ import annotations

import threading
import time

import pyarrow as pa
import pytest

from retain.targeting import _frames
from retain.targeting._frames import JoinedFrames


def _builder(calls: list[int], seconds: float = 0.2):  # type: ignore[no-untyped-def]
    def build() -> tuple[None, pa.Table]:
        calls.append(1)
        time.sleep(seconds)  # a real build takes 0.3-0.4 s of CPU
        return None, pa.table({"customer_id": ["a"], "n": [len(calls)]})

    return build


def _together(frames: JoinedFrames, build, n: int = 8) -> list[int]:  # type: ignore[no-untyped-def]
    got: list[object] = []
    start = threading.Barrier(n)

    def ask() -> None:
        start.wait()
        got.append(frames.get("shop", build)[1])

    threads = [threading.Thread(target=ask) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # executed here, one at a time: Ibis's default in-memory backend is one connection that
    # threads cannot share (the service runs these on per-thread cursors)
    return [int(t.to_pandas()["n"].iloc[0]) for t in got]  # type: ignore[attr-defined]


def test_a_cold_line_is_built_once_and_everyone_waits_for_it() -> None:
    calls: list[int] = []
    seen = _together(JoinedFrames(), _builder(calls))
    assert len(calls) == 1 and seen == [1] * 8


def test_an_expired_frame_is_rebuilt_once_while_the_old_one_serves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames, calls = JoinedFrames(), []
    frames.get("shop", _builder(calls, 0.0))
    monkeypatch.setattr(_frames, "FRAME_TTL_S", 0.0)  # every frame is now stale
    seen = _together(frames, _builder(calls))
    assert len(calls) == 2  # one rebuild, not one per request
    assert set(seen) <= {1, 2} and 2 in seen


def test_after_a_write_nobody_gets_the_old_frame() -> None:
    frames, calls = JoinedFrames(), []
    frames.get("shop", _builder(calls, 0.0))
    frames.clear()
    seen = _together(frames, _builder(calls))
    assert len(calls) == 2 and seen == [2] * 8
