"""Guide: Execution Callbacks. The server POSTs the execution to `on_complete` / `on_failure`.

A tiny aiohttp endpoint stands in for your webhook here; in production point the URLs at a
`budai-receiver` (it verifies the signature, deduplicates and dispatches; see docs/receiver.md).
"""

import asyncio
import json

from aiohttp import web

from budai_async import AsyncBudClient


async def main() -> None:
    received: asyncio.Queue[dict[str, object]] = asyncio.Queue()

    async def webhook(request: web.Request) -> web.Response:
        await received.put({"path": request.path, **json.loads(await request.read())})
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/webhook/{kind}", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with AsyncBudClient() as client:
            pipeline = await client.pipelines.create(
                name="With callbacks",
                definition={"steps": [{"id": "a", "action": "log", "params": {"message": "hi"}}]},
            )
            execution = await client.executions.create(
                pipeline_id=pipeline.id,
                callbacks={
                    "on_complete": f"http://127.0.0.1:{port}/webhook/complete",
                    "on_failure": f"http://127.0.0.1:{port}/webhook/failure",
                },
            )
            print(f"callbacks registered: {sorted(execution.callbacks)}")
            await client.executions.wait(execution.id, timeout=60)
            try:
                event = await asyncio.wait_for(received.get(), timeout=5)
            except TimeoutError:
                print("no callback within 5 s (delivery is asynchronous and retried by the server)")
            else:
                # Webhooks receive POST requests with execution data
                print(f"callback at {event['path']}: {event.get('execution_id')} {event.get('status')}")
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
