"""Per-customer reasons: the model's own TreeSHAP contributions, grouped and put into words.

For each customer, LightGBM's ``pred_contrib`` gives every feature's additive contribution to the
log-odds of churn. Contributions are summed per feature *family* (orders, engagement,
complaints...; see :data:`retain.features.FEATURES`), the families that push the risk up most are
kept, and each becomes a reason code: a message key in ``i18n/catalogs/reasons.toml`` with
parameters taken from the customer's own feature values ("orders down 60% vs the previous 90
days"). Keys render in English, Japanese or Korean at display time with :func:`retain.i18n.t`.

A family whose values do not support its sentence (a positive contribution from "orders" while
orders actually rose) is passed over for the next one, so a reason is never false on its face.

The package, by job:

- :mod:`.rules`: THE rule table, one entry per family (message keys, the feature values read,
  the conditions that pick a variant, the parameters formatted), and the fallback for the rest;
- :mod:`.render`: one customer at a time (:func:`reason_codes`), the reference;
- :mod:`.vectorised` (with the compiled :mod:`._kernels`): a whole chunk at once, the same bytes
  (:func:`reasons_json_array`), which batch scoring uses;
- :mod:`.families`: features grouped into families and their contributions summed;
- :mod:`.storage`: the JSON stored in ``churn_scores.reasons`` (:func:`reasons_json`) and
  reading it back (:func:`parse_stored_reasons`, :func:`render_stored_reasons`).

Names are imported on first use: the compiled kernels load only for batch wording.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retain.lazy import lazy_package

if TYPE_CHECKING:
    from retain.models.churn.reasons.families import family_groups
    from retain.models.churn.reasons.render import reason_codes
    from retain.models.churn.reasons.rules import RULES, Rule
    from retain.models.churn.reasons.storage import (
        Reason,
        RenderedReason,
        parse_stored_reasons,
        reasons_json,
        render_stored_reasons,
    )
    from retain.models.churn.reasons.vectorised import reasons_json_array, reasons_json_column

__all__ = [
    "RULES",
    "Reason",
    "RenderedReason",
    "Rule",
    "family_groups",
    "parse_stored_reasons",
    "reason_codes",
    "reasons_json",
    "reasons_json_array",
    "reasons_json_column",
    "render_stored_reasons",
]

_HOMES = {
    "RULES": "retain.models.churn.reasons.rules",
    "Reason": "retain.models.churn.reasons.storage",
    "RenderedReason": "retain.models.churn.reasons.storage",
    "Rule": "retain.models.churn.reasons.rules",
    "family_groups": "retain.models.churn.reasons.families",
    "parse_stored_reasons": "retain.models.churn.reasons.storage",
    "reason_codes": "retain.models.churn.reasons.render",
    "reasons_json": "retain.models.churn.reasons.storage",
    "reasons_json_array": "retain.models.churn.reasons.vectorised",
    "reasons_json_column": "retain.models.churn.reasons.vectorised",
    "render_stored_reasons": "retain.models.churn.reasons.storage",
}


lazy_package(__name__, _HOMES)
