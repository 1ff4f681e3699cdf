"""``budai-receiver`` (and ``python -m receiver``): serve callbacks, list dead letters, replay them.

``serve`` is the default subcommand: ``budai-receiver --secret S --handlers app:handlers`` serves.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

import click

from budai_async.logformat import LogFormat, access_log_options, configure_logging
from receiver.handlers import Handlers
from receiver.receiver import DEFAULT_STORE_PATH, Receiver
from receiver.stores import Store, StoreError, store_from_url
from receiver.stores.base import DeadLetter

__all__ = ["main"]

_log = logging.getLogger("receiver")

DEFAULT_STORE = f"sqlite:///{DEFAULT_STORE_PATH}"
_store_option = click.option(
    "--store",
    "store_url",
    envvar="BUDAI_RECEIVER_STORE",
    default=DEFAULT_STORE,
    show_default=True,
    help="sqlite:///relative.db, sqlite:////abs/path.db or redis://host:port/db (env BUDAI_RECEIVER_STORE).",
)


class _ServeByDefault(click.Group):
    """A group that runs `serve` when the first argument is not a subcommand name."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["serve", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ServeByDefault, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """BudAI webhook receiver. Without a subcommand, `serve` runs."""


def _load(spec: str) -> Any:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise click.BadParameter(f"{spec!r} is not module:attribute", param_hint="--handlers")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like uvicorn: handler modules next to where you run it
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise click.BadParameter(f"cannot import {module_name}: {exc}", param_hint="--handlers") from exc
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise click.BadParameter(
                f"{module_name} has no attribute {attr}", param_hint="--handlers"
            ) from None
    return target


def _collect(specs: tuple[str, ...]) -> tuple[Handlers, list[Receiver]]:
    handlers = Handlers()
    receivers: list[Receiver] = []
    for spec in specs:
        target = _load(spec)
        if isinstance(target, Receiver):
            receivers.append(target)
            target = target.handlers
        if not isinstance(target, Handlers):
            raise click.BadParameter(
                f"{spec} is neither a Receiver nor a Handlers registry", param_hint="--handlers"
            )
        handlers.include(target)
    return handlers, receivers


@main.command()
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    envvar="BUDAI_WEBHOOK_SECRET",
    help="whsec_... secret; repeat to rotate (env BUDAI_WEBHOOK_SECRET, space-separated).",
)
@click.option(
    "--handlers",
    "handler_specs",
    multiple=True,
    help="module:attribute of a Handlers registry or a Receiver; repeatable.",
)
@_store_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8090, show_default=True, type=int)
@click.option("--path", default="/webhooks", show_default=True, help="URL path that accepts callbacks.")
@click.option(
    "--workers", default=16, show_default=True, type=click.IntRange(min=1), help="Concurrent dispatches."
)
@click.option(
    "--queue-limit",
    default=1024,
    show_default=True,
    type=click.IntRange(min=1),
    help="Queued events before answering 503.",
)
@click.option("--max-body-bytes", default=1024 * 1024, show_default=True, type=click.IntRange(min=1))
@click.option("--handler-retries", default=5, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--retry-base-delay",
    default=1.0,
    show_default=True,
    type=float,
    help="First retry delay (s); doubles each time.",
)
@click.option(
    "--handler-timeout",
    default=300.0,
    show_default=True,
    type=float,
    help="Seconds before a handler attempt fails.",
)
@click.option(
    "--shutdown-timeout",
    default=10.0,
    show_default=True,
    type=float,
    help="Seconds to finish in-flight work on stop.",
)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
@click.option("--log-level", default="INFO", show_default=True)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per line; access lines carry method, path, status and request_id.",
)
def serve(
    secrets: tuple[str, ...],
    handler_specs: tuple[str, ...],
    store_url: str,
    host: str,
    port: int,
    path: str,
    workers: int,
    queue_limit: int,
    max_body_bytes: int,
    handler_retries: int,
    retry_base_delay: float,
    handler_timeout: float,
    shutdown_timeout: float,
    access_log: bool,
    log_level: str,
    log_format: LogFormat,
) -> None:
    """Serve signed callbacks until SIGINT/SIGTERM, then drain and stop."""
    from aiohttp import web

    configure_logging(log_level, log_format)
    handlers, receivers = _collect(handler_specs)
    secret_list = [s for value in secrets for s in value.split()]
    if not secret_list and receivers:
        secret_list = list(receivers[0].secrets)
    try:
        receiver = Receiver(
            secret_list,
            store=store_url,
            handlers=handlers,
            workers=workers,
            queue_limit=queue_limit,
            max_body_bytes=max_body_bytes,
            handler_retries=handler_retries,
            retry_base_delay=retry_base_delay,
            handler_timeout=handler_timeout,
            shutdown_timeout=shutdown_timeout,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if not len(handlers):
        logging.getLogger("receiver").warning(
            "no handlers registered: callbacks are stored and acknowledged only"
        )
    try:
        web.run_app(
            receiver.create_app(path=path),
            host=host,
            port=port,
            access_log=logging.getLogger("aiohttp.access") if access_log else None,
            **access_log_options(log_format),
            shutdown_timeout=shutdown_timeout,
            print=(lambda text: _log.info(text.strip("= \n"))) if log_format == "json" else _echo_err,
        )
    except StoreError as exc:
        raise click.ClickException(f"cannot start: {exc}") from None


def _echo_err(text: str) -> None:
    click.echo(text, err=True)


def _open(store_url: str) -> Store:
    try:
        return store_from_url(store_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--store") from None


def _summary(letter: DeadLetter) -> dict[str, Any]:
    try:
        body = json.loads(letter.body)
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    return {
        "id": letter.id,
        "type": body.get("type"),
        "execution_id": body.get("execution_id"),
        "received_at": datetime.fromtimestamp(letter.received_at, UTC).isoformat(),
        "failed_at": datetime.fromtimestamp(letter.failed_at, UTC).isoformat(),
        "failures": dict(letter.failures),
        "done_handlers": sorted(letter.done_handlers),
    }


@main.command("dead-letters")
@_store_option
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")
def dead_letters(store_url: str, limit: int, as_json: bool) -> None:
    """List events whose handlers failed after every retry."""

    async def fetch() -> list[DeadLetter]:
        async with _open(store_url) as store:
            return await store.dead_letters(limit=limit)

    try:
        letters = [_summary(letter) for letter in asyncio.run(fetch())]
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        for row in letters:
            click.echo(json.dumps(row))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(letters)} dead letter(s)")
    for column in ("id", "type", "execution_id", "failed_at", "failures"):
        table.add_column(column, overflow="fold")
    for row in letters:
        failures = "\n".join(f"{name}: {error}" for name, error in row["failures"].items())
        table.add_row(row["id"], row["type"] or "", row["execution_id"] or "", row["failed_at"], failures)
    Console().print(table)


@main.command()
@click.argument("event_ids", nargs=-1)
@_store_option
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter (up to --limit).")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(min=1))
def replay(event_ids: tuple[str, ...], store_url: str, replay_all: bool, limit: int) -> None:
    """Return dead-lettered events to pending; a running receiver dispatches them within a second.

    Handlers that had succeeded for an event are not run again. Exits 1 if any id was not dead-lettered.
    """
    if not event_ids and not replay_all:
        raise click.UsageError("give one or more event ids, or --all")

    async def run() -> list[tuple[str, bool, str | None]]:
        async with _open(store_url) as store:
            ids = list(event_ids)
            if replay_all:
                ids += [letter.id for letter in await store.dead_letters(limit=limit)]
            results = []
            for event_id in dict.fromkeys(ids):
                replayed = await store.replay(event_id)
                results.append((event_id, replayed, None if replayed else await store.state(event_id)))
            return results

    try:
        results = asyncio.run(run())
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    failed = False
    for event_id, replayed, state in results:
        if replayed:
            click.echo(f"replayed {event_id}")
        else:
            failed = True
            click.echo(
                f"not replayed {event_id}: {'unknown id' if state is None else f'state is {state}'}", err=True
            )
    if failed:
        sys.exit(1)
