"""Every message exists in English, Japanese and Korean, with the same parameters."""

from __future__ import annotations

import string

import pytest

from retain.i18n import LANGUAGES, catalog, language, normalize_language, t


def _params(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


@pytest.mark.parametrize("lang", ["ja", "ko"])
def test_every_english_key_is_translated_with_the_same_parameters(lang: str) -> None:
    en, other = catalog("en"), catalog(lang)
    missing = sorted(set(en) - set(other))
    assert not missing, f"keys missing in {lang}: {missing[:20]}"
    extra = sorted(set(other) - set(en))
    assert not extra, f"keys only in {lang}: {extra[:20]}"
    for key, template in en.items():
        assert _params(template) == _params(other[key]), key


def test_t_renders_in_the_context_language() -> None:
    assert t("cli.error") == "Error"
    with language("ja"):
        assert t("cli.error") == "エラー"
    assert t("cli.error", lang="ko") == "오류"
    assert t("no.such.key") == "no.such.key"


@pytest.mark.parametrize(
    ("raw", "code"),
    [("ja_JP.UTF-8", "ja"), ("ko-KR", "ko"), ("EN", "en"), ("fr", "en"), (None, "en")],
)
def test_normalize_language(raw: str | None, code: str) -> None:
    assert normalize_language(raw) == code
    assert code in LANGUAGES
