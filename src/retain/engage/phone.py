"""Phone numbers in one form, E.164 (``+819012345678``), whatever form the customer gave.

A number stored in national form (``090-1234-5678`` in Japan, ``010-1234-5678`` in Korea) and
the same number as the SMS gateway reports it (``+819012345678``, ``+821012345678``) must be
one number to the suppression list, the outbox and the replies we receive, or a STOP sent from
one would not stop messages to the other. :func:`e164` is the one place that turns a number
into E.164: a number with ``+`` (or the region's international prefix) is read as it is; a
national number is read in the customer's country (``customers.country``, ISO 3166-1
alpha-2), its trunk prefix dropped. The numbering plans read here (pure Python, no
dependency) are the ones retain's customers and demo use: Japan, Korea, the North American
plan (US, CA), the United Kingdom, Germany and France; lengths of the national significant
number as the ITU-T E.164 national plans give them. A number that cannot be read is refused
with :class:`PhoneNumberError`, saying why.

Rows written before numbers were normalised hold the number as it was stored, separators
removed (:func:`retain.engage.sms.normal_number`); :func:`variants` lists the forms one number
may have been stored under, so a lookup by E.164 still finds them, and the reverse.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from retain.errors import InvalidParameterError
from retain.i18n import t

__all__ = ["PLANS", "PhoneNumberError", "e164", "phone_key", "variants"]


class PhoneNumberError(InvalidParameterError):
    """A phone number that cannot be read as one number in E.164 form."""

    default_code = "engage.phone_number"


@dataclass(frozen=True)
class Plan:
    """One country's numbering plan, as much of it as E.164 normalisation needs."""

    code: str
    """Country calling code (``81``)."""
    trunk: str
    """National trunk prefix dialled before the national significant number (``0``)."""
    lengths: tuple[int, int]
    """Shortest and longest national significant number."""
    international: tuple[str, ...]
    """International call prefixes dialled from the country (``010`` from Japan)."""
    trunk_required: bool = True
    """Whether a national number must carry the trunk prefix (NANP: it may not)."""
    first: str = "123456789"
    """Digits a national significant number may start with."""


PLANS: Final[dict[str, Plan]] = {
    # Japan: 9 digits (fixed lines, 0120) or 10 (mobile 70/80/90, 050, 0800); IDD 010
    "JP": Plan("81", "0", (9, 10), ("010",)),
    # Korea: 8 (Seoul 02-xxx-xxxx) to 10 digits (mobile 010-xxxx-xxxx); IDD 001, 002, 00700
    "KR": Plan("82", "0", (8, 10), ("00700", "001", "002")),
    # North American plan: NXX-XXX-XXXX (area code 2-9; the exchange is not checked, so the
    # fictional 555-01xx numbers read), 1 as an optional trunk prefix; IDD 011
    "US": Plan("1", "1", (10, 10), ("011",), trunk_required=False, first="23456789"),
    "CA": Plan("1", "1", (10, 10), ("011",), trunk_required=False, first="23456789"),
    # United Kingdom: 7, 9 or 10 digits; Germany: 5 to 13 (variable length); France: 9
    "GB": Plan("44", "0", (7, 10), ("00",)),
    "DE": Plan("49", "0", (5, 13), ("00",)),
    "FR": Plan("33", "0", (9, 9), ("00",)),
}
"""The plans read, by ISO 3166-1 alpha-2 region."""

_BY_CODE: Final[dict[str, Plan]] = {}
for _plan in PLANS.values():
    _BY_CODE.setdefault(_plan.code, _plan)
_SEPARATORS = re.compile(r"[\s\-().\u2010-\u2015\u2212\u30fc/]")
_DIGITS = re.compile(r"\+?[0-9]+")


def _refuse(key: str, number: str, **params: str) -> PhoneNumberError:
    return PhoneNumberError(
        t(f"engage_outbox.{key}", number=number, **params),
        hint=t("engage_outbox.phone_hint"),
    )


def _international(digits: str, number: str) -> str:
    """``digits`` after the ``+``: the country code, then the national significant number."""
    plan = next((_BY_CODE[digits[:n]] for n in (1, 2, 3) if digits[:n] in _BY_CODE), None)
    if plan is None:  # a plan not read here: E.164 is the digits as given, if they fit
        if not 8 <= len(digits) <= 15 or digits[0] == "0":
            raise _refuse("phone_bad_length", number, country="+" + digits[:3])
        return "+" + digits
    national = digits[len(plan.code) :]
    if plan.trunk == "0" and national.startswith("0"):
        national = national[1:]  # "+81 090 ...": the trunk 0 written after the country code
    _check(plan, national, number, "+" + plan.code)
    return "+" + plan.code + national


def _check(plan: Plan, national: str, number: str, country: str) -> None:
    low, high = plan.lengths
    if not low <= len(national) <= high or national[0] not in plan.first:
        raise _refuse("phone_bad_length", number, country=country)


def e164(number: str, region: str | None = None) -> str:
    """``number`` in E.164 form (``+`` and digits); a national number is read in ``region``.

    ``region`` is the customer's country (ISO 3166-1 alpha-2, any case). Full-width digits and
    the usual separators (spaces, dashes, dots, brackets) are accepted. Raises
    :class:`PhoneNumberError` for text that is not a number, a national number without a
    region or in a region whose plan is not read here, and a number of the wrong length.
    """
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", number or ""))
    if not _DIGITS.fullmatch(text):
        raise _refuse("phone_not_number", number)
    if text.startswith("+"):
        return _international(text[1:], number)
    country = (region or "").strip().upper()
    if not country:
        raise _refuse("phone_no_region", number)
    plan = PLANS.get(country)
    if plan is None:
        raise _refuse("phone_unknown_region", number, country=country)
    for prefix in plan.international:
        if text.startswith(prefix):  # never a national number: those start trunk, then 1-9
            return _international(text[len(prefix) :], number)
    if text.startswith(plan.trunk) and (plan.trunk_required or len(text) > plan.lengths[1]):
        national = text[len(plan.trunk) :]
    elif plan.trunk_required:
        raise _refuse("phone_no_trunk", number, country=country, trunk=plan.trunk)
    else:
        national = text
    _check(plan, national, number, country)
    return "+" + plan.code + national


def phone_key(number: str, region: str | None = None) -> str | None:
    """The number's key: E.164 when it can be read, else the digits as stored; None if no number.

    For lookups of rows written before numbers were normalised (a national number of a
    customer whose country is unknown): such a row keeps its separator-free form, which
    :func:`variants` of the E.164 form still reaches.
    """
    try:
        return e164(number, region)
    except PhoneNumberError:
        text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", number or ""))
        return text if re.fullmatch(r"\+?[0-9]{6,15}", text) else None


def _national_forms(key: str) -> set[str]:
    """The national forms (trunk prefix, no separators) an E.164 ``key`` may be stored under."""
    digits = key[1:]
    plan = next((_BY_CODE[digits[:n]] for n in (1, 2, 3) if digits[:n] in _BY_CODE), None)
    if plan is None:
        return set()
    national = digits[len(plan.code) :]
    forms = {plan.trunk + national, digits}  # digits: E.164 without its "+" (Vonage's msisdn)
    if not plan.trunk_required:
        forms.add(national)
    return forms


def _without_plus(key: str) -> str | None:
    """``key`` read as E.164 written without its ``+`` (``819012345678``), in a plan read here.

    Only a plan read here: ``4155550100`` (a US number without its country) must not become
    ``+4155550100``, a Swiss one.
    """
    if key.startswith("0") or not any(key[:n] in _BY_CODE for n in (1, 2, 3)):
        return None
    try:
        return _international(key, key)
    except PhoneNumberError:
        return None


def variants(key: str) -> frozenset[str]:
    """Every form the number ``key`` (from :func:`phone_key`) may be stored under.

    An E.164 key: itself, its national forms and its digits without ``+`` (``+819012345678``:
    also ``09012345678`` and ``819012345678``). A national key (its country unknown): itself
    and its E.164 form in each plan that can read it, so a gateway's ``+82...`` and a stored
    ``010...`` meet; digits that read as E.164 without the ``+`` in a plan read here (some
    gateways report ``821012345678``): that number's forms too. The forms are exact strings, so
    a lookup is an indexed ``IN``.
    """
    if key.startswith("+"):
        return frozenset({key, *_national_forms(key)})
    found = {key}
    for region in PLANS:
        try:
            found.add(e164(key, region))
        except PhoneNumberError:
            continue
    plus = _without_plus(key)
    if plus is not None:  # a gateway that reports E.164 without its "+"
        found |= {plus, *_national_forms(plus)}
    return frozenset(found)
