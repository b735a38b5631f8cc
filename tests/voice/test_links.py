"""Signed links: genuine ones open, forged, tampered, expired and cross-purpose ones do not."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from retain.voice.links import LinkError, id_hash, sign, verify

SECRET = "s3cret-key-for-tests"
NOW = dt.datetime(2026, 12, 1, 12, 0, 0)


def _token(**kw):
    args = {"purpose": "survey", "customer_id": "C1", "survey": "nps", "language": "ja"}
    args.update(kw)
    return sign(SECRET, expires_at=NOW + dt.timedelta(days=1), **args)


def test_a_genuine_link_round_trips():
    token, claims = _token()
    got = verify(SECRET, token, purpose="survey", now=NOW)
    assert got == claims
    assert (got.customer_id, got.survey, got.language) == ("C1", "nps", "ja")
    assert len(id_hash(got.link_id)) == 64 and got.link_id not in id_hash(got.link_id)


def test_two_links_for_the_same_customer_differ():
    assert _token()[0] != _token()[0]


@pytest.mark.parametrize("secret", ["other-secret", ""])
def test_a_link_signed_with_another_secret_is_forged(secret):
    token, _ = sign(secret, purpose="survey", customer_id="C1", expires_at=NOW + dt.timedelta(1))
    with pytest.raises(LinkError) as err:
        verify(SECRET, token, purpose="survey", now=NOW)
    assert err.value.reason == "forged"


def test_a_tampered_payload_is_forged():
    token, _ = _token()
    payload, mac = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["c"] = "C2"  # someone else's answers
    body["e"] += 86400 * 365  # and a longer life
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    with pytest.raises(LinkError) as err:
        verify(SECRET, f"{forged}.{mac}", purpose="survey", now=NOW)
    assert err.value.reason == "forged"


@pytest.mark.parametrize("token", ["", "abc", "abc.", ".abc", "!!!.???", "a.b.c", "x" * 5000])
def test_garbage_is_forged(token):
    with pytest.raises(LinkError) as err:
        verify(SECRET, token, purpose="survey", now=NOW)
    assert err.value.reason == "forged"


def test_a_survey_link_does_not_open_the_cancellation_page():
    token, _ = _token()
    with pytest.raises(LinkError) as err:
        verify(SECRET, token, purpose="cancel", now=NOW)
    assert err.value.reason == "forged"


def test_an_expired_link_is_refused_from_the_second_it_expires():
    token, claims = _token()
    verify(SECRET, token, purpose="survey", now=claims.expires_at - dt.timedelta(seconds=1))
    with pytest.raises(LinkError) as err:
        verify(SECRET, token, purpose="survey", now=claims.expires_at)
    assert err.value.reason == "expired"
