"""Playbooks as data: when to act (trigger), on whom (audience), how (action), and how it is judged.

A playbook file is TOML with one ``[[playbook]]`` table per playbook, and optional ``[caps]``
(frequency caps, quiet hours, the global control group) shared by every playbook of the file::

    [[playbook]]
    name = "winback-60"
    trigger = { kind = "inactive", days = 60 }
    channel = "email"            # or "sms", "webhook", "best" (most active consented channel)
    holdout = 0.2                # share kept as randomized control
    template = "winback"

:func:`load_playbooks` reads and checks a file: every unknown key, wrong type or bad template is
reported with the file, the playbook and the key at fault, and a hint. Templates are checked by
:mod:`retain.engage.messages` when the file is loaded, not when the first message is rendered.
The shipped playbooks (:func:`shipped_playbooks`) cover every trigger kind.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from retain.errors import ConfigError, Violation
from retain.i18n import t

if TYPE_CHECKING:
    from retain.engage.messages import MessageTemplate

__all__ = [
    "SHIPPED_FILE",
    "Action",
    "Audience",
    "Caps",
    "ContractEndTrigger",
    "DateAttributeTrigger",
    "EventTrigger",
    "Goal",
    "InactiveTrigger",
    "LifecycleTrigger",
    "Offer",
    "Playbook",
    "PlaybookFile",
    "PlaybookSet",
    "ReplenishmentTrigger",
    "RiskBandTrigger",
    "Trigger",
    "check_playbooks",
    "load_playbooks",
    "parse_playbooks",
    "shipped_playbooks",
]

SHIPPED_FILE = "playbooks.toml"
"""The ready-made playbooks' file inside this package, beside the shipped ``templates/``."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InactiveTrigger(_Model):
    """No activity (completed order or event) for ``days`` days; once per silence."""

    kind: Literal["inactive"]
    days: int = Field(ge=1)
    max_days: int | None = Field(default=None, ge=1)
    """Customers silent for longer than this are left alone (long gone); None: no limit."""


class LifecycleTrigger(_Model):
    """Entered a lifecycle stage; ``new`` runs a series ``delays`` days after acquisition."""

    kind: Literal["lifecycle"]
    stage: Literal["new"] = "new"
    delays: tuple[int, ...] = (0,)
    """Days after acquisition of each step of the series (step 1 is the first)."""
    grace_days: int = Field(default=7, ge=1)
    """A step not taken within this many days of its day is skipped (a late start)."""

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleTrigger:
        if not self.delays or list(self.delays) != sorted(set(self.delays)) or self.delays[0] < 0:
            raise ValueError(t("engage_playbooks.bad_delays"))
        return self


class RiskBandTrigger(_Model):
    """The latest churn score moved into ``band`` (from another band, or a first score)."""

    kind: Literal["risk_band"]
    band: Literal["high", "medium", "low"] = "high"
    definition: str | None = None
    within_days: int = Field(default=30, ge=1)
    """Only crossings scored within this many days before the run count."""


class ReplenishmentTrigger(_Model):
    """A product the customer buys again is due to run out (:mod:`retain.engage.replenishment`)."""

    kind: Literal["replenishment"]
    lead_days: int = Field(default=10, ge=0)
    min_customer_intervals: int = Field(default=3, ge=1)
    min_product_intervals: int = Field(default=5, ge=1)
    product: str | None = None


class ContractEndTrigger(_Model):
    """An open contract's committed term ends within ``days`` days."""

    kind: Literal["contract_end"]
    days: int = Field(ge=1)


class EventTrigger(_Model):
    """An event called ``event`` occurred in the last ``within_days`` days."""

    kind: Literal["event"]
    event: str = Field(min_length=1)
    within_days: int = Field(default=1, ge=1)


class DateAttributeTrigger(_Model):
    """A yearly date in ``attributes`` (birthday, anniversary) is ``days_before`` days away."""

    kind: Literal["date_attribute"]
    attribute: str = Field(min_length=1)
    days_before: int = Field(default=0, ge=0)


Trigger = Annotated[
    InactiveTrigger
    | LifecycleTrigger
    | RiskBandTrigger
    | ReplenishmentTrigger
    | ContractEndTrigger
    | EventTrigger
    | DateAttributeTrigger,
    Field(discriminator="kind"),
]
"""One of the trigger kinds, told apart by ``kind``."""


class Audience(_Model):
    """Who may enter: every condition given must hold (none given: everyone the trigger finds)."""

    segment: str | None = None
    """A segment name stored in ``segment_memberships`` (latest date on or before the run)."""
    scheme: str | None = None
    risk_bands: tuple[Literal["high", "medium", "low"], ...] = ()
    clv_tiers: tuple[Literal["high", "medium", "low"], ...] = ()
    attributes: dict[str, str] = Field(default_factory=dict)
    """``attributes`` keys and the text value each must have, e.g. ``{ plan = "gold" }``."""
    countries: tuple[str, ...] = ()


class Offer(_Model):
    """An incentive sent with the message, and what each redemption costs the business."""

    name: str
    cost: float = Field(default=0.0, ge=0)
    """Cost of one redemption (a converted treated customer), in the reporting currency."""


class Action(_Model):
    """What a decision does beyond the templated message.

    ``survey`` invites the customer to a survey (:mod:`retain.voice.surveys`): the e-mail is the
    playbook's template, whose ``{{ survey.url }}`` is the customer's signed, expiring link.
    """

    kind: Literal["message", "webhook", "save_desk", "offer", "survey"] = "message"
    url: str | None = None
    """The webhook's target, for ``kind = "webhook"``."""
    queue: str | None = None
    """The save desk's queue, for ``kind = "save_desk"``."""
    survey: str | None = Field(default=None, min_length=1, max_length=100)
    """The survey, for ``kind = "survey"``: ``nps``, ``csat``, ``ces`` or a defined one."""
    ttl_days: int = Field(default=14, ge=1, le=365)
    """Days a survey link stays valid after the run."""


class Goal(_Model):
    """What success is: e.g. a treated conversion of 8 % within 30 days."""

    metric: Literal["conversion", "retention", "revenue", "lift"] = "conversion"
    window_days: int = Field(default=30, ge=1)
    target: float


class Playbook(_Model):
    """One playbook: trigger, audience, action, holdout, caps category, priority and goal."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    trigger: Trigger
    audience: Audience = Field(default_factory=Audience)
    channel: Literal["email", "sms", "webhook", "best"] = "email"
    fallbacks: tuple[Literal["email", "sms", "webhook"], ...] = ("email", "webhook")
    """Channels ``channel = "best"`` chooses among, in order when activity does not decide.

    ``webhook`` counts only when ``action.url`` is set. ``sms`` is sent through the ``[sms]``
    gateway (:mod:`retain.engage.sms`) and waits queued while none is configured.
    """
    template: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    action: Action = Field(default_factory=Action)
    offer: Offer | None = None
    holdout: float = Field(default=0.1, ge=0.0, lt=1.0)
    category: str = "marketing"
    """The frequency-cap category its messages count against."""
    priority: int = 0
    """Higher wins a customer's last slot under a cap."""
    expected_value: float = 0.0
    """Expected incremental value per message; breaks priority ties."""
    margin: float = Field(default=1.0, gt=0.0, le=1.0)
    """Share of revenue that is profit, for incremental profit."""
    attribution_days: int = Field(default=30, ge=1)
    goal: Goal | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _webhook_has_url(self) -> Playbook:
        wants = self.channel == "webhook" or self.action.kind == "webhook"
        if wants and not self.action.url:
            raise ValueError(t("engage_playbooks.webhook_needs_url"))
        if self.action.kind == "survey":
            if not self.action.survey:
                raise ValueError(t("playbooks_edit.survey_needs_name"))
            if self.channel != "email":
                raise ValueError(t("playbooks_edit.survey_needs_email", channel=self.channel))
        return self

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels ``best`` may choose: the fallbacks, webhook only with a URL."""
        return tuple(c for c in self.fallbacks if c != "webhook" or self.action.url)


class QuietHours(_Model):
    """Local hours in which nothing is sent; messages wait until ``end``."""

    start: int = Field(default=21, ge=0, le=23)
    end: int = Field(default=8, ge=0, le=23)


class Caps(_Model):
    """Guardrails shared by a file's playbooks."""

    window_days: int = Field(default=7, ge=1)
    global_limit: int | None = Field(default=3, ge=0)
    """Messages per customer per window, every category together; None: no limit."""
    categories: dict[str, int] = Field(default_factory=lambda: {"marketing": 2})
    quiet_hours: QuietHours | None = Field(default_factory=QuietHours)
    global_control: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Share of all customers never messaged by any playbook (a stable hash picks them)."""


class PlaybookFile(_Model):
    """The TOML file's shape."""

    playbook: tuple[Playbook, ...] = ()
    caps: Caps = Field(default_factory=Caps)


@dataclass(frozen=True)
class PlaybookSet:
    """Checked playbooks, their caps, and where their templates are looked up (first wins)."""

    playbooks: tuple[Playbook, ...]
    caps: Caps
    template_dirs: tuple[Path, ...]
    source: str
    versions: Mapping[str, int] = field(default_factory=dict)
    """Each playbook's stored version (:mod:`retain.engage.playbook_versions`); absent: 1,
    the file's own definition. Outbox rows and holdout records carry it."""

    def version(self, name: str) -> int:
        """The version of playbook ``name`` that decides (1 until edited)."""
        return int(self.versions.get(name, 1))

    def get(self, name: str) -> Playbook:
        """The playbook called ``name`` (ConfigError naming the known ones)."""
        for playbook in self.playbooks:
            if playbook.name == name:
                return playbook
        known = ", ".join(p.name for p in self.playbooks)
        raise ConfigError(
            t("engage_playbooks.unknown_playbook", name=name, file=self.source),
            hint=t("engage_playbooks.unknown_playbook_hint", known=known),
        )


def _shipped_dir() -> Path:
    return Path(str(resources.files("retain.engage")))


def _where(data: dict[str, Any], loc: tuple[int | str, ...]) -> tuple[str, str]:
    """``(playbook name, dotted key)`` of a pydantic error location."""
    if len(loc) >= 2 and loc[0] == "playbook" and isinstance(loc[1], int):
        items = data.get("playbook") or []
        entry = items[loc[1]] if loc[1] < len(items) else {}
        name = entry.get("name") if isinstance(entry, dict) else None
        rest = [str(p) for p in loc[2:]]
        if rest[:1] == ["trigger"] and len(rest) > 1 and rest[1] in _TRIGGER_KINDS:
            del rest[1]  # the union's tag: "trigger.inactive.days" reads "trigger.days"
        return str(name or f"#{loc[1] + 1}"), ".".join(rest) or "playbook"
    return "-", ".".join(str(p) for p in loc)


_PROBLEMS = {
    "extra_forbidden": (),
    "missing": (),
    "literal_error": ("expected",),
    "union_tag_invalid": ("tag", "expected_tags"),
    "greater_than_equal": ("ge",),
    "greater_than": ("gt",),
    "less_than_equal": ("le",),
    "less_than": ("lt",),
    "int_parsing": (),
    "int_type": (),
    "int_from_float": (),
    "float_parsing": (),
    "float_type": (),
    "string_type": (),
    "bool_type": (),
    "bool_parsing": (),
    "string_pattern_mismatch": ("pattern",),
    "string_too_short": ("min_length",),
    "string_too_long": ("max_length",),
}
"""Pydantic error types told in the reader's language, with the context values they show."""


def _problem(item: Any) -> str:
    """What is wrong, in the reader's language where the error type is known."""
    kind = item["type"]
    ctx = item.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])  # our own validators' messages, already translated
    if kind not in _PROBLEMS:
        return str(item["msg"])
    values = {k: str(ctx.get(k, "")).replace(" or ", ", ") for k in _PROBLEMS[kind]}
    return t(f"engage_playbooks.problem_{kind}", **values)


def _violations(file: str, data: dict[str, Any], error: ValidationError) -> list[Violation]:
    out: list[Violation] = []
    # a misspelt key is reported before the key it was meant to be (missing)
    for item in sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden"):
        playbook, key = _where(data, tuple(item["loc"]))
        out.append(
            Violation(
                rule=item["type"],
                message=t(
                    "engage_playbooks.bad_key",
                    file=file,
                    playbook=playbook,
                    key=key,
                    problem=_problem(item),
                ),
                file=file,
                column=key,
                hint=t(f"engage_playbooks.hint_{item['type']}")
                if item["type"] in _HINTED
                else t("engage_playbooks.hint_default"),
            )
        )
    return out


_TRIGGER_KINDS = frozenset(
    {
        "inactive",
        "lifecycle",
        "risk_band",
        "replenishment",
        "contract_end",
        "event",
        "date_attribute",
    }
)
_HINTED = frozenset({"extra_forbidden", "missing", "union_tag_invalid", "literal_error"})


def _raise(violations: list[Violation]) -> None:
    first = violations[0]
    more = len(violations) - 1
    message = first.message + (t("engage_playbooks.and_more", count=more) if more else "")
    error = ConfigError(message, hint=first.hint)
    error.violations = violations  # type: ignore[attr-defined]
    raise error


def parse_playbooks(text: str, *, source: str, template_dirs: tuple[Path, ...]) -> PlaybookSet:
    """Playbooks from TOML ``text``, checked, templates included (``source`` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            t("engage_playbooks.bad_toml", file=source, problem=str(exc)),
            hint=t("engage_playbooks.bad_toml_hint"),
        ) from None
    return check_playbooks(data, source=source, template_dirs=template_dirs)


def check_playbooks(
    data: dict[str, Any],
    *,
    source: str,
    template_dirs: tuple[Path, ...],
    versions: Mapping[str, int] | None = None,
) -> PlaybookSet:
    """Playbooks from a file's data (``{"playbook": [...], "caps": {...}}``), checked.

    The one validation path: a TOML file and an edit through the API both come here, so both
    get the same rules and the same messages (file, playbook, key, problem, hint).
    """
    from retain.engage.messages import check_template

    try:
        parsed = PlaybookFile.model_validate(data)
    except ValidationError as exc:
        _raise(_violations(source, data, exc))
        raise  # unreachable: _raise always raises
    names = [p.name for p in parsed.playbook]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(
            t("engage_playbooks.duplicate", file=source, name=duplicated[0]),
            hint=t("engage_playbooks.duplicate_hint"),
        )
    for playbook in parsed.playbook:
        template = check_template(
            playbook.template, template_dirs, playbook=playbook.name, source=source
        )
        _check_survey_link(playbook, template)
    return PlaybookSet(parsed.playbook, parsed.caps, template_dirs, source, dict(versions or {}))


def _uses_survey_link(source: str) -> tuple[bool, bool]:
    """``(uses survey at all, uses survey.url)`` in one template source."""
    from jinja2 import nodes
    from jinja2.sandbox import SandboxedEnvironment

    tree = SandboxedEnvironment().parse(source)
    named = any(n.name == "survey" for n in tree.find_all(nodes.Name))
    link = any(
        isinstance(n.node, nodes.Name) and n.node.name == "survey" and n.attr == "url"
        for n in tree.find_all(nodes.Getattr)
    )
    return named, link


def _check_survey_link(playbook: Playbook, template: MessageTemplate) -> None:
    """A survey playbook's every body shows the link; no other playbook's template names it."""
    wants = playbook.action.kind == "survey"
    for lang, variants in template.languages.items():
        for variant, (subject, body) in variants.items():
            named, link = _uses_survey_link(body)
            named = named or _uses_survey_link(subject)[0]
            where = {"file": template.files[lang], "playbook": playbook.name, "variant": variant}
            if wants and not link:
                raise ConfigError(
                    t("playbooks_edit.survey_link_missing", **where),
                    hint=t("playbooks_edit.survey_link_missing_hint"),
                )
            if named and not wants:
                raise ConfigError(
                    t("playbooks_edit.survey_not_a_survey", **where),
                    hint=t("playbooks_edit.survey_not_a_survey_hint"),
                )


def load_playbooks(path: Path | str) -> PlaybookSet:
    """Read and check a playbook file; its ``templates/`` folder wins over the shipped one."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            t("engage_playbooks.unreadable", file=str(file), problem=exc.strerror or str(exc)),
            hint=t("engage_playbooks.unreadable_hint"),
        ) from None
    dirs = (file.parent / "templates", _shipped_dir() / "templates")
    return parse_playbooks(text, source=str(file), template_dirs=dirs)


def shipped_playbooks() -> PlaybookSet:
    """The ready-made playbooks, one or more per trigger kind, with their en/ja/ko templates."""
    root = _shipped_dir()
    text = (root / SHIPPED_FILE).read_text(encoding="utf-8")
    return parse_playbooks(text, source=SHIPPED_FILE, template_dirs=(root / "templates",))
