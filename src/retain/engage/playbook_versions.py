"""Playbooks edited through the API and the dashboard: every edit a new, kept version.

A file (``playbooks.toml`` or the shipped one) is the base; the ``playbook_versions`` table of
the app database holds the edits. :func:`effective_book` lays the newest stored version of each
playbook over the base: a new name is added, a stored name replaces the file's, a deleted one
(a tombstone version) disappears, and ``enabled = false`` keeps it without running it. The book
that results is checked by :func:`retain.engage.playbooks.check_playbooks`, the path every TOML
file takes, so an edit can never hold what a file could not.

Versions are never changed or removed: the first edit of a playbook from the file stores the
file's definition as version 1 before the edit (version 2), so the previous version is always
there to read. A run records the deciding version in each outbox payload and holdout record
(``PlaybookSet.versions``), so results stay attributed to the version that sent.

Writers say which version they edited (:func:`save`'s ``expected``, the API's ``If-Match``); a
stale one is a :class:`~retain.errors.ConflictError`, and the ``(name, version)`` unique key
makes two simultaneous edits of the same version end in one success and one conflict.

Templates edited with a playbook (``templates = {lang: {subject, body, variants}}``) are written
as ordinary template files into a folder named by their content's hash under the system's
temporary folder, searched before the file's and the shipped templates, and checked the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, String, Text, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from retain.appdb import Base, utcnow
from retain.engage.playbooks import Playbook, PlaybookSet, check_playbooks
from retain.errors import ConfigError, ConflictError, DataValidationError, NotFoundError, Violation
from retain.i18n import t

__all__ = [
    "LANGUAGES",
    "PlaybookVersion",
    "check_edit",
    "definition_of",
    "effective_book",
    "history",
    "merge_patch",
    "save",
    "stored_templates",
    "template_file_text",
]

LANGUAGES = ("en", "ja", "ko")
"""Languages a template edited through the API may have (English is required)."""

_TEMPLATE_KEYS = frozenset({"subject", "body", "variants"})


class PlaybookVersion(Base):
    """One kept version of one playbook: its definition as the file would hold it."""

    __tablename__ = "playbook_versions"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_playbook_versions_name_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column()
    definition: Mapped[str] = mapped_column(Text)
    """JSON of the playbook's keys, exactly as a ``[[playbook]]`` table holds them."""
    templates: Mapped[str | None] = mapped_column(Text, default=None)
    """JSON ``{lang: {subject, body, variants}}`` of its own template, or None (the files')."""
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    author: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def definition_of(playbook: Playbook) -> dict[str, Any]:
    """A checked playbook as the keys of a ``[[playbook]]`` table (defaults left out)."""
    data: dict[str, Any] = playbook.model_dump(mode="json", exclude_defaults=True)
    data["name"] = playbook.name
    data["template"] = playbook.template
    data["trigger"] = playbook.trigger.model_dump(mode="json")
    return data


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch: nested tables merge, ``null`` removes a key."""
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = value
    return out


def _latest(session: Session) -> dict[str, PlaybookVersion]:
    """The newest stored version of each playbook name."""
    newest = (
        select(PlaybookVersion.name, func.max(PlaybookVersion.version).label("top"))
        .group_by(PlaybookVersion.name)
        .subquery()
    )
    rows = session.scalars(
        select(PlaybookVersion).join(
            newest,
            (PlaybookVersion.name == newest.c.name) & (PlaybookVersion.version == newest.c.top),
        )
    ).all()
    return {r.name: r for r in rows}


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's; DEL must be escaped too)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def template_file_text(content: Mapping[str, Any]) -> str:
    """One language's template file from ``{subject, body, variants: {name: {...}}}``."""
    lines = [
        f"{key} = {_toml_string(str(content[key]))}"
        for key in ("subject", "body")
        if key in content
    ]
    lines += [  # unknown keys are written so the checker names them
        f"{_toml_string(extra)} = {_toml_string(str(content[extra]))}"
        for extra in sorted(set(content) - _TEMPLATE_KEYS)
    ]
    variants = content.get("variants") or {}
    for variant, table in sorted(variants.items()):
        lines.append(f"\n[variants.{_toml_string(str(variant))}]")
        for key, value in sorted(dict(table).items()):
            lines.append(f"{_toml_string(str(key))} = {_toml_string(str(value))}")
    return "\n".join(lines) + "\n"


def _template_root() -> Path:
    """The folder of edited templates of the user running us, private (0700, owned by it).

    Per user, so another account on the machine cannot plant a folder whose name (the content's
    hash) the service would then read templates from.
    """
    uid = os.getuid() if hasattr(os, "getuid") else 0
    root = Path(tempfile.gettempdir()) / f"retain-playbook-templates-{uid}"
    root.mkdir(mode=0o700, exist_ok=True)
    info = root.lstat()
    if root.is_symlink() or (hasattr(os, "getuid") and info.st_uid != uid):
        raise ConfigError(t("playbooks_edit.template_folder_unsafe", folder=str(root)))
    if info.st_mode & 0o077:
        root.chmod(0o700)
    return root


def _materialize(templates: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> Path:
    """Template files for ``{template: {lang: content}}`` in a folder named by their hash.

    Each file is written to a uniquely named part file and renamed into place, so threads and
    processes materializing the same templates at once never trip over each other's parts.
    """
    files = {
        f"{name}.{lang}.toml": template_file_text(content)
        for name, languages in templates.items()
        for lang, content in languages.items()
    }
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:24]
    folder = _template_root() / digest
    if not (folder / ".complete").is_file():
        folder.mkdir(exist_ok=True)
        for file, text in [*files.items(), (".complete", digest)]:
            handle, part = tempfile.mkstemp(prefix=f".{file}.", dir=folder)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(part, folder / file)
    return folder


def _shape_ok(content: Any) -> bool:
    """Whether ``content`` is ``{subject: str, body: str, variants: {name: {key: str}}}``.

    Missing or unknown keys are the template checker's to name.
    """
    if not isinstance(content, Mapping):
        return False
    if any(not isinstance(v, str) for k, v in content.items() if k != "variants"):
        return False
    try:  # a lone surrogate (JSON allows "\ud800") cannot be written to a template file
        json.dumps(content, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    variants = content.get("variants", {})
    return isinstance(variants, Mapping) and all(
        isinstance(k, str)
        and k.replace("-", "").replace("_", "").isalnum()
        and isinstance(v, Mapping)
        and all(isinstance(x, str) for x in v.values())
        for k, v in variants.items()
    )


def _check_languages(name: str, templates: Mapping[str, Any]) -> None:
    """Only en/ja/ko tables of text; the checker then reads them as template files."""
    where = f"playbook {name}"
    problems = []
    for lang, content in templates.items():
        if lang not in LANGUAGES:
            problems.append(("templates." + lang, "language", "bad_language"))
        elif not _shape_ok(content):
            problems.append(("templates." + lang, "type", "bad_template"))
    if "en" not in templates:
        problems.append(("templates.en", "missing", "template_no_english"))
    if problems:
        raise DataValidationError(
            [
                Violation(
                    rule=rule,
                    message=t(f"playbooks_edit.{key}", where=where, field=field),
                    column=field,
                    hint=t(f"playbooks_edit.{key}_hint", languages=", ".join(LANGUAGES)),
                )
                for field, rule, key in problems
            ],
            code="playbooks.invalid",
        )


def stored_templates(session: Session) -> dict[str, dict[str, Any]]:
    """``{template name: {lang: content}}`` the newest versions carry."""
    out: dict[str, dict[str, Any]] = {}
    for row in _latest(session).values():
        if row.templates and not row.deleted:
            out[json.loads(row.definition)["template"]] = json.loads(row.templates)
    return out


def _assemble(
    base: PlaybookSet,
    latest: Mapping[str, PlaybookVersion],
    change: PlaybookVersion | None = None,
) -> PlaybookSet:
    """The base with ``latest`` (and one pending ``change``) laid over it, checked."""
    rows = dict(latest)
    if change is not None:
        rows[change.name] = change
    if not rows:
        return base
    definitions: dict[str, dict[str, Any]] = {p.name: definition_of(p) for p in base.playbooks}
    templates: dict[str, dict[str, Any]] = {}
    owners: dict[str, str] = {}
    versions: dict[str, int] = {}
    for name, row in sorted(rows.items()):
        if row.deleted:
            definitions.pop(name, None)
            continue
        definitions[name] = json.loads(row.definition)
        versions[name] = row.version
        if row.templates:
            template = str(definitions[name].get("template", ""))
            if template in templates and templates[template] != json.loads(row.templates):
                raise ConflictError(
                    t("playbooks_edit.template_clash", template=template, other=owners[template]),
                    hint=t("playbooks_edit.template_clash_hint"),
                    code="playbooks.template_clash",
                )
            templates[template] = json.loads(row.templates)
            owners[template] = name
    for name, definition in sorted(definitions.items()) if change is not None else ():
        # an edit may not bring texts that would shadow the files' for another playbook (a
        # changed file is not refused here: the book that runs is never blocked by it)
        template = str(definition.get("template", ""))
        with_texts = name in rows and rows[name].templates and not rows[name].deleted
        involved = change is not None and change.name in (name, owners.get(template))
        if template in templates and not with_texts and involved:
            raise ConflictError(
                t("playbooks_edit.template_clash", template=template, other=name),
                hint=t("playbooks_edit.template_clash_hint"),
                code="playbooks.template_clash",
            )
    dirs = base.template_dirs
    if templates:
        dirs = (_materialize(templates), *dirs)
    data = {
        "playbook": list(definitions.values()),
        "caps": base.caps.model_dump(mode="json"),
    }
    return check_playbooks(
        data,
        source=t("playbooks_edit.source", file=base.source),
        template_dirs=dirs,
        versions=versions,
    )


def effective_book(session: Session, base: PlaybookSet) -> PlaybookSet:
    """The playbooks that run: ``base`` with the newest stored version of each laid over it."""
    return _assemble(base, _latest(session))


def _kept_templates(
    row: PlaybookVersion | None, definition: Mapping[str, Any] | None
) -> str | None:
    """The stored texts an edit without ``templates`` keeps: the previous version's, same name.

    Under a new template name they would be written as that template's files and shadow them
    for every playbook that uses it: the files' texts apply instead.
    """
    if row is None or row.templates is None or definition is None:
        return None
    same = json.loads(row.definition).get("template") == definition.get("template")
    return row.templates if same else None


def check_edit(
    session: Session,
    base: PlaybookSet,
    *,
    name: str,
    definition: Mapping[str, Any],
    templates: Mapping[str, Any] | None,
) -> PlaybookSet:
    """The book as it would be with this edit, checked (:class:`DataValidationError`); no write.

    What :func:`save` checks before it stores, for a preview of an edit not yet saved.
    """
    latest = _latest(session)
    row = latest.get(name)
    if templates is not None:
        _check_languages(name, templates)
    change = PlaybookVersion(
        name=name,
        version=0,
        definition=json.dumps(dict(definition) | {"name": name}, ensure_ascii=True),
        templates=(
            json.dumps(templates, ensure_ascii=True)
            if templates is not None
            else _kept_templates(row, definition)
        ),
        deleted=False,
        author="",
    )
    try:
        return _assemble(base, latest, change)
    except ConfigError as exc:
        raise _invalid(exc, name) from None


def history(session: Session, name: str) -> list[PlaybookVersion]:
    """Every stored version of ``name``, oldest first (empty: never edited)."""
    return list(
        session.scalars(
            select(PlaybookVersion)
            .where(PlaybookVersion.name == name)
            .order_by(PlaybookVersion.version)
        )
    )


def _invalid(exc: ConfigError, name: str) -> DataValidationError:
    """A check's ConfigError as the 422 an edit gets: each problem with its field and rule."""
    found: list[Violation] = list(getattr(exc, "violations", []))
    if not found:
        found = [Violation(rule=exc.code, message=exc.message, column="template", hint=exc.hint)]
    violations = [
        Violation(
            rule=v.rule,
            message=_TEMP.sub("templates/", v.message),
            column=v.column,
            hint=v.hint,
            file=f"playbook {name}",
        )
        for v in found
    ]
    return DataValidationError(
        violations,
        message=_TEMP.sub("templates/", exc.message),
        hint=exc.hint,
        code="playbooks.invalid",
    )


_TEMP = re.compile(r"\S*retain-playbook-templates(-\d+)?[/\\][0-9a-f]+[/\\]")
"""Where edited templates are written, shown to the editor as ``templates/``."""


def save(
    session: Session,
    base: PlaybookSet,
    *,
    name: str,
    definition: Mapping[str, Any] | None,
    expected: int | None,
    author: str,
    templates: Mapping[str, Any] | None = None,
    create: bool = False,
) -> PlaybookVersion:
    """Store a new version of ``name`` (``definition`` None deletes it); flushed, not committed.

    ``create``: the name must be free (a deleted name is free again). Otherwise the playbook
    must exist and ``expected`` must be its current version, else :class:`ConflictError`.
    The whole book with the change is checked first (:class:`DataValidationError`, 422).
    """
    latest = _latest(session)
    row = latest.get(name)
    in_base = any(p.name == name for p in base.playbooks)
    exists = (row is not None and not row.deleted) or (row is None and in_base)
    current = row.version if row is not None else (1 if in_base else 0)
    if create and exists:
        raise ConflictError(
            t("playbooks_edit.exists", name=name),
            hint=t("playbooks_edit.exists_hint"),
            code="playbooks.exists",
        )
    if not create and not exists:
        raise NotFoundError(t("playbooks_edit.not_found", name=name), code="playbooks.not_found")
    if not create and expected != current:
        raise ConflictError(
            t("playbooks_edit.stale", name=name, expected=expected, current=current),
            hint=t("playbooks_edit.stale_hint"),
            code="playbooks.version_conflict",
        )
    if templates is not None:
        _check_languages(name, templates)
    body = dict(definition) if definition is not None else None
    if body is not None:
        body["name"] = name
    previous = json.loads(row.definition) if row is not None else None
    snapshot = None
    if row is None and in_base:  # the file's version is kept before the first edit
        snapshot = PlaybookVersion(
            name=name,
            version=1,
            definition=json.dumps(definition_of(base.get(name)), ensure_ascii=True),
            author="file:" + base.source,
        )
    change = PlaybookVersion(
        name=name,
        version=current + 1,
        definition=json.dumps(body if body is not None else previous or {}, ensure_ascii=True),
        templates=(
            json.dumps(templates, ensure_ascii=True, sort_keys=True)
            if templates is not None
            else _kept_templates(row, body)
        ),
        deleted=body is None,
        author=author,
    )
    if body is not None:
        try:
            _assemble(base, latest, change)
        except ConfigError as exc:
            raise _invalid(exc, name) from None
    try:
        with session.begin_nested():
            if snapshot is not None:
                session.add(snapshot)
            session.add(change)
    except IntegrityError:
        raise ConflictError(
            t("playbooks_edit.stale", name=name, expected=expected, current=current + 1),
            hint=t("playbooks_edit.stale_hint"),
            code="playbooks.version_conflict",
        ) from None
    return change
