"""Raw responses: ``client.with_raw_response.executions.get(eid)`` gives status, headers and request id.

Modelled on openai-python's ``with_raw_response``: the same resource methods, answering an
`APIResponse` that holds the parsed model beside the HTTP details of the call's last answer. The
transport records answers only while such a call runs (one context variable), so ordinary calls
pay nothing for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Generic, ParamSpec, TypeVar

import attrs

from budai_async._http import RecordedResponse, recording_responses
from budai_async._responses import request_id_of
from budai_async.errors import BudError

__all__ = ["APIResponse", "raw_response"]

T = TypeVar("T")
P = ParamSpec("P")


@attrs.frozen(kw_only=True)
class APIResponse(Generic[T]):
    """A call's parsed result with the HTTP details of its last answer.

    `request_id` is the server's ``X-Request-ID`` (the id this client sent, echoed), `headers` the
    answer's headers (case-insensitive), `responses` every answer the call saw, in order (a
    ``wait=True`` create makes several requests).
    """

    parsed: T
    status_code: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    request_id: str | None
    responses: Sequence[RecordedResponse] = attrs.field(repr=False)

    def parse(self) -> T:
        """The parsed model (openai-python spelling)."""
        return self.parsed


async def raw_response(
    call: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
) -> APIResponse[T]:
    """Run one awaitable SDK call and return its result with the HTTP details (typed form)."""
    recorded: list[RecordedResponse] = []
    token = recording_responses.set(recorded)
    try:
        parsed = await call(*args, **kwargs)
    finally:
        recording_responses.reset(token)
    if not recorded:
        raise BudError(f"{getattr(call, '__qualname__', call)!r} made no HTTP request to report on")
    last, sent_id = recorded[-1]
    return APIResponse(
        parsed=parsed,
        status_code=last.status,
        headers=last.headers,
        request_id=request_id_of(last.headers) or sent_id,
        responses=tuple(recorded),
    )
