"""Uplift models in the registry: ``<models_dir>/uplift/<version>/`` with ``model.pkl`` and a card.

This is uplift's writer; reading goes through :class:`retain.models.registry.ModelRegistry`
(kind ``uplift``), which checks the pickle against the SHA-256 the card records before loading
it. The card says which campaign and outcome the model learned from, its window, its learner,
arms and held-out metrics.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import platform
import secrets
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from retain.models.registry import DIGEST_FIELD
from retain.models.registry._kinds import UpliftKind
from retain.models.uplift.learners import UpliftLearner

__all__ = ["new_version", "save_uplift_model"]

_LIBRARIES = ("retain", "lightgbm", "scikit-learn", "numpy", "pandas")


def new_version(now: pd.Timestamp | None = None) -> str:
    """A new version name: UTC time of training plus 4 random hex digits."""
    stamp = (now or pd.Timestamp.now(tz="UTC")).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(2)}"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def save_uplift_model(model: UpliftLearner, card: dict[str, Any], *, models_dir: Path) -> Path:
    """Write ``model`` and its card to a new version folder, atomically; return the folder.

    ``card`` holds at least ``name``; ``created_at``, the learner's class, its arms and the
    library versions are added, with the pickle's SHA-256.
    """
    version = str(card.get("version") or new_version())
    root = Path(models_dir) / UpliftKind.name
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=root))
    blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    (tmp / UpliftKind.artifact_name).write_bytes(blob)
    full = {
        "created_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "learner": type(model).__name__,
        "arms": list(getattr(model, "arms_", [])),
        "libraries": _versions(),
        **card,
        "version": version,
        DIGEST_FIELD: hashlib.sha256(blob).hexdigest(),
    }
    (tmp / UpliftKind.card_name).write_text(
        json.dumps(full, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    final = root / version
    os.replace(tmp, final)
    return final
