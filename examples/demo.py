"""The main job, end to end on one machine: `make demo`.

Starts the local BudAI server (with the guide's sample data, `--guide-fixtures`) and the webhook
receiver (with `demo_handlers`) as child processes on a scratch SQLite directory, runs a few of the
guide's snippets as written with the blocking `BudClient`, creates the guide's "Deploy Model"
and "Resilient Deployment" pipelines, runs them, fans out a batch of executions with a live
progress bar and callbacks, follows one execution's logs live, shows what the receiver's handlers
got, prints a summary, and stops every process it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from budai_async import AsyncBudClient, BudClient
from budai_async.batch.result import BatchProgress
from budai_async.webhooks import generate_secret

HERE = Path(__file__).resolve().parent
BATCH_SIZE = int(os.environ.get("DEMO_BATCH_SIZE", "50"))
console = Console()

DEPLOY_MODEL = {
    "steps": [
        {
            "id": "add_model",
            "action": "model_add",
            "params": {"model_uri": "meta-llama/Llama-3.2-1B-Instruct", "model_source": "hugging_face"},
        },
        {
            "id": "deploy",
            "action": "deployment_create",
            "params": {
                "model_id": "{{ steps.add_model.output.model_id }}",
                "cluster_id": "cluster_prod",
                "deployment_name": "llama-deployment",
            },
            "depends_on": ["add_model"],
        },
    ]
}

RESILIENT_DEPLOYMENT = {
    "steps": [
        {
            "id": "health_check",
            "action": "cluster_health",
            "params": {"cluster_id": "{{ params.cluster_id }}"},
            "retry": {"max_attempts": 3, "backoff_multiplier": 2, "initial_delay_seconds": 0.05},
        },
        {
            "id": "add_model",
            "action": "model_add",
            "params": {"model_uri": "{{ params.model_uri }}", "model_source": "hugging_face"},
        },
        {
            "id": "deploy",
            "action": "deployment_create",
            "params": {
                "model_id": "{{ steps.add_model.output.model_id }}",
                "cluster_id": "{{ params.cluster_id }}",
                "deployment_name": "{{ params.name }}",
            },
            "depends_on": ["health_check", "add_model"],
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


TEMPLATE = {
    "steps": [
        {
            "id": "add_model",
            "action": "model_add",
            "params": {"model_uri": "{{ params.model_uri }}", "model_source": "{{ params.model_source }}"},
        },
        {
            "id": "deploy",
            "action": "deployment_create",
            "params": {
                "model_id": "{{ steps.add_model.output.model_id }}",
                "cluster_id": "{{ params.cluster_id }}",
            },
            "depends_on": ["add_model"],
        },
    ]
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Children:
    """The processes this demo started; `stop_all` ends each, whatever happened."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        out = (self.logs / f"{name}.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        out.close()
        self.procs.append(proc)

    async def stop_all(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def wait_for_port(port: int, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start on port {port}") from None
            await asyncio.sleep(0.1)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def run_demo(scratch: Path) -> int:
    children = Children(scratch)
    secret = generate_secret()
    server_port, receiver_port = free_port(), free_port()
    events_file = scratch / "events.jsonl"
    try:
        await children.start(
            "server",
            "-m", "budai_server",
            "--db", str(scratch / "budai.db"),
            "--port", str(server_port),
            "--webhook-secret", secret,
            "--max-concurrent-executions", "16",
            "--inventory-latency", "0.02",
            "--callback-retry-schedule", "0,0.2,0.5,1,2",
            "--guide-fixtures",
        )  # fmt: skip
        await children.start(
            "receiver",
            "-m", "receiver", "serve",
            "--secret", secret,
            "--handlers", "demo_handlers:receiver",
            "--store", f"sqlite:///{scratch / 'receiver.db'}",
            "--port", str(receiver_port),
            env={"PYTHONPATH": str(HERE), "DEMO_EVENTS_FILE": str(events_file)},
        )  # fmt: skip
        await wait_for_port(server_port, "budai-server")
        await wait_for_port(receiver_port, "budai-receiver")
        base_url = f"http://127.0.0.1:{server_port}"
        hook = f"http://127.0.0.1:{receiver_port}/webhooks"
        console.rule(f"[bold]budai demo[/bold]  server {base_url}  receiver {hook}")
        console.rule("the guide as written: BudClient on the guide's sample ids")
        for line in await asyncio.to_thread(guide_as_written, base_url):
            console.print(f"  {line}", highlight=False)
        async with AsyncBudClient(base_url=base_url) as client:
            return await _scenario(client, hook, events_file)
    finally:
        await children.stop_all()


def guide_as_written(base_url: str) -> list[str]:
    """A few of the guide's snippets with the blocking client (run in a thread: it blocks)."""
    shown: list[str] = []
    with BudClient(base_url=base_url) as client:
        client.executions.wait_all(["exec_abc121", "exec_abc122", "exec_abc123"], timeout=30)
        for pipeline in client.pipelines.list():
            shown.append(f"{pipeline.id}: {pipeline.name}")
        execution = client.executions.get("exec_abc123")
        shown.append(f"exec_abc123: {execution.status}, deployment {execution.outputs.get('deployment_id')}")
        history = client.executions.list(
            pipeline_id="pipe_abc123", limit=10, sort_by="created_at", sort_order="desc"
        )
        total = len(history)
        successful = len([e for e in history if e.status == "completed"])
        success_rate = (successful / total) * 100
        shown.append(f"Success rate: {success_rate:.1f}%")
    return shown


async def _scenario(client: AsyncBudClient, hook: str, events_file: Path) -> int:
    callbacks = {"on_complete": hook, "on_failure": hook}
    deploy = await client.pipelines.create(
        name="Deploy Model", description="Automated model deployment workflow", definition=DEPLOY_MODEL
    )
    resilient = await client.pipelines.create(name="Resilient Deployment", definition=RESILIENT_DEPLOYMENT)
    template = await client.pipelines.create(name="Deploy Template", definition=TEMPLATE)
    console.print(
        f"created pipelines [cyan]{deploy.id}[/cyan] (Deploy Model), [cyan]{resilient.id}[/cyan] "
        f"(Resilient Deployment), [cyan]{template.id}[/cyan] (Deploy Template)"
    )

    first = await client.executions.create(deploy.id, wait=True, timeout=30, callbacks=callbacks)
    console.print(f"Deploy Model -> [green]{first.status}[/green] outputs={first.outputs}")

    console.rule("live logs of one Resilient Deployment run")
    followed = await client.executions.create(
        resilient.id,
        params={"cluster_id": "cluster_prod", "model_uri": "mistralai/Mistral-7B", "name": "mistral"},
        callbacks=callbacks,
        tags=["demo", "followed"],
    )
    async with client.executions.logs(followed.id, follow=True) as lines:
        async for line in lines:
            colour = {"error": "red", "warning": "yellow", "debug": "dim"}.get(str(line.level), "white")
            level = f"[{colour}]{line.level!s:<7}[/{colour}]"
            console.print(
                f"  {line.seq:>3} {level} {line.step_id or '-':<14} {line.message}", highlight=False
            )

    console.rule(
        f"batch of {BATCH_SIZE} Deploy Template executions with callbacks (every 10th cluster missing)"
    )
    clusters = ["cluster_prod", "cluster_dev", "cluster_staging", "cluster_prod", "cluster_dev"] * 2
    clusters[-1] = "cluster_missing"
    param_sets = [
        {
            "cluster_id": clusters[i % len(clusters)],
            "model_uri": f"org/model-{i}",
            "model_source": "hugging_face",
        }
        for i in range(BATCH_SIZE)
    ]
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=console,
    ) as bar:  # fmt: skip
        task = bar.add_task("executions", total=BATCH_SIZE, detail="")

        def show(progress: BatchProgress) -> None:
            detail = (
                f"submitted {progress.submitted}  running {progress.running}  "
                f"completed {progress.completed}  failed {progress.failed}"
            )
            bar.update(task, completed=progress.done, detail=detail)

        result = await client.executions.create_many(
            template.id, param_sets, wait=True, concurrency=4, callbacks=callbacks, tags=["demo", "batch"],
            on_progress=show,
        )  # fmt: skip

    executions = [await client.executions.get(item.execution.id) for item in result if item.execution]
    executions += [await client.executions.get(first.id), await client.executions.get(followed.id)]
    expected = len(executions)
    deadline = time.monotonic() + 20
    # the handlers run in another process and append to a file: polling it is the simple way to wait
    while len(read_events(events_file)) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    events = read_events(events_file)

    console.rule("callbacks the receiver's handlers got")
    by_handler = Counter((e["handler"], e["status"]) for e in events)
    table = Table("handler", "status", "count", "example")
    examples = {(e["handler"], e["status"]): e for e in events}
    for (handler, status), count in sorted(by_handler.items()):
        sample = examples[(handler, status)]
        table.add_row(
            handler, status, str(count), str(sample["error"] or sample["outputs"].get("endpoint_url"))
        )
    console.print(table)

    console.rule("summary")
    statuses = Counter(str(e.status) for e in executions)
    durations = sorted(e.duration_seconds or 0.0 for e in executions)
    summary = Table("runs", "completed", "failed", "other", "success", "p50 s", "max s", "callbacks")
    summary.add_row(
        str(expected),
        str(statuses.get("completed", 0)),
        str(statuses.get("failed", 0)),
        str(expected - statuses.get("completed", 0) - statuses.get("failed", 0)),
        f"{100 * statuses.get('completed', 0) / expected:.1f}%",
        f"{durations[len(durations) // 2]:.3f}",
        f"{durations[-1]:.3f}",
        f"{len(events)}/{expected}",
    )
    console.print(summary)
    ok = len(events) == expected and statuses.get("completed", 0) > 0
    console.print("[green]demo finished[/green]" if ok else "[red]demo finished with missing callbacks[/red]")
    return 0 if ok else 1


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="budai-demo-"))
    try:
        return asyncio.run(run_demo(scratch))
    finally:
        if os.environ.get("DEMO_KEEP_SCRATCH"):
            console.print(f"scratch kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
