"""``POST /api/v1/ingest/{table}``: JSON batches of any canonical table.

Customers, orders, order lines, events, subscriptions, interactions (survey answers, exit
reasons, complaints collected elsewhere) and exchange rates all take the same validation,
Idempotency-Key handling and per-record errors (#20 item 7).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Response

from retain.app.deps import CanIngest, LockedWarehouseDep, Principal, SessionDep, SettingsDep
from retain.app.ingest import service
from retain.app.ingest.schemas import IngestBatch, IngestResult

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/ingest", tags=["ingest"])

IngestTable = Literal[
    "customers",
    "orders",
    "order_lines",
    "events",
    "subscriptions",
    "interactions",
    "exchange_rates",
]
"""The tables a batch may go to: every canonical table (``service.INGEST_TABLES``)."""


@dataclass
class Claim:
    """A batch with its Idempotency-Key taken (``key``) or its stored answer (``replay``)."""

    table: str
    records: list[dict[str, Any]]
    principal: Principal
    key: str | None
    replay: tuple[int, dict[str, Any]] | None = None

    @property
    def actor(self) -> str:
        """Who owns the key: the caller's kind and id."""
        return f"{self.principal.kind}:{self.principal.id}"


def claim_key(
    table: IngestTable,
    body: IngestBatch,
    principal: CanIngest,
    session: SessionDep,
    idempotency_key: Annotated[
        str | None, Header(max_length=200, pattern=r"^[\x21-\x7e]+$")
    ] = None,
) -> Claim:
    """Take the request's Idempotency-Key before waiting for the warehouse.

    Checking first means a retry while the first request still runs (or waits for the
    warehouse) gets its 409 at once instead of queueing behind it.
    """
    claim = Claim(table, body.records, principal, idempotency_key or None)
    if claim.key:
        claim.replay = service.begin_idempotent(
            session,
            actor=claim.actor,
            key=claim.key,
            endpoint=f"ingest.{table}",
            digest=service.request_hash(table, body.records),
        )
        service.pause_for_test("claimed", claim.key)
    return claim


@router.post(
    "/{table}",
    response_model=IngestResult,
    responses={
        200: {
            "description": "Replay of an earlier request with the same "
            "Idempotency-Key (header Idempotent-Replayed: true)"
        }
    },
)
def ingest_batch(
    claim: Annotated[Claim, Depends(claim_key)],
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    response: Response,
) -> IngestResult:
    """Store a batch of records.

    Records are keyed by their id, so sending one twice stores it once; valid
    records are kept and each invalid one comes back in ``errors`` with its index, field and rule.
    With an ``Idempotency-Key`` header, a retry returns the first answer unchanged; a retry
    while the first request still runs gets 409, and one after the server died mid-request
    runs the batch again.
    """
    if claim.replay is not None:
        status, stored = claim.replay
        response.status_code = status
        response.headers["Idempotent-Replayed"] = "true"
        return IngestResult.model_validate(stored)
    key = claim.key
    try:
        result = service.ingest_records(
            warehouse.con,
            claim.table,
            claim.records,
            settings=settings,
            session=session,
            actor=claim.principal,
            on_step=lambda step: service.pause_for_test(step, key),
        )
        warehouse.reads.forget(claim.table)
    except BaseException:
        if key:
            service.finish_idempotent(session, actor=claim.actor, key=key, result=None)
        raise
    answer = IngestResult.model_validate(result)
    if key:
        service.pause_for_test("answered", key)
        service.finish_idempotent(
            session, actor=claim.actor, key=key, result=(200, answer.model_dump(mode="json"))
        )
    return answer
