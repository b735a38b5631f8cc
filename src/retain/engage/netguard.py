"""Guard webhooks against server-side request forgery: no private, loopback or link-local target.

A URL's host is resolved first and every address checked (a public name that resolves to
``127.0.0.1`` or ``169.254.169.254`` is refused), and the connection then goes to the checked
address, so a second lookup cannot swap it (DNS rebinding). Redirects are followed by the caller,
which checks each hop again. Networks or host names in ``engage.webhook_allow_private`` are let
through (a receiver on the same host or in the office network).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from retain.errors import PermissionDeniedError
from retain.i18n import t

__all__ = [
    "BlockedTargetError",
    "Resolver",
    "Target",
    "check_url",
    "connect_checked",
    "is_public",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``(host, port) -> addresses``; tests pass a stub so no real lookup or private connect happens.
Resolver = Callable[[str, int], list[str]]


class BlockedTargetError(PermissionDeniedError):
    """The URL's host is (or resolves to) an address webhooks may not reach."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


#: IPv6 prefixes whose last 32 bits are an IPv4 address a packet may end up at: NAT64
#: (RFC 6052), IPv4-translated (RFC 2765) and IPv4-compatible (deprecated). Python's
#: ``is_global`` calls them global whatever IPv4 address they carry.
_EMBEDDING_V4 = tuple(
    ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "::ffff:0:0:0/96", "::/96")
)
_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")  # deprecated, still used as a private range


def _carried_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64...), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _EMBEDDING_V4) and int(ip) > 1:  # not :: or ::1
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """A globally routable unicast address (not private, loopback, link-local, reserved...).

    An IPv6 address carrying an IPv4 one (mapped, 6to4, NAT64) is judged by that IPv4 address.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _SITE_LOCAL:
            return False
        carried = _carried_ipv4(ip)
        if carried is not None:
            return carried.is_global and not carried.is_multicast
    return ip.is_global and not ip.is_multicast


def _allowed(ip: IPAddress, host: str, allow: Sequence[str]) -> bool:
    for entry in allow:
        if entry.lower() == host.lower():
            return True
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to ``address`` (never re-resolve ``host``)."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def check_url(url: str, *, allow: Sequence[str] = (), resolver: Resolver | None = None) -> Target:
    """Resolve ``url``'s host and refuse it unless every address is public or allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedTargetError(t("engage.bad_url", url=url))
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = (resolver or system_resolver)(host, port)
    except OSError as exc:
        raise BlockedTargetError(t("engage.unresolvable", host=host, error=str(exc))) from exc
    if not addresses:
        raise BlockedTargetError(t("engage.unresolvable", host=host, error="no address"))
    for text in addresses:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
        if not is_public(ip) and not _allowed(ip, host, allow):
            raise BlockedTargetError(
                t("engage.private_target", host=host, address=text),
                hint=t("engage.private_target_hint"),
            )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, addresses[0])


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the host name for SNI and the certificate check."""

    def __init__(self, target: Target, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self._tls)
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def connect_checked(target: Target, timeout: float) -> http.client.HTTPConnection:
    """A connection to the address :func:`check_url` approved, never a fresh DNS answer.

    Connecting by name again would let a rebinding resolver swap in a private address
    between the check and the connect; HTTPS still verifies the certificate for the name.
    """
    if target.scheme == "https":
        return _PinnedHTTPS(target, timeout)
    return http.client.HTTPConnection(target.address, target.port, timeout=timeout)
