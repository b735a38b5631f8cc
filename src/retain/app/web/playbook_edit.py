"""The playbook edit form: ``/playbooks/new`` and ``/playbooks/{name}/edit``.

For the roles that may edit playbooks (``playbooks.write``: analysts and admins). The form has
fields for the trigger, the audience (segment, risk bands), the channel, the cap category and
priority, the holdout share, the template's name, the other keys as TOML, and each language's
template file (subject, body and ``[variants.<name>]`` tables). *Preview* renders the message
in en, ja and ko with the sandboxed renderer a run uses; *Save* stores a new version through
the API's own path (:func:`retain.app.playbooks.edit.change`: the same checks, audit and
version conflict); *Disable* and *Delete* are versions too. A mistake re-shows the form with
every problem, its field and a hint. Every POST carries the login's CSRF token.
"""

from __future__ import annotations

import json
import tomllib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from retain.app.auth.roles import Permission
from retain.app.deps import Principal, SessionDep
from retain.app.errors import status_for
from retain.app.playbooks import service
from retain.app.playbooks.edit import change
from retain.app.web._page import error_page
from retain.app.web._page import page as _page
from retain.app.web._session import check_csrf, render, require_page
from retain.engage.playbook_versions import LANGUAGES, check_edit, template_file_text
from retain.errors import DataValidationError, RetainError, Violation
from retain.i18n import t

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Writer = Annotated[Principal, Depends(require_page(Permission.playbooks_write))]
Text = Annotated[str, Form(max_length=100_000)]

_FORM_KEYS = ("name", "description", "enabled", "trigger", "channel", "holdout", "category")
_SHOWN_KEYS = frozenset({*_FORM_KEYS, "priority", "template", "audience"})
_BANDS = ("high", "medium", "low")


def _inline(value: Any) -> str:
    """``value`` as a TOML inline value (tables, arrays, text, numbers, booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_inline(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value), ensure_ascii=False)


def _fields(definition: dict[str, Any], templates: dict[str, Any] | None) -> dict[str, Any]:
    """The form's field values for a playbook's definition."""
    audience = dict(definition.get("audience") or {})
    segment = audience.pop("segment", "")
    bands = audience.pop("risk_bands", [])
    more = {k: v for k, v in definition.items() if k not in _SHOWN_KEYS}
    if audience:
        more["audience"] = audience
    return {
        "name": definition.get("name", ""),
        "description": definition.get("description", ""),
        "enabled": definition.get("enabled", True),
        "trigger": _inline(definition.get("trigger", {"kind": "inactive", "days": 60})),
        "channel": definition.get("channel", "email"),
        "holdout": definition.get("holdout", 0.1),
        "category": definition.get("category", "marketing"),
        "priority": definition.get("priority", 0),
        "template": definition.get("template", ""),
        "segment": segment or "",
        "risk_bands": list(bands),
        "more": "\n".join(f"{k} = {_inline(v)}" for k, v in more.items()),
        "templates": {
            lang: template_file_text(templates[lang]) if templates and lang in templates else ""
            for lang in LANGUAGES
        },
    }


def _toml(text: str, field: str, *, inline: bool = False) -> dict[str, Any]:
    """A field's TOML (an inline table when ``inline``), or a 422 naming the field."""
    try:
        data = tomllib.loads(f"value = {text}" if inline else text)
    except tomllib.TOMLDecodeError as exc:
        raise DataValidationError(
            [
                Violation(
                    rule="toml",
                    message=t("playbooks_edit.form_bad_toml", field=field, problem=str(exc)),
                    column=field,
                    hint=t("playbooks_edit.form_bad_toml_hint"),
                )
            ],
            code="playbooks.invalid",
        ) from None
    value = data["value"] if inline else data
    return dict(value) if isinstance(value, dict) else {"kind": value}


def _number(text: str, kind: type[int] | type[float]) -> Any:
    """A typed number, or the text as typed (the checker then names the field and the rule)."""
    try:
        return kind(text)
    except ValueError:
        return text


def _definition(form: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The playbook's keys and its templates (None: the files') from the form's fields."""
    definition = _toml(form["more"], "more") if form["more"].strip() else {}
    audience = dict(definition.pop("audience", {}) or {})
    if form["segment"].strip():
        audience["segment"] = form["segment"].strip()
    if form["risk_bands"]:
        audience["risk_bands"] = list(form["risk_bands"])
    definition.update(
        name=form["name"].strip(),
        description=form["description"],
        enabled=bool(form["enabled"]),
        trigger=_toml(form["trigger"], "trigger", inline=True),
        channel=form["channel"],
        holdout=_number(str(form["holdout"]), float),
        category=form["category"].strip() or "marketing",
        priority=_number(str(form["priority"]), int),
        template=form["template"].strip(),
    )
    if audience:
        definition["audience"] = audience
    texts = {lang: form["templates"][lang] for lang in LANGUAGES if form["templates"][lang].strip()}
    templates = {lang: _toml(text, f"templates.{lang}") for lang, text in texts.items()}
    return definition, templates or None


def _show(
    request: Request,
    principal: Principal,
    *,
    form: dict[str, Any],
    creating: bool,
    version: int | None,
    history: list[dict[str, Any]] | None = None,
    error: RetainError | None = None,
    previews: dict[str, dict[str, str]] | None = None,
    saved: int | None = None,
) -> HTMLResponse:
    details: list[dict[str, Any]] = []
    if isinstance(error, DataValidationError):
        details = [v.as_dict() for v in error.violations]
    return render(
        request,
        "playbook_edit.html",
        principal=principal,
        status_code=status_for(error) if error is not None else 200,
        title_key="playbooks_edit.new_title" if creating else "playbooks_edit.edit_title",
        form=form,
        creating=creating,
        version=version,
        history=history or [],
        error=error,
        details=details,
        previews=previews,
        saved=saved,
        bands=_BANDS,
        channels=("email", "sms", "webhook", "best"),
        languages=LANGUAGES,
    )


@router.get("/playbooks/new", response_class=HTMLResponse)
def new_playbook_page(request: Request, principal: Writer) -> HTMLResponse:
    """An empty form for a new playbook."""

    def build() -> HTMLResponse:
        form = _fields({"enabled": True}, None)
        return _show(request, principal, form=form, creating=True, version=None)

    return _page(request, principal, build)


@router.get("/playbooks/{name}/edit", response_class=HTMLResponse)
def edit_playbook_page(
    request: Request, principal: Writer, session: SessionDep, name: str, saved: int | None = None
) -> HTMLResponse:
    """The form filled with the playbook's current version, its templates and history."""

    def build() -> HTMLResponse:
        found = service.detail(session, name)
        return _show(
            request,
            principal,
            form=_fields(found["definition"], found["templates"]),
            creating=False,
            version=found["version"],
            history=found["history"],
            saved=saved,
        )

    return _page(request, principal, build)


def _submit(
    request: Request,
    principal: Principal,
    session: SessionDep,
    *,
    name: str | None,
    form: dict[str, Any],
    op: str,
    version: int | None,
    csrf: str,
) -> Response:
    """Preview, save, disable or delete; a mistake re-shows the form with it."""
    check_csrf(principal, csrf)
    creating = name is None
    target = form["name"].strip() if name is None else name
    try:
        if op == "delete":  # deleting the unsaved new playbook stores nothing
            if name is not None:
                change(
                    session, principal, name=name, definition=None, templates=None, expected=version
                )
            return RedirectResponse("/playbooks", status_code=303)
        definition, templates = _definition(form)
        if op == "disable":
            definition["enabled"] = False
        if op == "preview":
            book = check_edit(
                session,
                service.file_book(),
                name=target,
                definition=definition,
                templates=templates,
            )
            previews = service.preview(book, target)
            return _show(
                request,
                principal,
                form=form,
                creating=creating,
                version=version,
                previews=previews,
            )
        stored = change(
            session,
            principal,
            name=target,
            definition=definition,
            templates=templates,
            expected=None if creating else version,
            create=creating,
        )
    except RetainError as exc:
        session.rollback()
        return _show(request, principal, form=form, creating=creating, version=version, error=exc)
    url = f"/playbooks/{target}/edit?saved={stored}"
    return RedirectResponse(url, status_code=303)


def _form(
    name: str,
    description: str,
    enabled: str,
    trigger: str,
    channel: str,
    holdout: str,
    category: str,
    priority: str,
    template: str,
    segment: str,
    risk_bands: list[str],
    more: str,
    templates: dict[str, str],
) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "enabled": enabled == "on",
        "trigger": trigger,
        "channel": channel,
        "holdout": holdout,
        "category": category,
        "priority": priority,
        "template": template,
        "segment": segment,
        "risk_bands": [b for b in risk_bands if b in _BANDS],
        "more": more,
        "templates": templates,
    }


@router.post("/playbooks/new", response_model=None)
@router.post("/playbooks/{name}/edit", response_model=None)
def submit_playbook(
    request: Request,
    principal: Writer,
    session: SessionDep,
    name: str | None = None,
    new_name: Annotated[str, Form(alias="name", max_length=64)] = "",
    description: Text = "",
    enabled: Annotated[str, Form(max_length=10)] = "",
    trigger: Text = "",
    channel: Annotated[str, Form(max_length=20)] = "email",
    holdout: Annotated[str, Form(max_length=40)] = "",
    category: Annotated[str, Form(max_length=100)] = "",
    priority: Annotated[str, Form(max_length=40)] = "0",
    template: Annotated[str, Form(max_length=200)] = "",
    segment: Annotated[str, Form(max_length=200)] = "",
    risk_bands: Annotated[list[str] | None, Form()] = None,
    more: Text = "",
    template_en: Text = "",
    template_ja: Text = "",
    template_ko: Text = "",
    op: Annotated[str, Form(pattern="^(save|preview|disable|delete)$")] = "save",
    version: Annotated[int | None, Form(ge=1, le=2**31)] = None,
    csrf: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """The form's buttons: Preview, Save, Disable, Delete."""
    form = _form(
        new_name if name is None else name,
        description,
        enabled,
        trigger,
        channel,
        holdout,
        category,
        priority,
        template,
        segment,
        risk_bands or [],
        more,
        {"en": template_en, "ja": template_ja, "ko": template_ko},
    )
    try:
        return _submit(
            request, principal, session, name=name, form=form, op=op, version=version, csrf=csrf
        )
    except RetainError as exc:  # a forged CSRF token, an unknown playbook: the error page
        return error_page(request, principal, exc)
