"""Which destinations the server may send HTTP to: pure rules, no DNS and no I/O.

Pipeline authors choose URLs (`api_call`, `notification`, callbacks), so without a policy the server
is a proxy into its own network: its routes, Redis, PostgreSQL, the cloud metadata address. The
policy refuses every address that is not globally routable - loopback, private (RFC 1918, ULA,
carrier-grade NAT), link-local (169.254.169.254 included), multicast, unspecified, reserved - also
when written as an IPv4-mapped, IPv4-compatible, 6to4 or NAT64 IPv6 address, and refuses IPv4
hosts written in a non-canonical form (``2130706433``, ``0x7f.1``, ``017700000001``), which
resolvers accept but readers (and allow-lists) do not recognise.

An allow-list of networks (CIDR) and host names opens exceptions; `loopback` opens loopback only
(the local-development default while the server itself listens on loopback only).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable

import attrs
from yarl import URL

__all__ = [
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "MODES",
    "Address",
    "Network",
    "OutboundPolicy",
    "OutboundRefused",
    "blocked_rule",
    "embedded_ipv4",
    "is_localhost",
    "is_loopback_bind",
    "make_policy",
    "parse_allow_list",
    "parse_host",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MODES = ("auto", "strict")
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024

# RFC 1918, carrier-grade NAT (RFC 6598) and unique local IPv6 (RFC 4193): the "private" rule.
_PRIVATE: tuple[Network, ...] = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
_METADATA = ipaddress.IPv4Address("169.254.169.254")
_LOOPBACK: tuple[Address, ...] = (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_LEGACY_LABEL = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")
_HOST_NAME = re.compile(r"^(?=.{1,253}$)(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_-]{1,63}$")


class OutboundRefused(Exception):
    """The outbound policy refused a destination; `rule` names the rule that matched.

    Not retryable: the same URL is refused again. The message says how to allow it on purpose.
    """

    def __init__(self, target: str, rule: str, detail: str) -> None:
        super().__init__(
            f"outbound request to {target} refused by the server's outbound policy "
            f"(rule: {rule}): {detail}; an operator can allow it with --allow-outbound"
        )
        self.target = target
        self.rule = rule
        self.detail = detail


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    packed = address.packed
    if packed[:12] == bytes(12) and int(address) > 1:  # ::a.b.c.d (deprecated "compatible" form)
        return ipaddress.IPv4Address(packed[12:])
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(packed[12:])
    return None


def _own_rule(address: Address) -> str | None:
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link_local"
    if address.is_multicast:
        return "multicast"
    if any(address.version == net.version and address in net for net in _PRIVATE):
        return "private"
    if address.is_private or address.is_reserved or not address.is_global:
        return "reserved"
    return None


def blocked_rule(address: Address) -> str | None:
    """The rule refusing `address` (loopback, private, link_local, ...), or None when it is global."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            address = ipaddress.IPv6Address(str(address).partition("%")[0])
        inner = embedded_ipv4(address)
        if inner is not None:
            return _own_rule(inner) or (None if address.is_global or inner.is_global else "reserved")
    return _own_rule(address)


def parse_host(host: str) -> tuple[Address | None, bool]:
    """`host` as an IP address when it is one, and whether it was written canonically.

    Legacy IPv4 forms that `inet_aton` (and so most resolvers) accept - one to four labels, each
    decimal, octal (leading 0) or hexadecimal (0x) - count as addresses written non-canonically.
    """
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" not in bare:
        bare = bare.rstrip(".")  # a trailing dot (fully qualified) resolves the same
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        pass
    else:
        return address, True
    labels = bare.split(".")
    if 1 <= len(labels) <= 4 and all(_LEGACY_LABEL.match(label) for label in labels):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare)), False
        except OSError:
            return None, False
    return None, True


def is_localhost(host: str) -> bool:
    """True for ``localhost`` and ``*.localhost``: loopback by definition (RFC 6761), no DNS needed."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def is_loopback_bind(host: str) -> bool:
    """True when a server bound to `host` is reachable from this machine only."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_allow_list(items: Iterable[str]) -> tuple[tuple[Network, ...], frozenset[str]]:
    """Split comma-separated allow-list entries into networks (CIDR or address) and host names.

    A host name may start with ``*.`` to allow its subdomains. Raises ValueError naming a bad entry.
    """
    networks: list[Network] = []
    hosts: set[str] = set()
    for item in items:
        for raw in item.split(","):
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = entry.lower().rstrip(".")
            address, _canonical = parse_host(name)
            if address is not None or not _HOST_NAME.match(name):
                raise ValueError(f"allow-list entry {entry!r} is neither a CIDR network nor a host name")
            hosts.add(name)
    return tuple(networks), frozenset(hosts)


@attrs.frozen(kw_only=True)
class OutboundPolicy:
    """The rules one server applies to every outbound request (see the module docstring)."""

    allow_loopback: bool = False
    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()
    max_redirects: int = attrs.field(default=DEFAULT_MAX_REDIRECTS, validator=attrs.validators.ge(0))
    max_response_bytes: int = attrs.field(
        default=DEFAULT_MAX_RESPONSE_BYTES, validator=attrs.validators.ge(1)
    )

    def host_allowed(self, host: str) -> bool:
        """True when `host` is on the allow-list by name (exactly, or under a ``*.`` entry)."""
        name = host.lower().rstrip(".")
        if name in self.hosts:
            return True
        parts = name.split(".")
        return any(f"*.{'.'.join(parts[i:])}" in self.hosts for i in range(1, len(parts)))

    def check_address(self, target: str, address: Address) -> None:
        """Raise `OutboundRefused` unless `address` may be contacted (allow-listed or global)."""
        if any(address.version == net.version and address in net for net in self.networks):
            return
        rule = blocked_rule(address)
        if rule is None or (rule == "loopback" and self.allow_loopback):
            return
        kind = rule.replace("_", "-")
        detail = f"{address} is {'an' if kind[0] in 'aeiou' else 'a'} {kind} address"
        if address == _METADATA:
            detail += " (the cloud metadata service)"
        if isinstance(address, ipaddress.IPv6Address) and embedded_ipv4(address) is not None:
            detail += f" (it embeds the IPv4 address {embedded_ipv4(address)})"
        raise OutboundRefused(target, rule, detail)

    def check_url(self, url: URL) -> None:
        """Check what can be checked without DNS: scheme, host present, literal addresses.

        Host names are checked after resolution (`budai_server.outbound.client.GuardedResolver`).
        """
        target = str(url)
        if url.scheme not in ("http", "https"):
            raise OutboundRefused(target, "scheme", f"only http and https are allowed, not {url.scheme!r}")
        host = url.raw_host
        if not host:
            raise OutboundRefused(target, "scheme", "the URL has no host")
        if self.host_allowed(host):
            return
        address, canonical = parse_host(host)
        if not canonical:
            shown = f" (it reads as {address})" if address is not None else ""
            raise OutboundRefused(
                target, "ip_encoding", f"host {host!r} is an IPv4 address in a non-canonical form{shown}"
            )
        if address is not None:
            self.check_address(target, address)

    def refusal_without_dns(self, url: str) -> OutboundRefused | None:
        """Why `url` will be refused, as far as that is known without DNS; None when it may pass.

        For URLs stored now and requested later (callbacks), so a certain refusal is answered at
        once: `check_url` (scheme, literal and encoded addresses), and ``localhost`` names, which
        are refused unless a loopback address is allowed. Other host names are checked on delivery.
        """
        try:
            parsed = URL(url)
            self.check_url(parsed)
        except OutboundRefused as refused:
            return refused
        except ValueError:
            return None  # not a URL at all: the caller's URL check answers that
        host = parsed.raw_host or ""
        if not is_localhost(host) or self.host_allowed(host):
            return None
        refusals: list[OutboundRefused] = []
        for address in _LOOPBACK:
            try:
                self.check_address(url, address)
            except OutboundRefused as refused:
                refusals.append(refused)
            else:
                return None
        return OutboundRefused(url, "loopback", f"{host} names a loopback address ({refusals[0].detail})")


def make_policy(
    mode: str,
    bind_host: str,
    allow: Iterable[str] = (),
    *,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> OutboundPolicy:
    """The policy for a server bound to `bind_host`: `strict`, or `auto` (loopback allowed while the
    server listens on loopback only). Raises ValueError for an unknown mode or a bad allow entry."""
    if mode not in MODES:
        raise ValueError(f"outbound mode must be one of {', '.join(MODES)}, got {mode!r}")
    networks, hosts = parse_allow_list(allow)
    return OutboundPolicy(
        allow_loopback=mode == "auto" and is_loopback_bind(bind_host),
        networks=networks,
        hosts=hosts,
        max_redirects=max_redirects,
        max_response_bytes=max_response_bytes,
    )
