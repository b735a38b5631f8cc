"""What ``retain report`` contains: a static, ordered tuple of section providers.

Each provider is a plain function ``(con, settings) -> list[Section]`` imported normally, so a
broken import breaks the report loudly instead of dropping a section. A provider whose data is
legitimately absent (no orders, no model trained yet) returns a "not available" section or no
section by its own explicit check; any error it raises stops the report with the section named.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retain.errors import RetainError
from retain.report import churn, clv, offers, retention, segments, uplift, voice
from retain.report.section import Section

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from retain.config import Settings

__all__ = ["SECTIONS", "ReportSectionError", "SectionProvider", "build_report"]


@dataclass(frozen=True)
class SectionProvider:
    """One area of the report: a stable key (named in errors) and the function that builds it."""

    key: str
    build: Callable[[BaseBackend, Settings], list[Section]]


SECTIONS: tuple[SectionProvider, ...] = (
    SectionProvider("retention", retention.report_sections),
    SectionProvider("clv", clv.report_sections),
    SectionProvider("churn", churn.report_sections),
    SectionProvider("segments", segments.report_sections),
    SectionProvider("offers", offers.report_sections),
    SectionProvider("uplift", uplift.report_sections),
    SectionProvider("voice", voice.report_sections),
)
"""Every area of ``retain report``, in display order: retention, lifetime value, churn, segments."""


class ReportSectionError(RetainError, RuntimeError):
    """A section failed because of the user's data or setup; the message names the section.

    The original error is ``__cause__``, its hint and code are kept. A failure that is not a
    :class:`RetainError` (a bug) is re-raised as a plain :class:`RuntimeError` naming the
    section, so the CLI still reports it as a bug.
    """

    default_code = "report.section_failed"

    def __init__(
        self, section: str, message: str, *, hint: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, hint=hint, code=code)
        self.section = section


def _build(provider: SectionProvider, con: BaseBackend, settings: Settings) -> list[Section]:
    """``provider``'s sections; an error says which section failed."""
    try:
        return provider.build(con, settings)
    except RetainError as exc:
        raise ReportSectionError(
            provider.key,
            f"report section {provider.key!r} failed: {exc.message}",
            hint=exc.hint,
            code=exc.code,
        ) from exc
    except Exception as exc:
        raise RuntimeError(
            f"report section {provider.key!r} failed: {type(exc).__name__}: {exc}"
        ) from exc


def build_report(
    con: BaseBackend,
    settings: Settings,
    *,
    extra_sections: Iterable[Section] = (),
    providers: Iterable[SectionProvider] = SECTIONS,
) -> list[Section]:
    """Every section of ``retain report`` for the warehouse ``con``, in display order.

    Parameters
    ----------
    con
        The warehouse.
    settings
        Time zone, churn horizon, currency and where the models are stored.
    extra_sections
        Sections of your own, appended after the built-in ones.
    providers
        The areas to build (default: :data:`SECTIONS`, all of them).

    Raises
    ------
    ReportSectionError
        A section failed on the data or setup (the message names it, the hint says what to do).
    RuntimeError
        A section failed on a bug; the message names it and the cause is chained.
    """
    sections: list[Section] = []
    for provider in providers:
        sections.extend(_build(provider, con, settings))
    sections.extend(extra_sections)
    return sections
