"""What every resource shares: the client handle, typed parsing, path segments, definitions.

Parsing failures of a 2xx answer become `BudError` naming the model, never a bare cattrs error, so
callers only ever catch our tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import quote

from budai_async._convert import converter, structure_page
from budai_async._fastdecode import decode_execution, decode_execution_page
from budai_async._responses import decode_body
from budai_async.errors import APIStatusError, BudError, NotFoundError, ValidationError
from budai_async.models import Execution, Page

if TYPE_CHECKING:
    from budai_async._requester import Requester

__all__ = [
    "DefinitionLike",
    "Resource",
    "SupportsBuild",
    "definition_dict",
    "parse",
    "parse_page",
    "read_execution",
    "read_execution_page",
    "segment",
    "unsupported",
]

T = TypeVar("T")


class SupportsBuild(Protocol):
    """Anything with a `build()` returning a definition dict, e.g. a DSL `PipelineBuilder`."""

    def build(self) -> dict[str, Any]: ...


DefinitionLike = Mapping[str, Any] | SupportsBuild


def definition_dict(value: DefinitionLike, name: str = "definition") -> dict[str, Any]:
    """A JSON definition from a dict or a builder; raises ValidationError for anything else."""
    if isinstance(value, Mapping):
        return dict(value)
    build = getattr(value, "build", None)
    if callable(build):
        built = build()
        if isinstance(built, Mapping):
            return dict(built)
    raise ValidationError(f"{name} must be a dict or a pipeline builder, got {type(value).__name__}")


def segment(value: str, name: str) -> str:
    """One URL path segment from an id, percent-encoded; raises ValidationError when empty."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{name} must be a non-empty string, got {value!r}")
    return quote(value, safe="")


def parse(data: Any, model: type[T]) -> T:
    """Structure an answer into `model`; raises BudError when the answer does not fit."""
    try:
        return converter.structure(data, model)
    except Exception as exc:  # cattrs raises several unrelated types (ClassValidationError, KeyError...)
        raise BudError(f"the server's answer is not a valid {model.__name__}: {exc}") from exc


def read_execution(body: bytes) -> Execution:
    """An execution answer: straight from the bytes in our server's shape (`_fastdecode`), else
    decoded and structured like any answer (`parse`), which reads every other shape."""
    return decode_execution(body) or parse(decode_body(body), Execution)


def read_execution_page(body: bytes) -> Page[Execution]:
    """A list answer of executions: straight from the bytes in our server's shape, else decoded and
    read like any page (`parse_page`: ours, the gateway's paginated one, a plain list)."""
    return decode_execution_page(body) or parse_page(decode_body(body), Execution)


def parse_page(data: Any, model: type[T]) -> Page[T]:
    """Structure a list answer (ours, the gateway's paginated one, or a plain list) into a Page."""
    try:
        return structure_page(data, model)
    except Exception as exc:
        raise BudError(f"the server's answer is not a page of {model.__name__}: {exc}") from exc


def _is_our_error(body: Any) -> bool:
    return isinstance(body, Mapping) and isinstance(body.get("error"), Mapping)


def unsupported(error: APIStatusError, operation: str) -> APIStatusError:
    """Re-word a 404/405 from a server without this route (the real gateway) as "not supported".

    Our server answers a missing resource with its ``{"error": {...}}`` body, which passes through
    unchanged; anything else on 404/405 means the route itself does not exist there.
    """
    if error.status_code not in (404, 405) or _is_our_error(error.body):
        return error
    cls = NotFoundError if error.status_code == 404 else APIStatusError
    return cls(
        f"{operation} is not supported by this server (HTTP {error.status_code}); it needs the "
        "budai local server or a gateway that has this route",
        status_code=error.status_code,
        request_id=error.request_id,
        body=error.body,
        headers=error.headers,
    )


class Resource:
    """Base of the resource groups: holds the `Requester` (the client) whose `request()` they call."""

    def __init__(self, client: Requester) -> None:
        self._client = client
