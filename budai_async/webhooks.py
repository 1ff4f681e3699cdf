"""Standard Webhooks signing and verification, as pure functions over bytes and integers.

The server signs callbacks with `signature_headers`; the receiver checks them with `verify`. Neither
reads the clock: the caller passes `now`, so every check is a table-driven test. The scheme is the
Standard Webhooks one (https://www.standardwebhooks.com): secret ``whsec_<base64 key>``, headers
``webhook-id``, ``webhook-timestamp`` (integer seconds) and ``webhook-signature`` holding one or more
space-separated ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, so any Standard Webhooks library
verifies ours and ours verifies theirs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as _secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from budai_async.errors import BudError

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "SECRET_PREFIX",
    "Verifier",
    "WebhookVerificationError",
    "decode_secret",
    "generate_secret",
    "sign",
    "signature_headers",
    "verify",
]

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_SECONDS = 300
#: A header carrying more candidate signatures than this is refused, so one request cannot make us
#: compute an unbounded number of comparisons.
MAX_SIGNATURES = 32
#: Upper bound on a webhook-id; ids are also store keys, so they stay short printable ASCII.
MAX_ID_LENGTH = 256

_TIMESTAMP = re.compile(r"[0-9]{1,15}", re.ASCII)
_MSG_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_ID_LENGTH}}}", re.ASCII)


class WebhookVerificationError(BudError):
    """A callback failed verification; `reason` is a short machine-readable code.

    Reasons: ``missing_header``, ``invalid_id``, ``invalid_timestamp``, ``timestamp_too_old``,
    ``timestamp_too_new``, ``invalid_secret``, ``no_signature``, ``bad_signature``, ``invalid_body``.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def generate_secret(num_bytes: int = 32) -> str:
    """Return a fresh random secret ``whsec_<base64>`` (24..64 random bytes; 32 by default)."""
    if not 24 <= num_bytes <= 64:
        raise ValueError("num_bytes must be between 24 and 64")
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(num_bytes)).decode("ascii")


def decode_secret(secret: str) -> bytes:
    """Return the HMAC key inside ``whsec_<base64>``; the prefix is optional, padding may be omitted.

    Raises `WebhookVerificationError` (reason ``invalid_secret``) for a non-base64 or empty key.
    """
    if not isinstance(secret, str):
        raise WebhookVerificationError("webhook secret must be a string", reason="invalid_secret")
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError(
            "webhook secret is not valid base64", reason="invalid_secret"
        ) from None
    if not key:
        raise WebhookVerificationError("webhook secret is empty", reason="invalid_secret")
    return key


def _digest(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    signed = b"%s.%s.%s" % (msg_id.encode("ascii"), timestamp.encode("ascii"), body)
    return hmac.digest(key, signed, hashlib.sha256)  # the one-shot C implementation


def _check_id(msg_id: str) -> None:
    if not _MSG_ID.fullmatch(msg_id):
        raise WebhookVerificationError(
            f"webhook-id must be 1..{MAX_ID_LENGTH} printable ASCII characters", reason="invalid_id"
        )


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``v1,<base64>`` signature of `body` sent as message `msg_id` at `timestamp`.

    Raises ValueError for an id or timestamp no receiver would accept, and
    `WebhookVerificationError` for a malformed secret.
    """
    if not _MSG_ID.fullmatch(msg_id):
        raise ValueError(f"msg_id must be 1..{MAX_ID_LENGTH} printable ASCII characters")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError("timestamp must be a non-negative integer (seconds since the epoch)")
    digest = _digest(decode_secret(secret), msg_id, str(timestamp), body)
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_headers(secret: str, msg_id: str, body: bytes, now: int) -> dict[str, str]:
    """Return the three headers a sender attaches to `body`, signed for time `now`."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, msg_id, now, body),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        # Plain dicts are case-sensitive; HTTP header names are not.
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if not value:
        raise WebhookVerificationError(f"missing {name} header", reason="missing_header")
    return value


def _candidates(header: str) -> list[bytes]:
    """Return the decoded ``v1`` signatures of a header; other versions and junk are skipped."""
    parts = header.split()
    if len(parts) > MAX_SIGNATURES:
        raise WebhookVerificationError("too many signatures in webhook-signature", reason="no_signature")
    found: list[bytes] = []
    for part in parts:
        version, sep, encoded = part.partition(",")
        if version != "v1" or not sep:
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not found:
        raise WebhookVerificationError("no v1 signature in webhook-signature", reason="no_signature")
    return found


def _check_timestamp(value: str, now: float, tolerance: float) -> None:
    if not _TIMESTAMP.fullmatch(value):
        raise WebhookVerificationError(
            "webhook-timestamp must be integer seconds", reason="invalid_timestamp"
        )
    timestamp = int(value)
    if timestamp < now - tolerance:
        raise WebhookVerificationError("webhook-timestamp is too old", reason="timestamp_too_old")
    if timestamp > now + tolerance:
        raise WebhookVerificationError("webhook-timestamp is in the future", reason="timestamp_too_new")


HeadersLike = Mapping[str, str] | Iterable[tuple[str, str]]
BodyLike = bytes | bytearray | memoryview | str
NowLike = float | datetime


def verify(
    secrets: str | Sequence[str],
    headers: HeadersLike,
    body: BodyLike,
    *,
    now: NowLike,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> str:
    """Check that `body` with `headers` was signed by one of `secrets` within `tolerance` of `now`.

    Accepts any of several secrets (rotation) and any of several signatures in the header; the
    signature is computed over the raw bytes and the literal timestamp string, and compared in
    constant time. Returns the body as text, as svix and the standardwebhooks libraries return the
    payload. `body` is the raw request body (bytes, or the text it decodes to); `headers` a mapping
    or (name, value) pairs, names in any case; `now` Unix seconds or a datetime (naive = UTC).
    Arguments of another type raise TypeError saying what is expected.

    Raises `WebhookVerificationError` for every failure: a missing or malformed header, a malformed
    secret, a non-integer timestamp, a timestamp more than `tolerance` seconds before or after
    `now`, no matching signature, or (after the signature matched) a body that is not UTF-8.
    """
    return Verifier(secrets, tolerance=tolerance).verify(headers, body, now=now)


def _inputs(headers: HeadersLike, body: BodyLike, now: NowLike) -> tuple[Mapping[str, str], bytes, float]:
    """The arguments in the forms the check uses, or a TypeError naming what is expected."""
    if not isinstance(headers, Mapping):
        try:
            headers = dict(headers)
        except (TypeError, ValueError):
            raise TypeError(
                f"headers must be a mapping or (name, value) pairs, got {type(headers).__name__}"
            ) from None
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif isinstance(body, (bytearray, memoryview)):
        body = bytes(body)
    elif not isinstance(body, bytes):
        raise TypeError(f"body must be the raw request body (bytes or str), got {type(body).__name__}")
    if isinstance(now, datetime):
        now = (now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp()
    elif isinstance(now, bool) or not isinstance(now, (int, float)):
        raise TypeError(f"now must be Unix seconds (a number) or a datetime, got {type(now).__name__}")
    return headers, body, now


class Verifier:
    """`verify` with the secrets decoded once, for a receiver that checks many callbacks.

    `verify` also returns the body as text (it had to decode it to check it is UTF-8), so the
    caller parses that instead of decoding the bytes a second time.
    """

    def __init__(self, secrets: str | Sequence[str], *, tolerance: float = DEFAULT_TOLERANCE_SECONDS) -> None:
        self.keys = tuple(decode_secret(s) for s in ([secrets] if isinstance(secrets, str) else secrets))
        if not self.keys:
            raise WebhookVerificationError("no webhook secret configured", reason="invalid_secret")
        self.tolerance = tolerance

    def verify(self, headers: HeadersLike, body: BodyLike, *, now: NowLike) -> str:
        """Check one callback (see `verify`); return its body decoded as UTF-8."""
        headers, body, now = _inputs(headers, body, now)
        msg_id = _header(headers, "webhook-id")
        _check_id(msg_id)
        timestamp = _header(headers, "webhook-timestamp")
        _check_timestamp(timestamp, now, self.tolerance)
        candidates = _candidates(_header(headers, "webhook-signature"))
        matched = False
        for key in self.keys:
            expected = _digest(key, msg_id, timestamp, body)
            for candidate in candidates:
                # Keep comparing after a match: time should not depend on which secret or signature won.
                matched |= hmac.compare_digest(expected, candidate)
        if not matched:
            raise WebhookVerificationError("no signature matches", reason="bad_signature")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookVerificationError("body is not UTF-8", reason="invalid_body") from None
