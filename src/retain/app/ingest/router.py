"""``POST /api/v1/ingest/{table}``: JSON batches of events, orders or customers."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Response

from retain.app.deps import CanIngest, LockedWarehouseDep, SessionDep, SettingsDep
from retain.app.ingest import service
from retain.app.ingest.schemas import IngestBatch, IngestResult

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/ingest", tags=["ingest"])


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
    table: Literal["events", "orders", "customers"],
    body: IngestBatch,
    principal: CanIngest,
    session: SessionDep,
    settings: SettingsDep,
    warehouse: LockedWarehouseDep,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(max_length=200, pattern=r"^[\x21-\x7e]+$")
    ] = None,
) -> IngestResult:
    """Store a batch of records.

    Records are keyed by their id, so sending one twice stores it once; valid
    records are kept and each invalid one comes back in ``errors`` with its index, field and rule.
    With an ``Idempotency-Key`` header, a retry returns the first answer unchanged.
    """
    endpoint = f"ingest.{table}"
    if idempotency_key:
        digest = service.request_hash(table, body.records)
        replay = service.begin_idempotent(
            session,
            actor=f"{principal.kind}:{principal.id}",
            key=idempotency_key,
            endpoint=endpoint,
            digest=digest,
        )
        if replay is not None:
            status, stored = replay
            response.status_code = status
            response.headers["Idempotent-Replayed"] = "true"
            return IngestResult.model_validate(stored)
    try:
        result = service.ingest_records(
            warehouse.con,
            table,
            body.records,
            settings=settings,
            session=session,
            actor=principal,
        )
        warehouse.reads.forget(table)
    except BaseException:
        if idempotency_key:
            service.finish_idempotent(
                session, actor=f"{principal.kind}:{principal.id}", key=idempotency_key, result=None
            )
        raise
    answer = IngestResult.model_validate(result)
    if idempotency_key:
        service.finish_idempotent(
            session,
            actor=f"{principal.kind}:{principal.id}",
            key=idempotency_key,
            result=(200, answer.model_dump(mode="json")),
        )
    return answer
