"""Phone numbers in E.164: national forms read in the customer's country, the rest refused.

Numbers are fictional ones in each country's plan: Japan's 090 mobiles and 03 Tokyo lines,
Korea's 010 mobiles and 02 Seoul lines, NANP 555-01xx, Ofcom's drama range 020 7946 0xxx,
and the German and French plans' usual shapes.
"""

from __future__ import annotations

import pytest

from retain.engage.phone import PhoneNumberError, e164, phone_key, variants
from retain.engage.suppression import forms, normal_address


@pytest.mark.parametrize(
    ("number", "region", "expected"),
    [
        ("090-1234-5678", "JP", "+819012345678"),
        ("03-1234-5678", "jp", "+81312345678"),
        ("０９０−１２３４−５６７８", "JP", "+819012345678"),  # full-width, as typed in Japan
        ("090ー1234ー5678", "JP", "+819012345678"),  # the long-vowel mark used as a dash
        ("+81 90-1234-5678", None, "+819012345678"),
        ("+81 090 1234 5678", "KR", "+819012345678"),  # trunk 0 after the country code
        ("010 81 90 1234 5678", "JP", "+819012345678"),  # dialled from Japan (IDD 010)
        ("010-1234-5678", "KR", "+821012345678"),
        ("02-123-4567", "KR", "+8221234567"),
        ("001-81-90-1234-5678", "KR", "+819012345678"),  # dialled from Korea (IDD 001)
        ("+82-10-1234-5678", "JP", "+821012345678"),  # international: the region is moot
        ("(415) 555-0100", "US", "+14155550100"),
        ("1-415-555-0100", "US", "+14155550100"),
        ("416.555.0199", "CA", "+14165550199"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("00 44 20 7946 0958", "FR", "+442079460958"),
        ("030 1234567", "DE", "+49301234567"),
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("+86 138 0013 8000", None, "+8613800138000"),  # a plan not read: digits as given
    ],
)
def test_numbers_become_e164(number, region, expected):
    assert e164(number, region) == expected


@pytest.mark.parametrize(
    ("number", "region", "words"),
    [
        ("call me", "JP", "not a phone number"),
        ("", "JP", "not a phone number"),
        ("090-1234-5678", None, "no country"),
        ("090-1234-5678", "CN", "CN"),
        ("9012345678", "JP", "start with 0"),
        ("090-1234", "JP", "length"),
        ("0120-12", "JP", "length"),
        ("(015) 555-0100", "US", "length"),  # a NANP area code never starts with 0 or 1
        ("01 23 45 67", "FR", "length"),
        ("+12", None, "length"),
        ("+0123456789", None, "length"),
    ],
)
def test_what_cannot_be_read_is_refused_saying_why(number, region, words):
    with pytest.raises(PhoneNumberError) as caught:
        e164(number, region)
    assert words in caught.value.message
    assert caught.value.hint and "E.164" in caught.value.hint
    assert caught.value.code == "engage.phone_number"


def test_a_number_has_one_key_and_reaches_its_stored_forms():
    # the gateway's E.164 and the customer's national form are one key with a region ...
    assert phone_key("+819012345678") == phone_key("090-1234-5678", "JP") == "+819012345678"
    assert normal_address("010-1234-5678", "KR") == normal_address("+82 10 1234 5678")
    # ... and without one, the national digits keep their form, which variants still reach
    assert phone_key("090-1234-5678") == "09012345678"
    assert phone_key("not a number") is None
    assert "09012345678" in variants("+819012345678")
    assert "01012345678" in forms("+821012345678")
    assert "+821012345678" in forms("01012345678")
    assert {"4155550100", "14155550100"} <= variants("+14155550100")
    assert forms("alice@example.com") == frozenset({"alice@example.com"})
