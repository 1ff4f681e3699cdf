"""The document's `components`: schemas, parameters, headers, responses, the security scheme."""

from __future__ import annotations

from typing import Any

from budai_server.openapi.answers import answer_schemas, headers, responses
from budai_server.openapi.bodies import parameters, request_schemas
from budai_server.openapi.trigger_schemas import trigger_schemas

__all__ = ["components"]


def components() -> dict[str, Any]:
    """The `components` object of the document."""
    return {
        "schemas": {**answer_schemas(), **request_schemas(), **trigger_schemas()},
        "parameters": parameters(),
        "headers": headers(),
        "responses": responses(),
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "The server's API key (`--api-key`); not needed when it has none.",
            }
        },
    }
