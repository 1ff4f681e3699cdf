"""The server's OpenAPI 3.1 document, served at ``GET /openapi.json`` (docs/openapi.md).

Built from data in this package: `paths` lists every route, `components` the schemas, with the
wire models' schemas derived from their attrs classes (`schema.model_schema`). The contract test
(`tests/contract/test_openapi.py`) checks the document against the routes the app registers and
runs the real server against every operation.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from budai_server.openapi.components import components
from budai_server.openapi.operations import WEBSOCKET_EXTENSION
from budai_server.openapi.paths import paths

__all__ = ["DOCUMENT_PATH", "OPENAPI_VERSION", "WEBSOCKET_EXTENSION", "build_document"]

DOCUMENT_PATH = "/openapi.json"
OPENAPI_VERSION = "3.1.0"

_DESCRIPTION = """\
The REST and websocket API of `budai-server`, the local BudAI-compatible pipeline server.

* JSON in and out; timestamps are ISO-8601 UTC with `Z`; ids look like `pipe_...` and `exec_...`.
* `Authorization: Bearer <api key>` on every route but `/health` and `/openapi.json`, when the
  server was started with an API key.
* Every 4xx/5xx body is `{"error": {"code", "message", "details"}}`; for 422, `details` lists every
  faulty field as `{path, message, code}`. Unknown fields are refused (422 `unknown_field`).
* Every response carries `X-Request-ID`; send your own (1-128 characters of `[A-Za-z0-9._:-]`) to
  have it echoed.
* Every POST honours `Idempotency-Key`.
* A route called with a method it does not have answers 405 with `Allow`. With fault injection
  switched on (for retry tests, off by default), matching routes may also answer 429 or 503.
* Websocket routes are described as GETs answered `101`; their frames are in `x-websocket`.
"""


def _version() -> str:
    try:
        return metadata.version("budai-async")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def build_document() -> dict[str, Any]:
    """The whole OpenAPI document as JSON-ready data (a new copy on every call)."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "budai-server API",
            "version": _version(),
            "description": _DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/", "description": "the server that serves this document"}],
        "tags": [
            {"name": "pipelines", "description": "Stored pipeline definitions"},
            {"name": "executions", "description": "Runs of pipelines and ephemeral definitions"},
            {"name": "logs", "description": "Execution log lines, read or followed live"},
            {"name": "fan-out", "description": "Many executions at once: batch create, watch, wait"},
            {"name": "callbacks", "description": "Signed callback deliveries"},
            {"name": "actions", "description": "The catalogue of step actions"},
            {"name": "service", "description": "Health, readiness, metrics, this document"},
        ],
        "security": [{"bearerAuth": []}],
        "paths": paths(),
        "components": components(),
    }
