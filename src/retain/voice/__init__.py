"""The customer's voice: what customers say, asked for, counted and followed up (#20).

This package re-exports the reasons and themes analysis only; the survey, exit-flow,
complaint and save-desk modules are imported from their own submodules.

- :mod:`~retain.voice.reasons`: stated exit reasons (``exit_survey`` interactions) counted by
  reason, split by segment, cohort or month, priced as revenue lost, and set beside the churn
  model's reasons for the same customers.
- :mod:`~retain.voice.tokenize`: terms of free text in any script (CJK without spaces too).
- :mod:`~retain.voice.themes`: themes in free text (TF-IDF + NMF) with labels and quotes.
- :mod:`~retain.voice.agreement`: themes scored against coded reasons (AMI, with a baseline).
- :mod:`~retain.voice.texts`: the free text customers wrote, read from ``interactions``.
- :mod:`~retain.voice.volume`: complaint volume per day and group (channel, brand...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retain.lazy import lazy_package

if TYPE_CHECKING:
    from retain.voice.agreement import Agreement, baseline_groups, theme_agreement
    from retain.voice.reasons import (
        EXIT_KIND,
        REASON_COLUMNS,
        TAXONOMY,
        reason_summary,
        stated_beside_model,
        stated_reasons,
    )
    from retain.voice.texts import TEXT_KEYS, customer_texts
    from retain.voice.themes import DEFAULT_K, Theme, Themes, choose_k, find_themes
    from retain.voice.tokenize import char_ngrams, features, terms
    from retain.voice.volume import VOLUME_COLUMNS, complaint_volume, daily_volume

__all__ = [
    "DEFAULT_K",
    "EXIT_KIND",
    "REASON_COLUMNS",
    "TAXONOMY",
    "TEXT_KEYS",
    "VOLUME_COLUMNS",
    "Agreement",
    "Theme",
    "Themes",
    "baseline_groups",
    "char_ngrams",
    "choose_k",
    "complaint_volume",
    "customer_texts",
    "daily_volume",
    "features",
    "find_themes",
    "reason_summary",
    "stated_beside_model",
    "stated_reasons",
    "terms",
    "theme_agreement",
]

_HOMES = {
    "DEFAULT_K": "retain.voice.themes",
    "EXIT_KIND": "retain.voice.reasons",
    "REASON_COLUMNS": "retain.voice.reasons",
    "TAXONOMY": "retain.voice.reasons",
    "TEXT_KEYS": "retain.voice.texts",
    "VOLUME_COLUMNS": "retain.voice.volume",
    "Agreement": "retain.voice.agreement",
    "Theme": "retain.voice.themes",
    "Themes": "retain.voice.themes",
    "baseline_groups": "retain.voice.agreement",
    "char_ngrams": "retain.voice.tokenize",
    "choose_k": "retain.voice.themes",
    "complaint_volume": "retain.voice.volume",
    "customer_texts": "retain.voice.texts",
    "daily_volume": "retain.voice.volume",
    "features": "retain.voice.tokenize",
    "find_themes": "retain.voice.themes",
    "reason_summary": "retain.voice.reasons",
    "stated_beside_model": "retain.voice.reasons",
    "stated_reasons": "retain.voice.reasons",
    "terms": "retain.voice.tokenize",
    "theme_agreement": "retain.voice.agreement",
}

lazy_package(__name__, _HOMES)
