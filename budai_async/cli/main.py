"""The `budai` command line: pipelines, runs, executions, logs and batches against a BudAI server.

Every command is a thin shell over `AsyncBudClient`; `--output json` prints the SDK's models as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from budai_async._entry import exit_missing_extra, missing_extra
from budai_async.cli._common import CliState, emit_json, pass_state, print_table, run_async
from budai_async.cli.batch import batch_command
from budai_async.cli.executions import executions_group, run_command
from budai_async.cli.logs import logs_command
from budai_async.cli.schedules import schedules_group
from budai_async.cli.triggers import triggers_group
from budai_async.models import Pipeline

OUTPUT = click.Choice(["table", "json"])


@click.group()
@click.option("--base-url", envvar="BUDAI_BASE_URL", help="Server URL (env BUDAI_BASE_URL).")
@click.option("--api-key", envvar="BUDAI_API_KEY", help="API key (env BUDAI_API_KEY).")
@click.option("--output", "-o", type=OUTPUT, default="table", show_default=True, help="Output format.")
@click.version_option(package_name="budai-async")
@click.pass_context
def main(ctx: click.Context, base_url: str | None, api_key: str | None, output: str) -> None:
    """Drive BudAI pipelines from the command line."""
    ctx.obj = CliState(base_url, api_key, output)


@main.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,  # `budai serve --help` shows the server's own options
)
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Run the local BudAI server (same options as `budai-server`; needs the `server` extra)."""
    try:
        from budai_server.cli import main as server_main
    except ModuleNotFoundError as error:
        module = missing_extra(error, "server")
        if module is None:
            raise
        exit_missing_extra("budai serve", "server", module)

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


main.add_command(run_command, name="run")
main.add_command(executions_group, name="executions")
main.add_command(logs_command, name="logs")
main.add_command(batch_command, name="batch")
main.add_command(schedules_group, name="schedules")
main.add_command(triggers_group, name="triggers")

__all__ = ["main"]
