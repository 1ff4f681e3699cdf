"""The `budai` command line: pipelines, runs, executions, logs and batches against a BudAI server.

Every command is a thin shell over `AsyncBudClient`; `--output json` prints the SDK's models as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from budai_async._client import AsyncBudClient
from budai_async.cli._common import (
    console,
    emit_json,
    exit_code_for_status,
    parse_param,
    print_table,
    run_async,
    styled_status,
)
from budai_async.cli.batch import batch_command
from budai_async.cli.cleanup import delete_command, prune_command
from budai_async.cli.logs import format_entry, logs_command
from budai_async.cli.schedules import schedules_group
from budai_async.cli.triggers import triggers_group
from budai_async.models import Execution, Pipeline

OUTPUT = click.Choice(["table", "json"])


class CliState:
    """Options given before the subcommand, turned into a client on demand."""

    def __init__(self, base_url: str | None, api_key: str | None, output: str) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.output = output

    def client(self) -> AsyncBudClient:
        return AsyncBudClient(base_url=self.base_url, api_key=self.api_key)

    @property
    def json(self) -> bool:
        return self.output == "json"


pass_state = click.make_pass_decorator(CliState)


@click.group()
@click.option("--base-url", envvar="BUDAI_BASE_URL", help="Server URL (env BUDAI_BASE_URL).")
@click.option("--api-key", envvar="BUDAI_API_KEY", help="API key (env BUDAI_API_KEY).")
@click.option("--output", "-o", type=OUTPUT, default="table", show_default=True, help="Output format.")
@click.version_option(package_name="budai-async")
@click.pass_context
def main(ctx: click.Context, base_url: str | None, api_key: str | None, output: str) -> None:
    """Drive BudAI pipelines from the command line."""
    ctx.obj = CliState(base_url, api_key, output)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Run the local BudAI server (same options as `budai-server`)."""
    from budai_server.__main__ import main as server_main

    server_main.main(args=list(ctx.args), prog_name="budai serve")


# ---------------------------------------------------------------- pipelines


@main.group()
def pipelines() -> None:
    """Create, list, show, update, delete and validate pipelines."""


def _load_document(path: Path) -> dict[str, Any]:
    text = path.read_text()
    try:
        data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        raise click.BadParameter(f"{path}: {error}", param_hint="FILE") from error
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path}: expected an object", param_hint="FILE")
    return data


def _split_document(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A file holds either {name, description, definition|dag, tags} or a bare definition."""
    definition = data.get("definition", data.get("dag"))
    if isinstance(definition, dict):
        meta: dict[str, Any] = {k: data[k] for k in ("name", "description", "tags") if k in data}
        return meta, definition
    return {}, data


def _print_pipelines(state: CliState, items: list[Pipeline] | Pipeline) -> None:
    """A table of pipelines; with --output json, one object for one pipeline, else a list."""
    if state.json:
        emit_json(items)
        return
    items = [items] if isinstance(items, Pipeline) else items
    rows = [(p.id, p.name, p.step_count, p.created_at) for p in items]
    print_table("Pipelines", ["id", "name", "steps", "created"], rows)


@pipelines.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Pipeline name (overrides the file's).")
@click.option("--description")
@pass_state
def pipelines_create(state: CliState, file: Path, name: str | None, description: str | None) -> None:
    """Create a pipeline from a JSON or YAML FILE."""
    meta, definition = _split_document(_load_document(file))
    name = name or meta.get("name") or file.stem

    async def go() -> Pipeline:
        async with state.client() as client:
            return await client.pipelines.create(
                name=name,
                description=description or meta.get("description"),
                definition=definition,
                tags=meta.get("tags"),
            )

    _print_pipelines(state, run_async(go))


@pipelines.command("list")
@click.option("--name-contains")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@pass_state
def pipelines_list(state: CliState, name_contains: str | None, limit: int, offset: int) -> None:
    """List pipelines."""

    async def go() -> list[Pipeline]:
        async with state.client() as client:
            return list(await client.pipelines.list(name_contains=name_contains, limit=limit, offset=offset))

    _print_pipelines(state, run_async(go))


@pipelines.command("get")
@click.argument("pipeline_id")
@pass_state
def pipelines_get(state: CliState, pipeline_id: str) -> None:
    """Show one pipeline with its definition."""

    async def go() -> Pipeline:
        async with state.client() as client:
            return await client.pipelines.get(pipeline_id)

    pipeline = run_async(go)
    if state.json:
        emit_json(pipeline)
        return
    _print_pipelines(state, pipeline)
    click.echo(json.dumps(pipeline.definition, indent=2))


@pipelines.command("update")
@click.argument("pipeline_id")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name")
@click.option("--description")
@pass_state
def pipelines_update(
    state: CliState, pipeline_id: str, file: Path | None, name: str | None, description: str | None
) -> None:
    """Update a pipeline's definition (from --file) and/or its name and description."""
    changes: dict[str, Any] = {}
    if file is not None:
        meta, definition = _split_document(_load_document(file))
        changes.update(meta)
        changes["definition"] = definition
    if name is not None:
        changes["name"] = name
    if description is not None:
        changes["description"] = description
    if not changes:
        raise click.UsageError("nothing to update: give --file, --name or --description")

    async def go() -> Pipeline:
        async with state.client() as client:
            return await client.pipelines.update(pipeline_id, **changes)

    _print_pipelines(state, run_async(go))


@pipelines.command("delete")
@click.argument("pipeline_id")
@pass_state
def pipelines_delete(state: CliState, pipeline_id: str) -> None:
    """Delete a pipeline (its executions are kept)."""

    async def go() -> None:
        async with state.client() as client:
            await client.pipelines.delete(pipeline_id)

    run_async(go)
    if state.json:
        emit_json({"deleted": pipeline_id})
    else:
        click.echo(f"deleted {pipeline_id}")


@pipelines.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_state
def pipelines_validate(state: CliState, file: Path) -> None:
    """Validate a definition FILE on the server; exit 1 when invalid."""
    _meta, definition = _split_document(_load_document(file))

    async def go() -> Any:
        async with state.client() as client:
            return await client.pipelines.validate(definition)

    result = run_async(go)
    if state.json:
        emit_json(result)
    elif result.valid:
        click.echo("valid")
    else:
        print_table(
            "Invalid definition",
            ["path", "code", "message"],
            [(e.path, e.code, e.message) for e in result.errors],
        )
    raise SystemExit(0 if result.valid else 1)


# ---------------------------------------------------------------- runs and executions


def _print_executions(state: CliState, items: list[Execution] | Execution, title: str = "Executions") -> None:
    """A table of executions; with --output json, one object for one execution, else a list."""
    if state.json:
        emit_json(items)
        return
    items = [items] if isinstance(items, Execution) else items
    rows = [
        (e.id, e.pipeline_id, styled_status(e.status), f"{e.progress:.0f}%", e.duration_seconds, e.created_at)
        for e in items
    ]
    print_table(title, ["id", "pipeline", "status", "progress", "duration s", "created"], rows)


def _print_execution_detail(state: CliState, execution: Execution) -> None:
    if state.json:
        emit_json(execution)
        return
    _print_executions(state, execution, title="Execution")
    rows = [
        (
            step_id,
            styled_status(step.status),
            step.attempts,
            step.duration_seconds,
            step.skip_reason or step.error,
        )
        for step_id, step in execution.steps.items()
    ]
    if rows:
        print_table("Steps", ["step", "status", "attempts", "duration s", "note"], rows)
    if execution.outputs:
        click.echo(f"outputs: {json.dumps(execution.outputs)}")
    if execution.error:
        click.echo(f"error: {execution.error}")


@main.command()
@click.argument("pipeline_id")
@click.option(
    "--param", "-p", "params", multiple=True, help="key=value (value parsed as JSON when it can be)."
)
@click.option("--priority", type=click.Choice(["high", "normal", "low"]), default=None)
@click.option("--tag", "tags", multiple=True)
@click.option("--wait", is_flag=True, help="Wait for the execution to end; exit code from its status.")
@click.option("--follow", "-f", is_flag=True, help="Stream the execution's logs until it ends.")
@click.option("--timeout", type=float, default=None, help="With --wait: seconds to wait at most.")
@pass_state
def run(
    state: CliState,
    pipeline_id: str,
    params: tuple[str, ...],
    priority: str | None,
    tags: tuple[str, ...],
    wait: bool,
    follow: bool,
    timeout: float | None,
) -> None:
    """Execute PIPELINE_ID with parameters."""
    values = dict(parse_param(p) for p in params)

    async def go() -> Execution:
        async with state.client() as client:
            execution = await client.executions.create(
                pipeline_id, params=values, priority=priority, tags=list(tags) or None
            )
            if follow:
                async with client.executions.logs(execution.id, follow=True) as lines:
                    async for line in lines:
                        console.print(format_entry(line), highlight=False, soft_wrap=True)
            if wait or follow:
                execution = await client.executions.wait(execution.id, timeout=timeout)
            return execution

    execution = run_async(go)
    _print_execution_detail(state, execution)
    if wait or follow:
        raise SystemExit(exit_code_for_status(execution.status))


@main.group()
def executions() -> None:
    """List, show, cancel, retry and delete executions."""


@executions.command("list")
@click.option("--pipeline-id")
@click.option("--status")
@click.option("--tag", "tags", multiple=True)
@click.option("--created-after")
@click.option("--created-before")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--sort-by", default="created_at", show_default=True)
@click.option("--sort-order", type=click.Choice(["asc", "desc"]), default="desc", show_default=True)
@pass_state
def executions_list(
    state: CliState,
    pipeline_id: str | None,
    status: str | None,
    tags: tuple[str, ...],
    created_after: str | None,
    created_before: str | None,
    limit: int,
    offset: int,
    sort_by: str,
    sort_order: str,
) -> None:
    """List executions with filters."""

    async def go() -> list[Execution]:
        async with state.client() as client:
            page = await client.executions.list(
                pipeline_id=pipeline_id,
                status=status,
                tags=list(tags) or None,
                created_after=created_after,
                created_before=created_before,
                limit=limit,
                offset=offset,
                sort_by=sort_by,
                sort_order=sort_order,
            )
            return list(page)

    _print_executions(state, run_async(go))


@executions.command("get")
@click.argument("execution_id")
@pass_state
def executions_get(state: CliState, execution_id: str) -> None:
    """Show one execution with its steps, outputs and metrics."""

    async def go() -> Execution:
        async with state.client() as client:
            return await client.executions.get(execution_id)

    _print_execution_detail(state, run_async(go))


@executions.command("cancel")
@click.argument("execution_id")
@pass_state
def executions_cancel(state: CliState, execution_id: str) -> None:
    """Cancel a pending or running execution (exit 1 if it had already ended)."""

    async def go() -> Execution:
        async with state.client() as client:
            return await client.executions.cancel(execution_id)

    _print_executions(state, run_async(go))


@executions.command("retry")
@click.argument("execution_id")
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    help="key=value merged over the old params; key=null removes the key.",
)
@pass_state
def executions_retry(state: CliState, execution_id: str, params: tuple[str, ...]) -> None:
    """Start a new execution from EXECUTION_ID, with the same or new params."""
    values = dict(parse_param(p) for p in params) if params else None

    async def go() -> Execution:
        async with state.client() as client:
            return await client.executions.retry(execution_id, params=values)

    _print_executions(state, run_async(go))


executions.add_command(delete_command, name="delete")
executions.add_command(prune_command, name="prune")
main.add_command(logs_command, name="logs")
main.add_command(batch_command, name="batch")
main.add_command(schedules_group, name="schedules")
main.add_command(triggers_group, name="triggers")

__all__ = ["main"]
