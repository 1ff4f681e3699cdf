"""The interop tests' adapter for the official client and the definitions they run (its DSL form and ours)."""

from __future__ import annotations

import asyncio
from operator import attrgetter
from typing import Any


class Official:
    """One official client, sync or async, behind an awaitable call by dotted method name."""

    def __init__(self, client: Any, *, is_async: bool) -> None:
        self.client = client
        self.is_async = is_async

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        fn = attrgetter(method)(self.client)
        if self.is_async:
            return await fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)


# The official SDK's `pipelines.create` / `validate` take nodes and convert them to the gateway's steps.
OFFICIAL_DAG: dict[str, Any] = {
    "nodes": [
        {"id": "greet", "type": "action", "action_id": "log", "config": {"message": "hi {{ params.who }}"}},
        {
            "id": "shout",
            "type": "action",
            "action_id": "transform",
            "config": {"input": "{{ params.who }}", "operation": "uppercase"},
            "depends_on": ["greet"],
        },
        {
            "id": "publish",
            "type": "action",
            "action_id": "set_output",
            "config": {"values": {"loud": "{{ steps.shout.output.result }}"}},
            "depends_on": ["shout"],
        },
    ],
    "metadata": {"name": "interop"},
}
STEP_IDS = ["greet", "shout", "publish"]

# The same pipeline as the gateway's definition (what `/budpipeline/run` and our SDK take).
DEFINITION: dict[str, Any] = {
    "name": "interop",
    "steps": [
        {"id": "greet", "action": "log", "params": {"message": "hi {{ params.who }}"}},
        {
            "id": "shout",
            "action": "transform",
            "params": {"input": "{{ params.who }}", "operation": "uppercase"},
            "depends_on": ["greet"],
        },
        {
            "id": "publish",
            "action": "set_output",
            "params": {"values": {"loud": "{{ steps.shout.output.result }}"}},
            "depends_on": ["shout"],
        },
    ],
}

SLOW_DAG: dict[str, Any] = {
    "nodes": [{"id": "nap", "type": "action", "action_id": "delay", "config": {"seconds": 30}}],
    "metadata": {"name": "slow"},
}

FAILING_DAG: dict[str, Any] = {
    "nodes": [{"id": "boom", "type": "action", "action_id": "fail", "config": {"message": "no luck"}}],
    "metadata": {"name": "failing"},
}
