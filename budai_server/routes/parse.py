"""Strict parsing of request bodies and query strings into typed values, naming each bad field.

`Fields` wraps a JSON object and collects every fault (wrong type, unknown key, out of range) so one
422 lists all of them; `QueryFields` does the same for a query string. Paths are relative to the
body root (``callbacks.on_complete``, ``tags[2]``) or are the query parameter's name (``limit``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiMapping

from budai_server.appkeys import CONFIG
from budai_server.limits import MAX_TAG_LENGTH, MAX_TAGS
from budai_server.nesting import exceeds_depth
from budai_server.outbound.policy import OutboundPolicy
from budai_server.routes.errors import ApiError

__all__ = ["MISSING", "Fields", "QueryFields", "issue", "over_limit", "read_empty_body", "read_json_object"]

E = TypeVar("E")

MISSING: Any = object()
MAX_NAME_LENGTH = 200


def issue(path: str, message: str, code: str = "invalid") -> dict[str, Any]:
    """One entry of a 422's `details`."""
    return {"path": path, "message": message, "code": code}


def over_limit(path: str, value: float, maximum: float, limit: str) -> dict[str, Any]:
    """A 422 `details` entry for a value over a configurable limit; `maximum` lets a client adapt."""
    message = f"{value:g} is over the limit: at most {maximum:g} ({limit})"
    return {**issue(path, message, "over_limit"), "limit": limit, "maximum": maximum}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def read_json_object(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The body as a JSON object; 400 when it is not JSON or not an object.

    With `optional`, an empty body reads as ``{}`` (for cancel/retry, whose bodies are optional).
    A body nesting arrays and objects deeper than the server's `max_json_depth` is answered 422
    before it is parsed (the parser, and every walk over the value, recurse once per level).
    """
    raw = await request.read()
    if not raw.strip():
        if optional:
            return {}
        raise ApiError(400, "request body is empty; send a JSON object", code="invalid_json")
    max_depth = request.app[CONFIG].max_json_depth
    if exceeds_depth(raw, max_depth):
        message = f"request body nests arrays and objects deeper than {max_depth} levels (max_json_depth)"
        raise ApiError.invalid([issue("body", message, "too_deep")], message)
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise ApiError(400, "request body is not UTF-8 text", code="invalid_json") from exc
    except ValueError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}", code="invalid_json") from exc
    if not isinstance(data, dict):
        raise ApiError(
            400, f"request body must be a JSON object, not {_type_name(data)}", code="invalid_json"
        )
    return data


async def read_empty_body(request: web.Request) -> None:
    """An action's optional body that may hold no fields (the OpenAPI `EmptyBody`): none, ``{}``, or
    a 400/422 naming what is wrong, like any body."""
    Fields(await read_json_object(request, optional=True), allowed=()).check()


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a host (urlsplit raises ValueError for a bad IPv6 host)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


class Fields:
    """Typed access to one JSON object's fields; faults accumulate in `issues`."""

    def __init__(self, data: Mapping[str, Any], *, allowed: Collection[str], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix
        self.issues: list[dict[str, Any]] = []
        for key in data:
            if key not in allowed:
                self.issues.append(
                    issue(
                        _join(prefix, key),
                        f"unknown field; expected one of: {', '.join(sorted(allowed))}",
                        "unknown_field",
                    )
                )

    def path(self, name: str) -> str:
        return _join(self.prefix, name)

    def fail(self, name: str, message: str, code: str = "invalid") -> None:
        self.issues.append(issue(self.path(name), message, code))

    def check(self) -> None:
        """Raise a 422 listing every fault found so far."""
        if self.issues:
            raise ApiError.invalid(self.issues)

    def has(self, name: str) -> bool:
        return name in self.data

    def _typed(self, name: str, kinds: tuple[type, ...], label: str, required: bool, nullable: bool) -> Any:
        if name not in self.data:
            if required:
                self.fail(name, "field is required", "required")
            return MISSING
        value = self.data[name]
        if value is None:
            if nullable:
                return None
            self.fail(name, f"must be {label}, not null", "type")
            return MISSING
        if isinstance(value, bool) and bool not in kinds:
            self.fail(name, f"must be {label}, not boolean", "type")
            return MISSING
        if not isinstance(value, kinds):
            self.fail(name, f"must be {label}, not {_type_name(value)}", "type")
            return MISSING
        return value

    def string(
        self,
        name: str,
        *,
        required: bool = False,
        nullable: bool = False,
        max_length: int = 10_000,
        non_empty: bool = True,
    ) -> Any:
        """A string (stripped of nothing), MISSING when absent or faulty."""
        value = self._typed(name, (str,), "a string", required, nullable)
        if isinstance(value, str):
            if non_empty and not value.strip():
                self.fail(name, "must not be empty", "empty")
                return MISSING
            if len(value) > max_length:
                self.fail(name, f"must be at most {max_length} characters", "too_long")
                return MISSING
        return value

    def obj(self, name: str, *, required: bool = False, nullable: bool = False) -> Any:
        return self._typed(name, (dict,), "an object", required, nullable)

    def number(
        self,
        name: str,
        *,
        nullable: bool = True,
        exclusive_minimum: float | None = None,
        maximum: float | None = None,
    ) -> Any:
        value = self._typed(name, (int, float), "a number", False, nullable)
        if isinstance(value, int | float):
            if not math.isfinite(value):
                self.fail(name, "must be a finite number", "range")
                return MISSING
            if exclusive_minimum is not None and value <= exclusive_minimum:
                self.fail(name, f"must be greater than {exclusive_minimum:g}", "range")
                return MISSING
            if maximum is not None and value > maximum:
                self.fail(name, f"must be at most {maximum:g}", "range")
                return MISSING
            return float(value)
        return value

    def choice(self, name: str, choices: Iterable[str], convert: Callable[[str], E]) -> E | Any:
        """One of `choices` (case-insensitive), converted; MISSING when absent or faulty."""
        options = list(choices)
        value = self._typed(name, (str,), "a string", False, False)
        if isinstance(value, str):
            lowered = value.lower()
            if lowered not in options:
                self.fail(name, f"must be one of: {', '.join(options)}", "enum")
                return MISSING
            return convert(lowered)
        return value

    def tags(self, name: str = "tags") -> Any:
        """A list of distinct non-empty strings (duplicates dropped, order kept)."""
        value = self._typed(name, (list,), "an array of strings", False, True)
        if value is None or value is MISSING:
            return value
        if len(value) > MAX_TAGS:
            self.fail(name, f"at most {MAX_TAGS} tags are allowed", "too_many")
            return MISSING
        tags: list[str] = []
        ok = True
        for index, tag in enumerate(value):
            path = f"{name}[{index}]"
            if not isinstance(tag, str) or not tag.strip():
                self.fail(path, "each tag must be a non-empty string", "type")
                ok = False
            elif len(tag) > MAX_TAG_LENGTH or "," in tag:
                self.fail(path, f"a tag has at most {MAX_TAG_LENGTH} characters and no comma", "invalid")
                ok = False
            elif tag not in tags:
                tags.append(tag)
        return tags if ok else MISSING

    def callbacks(self, name: str = "callbacks", *, policy: OutboundPolicy | None = None) -> Any:
        """``{on_complete?, on_failure?}`` with absolute http(s) URLs; with `policy`, a URL it refuses
        without DNS (literal addresses, ``localhost``) is a fault too (code ``outbound_refused``)."""
        value = self._typed(name, (dict,), "an object", False, True)
        if not isinstance(value, dict):
            return value
        sub = Fields(value, allowed=("on_complete", "on_failure"), prefix=self.path(name))
        result: dict[str, str] = {}
        for key in ("on_complete", "on_failure"):
            url = sub.string(key, nullable=True, max_length=2048)
            if isinstance(url, str):
                refused = None if policy is None else policy.refusal_without_dns(url)
                if not _is_http_url(url):
                    sub.fail(key, "must be an absolute http(s) URL", "url")
                elif refused is not None:
                    sub.issues.append(
                        {**issue(sub.path(key), str(refused), "outbound_refused"), "rule": refused.rule}
                    )
                else:
                    result[key] = url
        self.issues.extend(sub.issues)
        return MISSING if sub.issues else result


class QueryFields:
    """Typed access to query parameters; faults accumulate and `check` raises one 422."""

    def __init__(self, query: MultiMapping[str]) -> None:
        self.query = query
        self.issues: list[dict[str, Any]] = []

    def fail(self, name: str, message: str, code: str = "invalid") -> None:
        self.issues.append(issue(name, message, code))

    def check(self) -> None:
        if self.issues:
            raise ApiError.invalid(
                self.issues,
                "invalid query parameter: " + ", ".join(str(entry["path"]) for entry in self.issues),
            )

    def string(self, name: str) -> str | None:
        value = self.query.get(name)
        return value if value else None

    def integer(self, name: str, *, default: int, minimum: int, maximum: int) -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            self.fail(name, f"must be an integer, got {raw!r}", "type")
            return default
        if not minimum <= value <= maximum:
            self.fail(name, f"must be between {minimum} and {maximum}, got {value}", "range")
            return default
        return value

    def number(self, name: str, *, minimum: float) -> float | None:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return None
        try:
            value = float(raw)
        except ValueError:
            self.fail(name, f"must be a number, got {raw!r}", "type")
            return None
        if not math.isfinite(value) or value < minimum:
            self.fail(name, f"must be a number >= {minimum:g}, got {raw!r}", "range")
            return None
        return value

    def choice(self, name: str, choices: Iterable[str], default: str) -> str:
        options = list(choices)
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        if raw.lower() not in options:
            self.fail(name, f"must be one of: {', '.join(options)}; got {raw!r}", "enum")
            return default
        return raw.lower()

    def values(self, name: str) -> list[str]:
        """Every value of a repeatable, comma-separated parameter, blanks dropped, order kept."""
        found: list[str] = []
        for raw in self.query.getall(name, []):
            for part in raw.split(","):
                part = part.strip()
                if part and part not in found:
                    found.append(part)
        return found

    def timestamp(self, name: str) -> datetime | None:
        """A date (midnight UTC) or an ISO-8601 datetime (naive means UTC)."""
        raw = self.query.get(name)
        if raw is None or raw == "":
            return None
        text = raw.strip()
        try:
            if len(text) == 10:
                return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
            parsed = datetime.fromisoformat(text.replace(" ", "+") if "T" in text else text)
        except ValueError:
            self.fail(name, f"must be a date (YYYY-MM-DD) or an ISO-8601 datetime, got {raw!r}", "type")
            return None
        try:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
        except OverflowError:  # year 1 with an offset east of UTC, year 9999 west of it
            self.fail(name, f"is outside the supported range (years 1 to 9999 in UTC), got {raw!r}", "range")
            return None
