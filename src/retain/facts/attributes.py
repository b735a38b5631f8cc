r"""Read one key of a JSON object held as text, the same way on DuckDB, PySpark and PostgreSQL.

``customers.attributes`` (and the ``properties`` of events and interactions) hold a JSON object as
text. :func:`json_text` reads a top-level key with regular expressions every engine runs natively
(Ibis runs JSON access on Spark as a Python UDF that cannot read what Spark returns), decoding
JSON escapes so that ``"\u30b4\u30fc\u30eb\u30c9"`` (as an ASCII-only writer spells it) reads
``ゴールド``. Metrics slice by it and churn features read it: one reader, one result.
"""

from __future__ import annotations

import re

import ibis
import ibis.expr.types as ir

from retain.errors import InvalidParameterError
from retain.i18n import t

__all__ = ["PORTABLE_KEY", "json_text"]

PORTABLE_KEY = re.compile(r"[\w .\-]+")
"""A key every engine can read: letters (any script), digits, ``_``, space, ``.`` and ``-``."""

_BARE = r"(-?[0-9][0-9.eE+-]*|true|false)"
_CHARS = r'(?:[^"\\]|\\.)*'
"""The inside of a JSON string: any character but a quote or backslash, or an escape."""
_QUOTED = f'"({_CHARS})"'
_STRING = f'"{_CHARS}"'
_NEST1 = r"\{(?:" + _STRING + r'|[^{}"])*\}'
_NEST2 = r"\{(?:" + _STRING + r'|[^{}"]|' + _NEST1 + r")*\}"
_TOP = r"^\s*\{(?:" + _STRING + r'|[^{}"]|' + _NEST2 + r")*"
"""Everything before a top-level key: strings whole, objects nested up to two deep skipped whole
(so a key inside a nested object or a string is never taken for the top-level one)."""


def _char_pattern(c: str) -> str:
    if c.isascii():
        # Letters, digits and "_" match themselves in RE2, Java and PostgreSQL; " ", "." and
        # "-" go in brackets (an escaped space is an error in RE2).
        return c if (c.isalnum() or c == "_") else f"[{c}]"
    if ord(c) > 0xFFFF:
        return c
    # A writer with ASCII-only output (Python's json.dumps default) spells it \uXXXX.
    hexes = "".join(d if d.isdigit() else f"[{d}{d.upper()}]" for d in f"{ord(c):04x}")
    return f"(?:{c}|\\\\u{hexes})"


def _key_pattern(key: str) -> str:
    """``key`` as it appears quoted in the JSON text, as a regex every engine reads alike."""
    return '"' + "".join(_char_pattern(c) for c in key) + '"'


@ibis.udf.scalar.builtin(name="get_json_object")  # type: ignore[untyped-decorator]
def _get_json_object(json: str, path: str) -> str:  # type: ignore[empty-body]
    """Spark SQL's ``get_json_object``: the value at a JSON path, as text."""


def _on_spark(value: ir.Value) -> bool:
    if not isinstance(value, ir.Value):  # a deferred column: bound later, to any engine
        return False
    backends, _ = value._find_backends()
    return any(b.name == "pyspark" for b in backends)


def json_text(attributes: ir.StringValue, key: str) -> ir.StringValue:
    r"""The top-level value of ``key`` in a JSON object held as text, as text (NULL when absent).

    Strings come without their quotes and with their JSON escapes decoded on every engine
    (``"\u30b4\u30fc\u30eb\u30c9"``, as an ASCII-only writer such as Python's ``json.dumps``
    spells it, reads ``ゴールド``; ``\"`` reads ``"``; what JSON forbids stays as written on
    DuckDB and PostgreSQL, see :func:`_unescaped`); numbers and booleans come as written;
    ``null``, nested values and the empty string are NULL. Keys inside nested objects are not
    read; a key after objects nested three deep is not found. ``key`` may hold letters (any
    script), digits, ``_``, space, ``.``, ``-``.
    """
    if not PORTABLE_KEY.fullmatch(key):
        raise InvalidParameterError(
            t("facts.attribute_key", key=key), hint=t("facts.attribute_key_hint")
        )
    if _on_spark(attributes):
        # Java's regex engine recurses once per repetition of a group: the pattern below
        # overflows its stack on a customer with a few KB of attributes. Spark's own JSON
        # path function has no such limit (it also decodes escapes inside strings).
        value = _get_json_object(attributes, f"$['{key}']")
        nested = value.re_search(r"^[\[{]") & _get_json_object(value, "$").notnull()
        return nested.ifelse(ibis.null("string"), value.nullif(""))
    head = _TOP + _key_pattern(key) + r"\s*:\s*"
    quoted = _unescaped(attributes.re_extract(head + _QUOTED, 1).nullif(""))
    bare = attributes.re_extract(head + _BARE, 1).nullif("")
    return ibis.coalesce(quoted, bare)


_VALID_ESCAPES = (
    r'^(?:[^\\[:cntrl:]]|\\["\\/bfnrt]|\\u(?:[1-9a-ce-fA-CE-F][0-9a-fA-F]{3}'
    r"|0(?:[1-9a-fA-F][0-9a-fA-F]{2}|0(?:[1-9a-fA-F][0-9a-fA-F]|0[1-9a-fA-F]))"
    r"|[dD][0-7][0-9a-fA-F]{2}|[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}))*$"
)
"""A JSON string's inside that the engines' JSON parsers take: no raw control character, every
escape valid, surrogates only in pairs, and no ``\\u0000`` (PostgreSQL's text cannot hold it).
Anything else would fail the JSON cast on DuckDB and PostgreSQL, and with it the whole query."""


def _unescaped(inside: ir.StringValue) -> ir.StringValue:
    r"""The inside of a JSON string with its escapes decoded, by the engine's own JSON parser.

    A value the parsers would refuse (:data:`_VALID_ESCAPES`) is kept as written. Plain values
    (no backslash, nearly all) are sent past the regex and the parser by a cheap test first:
    PostgreSQL repeats ``inside``, itself a regex over the whole object, wherever it appears.
    """
    literal = (ibis.literal('"') + inside + ibis.literal('"')).cast("json").unwrap_as("string")
    escaped = inside.contains("\\") & inside.re_search(_VALID_ESCAPES)
    return escaped.ifelse(literal, inside)
