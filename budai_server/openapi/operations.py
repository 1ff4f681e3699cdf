"""Builders of the document's operations: the parts every route shares, written once.

An operation's error answers are the shared `Error` responses; what every POST can answer
(the `Idempotency-Key` faults) and what every body can answer (400, 413, 422) are added here, so
the paths table lists only what is particular to a route.
"""

from __future__ import annotations

from typing import Any

from budai_server.openapi.schema import Schema, ref

__all__ = [
    "REQUEST_ID",
    "WEBSOCKET_EXTENSION",
    "json_answer",
    "links",
    "operation",
    "param",
    "query",
    "websocket",
]

WEBSOCKET_EXTENSION = "x-websocket"

REQUEST_ID = {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}}
_REPLAYED = {"Idempotent-Replayed": {"$ref": "#/components/headers/Idempotent-Replayed"}}


def param(name: str) -> Schema:
    """A reference to a shared parameter of ``components.parameters``."""
    return {"$ref": f"#/components/parameters/{name}"}


def _free_text(schema: Schema) -> bool:
    """A plain string (or array of them): an empty value is already one of its values."""
    if schema.get("type") == "array":
        return _free_text(schema.get("items", {}))
    return schema == {"type": "string"}


def query(name: str, schema: Schema, description: str, **more: Any) -> Schema:
    """An optional query parameter; the routes read an empty value as absent, so it is allowed."""
    parameter: Schema = {"name": name, "in": "query", "required": False, "schema": schema}
    if not _free_text(schema):
        parameter["allowEmptyValue"] = True
        description += " (an empty value counts as absent)"
    return {**parameter, "description": description, **more}


def links(table: dict[str, str], parameter: str) -> Schema:
    """Links from a created resource to the operations taking its `id` as `parameter`."""
    return {
        name: {"operationId": target, "parameters": {parameter: "$response.body#/id"}}
        for name, target in table.items()
    }


def json_answer(schema: Schema, description: str, *, linked: Schema | None = None) -> Schema:
    """A JSON success answer (with `X-Request-ID`, and `links` to follow when given)."""
    response: Schema = {
        "description": description,
        "headers": dict(REQUEST_ID),
        "content": {"application/json": {"schema": schema}},
    }
    if linked:
        response["links"] = linked
    return response


def operation(
    operation_id: str,
    summary: str,
    tag: str,
    answers: dict[str, Schema],
    *,
    errors: tuple[int, ...] = (),
    parameters: tuple[Schema, ...] = (),
    body: Schema | None = None,
    body_required: bool = True,
    example: Any = None,
    description: str = "",
    public: bool = False,
    post: bool = False,
) -> Schema:
    """One operation; error statuses are answered with the shared `Error` responses.

    `post` adds the `Idempotency-Key` header and what every POST can answer (400 for a bad key,
    409 while the same key is in flight, 422 for a key reused with another body).
    """
    statuses = set(errors) | ({400, 409, 422} if post else set()) | ({400, 413, 422} if body else set())
    if not public:
        statuses.add(401)
    responses: dict[str, Schema] = dict(answers)
    if post:  # a stored answer replayed for a repeated Idempotency-Key says so
        for code, answer in answers.items():
            if code.startswith("2"):
                responses[code] = {**answer, "headers": {**answer.get("headers", {}), **_REPLAYED}}
    for status in sorted(statuses):
        responses[str(status)] = {"$ref": f"#/components/responses/Error{status}"}
    result: Schema = {"operationId": operation_id, "summary": summary, "tags": [tag]}
    if description:
        result["description"] = description
    params = [*parameters, *((param("IdempotencyKey"),) if post else ())]
    if params:
        result["parameters"] = params
    if body is not None:
        media: Schema = {"schema": body}
        if example is not None:
            media["example"] = example
        result["requestBody"] = {"required": body_required, "content": {"application/json": media}}
    result["responses"] = responses
    if public:
        result["security"] = []
    return result


def websocket(
    operation_id: str,
    summary: str,
    tag: str,
    *,
    parameters: tuple[Schema, ...],
    server_frames: str,
    client_frames: str | None,
    close_codes: dict[str, str],
    description: str,
    errors: tuple[int, ...],
) -> Schema:
    """A websocket route: a GET answered 101 on upgrade; the frames are in `x-websocket`."""
    found = operation(
        operation_id,
        summary,
        tag,
        {"101": {"description": "Switching Protocols: the websocket is open.", "headers": REQUEST_ID}},
        errors=(400, *errors),
        parameters=parameters,
        description=description,
    )
    extension: Schema = {"serverFrames": ref(server_frames), "closeCodes": close_codes}
    if client_frames is not None:
        extension["clientFrames"] = ref(client_frames)
    found[WEBSOCKET_EXTENSION] = extension
    return found
