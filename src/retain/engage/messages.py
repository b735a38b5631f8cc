"""Message templates: ``templates/<template>.<lang>.toml`` with ``subject`` and ``body``.

Both are Jinja2, rendered in a :class:`~jinja2.sandbox.SandboxedEnvironment` so a template can
read the customer's fields and nothing of Python's internals. The first folder holding any file
of a template is its home (a playbook file's own ``templates/`` before the shipped ones), and all
its languages come from there. A template is checked when its playbook is loaded
(:func:`check_template`): the English file must exist (it is the fallback), every file must
parse, name only known fields, and reach no attribute starting with ``_``; A/B/n variants
(``[variants.<name>]`` tables with their own ``subject`` and ``body``) must be the same in every
language. The customer's ``language`` picks the file (``pt-BR`` reads ``pt``), English when
there is none.

Fields a template may use: ``customer`` (:data:`CUSTOMER_FIELDS`, and ``customer.attributes``
with any key), ``trigger`` (what fired: ``kind``, ``days``, ``step``, ``product_id``,
``product_name``, ``due_at``, ``ends_at``, ``event``, ``band``), ``offer`` (``name``, ``cost``)
and ``playbook`` (its name). The sender's identity and the opt-out link are not the template's
job: the e-mail sender appends them in the customer's language (:mod:`retain.engage.email`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import new_context
from jinja2.sandbox import SandboxedEnvironment

from retain.errors import ConfigError
from retain.i18n import t

__all__ = [
    "CONTEXT_NAMES",
    "CUSTOMER_FIELDS",
    "DEFAULT_VARIANT",
    "MessageTemplate",
    "check_template",
    "load_template",
    "render",
]

CUSTOMER_FIELDS = frozenset(
    {
        "customer_id",
        "first_name",
        "name",
        "email",
        "language",
        "country",
        "time_zone",
        "acquisition_channel",
        "acquired_at",
        "attributes",
    }
)
"""``customer.<field>`` names a template may read (``attributes`` holds any key)."""
CONTEXT_NAMES = frozenset({"customer", "trigger", "offer", "playbook", "survey"})
"""Top-level names a template may use (``survey``: ``name`` and ``url``, survey playbooks only)."""
DEFAULT_VARIANT = "a"
"""The variant written as the file's top-level ``subject`` and ``body``."""

MAX_NUMBER = 100_000
"""Largest number a template may write, and the longest text or list ``*`` may build."""
MAX_RANGE = 1_000
"""Most items ``range()`` gives a template (a message never needs more)."""
MAX_LOOP_DEPTH = 2
"""Most ``for`` loops nested in one another (with :data:`MAX_RANGE`, at most a million turns)."""


class _BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox with bounded arithmetic.

    A template edited over HTTP must not build a gigabyte string (``"x" * 10**9``) when it is
    checked, previewed or sent. Intercepting ``*`` and ``**`` also keeps Jinja from folding
    them at compile time.
    """

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("**")
        sized = [len(v) for v in (left, right) if isinstance(v, str | list | tuple)]
        counts = [v for v in (left, right) if isinstance(v, int) and not isinstance(v, bool)]
        if sized and counts and sized[0] * counts[0] > MAX_NUMBER:
            raise SecurityError(f"* {counts[0]}")
        return super().call_binop(context, operator, left, right)


def _bounded_range(*args: int) -> range:
    items = range(*args)
    if len(items) > MAX_RANGE:
        raise SecurityError(f"range() of {len(items)} items")
    return items


_ENV = _BoundedSandbox(autoescape=False, keep_trailing_newline=False)
_ENV.globals["range"] = _bounded_range
_SAMPLE: dict[str, Any] = {
    "customer": {f: "x" for f in CUSTOMER_FIELDS} | {"attributes": {}},
    "trigger": {
        "kind": "inactive",
        "days": 60,
        "step": 1,
        "product_id": "p",
        "product_name": "p",
        "due_at": "2024-01-01",
        "ends_at": "2024-01-01",
        "event": "e",
        "band": "high",
    },
    "offer": {"name": "coupon", "cost": 1.0},
    "playbook": "p",
    "survey": {"name": "nps", "url": "https://retain.example/s/token"},
}


@dataclass(frozen=True)
class MessageTemplate:
    """One template: per language, per variant, ``(subject, body)`` sources."""

    name: str
    languages: dict[str, dict[str, tuple[str, str]]]
    files: dict[str, str]

    @property
    def variants(self) -> tuple[str, ...]:
        """Variant names, the default first."""
        return tuple(self.languages["en"])

    def language_for(self, language: str | None) -> str:
        """The file language used for a customer's ``language`` (English fallback)."""
        code = (language or "en").strip().lower()
        for candidate in (code, code.split("-")[0].split("_")[0]):
            if candidate in self.languages:
                return candidate
        return "en"


def _error(message_key: str, hint_key: str, /, **params: Any) -> ConfigError:
    return ConfigError(
        t(f"engage_playbooks.{message_key}", **params), hint=t(f"engage_playbooks.{hint_key}")
    )


def _unsafe_attributes(tree: nodes.Template) -> list[str]:
    """Attributes or items starting with ``_`` that a template reaches for."""
    # find_all walks outside in: reversed, ``a.__class__.__mro__`` names ``__class__`` first
    found = [n.attr for n in tree.find_all(nodes.Getattr) if n.attr.startswith("_")][::-1]
    names: list[nodes.Node] = [item.arg for item in tree.find_all(nodes.Getitem)]
    # ``x|attr("__class__")`` reaches an attribute through a filter
    names += [f.args[0] for f in tree.find_all(nodes.Filter) if f.name == "attr" and f.args]
    texts = [a.value for a in names if isinstance(a, nodes.Const) and isinstance(a.value, str)]
    return found + [text for text in texts if text.startswith("_")]


def _unknown_fields(tree: nodes.Template) -> list[str]:
    """Top-level names and ``customer.<field>`` names a template may not use."""
    names = sorted(meta.find_undeclared_variables(tree) - CONTEXT_NAMES)
    for node in tree.find_all(nodes.Getattr):
        target = node.node
        is_customer = isinstance(target, nodes.Name) and target.name == "customer"
        if is_customer and node.attr not in CUSTOMER_FIELDS:
            names.append(f"customer.{node.attr}")
    return names


def _unbounded(tree: nodes.Template) -> list[str]:
    """Numbers over :data:`MAX_NUMBER` and loops nested deeper than :data:`MAX_LOOP_DEPTH`."""
    found = [
        str(c.value)
        for c in tree.find_all(nodes.Const)
        if isinstance(c.value, int | float)
        and not isinstance(c.value, bool)
        and abs(c.value) > MAX_NUMBER
    ]

    def depth(node: nodes.Node) -> int:
        inner = max((depth(child) for child in node.iter_child_nodes()), default=0)
        return inner + 1 if isinstance(node, nodes.For) else inner

    deep = depth(tree)
    if deep > MAX_LOOP_DEPTH:
        found.append(f"{deep} nested loops")
    return found


def _check_source(source: str, *, file: str, key: str, playbook: str) -> None:
    where = {"file": file, "key": key, "playbook": playbook}
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise _error(
            "template_syntax", "template_syntax_hint", problem=exc.message, **where
        ) from None
    unsafe = _unsafe_attributes(tree) + _unbounded(tree)
    if unsafe:
        raise _error("template_unsafe", "template_unsafe_hint", name=unsafe[0], **where)
    unknown = _unknown_fields(tree)
    if unknown:
        raise _error(
            "template_unknown_field",
            "template_unknown_field_hint",
            name=unknown[0],
            known=", ".join(sorted(CONTEXT_NAMES)),
            **where,
        )
    try:
        _ENV.from_string(source).render(_SAMPLE)
    except SecurityError as exc:
        raise _error("template_unsafe", "template_unsafe_hint", name=str(exc), **where) from None
    except (UndefinedError, TypeError, ValueError, ArithmeticError) as exc:
        raise _error("template_render", "template_render_hint", problem=str(exc), **where) from None


def _read_file(path: Path, *, playbook: str) -> dict[str, tuple[str, str]]:
    """``{variant: (subject, body)}`` of one language file, checked."""
    file = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise _error("bad_toml", "bad_toml_hint", file=file, problem=str(exc)) from None
    variants: dict[str, Any] = {DEFAULT_VARIANT: {k: v for k, v in data.items() if k != "variants"}}
    extra = data.get("variants", {})
    if not isinstance(extra, dict) or DEFAULT_VARIANT in extra:
        raise _error("template_variants", "template_variants_hint", file=file, playbook=playbook)
    variants.update(extra)
    out: dict[str, tuple[str, str]] = {}
    for variant, table in variants.items():
        prefix = "" if variant == DEFAULT_VARIANT else f"variants.{variant}."
        if not isinstance(table, dict):
            raise _error(
                "template_variants", "template_variants_hint", file=file, playbook=playbook
            )
        unknown = sorted(set(table) - {"subject", "body"})
        if unknown:
            raise _error(
                "template_key",
                "template_key_hint",
                file=file,
                key=prefix + unknown[0],
                playbook=playbook,
            )
        for key in ("subject", "body"):
            value = table.get(key)
            if not isinstance(value, str) or not value.strip():
                raise _error(
                    "template_missing",
                    "template_missing_hint",
                    file=file,
                    key=prefix + key,
                    playbook=playbook,
                )
            _check_source(value, file=file, key=prefix + key, playbook=playbook)
        out[variant] = (table["subject"], table["body"])
    return out


def _load(name: str, dirs: tuple[Path, ...], playbook: str, source: str) -> MessageTemplate:
    languages: dict[str, dict[str, tuple[str, str]]] = {}
    files: dict[str, str] = {}
    for folder in dirs:
        for path in sorted(folder.glob(f"{name}.*.toml")) if folder.is_dir() else []:
            lang = path.name[len(name) + 1 : -len(".toml")]
            if "." not in lang:
                languages[lang] = _read_file(path, playbook=playbook)
                files[lang] = str(path)
        if languages:  # the first folder holding the template is its only home
            break
    if "en" not in languages:
        raise _error(
            "template_no_english",
            "template_no_english_hint",
            file=source,
            playbook=playbook,
            template=name,
            folders=", ".join(str(d) for d in dirs),
        )
    want = sorted(languages["en"])
    for lang, variants in languages.items():
        if sorted(variants) != want:
            raise _error(
                "template_variant_mismatch",
                "template_variant_mismatch_hint",
                file=files[lang],
                playbook=playbook,
                found=", ".join(sorted(variants)),
                expected=", ".join(want),
            )
    return MessageTemplate(name, languages, files)


def check_template(
    name: str, dirs: tuple[Path, ...], *, playbook: str, source: str
) -> MessageTemplate:
    """Find and check template ``name`` in the first of ``dirs`` that holds it."""
    return _load(name, tuple(dirs), playbook, source)


def load_template(name: str, dirs: tuple[Path, ...]) -> MessageTemplate:
    """Template ``name`` from ``dirs``, checked."""
    return _load(name, tuple(dirs), name, name)


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Template:
    return _ENV.from_string(source)


@lru_cache(maxsize=1024)
def _globals(source: str) -> dict[str, Any]:
    """The template's globals as one plain dict, merged once (Jinja re-reads its ChainMap)."""
    return dict(_compiled(source).globals)


def _render(source: str, context: dict[str, Any]) -> str:
    """``Template.render(context)``, the globals merged once per template instead of per call.

    The same context Jinja builds (globals under the customer's values, ``shared``), a tenth
    of the cost of rendering the hundreds of thousands of messages of a large run.
    """
    template = _compiled(source)
    ctx = new_context(
        _ENV,
        template.name,
        template.blocks,
        {**_globals(source), **context},
        True,
        template.globals,
    )
    try:
        return _ENV.concat(template.root_render_func(ctx))  # type: ignore[attr-defined, no-any-return]
    except Exception:
        _ENV.handle_exception()


def render(
    template: MessageTemplate, *, language: str | None, variant: str, context: dict[str, Any]
) -> tuple[str, str, str]:
    """``(language used, subject, body)`` for one customer; the default variant when unknown."""
    lang = template.language_for(language)
    variants = template.languages[lang]
    subject, body = variants.get(variant, variants[DEFAULT_VARIANT])
    return (
        lang,
        _render(subject, context).strip(),
        _render(body, context).strip(),
    )
