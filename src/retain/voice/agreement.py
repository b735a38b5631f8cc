"""How well themes line up with reasons a person coded: AMI against a bag-of-words baseline.

Used on the airline tweets (docs/voice.md): the negative tweets' themes are compared with the
coded ``negativereason`` by adjusted mutual information (0: no better than chance, 1: the same
partition). The baseline is what anyone would try first: plain word counts (scikit-learn's
default tokenizer, no weighting) clustered by KMeans with the same number of groups.
Only aggregate numbers come out: no text, so the results can be published.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import adjusted_mutual_info_score

from retain.voice.themes import find_themes
from retain.voice.tokenize import features

__all__ = ["Agreement", "baseline_groups", "theme_agreement"]


@dataclass(frozen=True)
class Agreement:
    """AMI of the themes and of the baseline against the coded reasons, and each theme's mix."""

    k: int
    ami: float
    baseline_ami: float
    mix: pd.DataFrame
    """One row per theme: ``theme, label, texts`` and the share (percent) of each coded reason."""


def baseline_groups(texts: Sequence[str], k: int, *, seed: int = 0) -> np.ndarray:
    """The bag-of-words baseline: word counts (min_df 2) clustered by KMeans into ``k`` groups."""
    counts = CountVectorizer(min_df=2).fit_transform(list(texts))
    model = KMeans(n_clusters=k, n_init=10, random_state=seed)
    return np.asarray(model.fit_predict(counts), dtype=np.int64)


def theme_agreement(
    texts: Sequence[str],
    coded: Sequence[str],
    k: int,
    *,
    analyzer: Callable[[str], list[str]] = features,
    seed: int = 0,
) -> Agreement:
    """Themes of ``texts`` (:func:`~retain.voice.themes.find_themes`) scored against ``coded``."""
    found = find_themes(texts, k, analyzer=analyzer, seed=seed, quotes=0)
    labels = np.asarray(list(coded), dtype=object)
    ami = float(adjusted_mutual_info_score(labels, found.assignment))
    base = float(adjusted_mutual_info_score(labels, baseline_groups(texts, k, seed=seed)))
    names = {th.theme: th.label for th in found.themes}
    frame = pd.DataFrame({"theme": found.assignment, "coded": labels})
    mix = pd.crosstab(frame["theme"], frame["coded"], normalize="index").mul(100).round(1)
    mix.insert(0, "texts", frame["theme"].value_counts().reindex(mix.index).to_numpy())
    mix.insert(0, "label", [names.get(int(i), "(no terms)") for i in mix.index])
    mix = mix.sort_values("texts", ascending=False).reset_index()
    return Agreement(k=k, ami=round(ami, 4), baseline_ami=round(base, 4), mix=mix)
