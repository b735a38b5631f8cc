"""Editing playbooks over HTTP: create, replace, patch (e.g. disable) and delete, versioned.

Every change is a new version (:mod:`retain.engage.playbook_versions`), checked by the path a
TOML file takes (a mistake is a 422 naming the field, the rule and a hint), recorded in the
audit log, and conditional: the caller says which version it edited (``If-Match`` with the
ETag a read returned, or ``version`` in the body or query), and a stale one is a 409. Analysts
and admins may edit (``playbooks.write``); agents never see the book.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response, status

from retain.app._openapi import error_responses
from retain.app.audit import service as audit
from retain.app.auth.roles import Permission
from retain.app.deps import AnalystOnly, Principal, SessionDep, require
from retain.app.playbooks import service
from retain.app.playbooks.schemas import PlaybookDetail, PlaybookEdit, PlaybookPatch
from retain.engage import outbox
from retain.engage.playbook_versions import merge_patch, save
from retain.errors import InvalidParameterError
from retain.i18n import t

__all__ = ["CanWritePlaybooks", "change", "etag", "router"]

router = APIRouter(prefix="/api/v1", tags=["playbooks"])

CanWritePlaybooks = Annotated[Principal, Depends(require(Permission.playbooks_write))]
PlaybookName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="The playbook's name.",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(description="The ETag of the version edited (GET answers with it)."),
]
_ERRORS = error_responses(404, 409, 422)


def etag(version: int) -> str:
    """The ETag of a playbook version."""
    return f'"{version}"'


def _expected(name: str, if_match: str | None, version: int | None) -> int:
    """The version the caller edited: ``If-Match`` first, else ``version``; 422 when neither."""
    if if_match:
        text = if_match.strip().removeprefix("W/").strip('"')
        if text.isdigit():
            return int(text)
    if version is not None:
        return version
    raise InvalidParameterError(
        t("playbooks_edit.version_required", name=name),
        hint=t("playbooks_edit.version_required_hint", name=name),
        code="playbooks.version_required",
    )


def change(
    session: SessionDep,
    principal: Principal,
    *,
    name: str,
    definition: dict[str, Any] | None,
    templates: dict[str, Any] | None,
    expected: int | None,
    create: bool = False,
) -> int:
    """Store the change, audit it (committing both) and return the new version."""
    base = service.file_book()
    stored = save(
        session,
        base,
        name=name,
        definition=definition,
        templates=templates,
        expected=expected,
        author=principal.name,
        create=create,
    )
    if create:
        action = "playbooks.create"
    elif definition is None:
        action = "playbooks.delete"
    elif definition.get("enabled") is False:
        action = "playbooks.disable"
    else:
        action = "playbooks.update"
    withdrawn = 0
    if action in ("playbooks.delete", "playbooks.disable"):  # its waiting mail goes no further
        withdrawn = outbox.cancel(session, reason="playbook_disabled", playbook=name)
    audit.record(
        session, principal, action, ("playbook", name), version=stored.version, withdrawn=withdrawn
    )
    return stored.version


def _answer(session: SessionDep, name: str, response: Response) -> PlaybookDetail:
    found = PlaybookDetail.model_validate(service.detail(session, name))
    response.headers["ETag"] = etag(found.version)
    return found


@router.get("/playbooks/{name}", response_model=PlaybookDetail, responses=error_responses(404))
def read_playbook(
    _: AnalystOnly, session: SessionDep, name: PlaybookName, response: Response
) -> PlaybookDetail:
    """One playbook: its definition, templates per language, version (ETag) and history."""
    return _answer(session, name, response)


@router.post(
    "/playbooks",
    response_model=PlaybookDetail,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, 422),
)
def create_playbook(
    principal: CanWritePlaybooks, session: SessionDep, body: PlaybookEdit, response: Response
) -> PlaybookDetail:
    """Add a playbook (version 1); its name must be free."""
    name = str(body.playbook.get("name") or "")
    change(
        session,
        principal,
        name=name,
        definition=body.playbook,
        templates=body.templates,
        expected=None,
        create=True,
    )
    return _answer(session, name, response)


@router.put("/playbooks/{name}", response_model=PlaybookDetail, responses=_ERRORS)
def replace_playbook(
    principal: CanWritePlaybooks,
    session: SessionDep,
    name: PlaybookName,
    body: PlaybookEdit,
    response: Response,
    if_match: IfMatch = None,
) -> PlaybookDetail:
    """Replace a playbook's whole definition (and templates when given): a new version."""
    expected = _expected(name, if_match, body.version)
    change(
        session,
        principal,
        name=name,
        definition=body.playbook,
        templates=body.templates,
        expected=expected,
    )
    return _answer(session, name, response)


@router.patch("/playbooks/{name}", response_model=PlaybookDetail, responses=_ERRORS)
def patch_playbook(
    principal: CanWritePlaybooks,
    session: SessionDep,
    name: PlaybookName,
    body: PlaybookPatch,
    response: Response,
    if_match: IfMatch = None,
) -> PlaybookDetail:
    """Change some keys (JSON merge patch; ``{"enabled": false}`` disables): a new version."""
    expected = _expected(name, if_match, body.version)
    current = service.detail(session, name)
    definition = merge_patch(current["definition"], body.playbook)
    templates = (
        merge_patch(current["templates"], body.templates) if body.templates is not None else None
    )
    change(
        session,
        principal,
        name=name,
        definition=definition,
        templates=templates,
        expected=expected,
    )
    return _answer(session, name, response)


@router.delete("/playbooks/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
def delete_playbook(
    principal: CanWritePlaybooks,
    session: SessionDep,
    name: PlaybookName,
    if_match: IfMatch = None,
    version: Annotated[int | None, Query(ge=1, le=2**31, description="Version edited.")] = None,
) -> Response:
    """Delete a playbook (a tombstone version: its history and results stay)."""
    expected = _expected(name, if_match, version)
    change(session, principal, name=name, definition=None, templates=None, expected=expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
