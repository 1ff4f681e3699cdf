"""Small helpers for the server API tests: create pipelines, run them, wait for the end."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]


def step(step_id: str, action: str, **params: Any) -> dict[str, Any]:
    return {"id": step_id, "action": action, "params": params}


def delay_definition(seconds: float, *, steps: int = 1) -> dict[str, Any]:
    """`steps` delay steps in a chain, each waiting `seconds`."""
    chain = [step("wait_0", "delay", seconds=seconds)]
    for index in range(1, steps):
        chain.append({**step(f"wait_{index}", "delay", seconds=seconds), "depends_on": [f"wait_{index - 1}"]})
    return {"steps": chain}


LOG_DEFINITION: dict[str, Any] = {
    "steps": [
        step("hello", "log", message="hello {{ params.who }}", level="info"),
        {
            **step("shout", "transform", input="{{ params.who }}", operation="uppercase"),
            "depends_on": ["hello"],
        },
    ],
    "outputs": {"shouted": "{{ steps.shout.output.result }}"},
}


async def json_of(client: Client, method: str, path: str, *, expect: int, **kwargs: Any) -> Any:
    """Send a request, assert the status, return the parsed JSON body (None for an empty body)."""
    response = await client.request(method, path, **kwargs)
    text = await response.text()
    assert response.status == expect, f"{method} {path} -> {response.status}: {text}"
    return await response.json() if text else None


async def create_pipeline(client: Client, definition: dict[str, Any], name: str = "p", **fields: Any) -> Any:
    body = {"name": name, "definition": definition, **fields}
    return await json_of(client, "POST", "/budpipeline", json=body, expect=201)


async def execute(client: Client, pipeline_id: str, **body: Any) -> Any:
    return await json_of(client, "POST", f"/budpipeline/{pipeline_id}/execute", json=body, expect=201)


async def wait_done(client: Client, execution_id: str, seconds: float = 10.0) -> Any:
    """Long-poll until the execution is terminal; fails the test if it is not by then."""
    execution = await json_of(
        client, "GET", f"/budpipeline/executions/{execution_id}", params={"wait": str(seconds)}, expect=200
    )
    assert execution["status"] not in ("pending", "running"), execution
    return execution


async def run(client: Client, definition: dict[str, Any], **body: Any) -> Any:
    """Run a definition ephemerally and wait for its end."""
    created = await json_of(
        client, "POST", "/budpipeline/run", json={"pipeline_definition": definition, **body}, expect=201
    )
    return await wait_done(client, created["id"])


def steps_of(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An execution's wire `steps` (a list of step objects) by step id, `status` being our full
    status (`run_status`; the wire's `status` is the official SDK's coarse one)."""
    return {step["id"]: {**step, "status": step["run_status"]} for step in execution["steps"]}
