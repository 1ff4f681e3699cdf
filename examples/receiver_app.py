"""Receiver: verify, deduplicate, store and dispatch the server's callbacks inside your own aiohttp app.

`BUDAI_WEBHOOK_SECRET` must be the server's `--webhook-secret`. The receiver is mounted at
`/hooks/budai` next to the app's own routes; the server's callbacks for one completed and one failed
execution reach the matching handlers, and every event also reaches the `execution.*` audit handler.
Standalone, the same receiver runs as `budai-receiver serve --secret ... --handlers module:receiver`.
"""

import asyncio
import os
import tempfile
from pathlib import Path

from aiohttp import web

from budai_async import AsyncBudClient, CallbackEvent
from receiver import HandlerFailure, Receiver

DEPLOY_TO_CLUSTER = {
    "steps": [
        {"id": "check", "action": "cluster_health", "params": {"cluster_id": "{{ params.cluster }}"}},
        {
            "id": "deploy",
            "action": "deployment_create",
            "params": {"model_id": "{{ params.model }}", "cluster_id": "{{ params.cluster }}"},
            "depends_on": ["check"],
        },
    ]
}


async def main() -> None:
    secret = os.environ["BUDAI_WEBHOOK_SECRET"]
    with tempfile.TemporaryDirectory() as scratch:
        receiver = Receiver(secrets=[secret], store=f"sqlite:///{Path(scratch) / 'receiver.db'}")
        outcomes: asyncio.Queue[tuple[str, CallbackEvent]] = asyncio.Queue()

        @receiver.on_complete
        async def deployment_done(event: CallbackEvent) -> None:
            await outcomes.put(("on_complete", event))

        @receiver.on_failure
        async def deployment_failed(event: CallbackEvent) -> None:
            await outcomes.put(("on_failure", event))

        @receiver.on("execution.*")
        async def audit(event: CallbackEvent) -> None:
            print(f"audit: {event.type} for {event.execution_id}")

        @receiver.on_error
        async def gave_up(event: CallbackEvent, failure: HandlerFailure) -> None:
            print(f"handler gave up on {event.execution_id}: {failure}")

        async def index(_request: web.Request) -> web.Response:
            return web.Response(text="my service")

        app = web.Application()
        app.router.add_get("/", index)  # the service's own routes stay as they are
        receiver.setup(app, path="/hooks/budai")
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        hook = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/budai"
        try:
            async with AsyncBudClient() as client:
                pipeline = await client.pipelines.create(
                    name="Callback target",
                    definition=DEPLOY_TO_CLUSTER,
                )
                callbacks = {"on_complete": hook, "on_failure": hook}
                model = await client.executions.run_ephemeral(
                    pipeline_definition={
                        "steps": [{"id": "add", "action": "model_add", "params": {"model_uri": "org/m"}}]
                    },
                    wait=True,
                )
                ok = await client.executions.create(
                    pipeline.id,
                    params={"cluster": "cluster_prod", "model": model.outputs["model_id"]},
                    callbacks=callbacks,
                    wait=True,
                    timeout=30,
                )
                bad = await client.executions.create(
                    pipeline.id,
                    params={"cluster": "cluster_prod", "model": "model_missing"},
                    callbacks=callbacks,
                    wait=True,
                    timeout=30,
                )
                print(f"ran {ok.id}: {ok.status}, {bad.id}: {bad.status}")
                for _ in range(2):
                    handler, event = await asyncio.wait_for(outcomes.get(), timeout=30)
                    detail = event.outputs.get("endpoint_url") if event.status == "completed" else event.error
                    print(f"{handler}: {event.execution_id} {event.status} {detail}")
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
