"""Answers to exceptions, for our error body and the real gateway's shapes (tables)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from budai_async._responses import decode_body, error_from_response, error_message, request_id_of
from budai_async.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)

NOW = datetime(2026, 3, 14, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", None),
        (b'{"a": 1}', {"a": 1}),
        (b"[1, 2]", [1, 2]),
        (b"<html>oops</html>", "<html>oops</html>"),
        (b"\xff\xfe", "\ufffd\ufffd"),
    ],
)
def test_decode_body(body: bytes, expected: Any) -> None:
    assert decode_body(body) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"error": {"code": "not_found", "message": "pipeline 'p' not found", "details": {}}},
            "pipeline 'p' not found",
        ),
        (
            {"object": "error", "message": "Pipeline not found", "type": "NotFoundError", "code": 404},
            "Pipeline not found",
        ),
        (
            {"detail": {"error": {"code": "NOT_FOUND", "message": "Execution not found"}}},
            "Execution not found",
        ),
        (
            {
                "detail": {
                    "error": "Validation failed",
                    "errors": ["Step 'deploy' depends on unknown step 'x'"],
                }
            },
            "Validation failed: Step 'deploy' depends on unknown step 'x'",
        ),
        ({"detail": {"error": "Validation failed"}}, "Validation failed"),
        ({"detail": "Not Found"}, "Not Found"),
        ({"error": "TooManyRequests", "message": "Rate limit exceeded"}, "Rate limit exceeded"),
        ({"error": "TooManyRequests"}, "TooManyRequests"),
        ({}, "HTTP 418"),
        ([1, 2], "HTTP 418"),
        ("  plain text  ", "plain text"),
        ("", "HTTP 418"),
        (None, "HTTP 418"),
    ],
)
def test_error_message(body: Any, message: str) -> None:
    assert error_message(body, 418) == message


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (405, APIStatusError),
        (409, ConflictError),
        (413, BadRequestError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
    ],
)
def test_error_class_status_request_id_and_body(status: int, cls: type[APIStatusError]) -> None:
    body = {"error": {"code": "x", "message": "went wrong", "details": [{"path": "name"}]}}
    error = error_from_response(
        status,
        {"X-Request-ID": "req_1", "Content-Type": "application/json"},
        json.dumps(body).encode(),
        now=NOW,
    )
    assert type(error) is cls
    assert error.status_code == status
    assert error.request_id == "req_1"
    assert error.body == body
    assert error.code == "x"
    assert error.details == [{"path": "name"}]
    assert str(error) == error.message == "went wrong"  # openai-python's spelling too


def test_context_is_appended() -> None:
    error = error_from_response(404, {}, b'{"detail": "Not Found"}', now=NOW, context="GET /x")
    assert str(error) == "Not Found (GET /x)"


@pytest.mark.parametrize(
    ("headers", "body", "retry_after"),
    [
        ({"Retry-After": "60"}, {"error": "TooManyRequests", "retry_after_seconds": 60}, 60.0),
        ({"retry-after": "2.5"}, {}, 2.5),
        ({}, {"error": "TooManyRequests", "retry_after_seconds": 7}, 7.0),
        ({}, {"retry_after": 3}, 3.0),
        ({}, {"retry_after_seconds": True}, None),
        ({}, {}, None),
        ({"Retry-After": "Sat, 14 Mar 2026 10:00:05 GMT"}, {}, 5.0),
    ],
)
def test_rate_limit_retry_after(headers: dict[str, str], body: Any, retry_after: float | None) -> None:
    error = error_from_response(429, headers, json.dumps(body).encode(), now=NOW)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == retry_after


@pytest.mark.parametrize(
    ("headers", "body", "request_id"),
    [
        ({"X-Request-ID": "req_9"}, None, "req_9"),
        ({"x-request-id": "req_8"}, None, "req_8"),
        ({}, {"detail": {"error": {"message": "m"}, "correlation_id": "c-1"}}, "c-1"),
        ({}, {"detail": "x"}, None),
        ({}, None, None),
    ],
)
def test_request_id(headers: dict[str, str], body: Any, request_id: str | None) -> None:
    assert request_id_of(headers, body) == request_id
