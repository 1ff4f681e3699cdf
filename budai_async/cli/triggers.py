"""`budai triggers ...`: inbound webhook triggers (``triggers webhook``) and event triggers
(``triggers event``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from budai_async.cli._common import emit_json, parse_param, print_table, run_async
from budai_async.cli._root import client_of, wants_json
from budai_async.trigger_models import EventTrigger, WebhookSecret, WebhookTrigger

__all__ = ["triggers_group"]

_EVENTS = click.Choice(
    ["execution.completed", "execution.failed", "execution.cancelled", "execution.timeout"]
)


def _params(values: Sequence[str]) -> dict[str, Any] | None:
    return dict(parse_param(value) for value in values) if values else None


def _headers(values: Sequence[str]) -> dict[str, str] | None:
    found: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition(":")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected 'Name: value', got {value!r}", param_hint="--header")
        found[name.strip()] = text.strip()
    return found or None


@click.group("triggers")
def triggers_group() -> None:
    """Start pipelines from inbound webhooks or from other pipelines' ends."""


# ---------------------------------------------------------------- webhooks


@triggers_group.group("webhook")
def webhook() -> None:
    """Inbound webhook triggers (signed per Standard Webhooks)."""


def _print_webhooks(ctx: click.Context, items: Sequence[WebhookTrigger]) -> None:
    if wants_json(ctx):
        emit_json(list(items))
        return
    print_table(
        "Webhook triggers",
        ["id", "name", "pipeline", "url", "triggered"],
        [(w.id, w.name, w.pipeline_id, w.url, w.trigger_count) for w in items],
    )


def _print_secret(ctx: click.Context, secret: WebhookSecret) -> None:
    """The secret goes to stdout once, for the user to hand to the sender; it is never logged."""
    if wants_json(ctx):
        click.echo(json.dumps({"webhook_id": secret.webhook_id, "secret": secret.secret, "url": secret.url}))
        return
    click.echo(f"webhook_id: {secret.webhook_id}")
    click.echo(f"url:        {secret.url}")
    click.echo(f"secret:     {secret.secret}   (shown once; store it now)")


@webhook.command("create")
@click.argument("pipeline_id")
@click.option("--name", required=True)
@click.option("--description")
@click.option("--header", "headers", multiple=True, help="'Name: value' every request must carry.")
@click.option("--param", "-p", "params", multiple=True, help="Default params (key=value).")
@click.pass_context
def webhook_create(
    ctx: click.Context,
    pipeline_id: str,
    name: str,
    description: str | None,
    headers: tuple[str, ...],
    params: tuple[str, ...],
) -> None:
    """Create a webhook trigger for PIPELINE_ID; prints its URL and secret."""
    expected = _headers(headers)

    async def go() -> WebhookSecret:
        async with client_of(ctx) as client:
            return await client.webhooks.create(
                pipeline_id, name=name, description=description, headers=expected, params=_params(params)
            )

    _print_secret(ctx, run_async(go))


@webhook.command("list")
@click.option("--pipeline", "pipeline_id")
@click.pass_context
def webhook_list(ctx: click.Context, pipeline_id: str | None) -> None:
    """List webhook triggers."""

    async def go() -> list[WebhookTrigger]:
        async with client_of(ctx) as client:
            return [w async for w in client.webhooks.list(pipeline_id=pipeline_id)]

    _print_webhooks(ctx, run_async(go))


@webhook.command("get")
@click.argument("webhook_id")
@click.pass_context
def webhook_get(ctx: click.Context, webhook_id: str) -> None:
    """Show one webhook trigger (never its secret)."""

    async def go() -> WebhookTrigger:
        async with client_of(ctx) as client:
            return await client.webhooks.get(webhook_id)

    _print_webhooks(ctx, [run_async(go)])


@webhook.command("rotate-secret")
@click.argument("webhook_id")
@click.pass_context
def webhook_rotate(ctx: click.Context, webhook_id: str) -> None:
    """Replace the secret; the old one stops working at once."""

    async def go() -> WebhookSecret:
        async with client_of(ctx) as client:
            return await client.webhooks.rotate_secret(webhook_id)

    _print_secret(ctx, run_async(go))


@webhook.command("fire")
@click.argument("webhook_id")
@click.option("--param", "-p", "params", multiple=True, help="Payload (key=value).")
@click.pass_context
def webhook_fire(ctx: click.Context, webhook_id: str, params: tuple[str, ...]) -> None:
    """Trigger it now with the API key (for testing); prints the execution id."""

    async def go() -> Any:
        async with client_of(ctx) as client:
            return await client.webhooks.trigger(webhook_id, payload=_params(params))

    result = run_async(go)
    if wants_json(ctx):
        emit_json(result)
    else:
        click.echo(result.execution_id)


@webhook.command("delete")
@click.argument("webhook_id")
@click.pass_context
def webhook_delete(ctx: click.Context, webhook_id: str) -> None:
    """Delete a webhook trigger."""

    async def go() -> None:
        async with client_of(ctx) as client:
            await client.webhooks.delete(webhook_id)

    run_async(go)
    click.echo(f"deleted {webhook_id}")


# ---------------------------------------------------------------- event triggers


@triggers_group.group("event")
def event() -> None:
    """Event triggers: one pipeline's end starts another."""


def _print_events(ctx: click.Context, items: Sequence[EventTrigger]) -> None:
    if wants_json(ctx):
        emit_json(list(items))
        return
    print_table(
        "Event triggers",
        ["id", "name", "event", "source", "starts", "active", "fired"],
        [
            (
                t.id,
                t.name,
                t.event_type,
                t.filter.get("pipeline_id"),
                t.pipeline_id,
                t.is_active,
                t.fire_count,
            )
            for t in items
        ],
    )


@event.command("create")
@click.argument("pipeline_id")
@click.option("--name", required=True)
@click.option("--on", "event_type", type=_EVENTS, required=True, help="The event that starts PIPELINE_ID.")
@click.option("--source", "source_pipeline_id", help="Only ends of this pipeline.")
@click.option("--param", "-p", "params", multiple=True)
@click.option("--max-chain-depth", type=click.IntRange(1, 20))
@click.option(
    "--allow-cycles", is_flag=True, help="Let a chain run a pipeline again (depth still bounds it)."
)
@click.pass_context
def event_create(
    ctx: click.Context,
    pipeline_id: str,
    name: str,
    event_type: str,
    source_pipeline_id: str | None,
    params: tuple[str, ...],
    max_chain_depth: int | None,
    allow_cycles: bool,
) -> None:
    """Start PIPELINE_ID when an execution ends with --on."""

    async def go() -> EventTrigger:
        async with client_of(ctx) as client:
            return await client.event_triggers.create(
                pipeline_id,
                name=name,
                event_type=event_type,
                source_pipeline_id=source_pipeline_id,
                params=_params(params),
                max_chain_depth=max_chain_depth,
                allow_cycles=allow_cycles or None,
            )

    _print_events(ctx, [run_async(go)])


@event.command("list")
@click.option("--pipeline", "pipeline_id")
@click.pass_context
def event_list(ctx: click.Context, pipeline_id: str | None) -> None:
    """List event triggers."""

    async def go() -> list[EventTrigger]:
        async with client_of(ctx) as client:
            return [t async for t in client.event_triggers.list(pipeline_id=pipeline_id)]

    _print_events(ctx, run_async(go))


@event.command("get")
@click.argument("trigger_id")
@click.pass_context
def event_get(ctx: click.Context, trigger_id: str) -> None:
    """Show one event trigger."""

    async def go() -> EventTrigger:
        async with client_of(ctx) as client:
            return await client.event_triggers.get(trigger_id)

    _print_events(ctx, [run_async(go)])


@event.command("update")
@click.argument("trigger_id")
@click.option("--active/--inactive", "is_active", default=None)
@click.option("--max-chain-depth", type=click.IntRange(1, 20))
@click.option("--name")
@click.pass_context
def event_update(
    ctx: click.Context, trigger_id: str, is_active: bool | None, max_chain_depth: int | None, name: str | None
) -> None:
    """Change an event trigger."""

    async def go() -> EventTrigger:
        async with client_of(ctx) as client:
            return await client.event_triggers.update(
                trigger_id, is_active=is_active, max_chain_depth=max_chain_depth, name=name
            )

    _print_events(ctx, [run_async(go)])


@event.command("firings")
@click.argument("trigger_id")
@click.pass_context
def event_firings(ctx: click.Context, trigger_id: str) -> None:
    """What the trigger did for each ended execution (loop-guard refusals included)."""

    async def go() -> list[Any]:
        async with client_of(ctx) as client:
            return await client.event_triggers.firings(trigger_id)

    found = run_async(go)
    if wants_json(ctx):
        emit_json(found)
        return
    print_table(
        "Firings",
        ["source execution", "status", "reason", "started"],
        [(f.source_execution_id, f.status, f.reason, f.execution_id) for f in found],
    )


@event.command("delete")
@click.argument("trigger_id")
@click.pass_context
def event_delete(ctx: click.Context, trigger_id: str) -> None:
    """Delete an event trigger."""

    async def go() -> None:
        async with client_of(ctx) as client:
            await client.event_triggers.delete(trigger_id)

    run_async(go)
    click.echo(f"deleted {trigger_id}")
