"""Network settings as pure functions: which proxy a URL goes through, and the TLS setting.

The proxy is decided once, when the client's session opens, from the environment the standard way
(``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY``, lower case first, and ``NO_PROXY``), instead of
per request as aiohttp's ``trust_env`` would: every call of a client goes to the same server.
"""

from __future__ import annotations

import base64
import ipaddress
import netrc
import os
import ssl as _ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

__all__ = ["SSLSetting", "bypasses_proxy", "env_proxy", "netrc_authorization", "ssl_setting"]

SSLSetting = _ssl.SSLContext | bool | None


def _env(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name) or environ.get(name.upper()) or "").strip()


def bypasses_proxy(host: str, port: int | None, no_proxy: str) -> bool:
    """True when `host` matches a ``NO_PROXY`` entry: ``*``, a domain (and its subdomains), an IP or network.

    Entries may carry a port (``example.com:8443``) and a leading dot (``.example.com``).
    """
    host = host.strip("[]").lower()
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and (not entry_port.isdigit() or int(entry_port) != port):
            continue
        name = name.strip("[]").lstrip(".")
        if host == name or host.endswith("." + name):
            return True
        try:
            if ipaddress.ip_address(host) in ipaddress.ip_network(name, strict=False):
                return True
        except ValueError:
            continue
    return False


def env_proxy(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy URL the environment names for `url`, or None (none set, or NO_PROXY matches)."""
    env = os.environ if environ is None else environ
    parts = urlsplit(url)
    proxy = _env(env, f"{parts.scheme}_proxy") or _env(env, "all_proxy")
    if not proxy:
        return None
    if bypasses_proxy(parts.hostname or "", parts.port, _env(env, "no_proxy")):
        return None
    return proxy


def ssl_setting(ssl: SSLSetting, ca_bundle: str | os.PathLike[str] | None) -> _ssl.SSLContext | bool:
    """What the connector gets: your context, False (no verification), or a default context.

    `ca_bundle` (a PEM file of extra trusted roots, for a private CA) builds a verifying context
    that trusts it instead of the system's roots; it cannot be combined with a context of your own.
    """
    if ca_bundle is not None:
        if isinstance(ssl, _ssl.SSLContext) or ssl is False:
            raise ValueError("pass either ssl= (a context or False) or ca_bundle=, not both")
        return _ssl.create_default_context(cafile=os.fspath(ca_bundle))
    if ssl is None or ssl is True:
        return True
    return ssl


def netrc_authorization(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A Basic ``Authorization`` value from ``.netrc`` (``NETRC``, else ``~/.netrc``) for `url`'s host.

    What aiohttp's ``trust_env`` sends, read once when the session opens instead of per request.
    None when there is no readable file or no entry for the host.
    """
    env = os.environ if environ is None else environ
    host = urlsplit(url).hostname
    path = env.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    if not host:
        return None
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None
    if entry is None:
        return None
    login, _account, password = entry
    token = base64.b64encode(f"{login or ''}:{password or ''}".encode("latin1")).decode("ascii")
    return f"Basic {token}"
