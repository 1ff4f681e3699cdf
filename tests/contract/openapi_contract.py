"""Checks one real answer against the OpenAPI document: status documented, headers, body schema.

`Contract.call` sends a request through an aiohttp test client, finds the operation the document
declares for the route, and fails unless the status is one the operation documents, every required
response header is present and the body validates (JSON Schema 2020-12, `$ref`s resolved inside the
document, `date-time` checked as RFC 3339). It records which operations answered with success and
with an error, so a test can demand that every operation was exercised both ways.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_URI = "urn:budai:openapi"
METHODS = ("get", "put", "post", "delete", "patch")
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

Client = TestClient[web.Request, web.Application]


def _date_time(value: object) -> bool:
    return not isinstance(value, str) or _RFC3339.match(value) is not None


FORMATS = FormatChecker()
FORMATS.checks("date-time")(_date_time)


def pointer_part(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


def operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template, operation) for every operation of the document."""
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


class Contract:
    """The document, a validator factory over it, and the record of what was exercised."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
        self.by_route = {(method, path): op for method, path, op in operations(document)}
        self.succeeded: set[str] = set()
        self.refused: set[str] = set()
        self.statuses: dict[str, set[int]] = defaultdict(set)
        self.last_headers: Mapping[str, str] = {}

    def validator(self, pointer: str) -> Draft202012Validator:
        """A validator for the schema at `pointer` in the document (its `$ref`s resolve)."""
        return Draft202012Validator(
            {"$ref": f"{DOCUMENT_URI}#{pointer}"}, registry=self.registry, format_checker=FORMATS
        )

    def resolve(self, node: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
        """Follow a local `$ref` (to components) and return the target and its pointer."""
        while "$ref" in node:
            target = node["$ref"]
            assert target.startswith("#/"), target
            pointer = target[1:]
            node = self.document
            for part in pointer.split("/")[1:]:
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, pointer

    def validate(self, pointer: str, instance: Any) -> None:
        errors = sorted(self.validator(pointer).iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, f"{pointer}: " + "; ".join(
            f"{list(error.absolute_path)}: {error.message}" for error in errors[:5]
        )

    def check_answer(
        self, method: str, path: str, status: int, headers: Mapping[str, str], body: bytes
    ) -> Any:
        """Assert that `status`/`headers`/`body` is a documented answer of the operation; return the JSON."""
        operation = self.by_route[(method, path)]
        op_pointer = f"/paths/{pointer_part(path)}/{method.lower()}"
        responses = operation["responses"]
        assert str(status) in responses, (
            f"{operation['operationId']}: {status} is not documented ({', '.join(responses)}); "
            f"body: {body[:300]!r}"
        )
        response, pointer = self.resolve(responses[str(status)], f"{op_pointer}/responses/{status}")
        for name, header in response.get("headers", {}).items():
            header, _ = self.resolve(header, "")
            if header.get("required"):
                assert name in headers, f"{operation['operationId']} {status}: no {name} header"
        content = response.get("content", {})
        data: Any = None
        if not content:
            assert not body, f"{operation['operationId']} {status}: undocumented body {body[:200]!r}"
        else:
            media = headers.get("Content-Type", "").split(";")[0].strip()
            assert media in content, f"{operation['operationId']} {status}: content type {media!r}"
            if media == "application/json":
                data = json.loads(body)
                self.validate(f"{pointer}/content/{pointer_part(media)}/schema", data)
            else:
                data = body.decode()
        self.statuses[operation["operationId"]].add(status)
        (self.succeeded if status < 400 else self.refused).add(operation["operationId"])
        return data

    async def call(
        self,
        client: Client,
        method: str,
        path: str,
        expect: int,
        *,
        path_params: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send one request to the route `path` (a template of the document) and check the answer."""
        url = path
        for name, value in (path_params or {}).items():
            url = url.replace("{" + name + "}", quote(value, safe=""))
        async with client.request(method, url, **kwargs) as response:
            body = await response.read()
            self.last_headers = response.headers
            assert response.status == expect, (
                f"{method} {url}: expected {expect}, got {response.status}: {body[:300]!r}"
            )
            return self.check_answer(method, path, response.status, response.headers, body)

    def upgraded(self, method: str, path: str) -> None:
        """Record a websocket route that switched protocols (aiohttp's client checked the 101)."""
        operation = self.by_route[(method, path)]
        assert "101" in operation["responses"], operation["operationId"]
        self.statuses[operation["operationId"]].add(101)
        self.succeeded.add(operation["operationId"])

    def frames_validator(self, method: str, path: str, key: str) -> Draft202012Validator:
        """The validator of a websocket route's `x-websocket` frames (`serverFrames`/`clientFrames`)."""
        extension = self.by_route[(method, path)]["x-websocket"]
        _node, pointer = self.resolve(extension[key], "")
        return self.validator(pointer)
