"""Standard Webhooks signing and verification: the published vector, tables of failures, cross-checks."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
from hypothesis import given, settings
from hypothesis import strategies as st

from budai_async.errors import BudError
from budai_async.webhooks import (
    MAX_SIGNATURES,
    Verifier,
    WebhookVerificationError,
    decode_secret,
    generate_secret,
    sign,
    signature_headers,
    verify,
)

# The Standard Webhooks specification's published test vector.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS = 1614265330
BODY = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
OTHER = "whsec_" + base64.b64encode(b"another key of at least 24 bytes").decode()


def _headers(**overrides: str) -> dict[str, str]:
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(TS), "webhook-signature": EXPECTED}
    headers.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return headers


def test_published_vector() -> None:
    assert sign(SECRET, MSG_ID, TS, BODY) == EXPECTED
    assert signature_headers(SECRET, MSG_ID, BODY, TS) == _headers()
    assert verify(SECRET, _headers(), BODY, now=TS) == BODY.decode()


def test_the_forms_svix_users_pass_verify_too() -> None:
    """Text bodies, header pairs, bytearrays and datetimes; the payload comes back as svix's does."""
    text = BODY.decode()
    assert verify(SECRET, _headers(), text, now=TS) == text
    assert verify(SECRET, list(_headers().items()), bytearray(BODY), now=TS) == text
    assert verify(SECRET, _headers(), memoryview(BODY), now=datetime.fromtimestamp(TS, UTC)) == text
    naive_utc = datetime.fromtimestamp(TS, UTC).replace(tzinfo=None)
    assert verify(SECRET, _headers(), BODY, now=naive_utc) == text
    assert Verifier(SECRET).verify(_headers(), text, now=TS) == text
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify(SECRET, _headers(), text + " ", now=TS)


@pytest.mark.parametrize(
    ("headers", "body", "now", "named"),
    [
        (_headers(), {"test": 1}, TS, "body must be the raw request body"),
        (_headers(), None, TS, "body must be the raw request body"),
        (["webhook-id"], BODY, TS, "headers must be a mapping or"),
        (42, BODY, TS, "headers must be a mapping or"),
        (_headers(), BODY, str(TS), "now must be Unix seconds"),
        (_headers(), BODY, True, "now must be Unix seconds"),
    ],
)
def test_arguments_of_the_wrong_type_say_what_is_expected(
    headers: object, body: object, now: object, named: str
) -> None:
    with pytest.raises(TypeError, match=named):
        verify(SECRET, headers, body, now=now)  # type: ignore[arg-type]


def test_error_is_in_library_tree() -> None:
    assert issubclass(WebhookVerificationError, BudError)


@pytest.mark.parametrize(
    ("now", "ok"),
    [
        (TS, True),
        (TS + 300, True),
        (TS - 300, True),
        (TS + 300.5, False),
        (TS + 301, False),
        (TS - 300.5, False),
        (TS - 301, False),
        (TS + 86_400 * 365, False),
        (0, False),
    ],
)
def test_timestamp_tolerance_both_ways(now: float, ok: bool) -> None:
    if ok:
        verify(SECRET, _headers(), BODY, now=now)
    else:
        with pytest.raises(WebhookVerificationError) as info:
            verify(SECRET, _headers(), BODY, now=now)
        assert info.value.reason == ("timestamp_too_old" if now > TS else "timestamp_too_new")


def test_custom_tolerance() -> None:
    verify(SECRET, _headers(), BODY, now=TS + 10, tolerance=10)
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, _headers(), BODY, now=TS + 11, tolerance=10)


def _drop(name: str) -> dict[str, str]:
    headers = _headers()
    del headers[name]
    return headers


@pytest.mark.parametrize(
    ("secrets", "headers", "body", "reason"),
    [
        (SECRET, _drop("webhook-id"), BODY, "missing_header"),
        (SECRET, _drop("webhook-timestamp"), BODY, "missing_header"),
        (SECRET, _drop("webhook-signature"), BODY, "missing_header"),
        (SECRET, _headers(webhook_id=""), BODY, "missing_header"),
        (SECRET, _headers(webhook_signature=""), BODY, "missing_header"),
        (SECRET, _headers(webhook_id="msg with space"), BODY, "invalid_id"),
        (SECRET, _headers(webhook_id="é"), BODY, "invalid_id"),
        (SECRET, _headers(webhook_id="x" * 257), BODY, "invalid_id"),
        (SECRET, _headers(webhook_timestamp=f"{TS}.0"), BODY, "invalid_timestamp"),
        (SECRET, _headers(webhook_timestamp=f" {TS}"), BODY, "invalid_timestamp"),
        (SECRET, _headers(webhook_timestamp=f"+{TS}"), BODY, "invalid_timestamp"),
        (SECRET, _headers(webhook_timestamp="-5"), BODY, "invalid_timestamp"),
        (SECRET, _headers(webhook_timestamp="1.6e9"), BODY, "invalid_timestamp"),
        (SECRET, _headers(webhook_timestamp="1_614_265_330"), BODY, "invalid_timestamp"),
        (SECRET, _headers(webhook_timestamp="١٦١٤٢٦٥٣٣٠"), BODY, "invalid_timestamp"),
        (SECRET, _headers(webhook_timestamp="9" * 40), BODY, "invalid_timestamp"),
        (SECRET, _headers(webhook_signature="garbage"), BODY, "no_signature"),
        (SECRET, _headers(webhook_signature="v1,"), BODY, "bad_signature"),
        (SECRET, _headers(webhook_signature="v1,@@not base64@@"), BODY, "no_signature"),
        (SECRET, _headers(webhook_signature="v2," + EXPECTED[3:]), BODY, "no_signature"),
        (SECRET, _headers(webhook_signature="v1a," + EXPECTED[3:]), BODY, "no_signature"),
        (
            SECRET,
            _headers(webhook_signature=" ".join([EXPECTED] * (MAX_SIGNATURES + 1))),
            BODY,
            "no_signature",
        ),
        (SECRET, _headers(), BODY + b" ", "bad_signature"),
        (SECRET, _headers(), b'{"test":2432232314}', "bad_signature"),
        (SECRET, _headers(webhook_id=MSG_ID + "x"), BODY, "bad_signature"),
        (SECRET, _headers(webhook_timestamp=str(TS + 1)), BODY, "bad_signature"),
        (OTHER, _headers(), BODY, "bad_signature"),
        ([], _headers(), BODY, "invalid_secret"),
        ("whsec_!!!!", _headers(), BODY, "invalid_secret"),
        ("whsec_", _headers(), BODY, "invalid_secret"),
        ([OTHER, "not base64 at all"], _headers(), BODY, "invalid_secret"),
    ],
)
def test_rejections(secrets: str | list[str], headers: dict[str, str], body: bytes, reason: str) -> None:
    with pytest.raises(WebhookVerificationError) as info:
        verify(secrets, headers, body, now=TS)
    assert info.value.reason == reason
    # the receiver's Verifier (secrets decoded once) refuses the same way, at build or at verify
    with pytest.raises(WebhookVerificationError) as again:
        Verifier(secrets).verify(headers, body, now=TS)
    assert again.value.reason == reason


def test_verifier_returns_the_body_text_and_is_reusable() -> None:
    verifier = Verifier([OTHER, SECRET])
    assert verifier.verify(_headers(), BODY, now=TS) == BODY.decode()
    assert verifier.verify(_headers(), BODY, now=TS) == BODY.decode()
    with pytest.raises(WebhookVerificationError):
        verifier.verify(_headers(), BODY + b" ", now=TS)


@pytest.mark.parametrize(
    "signature",
    [
        EXPECTED,
        f"v1,AAAA {EXPECTED}",
        f"{EXPECTED} v1,AAAA",
        f"v1a,whatever  v2,xyz {EXPECTED}",
        f"junk {EXPECTED}",
        " ".join(["v1,AAAA"] * (MAX_SIGNATURES - 1) + [EXPECTED]),
    ],
)
def test_several_signatures_any_match(signature: str) -> None:
    verify(SECRET, _headers(webhook_signature=signature), BODY, now=TS)


@pytest.mark.parametrize("secrets", [[SECRET, OTHER], [OTHER, SECRET], (SECRET,), SECRET])
def test_rotation_any_secret_matches(secrets: str | list[str] | tuple[str, ...]) -> None:
    verify(secrets, _headers(), BODY, now=TS)


def test_rotation_sender_signs_with_old_and_new() -> None:
    both = f"{sign(OTHER, MSG_ID, TS, BODY)} {EXPECTED}"
    verify([OTHER], _headers(webhook_signature=both), BODY, now=TS)
    verify([SECRET], _headers(webhook_signature=both), BODY, now=TS)


def test_header_names_are_case_insensitive() -> None:
    headers = {"Webhook-Id": MSG_ID, "WEBHOOK-TIMESTAMP": str(TS), "webhook-Signature": EXPECTED}
    verify(SECRET, headers, BODY, now=TS)


def test_non_utf8_body_with_valid_signature() -> None:
    body = b'{"x": "\xff"}'
    headers = signature_headers(SECRET, MSG_ID, body, TS)
    with pytest.raises(WebhookVerificationError) as info:
        verify(SECRET, headers, body, now=TS)
    assert info.value.reason == "invalid_body"


def test_secret_without_prefix_or_padding() -> None:
    raw = SECRET.removeprefix("whsec_")
    assert decode_secret(raw) == decode_secret(SECRET)
    unpadded = "whsec_" + base64.b64encode(b"x" * 25).decode().rstrip("=")
    assert decode_secret(unpadded) == b"x" * 25


def test_generate_secret() -> None:
    first, second = generate_secret(), generate_secret()
    assert first.startswith("whsec_") and first != second
    assert len(decode_secret(first)) == 32
    assert len(decode_secret(generate_secret(64))) == 64
    for bad in (8, 23, 65):
        with pytest.raises(ValueError):
            generate_secret(bad)


@pytest.mark.parametrize(("msg_id", "timestamp"), [("", TS), ("a b", TS), ("x", -1), ("x", True), ("x", 1.5)])
def test_sign_rejects_what_no_receiver_accepts(msg_id: str, timestamp: int) -> None:
    with pytest.raises(ValueError):
        sign(SECRET, msg_id, timestamp, BODY)


ids = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64)
keys = st.binary(min_size=24, max_size=64)
bodies = st.text(max_size=300).map(lambda s: s.encode("utf-8"))


def _whsec(key: bytes) -> str:
    return "whsec_" + base64.b64encode(key).decode()


@settings(max_examples=100)
@given(key=keys, msg_id=ids, body=bodies, timestamp=st.integers(0, 2**40))
def test_roundtrip_and_any_altered_byte_fails(key: bytes, msg_id: str, body: bytes, timestamp: int) -> None:
    secret = _whsec(key)
    headers = signature_headers(secret, msg_id, body, timestamp)
    verify(secret, headers, body, now=timestamp)
    altered = body + b"x" if not body else bytes([body[0] ^ 1]) + body[1:]
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, altered, now=timestamp)


@settings(max_examples=100)
@given(key=keys, msg_id=ids, body=bodies)
def test_standardwebhooks_verifies_ours(key: bytes, msg_id: str, body: bytes) -> None:
    secret = _whsec(key)
    now = int(time.time())
    headers = signature_headers(secret, msg_id, body, now)
    standardwebhooks.Webhook(secret).verify(body, headers, json_parse=False)


@settings(max_examples=100)
@given(key=keys, msg_id=ids, body=bodies)
def test_ours_verifies_standardwebhooks(key: bytes, msg_id: str, body: bytes) -> None:
    secret = _whsec(key)
    now = int(time.time())
    when = datetime.fromtimestamp(now, tz=UTC)
    signature = standardwebhooks.Webhook(secret).sign(msg_id, when, body.decode("utf-8"))
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(now), "webhook-signature": signature}
    verify(secret, headers, body, now=now)


def test_standardwebhooks_vector_agrees() -> None:
    when = datetime.fromtimestamp(TS, tz=UTC)
    assert standardwebhooks.Webhook(SECRET).sign(MSG_ID, when, BODY.decode()) == EXPECTED
