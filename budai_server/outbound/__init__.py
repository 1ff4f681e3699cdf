"""The outbound policy: every HTTP request the server makes goes through this package.

`policy` holds the pure rules (which addresses are refused, the allow-list); `client` builds the
guarded session and the bounded `fetch` that `api_call`, `notification` and callback delivery use.
"""

from __future__ import annotations

from budai_server.outbound.client import OutboundError, Reply, fetch, make_session
from budai_server.outbound.policy import OutboundPolicy, OutboundRefused, make_policy

__all__ = [
    "OutboundError",
    "OutboundPolicy",
    "OutboundRefused",
    "Reply",
    "fetch",
    "make_policy",
    "make_session",
]
