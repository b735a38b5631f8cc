"""Themes in free text: TF-IDF over character n-grams, factorised by NMF, labelled and quoted.

What customers write (exit answers, survey comments, reviews, complaint and ticket text) is
grouped into themes with no model downloaded at run time and in any script: TF-IDF weights
(sublinear term frequency, features in at least ``min_df`` texts) of
:func:`retain.voice.tokenize.features` (words with their character 3-5-grams, CJK character
bigrams: measured best of three on the airline tweets and on Japanese and Korean complaints,
docs/voice.md), and non-negative matrix factorisation with ``k`` themes (NNDSVD start, so the
same texts give the same themes). A text belongs to the theme with its largest weight.

N-grams such as ``" lug"`` make poor names, so a theme is **labelled** by the words
(:func:`retain.voice.tokenize.terms`: words, CJK character bigrams) most over-represented in its
texts (mean TF-IDF in the theme minus mean over all texts), and shown with its representative
quotes: its texts closest (cosine) to the theme's centroid.

``k`` is fixed, not searched: :data:`DEFAULT_K` (10, the number of reasons the airline coders
used, docs/voice.md) or fewer for a small corpus, :func:`choose_k`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from retain.voice.tokenize import features, terms

__all__ = ["DEFAULT_K", "Theme", "Themes", "choose_k", "find_themes", "text_matrix"]

DEFAULT_K = 10
"""Themes found when ``k`` is not given (fewer for small corpora, :func:`choose_k`)."""


@dataclass(frozen=True)
class Theme:
    """One theme: its top terms, how many texts it holds, and quotes closest to its centre."""

    theme: int
    terms: tuple[str, ...]
    size: int
    share: float
    quotes: tuple[str, ...]

    @property
    def label(self) -> str:
        """The theme's name: its top three terms."""
        return " / ".join(self.terms[:3])


@dataclass(frozen=True)
class Themes:
    """Every theme found, largest first, and each text's theme (-1: a text with no terms)."""

    themes: tuple[Theme, ...]
    assignment: np.ndarray = field(repr=False)


def choose_k(n_texts: int, k: int | None = None) -> int:
    """``k`` if given, else :data:`DEFAULT_K`; at most one theme per 5 texts, at least 1."""
    wanted = DEFAULT_K if k is None else k
    return max(1, min(wanted, n_texts // 5 if n_texts >= 10 else 1))


def text_matrix(
    texts: Sequence[str],
    *,
    analyzer: Callable[[str], list[str]] = features,
    min_df: int = 2,
) -> tuple[Any, TfidfVectorizer]:
    """The TF-IDF matrix of ``texts`` (rows L2-normalised) and its fitted vectoriser."""
    n = len(texts)
    vectorizer = TfidfVectorizer(
        analyzer=analyzer, min_df=min(min_df, max(1, n // 2)), sublinear_tf=True
    )
    matrix = vectorizer.fit_transform(list(texts))
    return matrix, vectorizer


def _word_matrix(texts: list[str], min_df: int) -> tuple[Any, np.ndarray]:
    """TF-IDF of the texts' words (the labels' vocabulary); an empty one if they have none."""
    try:
        words, vectorizer = text_matrix(texts, analyzer=terms, min_df=min_df)
    except ValueError:
        return np.zeros((len(texts), 0)), np.zeros(0, dtype=object)
    return words, np.asarray(vectorizer.get_feature_names_out())


def find_themes(
    texts: Sequence[str | None],
    k: int | None = None,
    *,
    analyzer: Callable[[str], list[str]] = features,
    top_terms: int = 8,
    quotes: int = 3,
    min_df: int = 2,
    seed: int = 0,
) -> Themes:
    """The themes of ``texts``; see the module for the method. Empty input gives no theme."""
    docs: list[str] = ["" if x is None else str(x) for x in texts]
    if not docs:
        return Themes((), np.zeros(0, dtype=np.int64))
    try:
        matrix, vectorizer = text_matrix(docs, analyzer=analyzer, min_df=min_df)
    except ValueError:  # no text has a feature: nothing to group
        return Themes((), np.full(len(docs), -1, dtype=np.int64))
    features = len(vectorizer.get_feature_names_out())
    n_themes = min(choose_k(len(docs), k), features)
    model = NMF(n_components=n_themes, init="nndsvd", random_state=seed, max_iter=400)
    weights = model.fit_transform(matrix)
    has_terms = np.asarray(matrix.getnnz(axis=1)).ravel() > 0  # type: ignore[attr-defined]
    assignment = np.where(has_terms, weights.argmax(axis=1), -1).astype(np.int64)
    rows = normalize(matrix)  # type: ignore[arg-type]
    words, vocabulary = _word_matrix(docs, min_df)
    overall = np.asarray(words.mean(axis=0)).ravel()
    found: list[Theme] = []
    total = int(has_terms.sum())
    for j in range(n_themes):
        members = np.flatnonzero(assignment == j)
        picked: tuple[str, ...] = ()
        top = np.zeros(0, dtype=np.int64)
        if members.size and vocabulary.size:
            lift = np.asarray(words[members].mean(axis=0)).ravel()  # type: ignore[index]
            if n_themes > 1:  # what sets the theme apart; one theme is just its top words
                lift = lift - overall
            top = np.argsort(-lift, kind="stable")[:top_terms]
            top = top[lift[top] > 0]
        if members.size and quotes > 0:
            centre = np.asarray(rows[members].mean(axis=0)).ravel()
            closeness = rows[members] @ centre
            order = members[np.argsort(-np.asarray(closeness).ravel(), kind="stable")]
            seen: list[str] = []
            for i in order:
                if docs[i] not in seen:
                    seen.append(docs[i])
                if len(seen) == quotes:
                    break
            picked = tuple(seen)
        found.append(
            Theme(
                theme=j,
                terms=tuple(str(t) for t in vocabulary[top]),
                size=int(members.size),
                share=round(100.0 * members.size / total, 2) if total else 0.0,
                quotes=picked,
            )
        )
    found.sort(key=lambda th: (-th.size, th.theme))
    return Themes(tuple(found), assignment)
