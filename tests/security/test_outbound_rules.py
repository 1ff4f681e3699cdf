"""The pure outbound rules from tables: which addresses are refused by which rule, and the allow-list."""

from __future__ import annotations

import ipaddress

import pytest
from yarl import URL

from budai_server.outbound.policy import (
    OutboundPolicy,
    OutboundRefused,
    blocked_rule,
    is_loopback_bind,
    make_policy,
    parse_allow_list,
    parse_host,
)

STRICT = OutboundPolicy()


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
        ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 around 127.0.0.1
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fd12:3456::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("169.254.169.254", "link_local"),
        ("::ffff:169.254.169.254", "link_local"),
        ("fe80::1", "link_local"),
        ("fe80::1%2", "link_local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("192.0.2.10", "reserved"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("8.8.8.8", None),
        ("::ffff:8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_blocked_rule(address: str, rule: str | None) -> None:
    assert blocked_rule(ipaddress.ip_address(address)) == rule


@pytest.mark.parametrize(
    ("host", "address", "canonical"),
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("[::1]", "::1", True),
        ("127.0.0.1.", "127.0.0.1", True),
        ("2130706433", "127.0.0.1", False),
        ("0x7f000001", "127.0.0.1", False),
        ("0x7f.1", "127.0.0.1", False),
        ("017700000001", "127.0.0.1", False),
        ("0177.0.0.1", "127.0.0.1", False),
        ("127.1", "127.0.0.1", False),
        ("10.1", "10.0.0.1", False),
        ("example.com", None, True),
        ("0x", None, False),
        ("99999999999", None, False),
    ],
)
def test_parse_host_decodes_odd_ipv4_spellings(host: str, address: str | None, canonical: bool) -> None:
    parsed, is_canonical = parse_host(host)
    assert (str(parsed) if parsed else None, is_canonical) == (address, canonical)


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://127.0.0.1:8080/x", "loopback"),
        ("http://[::ffff:127.0.0.1]:8080/x", "loopback"),
        ("http://2130706433:8080/", "ip_encoding"),
        ("http://0x7f.1/", "ip_encoding"),
        ("http://169.254.169.254/latest/meta-data/", "link_local"),
        ("https://[fc00::1]/", "private"),
        ("ftp://example.com/x", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://127.0.0.1:6379/_INFO", "scheme"),
    ],
)
def test_check_url_refuses_with_the_rule_named(url: str, rule: str) -> None:
    with pytest.raises(OutboundRefused) as caught:
        STRICT.check_url(URL(url))
    assert caught.value.rule == rule
    assert f"(rule: {rule})" in str(caught.value) and "--allow-outbound" in str(caught.value)


def test_check_url_leaves_host_names_and_public_addresses_to_the_resolver() -> None:
    for url in ("https://example.com/x", "http://8.8.8.8/", "http://localhost:9/"):
        STRICT.check_url(URL(url))


def test_allow_list_networks_and_hosts() -> None:
    policy = make_policy("strict", "0.0.0.0", ["127.0.0.1/32,10.0.0.0/8", "hooks.internal", "*.corp.example"])
    policy.check_address("t", ipaddress.ip_address("127.0.0.1"))
    policy.check_address("t", ipaddress.ip_address("10.9.9.9"))
    with pytest.raises(OutboundRefused, match="rule: loopback"):
        policy.check_address("t", ipaddress.ip_address("127.0.0.2"))
    assert policy.host_allowed("hooks.internal") and policy.host_allowed("HOOKS.internal.")
    assert policy.host_allowed("a.b.corp.example") and not policy.host_allowed("corp.example")
    assert not policy.host_allowed("evilhooks.internal")
    policy.check_url(URL("http://hooks.internal:8080/"))


@pytest.mark.parametrize("entry", ["not a host", "10.0.0.0/33", "http://x", "2130706433", ""])
def test_bad_allow_list_entries_are_refused(entry: str) -> None:
    if not entry:
        assert parse_allow_list([entry]) == ((), frozenset())
        return
    with pytest.raises(ValueError, match="allow-list entry"):
        parse_allow_list([entry])


@pytest.mark.parametrize(
    ("mode", "bind", "loopback_allowed"),
    [
        ("auto", "127.0.0.1", True),
        ("auto", "::1", True),
        ("auto", "localhost", True),
        ("auto", "0.0.0.0", False),
        ("auto", "::", False),
        ("auto", "192.168.1.5", False),
        ("strict", "127.0.0.1", False),
    ],
)
def test_default_policy_follows_the_bind_address(mode: str, bind: str, loopback_allowed: bool) -> None:
    policy = make_policy(mode, bind)
    assert policy.allow_loopback is loopback_allowed
    assert is_loopback_bind(bind) is (bind in ("127.0.0.1", "::1", "localhost"))
    with pytest.raises(OutboundRefused, match="rule: private"):
        policy.check_address("t", ipaddress.ip_address("10.0.0.1"))


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="outbound mode"):
        make_policy("open", "127.0.0.1")
