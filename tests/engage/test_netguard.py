"""The webhook guard refuses private, loopback and link-local targets after resolution.

Every test here uses a stub resolver: nothing is looked up and nothing connects anywhere.
"""

from __future__ import annotations

import ipaddress

import pytest

from retain.engage.netguard import BlockedTargetError, check_url, is_public
from retain.engage.webhooks import post_json


def stub(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.5",
        "192.168.1.1",
        "169.254.169.254",  # the cloud metadata service
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "224.0.0.1",
        # IPv6 forms that carry an IPv4 address, which Python's is_global calls global:
        "64:ff9b::a9fe:a9fe",  # NAT64 (RFC 6052) to the metadata service
        "64:ff9b::a00:5",  # NAT64 to 10.0.0.5
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "::7f00:1",  # IPv4-compatible loopback (deprecated, still routed by some stacks)
        "::ffff:0:a9fe:a9fe",  # IPv4-translated (SIIT, RFC 2765)
        "fec0::1",  # site-local (deprecated, still used as a private range)
    ],
)
def test_a_public_name_resolving_to_a_private_address_is_refused(address):
    resolver = stub({"hooks.example.com": [address]})
    with pytest.raises(BlockedTargetError, match=r"hooks\.example\.com"):
        check_url("https://hooks.example.com/x", resolver=resolver)


def test_one_private_address_among_public_ones_is_enough_to_refuse():
    resolver = stub({"mixed.example.com": ["93.184.216.34", "10.0.0.1"]})
    with pytest.raises(BlockedTargetError):
        check_url("https://mixed.example.com/", resolver=resolver)


def test_a_public_target_passes_and_keeps_the_checked_address():
    resolver = stub({"hooks.example.com": ["93.184.216.34"]})
    target = check_url("https://hooks.example.com:8443/in?a=1", resolver=resolver)
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 8443)
    assert target.path == "/in?a=1" and target.address == "93.184.216.34"


def test_allowed_networks_and_hosts_pass():
    resolver = stub({"crm.internal": ["10.20.0.7"], "localhost": ["127.0.0.1"]})
    assert check_url("http://crm.internal/h", allow=["10.20.0.0/16"], resolver=resolver)
    assert check_url("http://localhost/h", allow=["localhost"], resolver=resolver)
    with pytest.raises(BlockedTargetError):
        check_url("http://crm.internal/h", allow=["10.21.0.0/16"], resolver=resolver)


def test_literal_addresses_bad_schemes_and_unknown_hosts_are_refused():
    with pytest.raises(BlockedTargetError):
        check_url("http://127.0.0.1:9/", resolver=stub({"127.0.0.1": ["127.0.0.1"]}))
    with pytest.raises(BlockedTargetError):
        check_url("file:///etc/passwd", resolver=stub({}))
    with pytest.raises(BlockedTargetError, match=r"nowhere\.example"):
        check_url("https://nowhere.example/", resolver=stub({}))


def test_is_public():
    assert is_public(ipaddress.ip_address("8.8.8.8"))
    assert not is_public(ipaddress.ip_address("192.168.0.1"))


def test_post_json_refuses_a_blocked_target_without_connecting():
    resolver = stub({"evil.example.com": ["169.254.169.254"]})
    result = post_json(
        "http://evil.example.com/latest/meta-data",
        b"{}",
        secret="s",
        idempotency_key="k",
        timeout=1,
        resolver=resolver,
    )
    assert not result.ok and not result.retryable and result.status is None
    assert "169.254.169.254" in result.detail


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "2606:4700::1111"])
def test_an_ipv6_address_carrying_a_public_ipv4_stays_public(address):
    assert is_public(ipaddress.ip_address(address))
