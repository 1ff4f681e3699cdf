"""Schedules and triggers: a nightly cron schedule, a signed inbound webhook, and a chain where one
pipeline's end starts the next (docs/schedules.md)."""

import asyncio
import json
import time

import aiohttp

from budai_async import AsyncBudClient
from budai_async.webhooks import signature_headers

TRAIN = {
    "steps": [
        {"id": "train", "action": "set_output", "params": {"values": {"model": "{{ params.dataset }}-v2"}}}
    ],
    "parameters": {"dataset": {"type": "string", "default": "base"}},
}
DEPLOY = {
    "steps": [
        {"id": "deploy", "action": "log", "params": {"message": "deploying {{ params.event.outputs.model }}"}}
    ],
    "outputs": {"deployed": "{{ params.event.outputs.model }}"},
}


async def main() -> None:
    async with AsyncBudClient() as client:
        train = await client.pipelines.create(name="Train", definition=TRAIN)
        deploy = await client.pipelines.create(name="Deploy", definition=DEPLOY)

        # 1. Every weekday at 02:00 Berlin time; missed runs collapse into one on restart.
        nightly = await client.schedules.create(
            train.id,
            name="nightly",
            cron="0 2 * * 1-5",
            timezone="Europe/Berlin",
            params={"dataset": "nightly"},
        )
        upcoming = await client.schedules.next_runs(nightly.id, count=2)
        print(f"schedule {nightly.schedule.type} {nightly.cron!r}: next {len(upcoming)} runs in UTC")

        # 2. When Train completes, Deploy starts with Train's outputs as params.event.
        await client.event_triggers.create(
            deploy.id,
            name="deploy after training",
            event_type="execution.completed",
            source_pipeline_id=train.id,
        )

        # 3. A sender (CI, GitHub) posts a signed JSON body to the webhook URL: no API key needed.
        hook = await client.webhooks.create(train.id, name="ci")
        body = json.dumps({"dataset": "from-ci"}).encode()
        headers = signature_headers(hook.secret, "delivery-1", body, int(time.time()))
        async with (
            aiohttp.ClientSession() as session,
            session.post(hook.url, data=body, headers=headers) as answer,
        ):
            started = await answer.json()
        print(f"webhook answered {answer.status}: started {started['execution_id'][:5]}")

        trained = await client.executions.wait(started["execution_id"], timeout=30)
        print(f"train: {trained.status}, model {trained.outputs['model']}")
        deployed = None
        for _ in range(300):  # the chained run starts right after Train's end
            runs = await client.executions.list(pipeline_id=deploy.id)
            if runs:
                deployed = await client.executions.wait(runs[0].id, timeout=30)
                break
            await asyncio.sleep(0.05)
        assert deployed is not None
        print(f"deploy: {deployed.status}, deployed {deployed.outputs['deployed']}")


if __name__ == "__main__":
    asyncio.run(main())
