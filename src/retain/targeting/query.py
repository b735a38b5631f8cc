"""The at-risk list's question as one typed, checked object: :class:`AtRiskQuery`.

Which churn definition (business line), which customers (risk bands, CLV range, country,
acquisition channel, reason, plan, tenure, a search by id or e-mail, a saved segment), in what
order, and which page. Without bands the list shows the high and medium bands
(:data:`DEFAULT_BANDS`): the customers a team works. Every way of asking converts to and from
it: the API's query parameters and the dashboard's form (:meth:`AtRiskQuery.from_params` /
:meth:`~AtRiskQuery.to_params`), and a saved segment's stored filter
(:meth:`~AtRiskQuery.from_dict` / :meth:`~AtRiskQuery.to_dict`), which may hold a segment rule
(:mod:`retain.targeting.segments.builder`) besides the filters. A value out of range is refused
when the object is built, with an :class:`~retain.errors.InvalidParameterError` that names the
field (code ``parameter.<field>``), so no caller checks on its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, get_args

from retain.errors import InvalidParameterError
from retain.i18n import catalog, t
from retain.targeting._cursor import bad_cursor, decode_cursor
from retain.targeting.segments.builder import (
    AllOf,
    AnyOf,
    Condition,
    EventCount,
    Not,
    Rule,
    SavedRef,
    parse_rule,
    rule_to_dict,
)

__all__ = [
    "DEFAULT_BANDS",
    "DEFAULT_LIMIT",
    "FILTER_FIELDS",
    "MAX_ABS_VALUE",
    "MAX_LIMIT",
    "MAX_TEXT_LENGTH",
    "RISK_BANDS",
    "SORT_KEYS",
    "TIE_BY_PROBABILITY",
    "AtRiskQuery",
    "Order",
    "RiskBand",
    "SortKey",
    "reason_keys",
]

RiskBand = Literal["high", "medium", "low"]
SortKey = Literal["probability", "clv", "at_risk_value", "customer_id"]
Order = Literal["asc", "desc"]
RISK_BANDS: tuple[RiskBand, ...] = get_args(RiskBand)
SORT_KEYS: tuple[SortKey, ...] = get_args(SortKey)
TIE_BY_PROBABILITY: tuple[SortKey, ...] = ("at_risk_value", "clv")
"""Sorts whose ties (customers without a CLV among them) are ordered by probability."""
ORDERS: tuple[Order, ...] = get_args(Order)
DEFAULT_BANDS: tuple[RiskBand, ...] = ("high", "medium")
"""The bands a query without ``risk_bands`` keeps: the customers worth a call."""

DEFAULT_LIMIT = 50
MAX_LIMIT = 10_000
"""The largest page any caller may ask for (a service may cap it lower with ``max_limit``)."""
MAX_ABS_VALUE = 1e15
"""CLV bounds are finite numbers within +-1e15 (what every warehouse stores exactly enough)."""
MAX_TENURE_DAYS = 100 * 366
"""Tenure bounds are whole days from 0 to a century."""
MAX_TEXT_LENGTH: dict[str, int] = {
    "definition": 100,
    "segment": 200,
    "country": 100,
    "channel": 100,
    "search": 200,
    "reason": 100,
    "plan": 100,
    "cursor": 1000,
}
FILTER_FIELDS = (
    "risk_bands",
    "clv_min",
    "clv_max",
    "country",
    "channel",
    "reason",
    "plan",
    "tenure_min",
    "tenure_max",
)
"""The filter fields that choose customers; a saved segment stores them and may add a rule."""

_PARAM_NAMES = {"risk_bands": "risk_band"}
"""Query-string names that differ from the field names (one ``risk_band`` per band)."""


def _bad(field: str, key: str, **params: Any) -> InvalidParameterError:
    return InvalidParameterError(t(f"targeting.{key}", **params), code=f"parameter.{field}")


def _text(name: str, value: object) -> str | None:
    """A text field: None or blank is unset, anything but text is refused, length is bounded."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(name, "not_text", name=name, value=repr(value))
    value = value.strip()
    if len(value) > MAX_TEXT_LENGTH[name]:
        raise _bad(name, "too_long", name=name, max=MAX_TEXT_LENGTH[name], length=len(value))
    return value or None


def _number(name: str, value: object) -> float | None:
    """A CLV bound: None or blank is unset, text is parsed, bools and non-finite are refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _bad(name, "bad_number", name=name, value=value)
    try:
        number = float(value)
    except ValueError:
        raise _bad(name, "bad_number", name=name, value=value) from None
    if not math.isfinite(number) or abs(number) > MAX_ABS_VALUE:
        low, high = -MAX_ABS_VALUE, MAX_ABS_VALUE
        raise _bad(name, "out_of_range", name=name, low=low, high=high, value=value)
    return number


def _days(name: str, value: object) -> int | None:
    """A tenure bound in whole days: None or blank is unset, text is parsed, 0 to a century."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, "bad_whole_number", name=name, value=value)
    if not 0 <= value <= MAX_TENURE_DAYS:
        raise _bad(name, "out_of_range", name=name, low=0, high=MAX_TENURE_DAYS, value=value)
    return value


def reason_keys(reason: str) -> tuple[str, ...]:
    """The stored message keys a ``reason`` filter matches: a family's keys, or one key.

    ``reason`` is a family of the rule table (``payment``, ``complaints``...) or a message key
    of the reasons catalog, with or without its ``reasons.`` prefix (``payment_failed``,
    ``reasons.payment_failed``; keys of older scores included). Anything else is refused,
    naming the field and the families.
    """
    from retain.models.churn.reasons.rules import RULES_BY_FAMILY

    rule = RULES_BY_FAMILY.get(reason)
    if rule is not None:
        return tuple(dict.fromkeys(v.key for v in rule.variants))
    key = reason if reason.startswith("reasons.") else f"reasons.{reason}"
    if key in catalog("en"):
        return (key,)
    families = ", ".join(sorted(RULES_BY_FAMILY))
    raise _bad("reason", "bad_reason", value=reason, choices=families)


def _limit(value: object, maximum: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad("limit", "bad_whole_number", name="limit", value=value)
    if value < 1:
        raise _bad("limit", "out_of_range", name="limit", low=1, high=maximum, value=value)
    if value > maximum:
        raise _bad("limit", "page_too_large", limit=value, max=maximum)
    return value


def _choice(name: str, value: object, choices: tuple[str, ...]) -> Any:
    if value not in choices:
        raise _bad(name, "bad_choice", name=name, value=value, choices=", ".join(choices))
    return value


def _bands(value: object) -> tuple[RiskBand, ...]:
    """Risk bands from one band, a list of them or nothing; blanks dropped, duplicates merged."""
    items: list[object]
    if value is None or isinstance(value, str):
        items = [value]
    elif isinstance(value, Iterable):
        items = list(value)
    else:
        raise _bad(
            "risk_band", "bad_choice", name="risk_band", value=value, choices=", ".join(RISK_BANDS)
        )
    bands = [_choice("risk_band", b, RISK_BANDS) for b in items if b not in (None, "")]
    return tuple(dict.fromkeys(bands))


@dataclass(frozen=True, kw_only=True)
class AtRiskQuery:
    """One question to the at-risk list: filters, order and page, checked when built.

    Parameters
    ----------
    definition : str or None
        The churn definition whose scores are read; None until the caller fills in its default
        (:meth:`from_params` takes ``default_definition``). Running a query needs one.
    segment : str or None
        A saved segment's name or id, as the caller asked; resolved by whoever stores segments,
        who applies the stored filter with :meth:`narrowed_by` (which clears this field).
    risk_bands : tuple of {"high", "medium", "low"}
        Keep these bands only; empty keeps :data:`DEFAULT_BANDS` (see :attr:`bands`).
    clv_min, clv_max : float or None
        Keep customers whose latest CLV lies in this range (customers without CLV drop out).
    country, channel : str or None
        Keep customers of this country (any letter case) / acquisition channel.
    search : str or None
        Keep customers whose id, or e-mail where contact details may be shown, contains this
        text (any letter case).
    reason : str or None
        Keep customers with this reason among theirs: a family or a message key
        (:func:`reason_keys`).
    plan : str or None
        Keep customers with a subscription on this plan that has not ended by the run's date.
    tenure_min, tenure_max : int or None
        Keep customers acquired this many whole days or more / at most before the run's date.
    rule : Rule or None
        Keep the customers a segment rule keeps, evaluated as of the run's date
        (:func:`retain.targeting.segments.segment_members`); its saved-segment references must
        have been expanded. Given as its dict or JSON form, it is read and checked.
    sort : {"at_risk_value", "probability", "clv", "customer_id"}
        The list's order, ties broken by customer id.
    order : {"desc", "asc"}
    limit : int
        Rows per page, 1 to :data:`MAX_LIMIT`.
    cursor : str or None
        The previous page's ``next_cursor``; None for the first page.
    customers : frozenset of str or None
        Keep only these customers (None: no such limit). Not a request parameter: the service
        sets it to the customers a caller may open (an agent's save-desk queue).
    """

    definition: str | None = None
    segment: str | None = None
    risk_bands: tuple[RiskBand, ...] = ()
    clv_min: float | None = None
    clv_max: float | None = None
    country: str | None = None
    channel: str | None = None
    search: str | None = None
    reason: str | None = None
    plan: str | None = None
    tenure_min: int | None = None
    tenure_max: int | None = None
    rule: Rule | None = None
    sort: SortKey = "at_risk_value"
    order: Order = "desc"
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    customers: frozenset[str] | None = None

    def __post_init__(self) -> None:
        """Check and normalise every field (blank text is unset, bands deduplicated)."""
        set_ = object.__setattr__
        for name in ("definition", "segment", "country", "channel", "search", "reason", "plan"):
            set_(self, name, _text(name, getattr(self, name)))
        set_(self, "cursor", _text("cursor", self.cursor))
        if self.customers is not None:
            set_(self, "customers", frozenset(str(c) for c in self.customers))
        if self.rule is not None and not _is_rule(self.rule):
            set_(self, "rule", parse_rule(self.rule))
        if self.reason is not None:
            reason_keys(self.reason)
        set_(self, "tenure_min", _days("tenure_min", self.tenure_min))
        set_(self, "tenure_max", _days("tenure_max", self.tenure_max))
        set_(self, "risk_bands", _bands(self.risk_bands))
        set_(self, "clv_min", _number("clv_min", self.clv_min))
        set_(self, "clv_max", _number("clv_max", self.clv_max))
        _choice("sort", self.sort, SORT_KEYS)
        _choice("order", self.order, ORDERS)
        set_(self, "limit", _limit(self.limit, MAX_LIMIT))
        if self.clv_min is not None and self.clv_max is not None and self.clv_min > self.clv_max:
            raise _bad("clv_range", "bad_range", low=self.clv_min, high=self.clv_max)
        low, high = self.tenure_min, self.tenure_max
        if low is not None and high is not None and low > high:
            raise _bad("tenure_range", "bad_tenure_range", low=low, high=high)
        if self.cursor is not None:
            value, _, tie = decode_cursor(self.cursor)
            if (value is None) != (self.sort == "customer_id"):
                raise bad_cursor()
            if (tie is None) != (self.sort not in TIE_BY_PROBABILITY):
                raise bad_cursor()

    @property
    def bands(self) -> tuple[RiskBand, ...]:
        """The bands the list keeps: those asked for, or :data:`DEFAULT_BANDS`."""
        return self.risk_bands or DEFAULT_BANDS

    @property
    def descending(self) -> bool:
        """Whether the list runs from the largest sort value down."""
        return self.order == "desc"

    def after(self) -> tuple[float | None, str, float | None] | None:
        """The previous page's last ``(sort value, customer_id, probability)``; None at first.

        The probability is set only for sorts whose ties it breaks (:data:`TIE_BY_PROBABILITY`).
        """
        return decode_cursor(self.cursor) if self.cursor is not None else None

    # -- query-string form (the API's parameters, the dashboard's form) ------------------------

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]],
        *,
        default_definition: str | None = None,
        max_limit: int = MAX_LIMIT,
    ) -> AtRiskQuery:
        """The query a set of request parameters asks for.

        ``params`` maps the parameter names (``risk_band``, ``segment``, ``clv_min``,
        ``clv_max``, ``country``, ``channel``, ``search``, ``reason``, ``plan``, ``tenure_min``,
        ``tenure_max``, ``definition``, ``sort``, ``order``, ``limit``, ``cursor``) to values
        as typed or as text, or is a sequence of ``(name, value)`` pairs (a query string's
        items, where ``risk_band`` repeats). Blank values are unset; other
        names (``lang``) are ignored. ``max_limit`` is the caller's page-size cap.
        """
        given = _gather(params)
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            name = _PARAM_NAMES.get(f.name, f.name)
            if name not in given:
                continue
            value: Any = given[name]
            if f.name != "risk_bands":
                value = value[-1] if value else None
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            kwargs[f.name] = value.strip() if isinstance(value, str) else value
        if "limit" in kwargs:
            kwargs["limit"] = _limit(kwargs["limit"], max_limit)
        kwargs.setdefault("definition", default_definition)
        return cls(**kwargs)

    def to_params(self, *, defaults: bool = False) -> dict[str, Any]:
        """The request parameters that ask for this query (:meth:`from_params` inverts it).

        Unset fields are left out, and so are defaults unless ``defaults`` is true (a form that
        shows every field wants them all). ``risk_band`` is a list (empty when no band was
        asked for: the list then keeps :attr:`bands`), the rest plain values.
        """
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "rule":  # not a request parameter: a saved segment carries it
                continue
            if not defaults and (value == f.default or value is None):
                continue
            name = _PARAM_NAMES.get(f.name, f.name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    # -- stored form (a saved segment's filter) ------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AtRiskQuery:
        """The query a stored dict describes (what :meth:`to_dict` wrote); unknown keys refused.

        Segments saved before this object existed stored the same keys, so they read unchanged.
        """
        names = [f.name for f in fields(cls)]
        for key in data:
            if key not in names:
                raise _bad(key, "unknown_field", name=key, choices=", ".join(names))
        return cls(**{k: v for k, v in data.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """The fields that differ from the defaults, as JSON-ready values (lists, not tuples)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "rule" and value is not None:
                out["rule"] = rule_to_dict(value)
            elif value != f.default and value is not None:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    # -- derived queries -----------------------------------------------------------------------

    def filters(self) -> AtRiskQuery:
        """Only the fields that choose customers (:data:`FILTER_FIELDS` and the rule)."""
        return AtRiskQuery(rule=self.rule, **{name: getattr(self, name) for name in FILTER_FIELDS})

    def narrowed_by(self, saved: AtRiskQuery) -> AtRiskQuery:
        """The query with a saved segment's filters filling the filter fields it leaves unset.

        What the caller asked for wins over what the segment stored; a rule of both keeps the
        customers both rules keep. ``segment`` is cleared, as it has now been applied.
        """
        rules = [r for r in (self.rule, saved.rule) if r is not None]
        return replace(
            self,
            segment=None,
            rule=rules[0] if len(rules) == 1 else AllOf(tuple(rules)) if rules else None,
            risk_bands=self.risk_bands or saved.risk_bands,
            clv_min=self.clv_min if self.clv_min is not None else saved.clv_min,
            clv_max=self.clv_max if self.clv_max is not None else saved.clv_max,
            country=self.country or saved.country,
            channel=self.channel or saved.channel,
            reason=self.reason or saved.reason,
            plan=self.plan or saved.plan,
            tenure_min=self.tenure_min if self.tenure_min is not None else saved.tenure_min,
            tenure_max=self.tenure_max if self.tenure_max is not None else saved.tenure_max,
        )

    def first_page(self) -> AtRiskQuery:
        """The same query without a cursor (the export reads every page at once)."""
        return replace(self, cursor=None)


def _is_rule(value: object) -> bool:
    """Whether ``value`` is a rule already read (not its dict or JSON form)."""
    return isinstance(value, Condition | EventCount | SavedRef | AllOf | AnyOf | Not)


def _gather(params: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> dict[str, list[Any]]:
    """Every parameter's values as a list, whether given as a mapping or as pairs."""
    multi = getattr(params, "multi_items", None)  # Starlette's QueryParams: keep repeated names
    if callable(multi):
        items = multi()
    else:
        items = params.items() if isinstance(params, Mapping) else params
    out: dict[str, list[Any]] = {}
    for name, value in items:
        values = list(value) if isinstance(value, list | tuple) else [value]
        out.setdefault(name, []).extend(values)
    return out
