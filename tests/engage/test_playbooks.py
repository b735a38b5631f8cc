"""Playbook files: the shipped ones load, mistakes name file, playbook, key and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from retain.engage.messages import load_template, render
from retain.engage.playbooks import InactiveTrigger, load_playbooks, shipped_playbooks
from retain.errors import ConfigError

MINIMAL = """
[[playbook]]
name = "winback-60"
trigger = { kind = "inactive", days = 60 }
channel = "email"
holdout = 0.2
template = "winback"
"""


def _write(tmp_path: Path, text: str, templates: dict[str, str] | None = None) -> Path:
    path = tmp_path / "playbooks.toml"
    path.write_text(text, encoding="utf-8")
    for name, body in (templates or {}).items():
        (tmp_path / "templates").mkdir(exist_ok=True)
        (tmp_path / "templates" / name).write_text(body, encoding="utf-8")
    return path


def test_shipped_playbooks_cover_every_trigger_kind_in_three_languages() -> None:
    shipped = shipped_playbooks()
    kinds = {p.trigger.kind for p in shipped.playbooks}
    assert kinds == {
        "lifecycle",
        "inactive",
        "risk_band",
        "replenishment",
        "contract_end",
        "event",
        "date_attribute",
    }
    for playbook in shipped.playbooks:
        template = load_template(playbook.template, shipped.template_dirs)
        assert {"en", "ja", "ko"} <= set(template.languages), playbook.name


def test_the_issue_minimal_shape_loads(tmp_path: Path) -> None:
    loaded = load_playbooks(_write(tmp_path, MINIMAL))
    playbook = loaded.get("winback-60")
    assert playbook.trigger == InactiveTrigger(kind="inactive", days=60)
    assert playbook.holdout == 0.2 and playbook.channel == "email"


@pytest.mark.parametrize(
    ("change", "key", "hint"),
    [
        (("days = 60", "dayz = 60"), "trigger.dayz", "spelling"),
        (("holdout = 0.2", "holdout = 1.5"), "holdout", "range"),
        (('kind = "inactive"', 'kind = "sleepy"'), "trigger", "inactive, lifecycle"),
        (('channel = "email"', 'channel = "fax"'), "channel", "one of the values"),
    ],
)
def test_errors_name_file_playbook_key_and_hint(
    tmp_path: Path, change: tuple[str, str], key: str, hint: str
) -> None:
    path = _write(tmp_path, MINIMAL.replace(*change))
    with pytest.raises(ConfigError) as info:
        load_playbooks(path)
    message = str(info.value)
    assert str(path) in message and "winback-60" in message and f"key {key}:" in message
    assert hint in (info.value.hint or "")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('subject = "Hi {{ customer.nickname }}"\nbody = "x"', "customer.nickname"),
        ('subject = "Hi {{ coupon }}"\nbody = "x"', "coupon"),
        ('subject = "{{ customer.__class__.__mro__ }}"\nbody = "x"', "__class__"),
        ('subject = "x"\nbody = "{{ playbook.__len__() }}"', "__len__"),
        ('subject = "{{ customer.attributes|attr(\'__class__\') }}"\nbody = "x"', "__class__"),
        ('subject = "{{ customer.attributes[\'_secret\'] }}"\nbody = "x"', "_secret"),
        ('subject = "{% if %}"\nbody = "x"', "subject"),
        # memory and time bombs (a template edited over HTTP is checked in the request)
        ('subject = "x"\nbody = "{{ \'x\' * 10**9 }}"', "**"),
        ('subject = "x"\nbody = "{{ \'x\' * 1000 * 1000 }}"', "* 1000"),
        ('subject = "x"\nbody = "{{ \'x\'|center(1000000000) }}"', "1000000000"),
        ('subject = "x"\nbody = "{{ range(5000)|list }}"', "range() of 5000"),
        (
            'subject = "x"\nbody = "{% for a in range(9) %}{% for b in range(9) %}'
            '{% for c in range(9) %}.{% endfor %}{% endfor %}{% endfor %}"',
            "3 nested loops",
        ),
        ('subject = "x"\nbodi = "y"', "bodi"),
    ],
)
def test_bad_templates_are_refused_at_load(tmp_path: Path, body: str, expected: str) -> None:
    path = _write(tmp_path, MINIMAL.replace('"winback"', '"mine"'), {"mine.en.toml": body})
    with pytest.raises(ConfigError) as info:
        load_playbooks(path)
    assert expected in str(info.value)
    assert "mine.en.toml" in str(info.value) and "winback-60" in str(info.value)


def test_a_template_without_english_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        MINIMAL.replace('"winback"', '"mine"'),
        {"mine.ja.toml": 'subject = "件名"\nbody = "本文"'},
    )
    with pytest.raises(ConfigError, match="no English file"):
        load_playbooks(path)


def test_variants_must_match_across_languages(tmp_path: Path) -> None:
    en = 'subject = "A"\nbody = "a"\n[variants.b]\nsubject = "B"\nbody = "b"'
    path = _write(
        tmp_path,
        MINIMAL.replace('"winback"', '"mine"'),
        {"mine.en.toml": en, "mine.ja.toml": 'subject = "A"\nbody = "a"'},
    )
    with pytest.raises(ConfigError, match="variants a, but the English file has a, b"):
        load_playbooks(path)


def test_local_templates_win_and_language_falls_back_to_english(tmp_path: Path) -> None:
    path = _write(
        tmp_path, MINIMAL, {"winback.en.toml": 'subject = "Ours {{ trigger.days }}"\nbody = "b"'}
    )
    loaded = load_playbooks(path)
    template = load_template("winback", loaded.template_dirs)
    ctx = {
        "customer": {"first_name": "Aki"},
        "trigger": {"days": 61},
        "offer": None,
        "unsubscribe_url": "u",
    }
    assert render(template, language="en-GB", variant="a", context=ctx)[:2] == ("en", "Ours 61")
    # our folder holds the template: its languages only, English for the others
    assert render(template, language="ja", variant="a", context=ctx)[:2] == ("en", "Ours 61")
    shipped = load_template("winback", shipped_playbooks().template_dirs)
    lang, subject, body = render(shipped, language="ja", variant="a", context=ctx)
    assert lang == "ja" and subject == "お久しぶりです" and "Aki様" in body
    assert render(shipped, language="pt-BR", variant="a", context=ctx)[:2] == ("en", "We miss you")


def test_a_variant_renders_its_own_text() -> None:
    shipped = shipped_playbooks()
    template = load_template("winback", shipped.template_dirs)
    assert template.variants == ("a", "b")
    ctx = {
        "customer": {},
        "trigger": {"days": 60},
        "offer": {"name": "10% off"},
        "unsubscribe_url": "u",
    }
    _, subject, body = render(template, language="ko", variant="b", context=ctx)
    assert subject == "지난 방문 이후 새로워졌어요" and "10% off" in body and "고객님" in body


def test_errors_read_in_the_reader_s_language(tmp_path: Path) -> None:
    from retain.i18n import language

    path = _write(tmp_path, MINIMAL.replace("holdout = 0.2", "holdout = 1.5"))
    for lang, expected in (
        ("en", "must be less than 1.0"),
        ("ja", "1.0 未満にしてください"),
        ("ko", "1.0 미만이어야 합니다"),
    ):
        with language(lang), pytest.raises(ConfigError) as info:
            load_playbooks(path)
        assert expected in str(info.value)
    hook = _write(tmp_path, MINIMAL.replace('channel = "email"', 'channel = "webhook"'))
    with language("ja"), pytest.raises(ConfigError, match=r"action\.url が必要です"):
        load_playbooks(hook)
