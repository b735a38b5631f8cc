"""Terms of free text in any language, with nothing downloaded and no dictionary package.

Japanese, Chinese and Korean text has no spaces between words (Korean has spaces between
phrases, with particles glued to nouns: 配送が遅い, 배송이 늦어요). Rather than a morphological
analyser whose dictionary must ship as a package, :func:`terms` cuts text into runs of one
script and treats them by script:

- letters of alphabetic scripts and digits: lower-cased words (``'`` kept inside words), a
  short English stop list dropped, and words of one letter dropped;
- Han, kana and Hangul runs: **character bigrams** inside the run (a run of one character is
  kept as it is). Bigrams made of hiragana only are dropped: they are mostly particles and
  endings (です, ました, から), the stop words of Japanese.

``@handles`` and URLs are removed first: in messages sent to a company they name the company
or a person, never the topic. docs/voice.md measures this against plain character n-grams on
the airline tweets (the choice is measured, not assumed).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["STOP_WORDS", "char_ngrams", "features", "terms"]

_STOP_TEXT = """a an the and or but if then so of to in on at by for with from as is are was were be
been being am it its this that these those i me my we our you your he she they them their his
her do does did done have has had not no yes just what which who whom when where why how all any
some can could will would should shall may might must there here than too very s t im ive dont
didnt cant wont get got us out up about into over again more most own same only also now one two"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
"""English words too common to name a theme."""

_DROP = re.compile(r"@\w+|https?://\S+|www\.\S+|&amp;|&lt;|&gt;")
_WORD = re.compile(r"[^\W\d_](?:[^\W_]|')*[^\W_]|\d+", re.UNICODE)


def _cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0x3400 <= code <= 0x9FFF  # CJK ideographs
        or 0xF900 <= code <= 0xFAFF
        or 0xAC00 <= code <= 0xD7AF  # Hangul syllables
        or 0x1100 <= code <= 0x11FF
        or 0x3130 <= code <= 0x318F
        or 0xFF66 <= code <= 0xFF9F  # half-width katakana
        or ch == "ー"
    )


def _hiragana(text: str) -> bool:
    return all(0x3040 <= ord(c) <= 0x309F for c in text)


def _cjk_terms(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    pairs = (run[i : i + 2] for i in range(len(run) - 1))
    return [p for p in pairs if not _hiragana(p)]


def terms(text: str) -> list[str]:
    """The terms of ``text``: words of alphabetic scripts, bigrams of CJK runs (see module)."""
    text = unicodedata.normalize("NFKC", _DROP.sub(" ", text or ""))
    out: list[str] = []
    buffer: list[str] = []
    run: list[str] = []

    def flush_words() -> None:
        for word in _WORD.findall("".join(buffer).lower()):
            word = word.strip("'")
            if len(word) > 1 and word not in STOP_WORDS and not word.isdigit():
                out.append(word)
        buffer.clear()

    for ch in text:
        if _cjk(ch):
            if buffer:
                flush_words()
            run.append(ch)
        else:
            if run:
                out.extend(_cjk_terms("".join(run)))
                run.clear()
            buffer.append(ch)
    if run:
        out.extend(_cjk_terms("".join(run)))
    if buffer:
        flush_words()
    return out


def char_ngrams(text: str, low: int = 2, high: int = 4) -> list[str]:
    """Plain character n-grams of ``text`` (spaces collapsed), the measured alternative."""
    clean = " ".join(unicodedata.normalize("NFKC", _DROP.sub(" ", text or "")).lower().split())
    return [clean[i : i + n] for n in range(low, high + 1) for i in range(len(clean) - n + 1)]


def features(text: str) -> list[str]:
    """The default features of theme finding: :func:`terms`, and 3-5-grams of alphabetic words.

    CJK terms (bigrams) stay as they are; each alphabetic word adds its character 3-5-grams
    inside ``" word "`` so spelling variants and inflections (``delayed``, ``delays``) share
    features. Measured in docs/voice.md against :func:`terms` and :func:`char_ngrams`.
    """
    out: list[str] = []
    for term in terms(text):
        out.append(term)
        if not _cjk(term[0]):
            padded = f" {term} "
            out.extend(padded[i : i + n] for n in (3, 4, 5) for i in range(len(padded) - n + 1))
    return out
