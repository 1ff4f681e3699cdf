"""The guide's blocking style with `BudClient`: create, run and wait, list every page, follow logs.

`BudClient` is the synchronous twin of `AsyncBudClient` (same resources, arguments, models and
errors); it runs the async client on a private event loop thread. Not for use inside async code.
"""

from concurrent.futures import ThreadPoolExecutor

from budai_async import BudClient, NotFoundError

DEFINITION = {
    "steps": [
        {"id": "start", "action": "log", "params": {"message": "Processing started"}},
        {"id": "work", "action": "delay", "params": {"seconds": 0.1}, "depends_on": ["start"]},
        {"id": "done", "action": "log", "params": {"message": "all done"}, "depends_on": ["work"]},
    ]
}


def main() -> None:
    with BudClient() as client:
        pipeline = client.pipelines.create(name="Sync example", definition=DEFINITION)
        print(f"Pipeline created: {pipeline.id}")

        # Execute and wait for completion
        execution = client.executions.create(pipeline_id=pipeline.id, wait=True, timeout=60)
        print(f"Status: {execution.status}")

        # Follow a run's logs live: a plain iterator that ends when the execution ends
        running = client.executions.create(pipeline.id)
        for log in client.executions.logs(execution_id=running.id, follow=True):
            print(f"live: {log.message}")

        # `for` walks every page; len() counts the same items
        runs = client.executions.list(pipeline_id=pipeline.id, limit=1)
        print(f"runs: {len(runs)} ({', '.join(str(run.status) for run in runs)})")

        # One client, many threads
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(
                pool.map(lambda _: client.executions.create(pipeline.id, wait=True).status, range(4))
            )
        print(f"threads: {sum(status == 'completed' for status in statuses)} completed")

        try:
            client.pipelines.get("pipe_missing")
        except NotFoundError as error:
            print(f"not found: HTTP {error.status_code}")


if __name__ == "__main__":
    main()
