"""The guide's Resilient Deployment end to end: healthy, unhealthy and failing-deploy clusters.

The real server runs the guide's pipeline (its ``"params": { ... }`` for `deploy` filled with the
execution's ``model_id`` / ``cluster_id``) with callbacks pointing at the real receiver; each run must
end as its title promises and reach the right handler with the health or deploy error.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from budai_async import AsyncBudClient
from budai_async.models import Execution
from budai_server.config import InventorySettings
from receiver import CallbackEvent, Handlers, Receiver

SECRET = "whsec_cmVzaWxpZW50IGRlcGxveW1lbnQgc2VjcmV0ISE="
SCHEDULE = (0.0, 0.05, 0.1, 0.2, 0.3)

RESILIENT: dict[str, Any] = {  # the guide's definition, word for word but for deploy's params
    "steps": [
        {
            "id": "health_check",
            "action": "cluster_health",
            "params": {"cluster_id": "{{ params.cluster_id }}"},
            "retry": {"max_attempts": 3, "backoff_multiplier": 2, "initial_delay_seconds": 0.01},
        },
        {
            "id": "deploy",
            "action": "deployment_create",
            "params": {"model_id": "{{ params.model_id }}", "cluster_id": "{{ params.cluster_id }}"},
            "depends_on": ["health_check"],
            "condition": "steps.health_check.output.status == 'healthy'",
        },
        {
            "id": "notify_failure",
            "action": "notification",
            "params": {"message": "Deployment failed", "channel": "slack"},
            "condition": "steps.deploy.status == 'failed'",
        },
    ]
}


class Seen:
    """Receiver handlers recording the events each got."""

    def __init__(self) -> None:
        self.handlers = Handlers()
        self.events: dict[str, list[CallbackEvent]] = {"completed": [], "failed": []}
        self.changed = asyncio.Event()

        @self.handlers.on_complete(name="completed")
        async def completed(event: CallbackEvent) -> None:
            self.events["completed"].append(event)
            self.changed.set()

        @self.handlers.on_failure(name="failed")
        async def failed(event: CallbackEvent) -> None:
            self.events["failed"].append(event)
            self.changed.set()

    async def one_for(self, execution_id: str) -> tuple[str, CallbackEvent]:
        async with asyncio.timeout(10):
            while True:
                found = [
                    (kind, e)
                    for kind, got in self.events.items()
                    for e in got
                    if e.execution_id == execution_id
                ]
                if found:
                    assert len(found) == 1, found
                    return found[0]
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def setup(aiohttp_server: Any, make_bud_server: Any, tmp_path: Path) -> tuple[str, str, Seen]:
    """A receiver and a server whose `cluster_dev` is unhealthy; (server base URL, webhook URL, seen)."""
    seen = Seen()
    receiver = Receiver(
        SECRET,
        store=f"sqlite:///{tmp_path}/rx.db",
        handlers=seen.handlers,
        poll_interval=0.05,
        shutdown_timeout=1,
    )
    rx: TestServer = await aiohttp_server(receiver.create_app())
    server: TestServer = await make_bud_server(
        webhook_secret=SECRET,
        callback_retry_schedule=SCHEDULE,
        callback_jitter=0.0,
        inventory=InventorySettings(latency_seconds=0.0, unhealthy_clusters=("cluster_dev",), seed=7),
    )
    return str(server.make_url("")).rstrip("/"), str(rx.make_url("/webhooks")), seen


async def _run(client: AsyncBudClient, hook: str, model_id: str, cluster_id: str) -> Execution:
    pipeline = await client.pipelines.create(name="Resilient Deployment", definition=copy.deepcopy(RESILIENT))
    return await client.executions.create(
        pipeline.id,
        params={"model_id": model_id, "cluster_id": cluster_id},
        callbacks={"on_complete": hook, "on_failure": hook},
        wait=True,
        timeout=30,
    )


async def _model(client: AsyncBudClient) -> str:
    added = await client.executions.run_ephemeral(
        pipeline_definition={
            "steps": [
                {"id": "add", "action": "model_add", "params": {"model_uri": "meta-llama/Llama-3.2-1B"}}
            ]
        },
        wait=True,
        timeout=30,
    )
    model_id: str = added.steps["add"].output["model_id"]
    return model_id


async def test_healthy_cluster_deploys_and_calls_on_complete(setup: tuple[str, str, Seen]) -> None:
    base, hook, seen = setup
    async with AsyncBudClient(base_url=base) as client:
        execution = await _run(client, hook, await _model(client), "cluster_prod")
    assert execution.status == "completed", execution.error
    assert execution.steps["health_check"].attempts == 1
    assert execution.steps["deploy"].status == "completed"
    assert execution.steps["notify_failure"].status == "skipped"
    assert execution.steps["notify_failure"].skip_reason == "condition_false"
    kind, event = await seen.one_for(execution.id)
    assert kind == "completed" and event.status == "completed"
    assert event.outputs == execution.outputs
    assert execution.steps["deploy"].output["deployment_id"].startswith("deploy_")


async def test_unhealthy_cluster_retries_fails_notifies_and_calls_on_failure(
    setup: tuple[str, str, Seen],
) -> None:
    base, hook, seen = setup
    async with AsyncBudClient(base_url=base) as client:
        execution = await _run(client, hook, await _model(client), "cluster_dev")
        logs = [line.message for line in await client.executions.logs(execution.id, step_id="health_check")]
    assert execution.status == "failed"
    health = execution.steps["health_check"]
    assert health.status == "failed" and health.attempts == 3  # the guide's retry policy ran
    assert health.error is not None and health.error.startswith("cluster cluster_dev is degraded: ")
    assert sum("failed: cluster cluster_dev is degraded" in line for line in logs) == 2  # two retries
    assert execution.steps["deploy"].status == "skipped"
    assert execution.steps["deploy"].skip_reason == "upstream_failed"
    notify = execution.steps["notify_failure"]  # deploy never ran because health failed: reads 'failed'
    assert (
        notify.status == "completed" and notify.output["sent"] is False and notify.output["delivery"] == "log"
    )
    assert execution.error == f"step 'health_check' failed: {health.error}"
    kind, event = await seen.one_for(execution.id)
    assert kind == "failed" and event.type == "execution.failed"
    assert event.status == "failed" and event.error == execution.error


async def test_failing_deploy_notifies_and_calls_on_failure(setup: tuple[str, str, Seen]) -> None:
    base, hook, seen = setup
    async with AsyncBudClient(base_url=base) as client:
        execution = await _run(client, hook, "model_does_not_exist", "cluster_prod")
    assert execution.status == "failed"
    assert execution.steps["health_check"].status == "completed"
    assert execution.steps["deploy"].status == "failed"
    assert execution.steps["notify_failure"].status == "completed"
    assert execution.error == "step 'deploy' failed: model 'model_does_not_exist' does not exist"
    kind, event = await seen.one_for(execution.id)
    assert kind == "failed" and event.error == execution.error
