"""`budai-server` (and `python -m budai_server`): run the local BudAI-compatible server.

Prints ``budai-server listening on http://HOST:PORT`` on stdout once the database is migrated,
interrupted executions are recovered and the socket accepts connections (``--port 0`` picks a free
port; read it from that line). SIGTERM and SIGINT shut down in order (docs/server.md).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import click
from aiohttp import web

from budai_async.logformat import LogFormat, access_log_options, configure_logging
from budai_server.app import create_app
from budai_server.appkeys import OUTBOX
from budai_server.config import FaultConfig, InventorySettings, ServerConfig, default_db_path
from budai_server.outbound.policy import parse_allow_list
from budai_server.outbox.rules import (
    DEFAULT_RETRY_SCHEDULE,
    check_secret,
    format_schedule,
    parse_schedule,
    secret_fingerprint,
)
from budai_server.outbox.store import SECRET_QUERY
from budai_server.store.database import SchemaTooNewError

__all__ = ["main", "serve"]

logger = logging.getLogger("budai_server")


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(config: ServerConfig, *, ready_message: bool = True, log_format: LogFormat = "text") -> None:
    """Serve until SIGTERM/SIGINT, then stop: HTTP first, then the scheduler, then the store."""
    app = create_app(config)
    runner = web.AppRunner(app, handle_signals=False, **access_log_options(log_format))
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        outbox = app.get(OUTBOX)
        if ready_message and outbox is not None and outbox.secret_from_store:
            # Never the secret itself: stdout ends up in logs. Where it is, and how to tell it apart.
            print(
                f"budai-server webhook secret: fingerprint {secret_fingerprint(outbox.secret)}, generated "
                f"at the first start and kept in {config.db_path} (read it with: sqlite3 "
                f'{config.db_path} "{SECRET_QUERY}"; pass --webhook-secret to choose one)',
                flush=True,
            )
        if ready_message:
            print(f"budai-server listening on {_url(str(host), int(port))}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        logger.info("shutting down")
    finally:
        await runner.cleanup()


# ServerConfig fields `--limit NAME=VALUE` may set, with their types.
LIMIT_FIELDS: dict[str, type] = {
    "max_body_bytes": int,
    "max_json_depth": int,
    "max_steps_per_definition": int,
    "max_definition_bytes": int,
    "max_params_bytes": int,
    "max_log_line_chars": int,
    "max_log_lines_per_execution": int,
    "max_log_lines_per_second": float,
    "template_render_max_seconds": float,
}


def _parse_limits(items: tuple[str, ...]) -> dict[str, Any]:
    """``("max_params_bytes=65536", ...)`` -> ServerConfig keyword arguments (positive numbers)."""
    found: dict[str, Any] = {}
    for item in items:
        name, _, raw = item.partition("=")
        kind = LIMIT_FIELDS.get(name.strip())
        if kind is None:
            raise click.BadParameter(f"unknown limit {name!r}", param_hint="--limit")
        try:
            value = kind(raw.strip())
        except ValueError:
            raise click.BadParameter(f"{name} needs a number, got {raw!r}", param_hint="--limit") from None
        if value <= 0:
            raise click.BadParameter(f"{name} must be > 0", param_hint="--limit")
        found[name.strip()] = value
    return found


def _tune_gc() -> None:
    """Make the cyclic garbage collector cheaper for a long-running server (CLI process only).

    Under the fan-out benchmark (bench/fanout.py) the collector took about a quarter of the
    server's CPU, mostly in full collections re-walking what start-up loaded (modules, classes,
    functions), which lives as long as the process. `gc.freeze` takes that out of the collector's
    sight (frozen objects are still freed by reference counting; the garbage cycles among them are
    collected just before). A first generation of 5,000 objects instead of 700 runs the young
    collections a seventh as often. Together: 1.0 s -> 0.25 s of collector time per 10,000 executions.
    """
    gc.collect()
    gc.freeze()
    _threshold0, threshold1, threshold2 = gc.get_threshold()
    gc.set_threshold(5000, threshold1, threshold2)


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"SQLite file (created if missing). Default: {default_db_path()}",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="0 picks a free port."
)
@click.option(
    "--api-key",
    envvar="BUDAI_SERVER_API_KEY",
    default=None,
    help=(
        "Require 'Authorization: Bearer KEY' on every route but /health and /openapi.json "
        "(env BUDAI_SERVER_API_KEY)."
    ),
)
@click.option(
    "--max-concurrent-executions",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Run slots; further executions queue by priority.",
)
@click.option(
    "--actions",
    "action_modules",
    multiple=True,
    metavar="MODULE",
    help="Import MODULE at start so it can register custom actions (repeatable).",
)
@click.option(
    "--recovery",
    type=click.Choice(["resume", "fail"]),
    default="resume",
    show_default=True,
    help="What happens at start to executions a crash left running.",
)
@click.option(
    "--long-poll-max-seconds",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Cap of GET /budpipeline/executions/{id}?wait=.",
)
@click.option(
    "--shutdown-grace-seconds",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="On SIGTERM, how long running executions may finish before they are interrupted.",
)
@click.option(
    "--notification-url", default=None, help="Where `notification` steps post when they give no url."
)
@click.option(
    "--inventory-latency",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds every simulated platform operation takes.",
)
@click.option(
    "--inventory-failure-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Probability that a simulated platform operation fails.",
)
@click.option(
    "--unhealthy-cluster", multiple=True, metavar="CLUSTER_ID", help="Simulate an unhealthy cluster."
)
@click.option("--inventory-seed", type=int, default=None, help="Seed of the simulated platform's RNG.")
@click.option(
    "--fault-503-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of requests answered 503.",
)
@click.option(
    "--fault-429-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of requests answered 429 with Retry-After.",
)
@click.option(
    "--fault-drop-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of connections closed before the handler runs.",
)
@click.option(
    "--fault-drop-after-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of connections closed after the handler ran (answer lost).",
)
@click.option(
    "--fault-retry-after",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Retry-After of injected 429s, in seconds.",
)
@click.option(
    "--fault-route", multiple=True, metavar="GLOB", help="Paths faults apply to (default /budpipeline*)."
)
@click.option("--fault-seed", type=int, default=None, help="Seed of the fault RNG (reproducible runs).")
@click.option(
    "--webhook-secret",
    envvar="BUDAI_WEBHOOK_SECRET",
    default=None,
    metavar="whsec_...",
    help="Signs callbacks (env BUDAI_WEBHOOK_SECRET). Default: generated at the first start and kept in "
    "the database; its fingerprint and how to read it are printed at start (never the secret).",
)
@click.option(
    "--callback-retry-schedule",
    default=format_schedule(DEFAULT_RETRY_SCHEDULE),
    show_default=True,
    metavar="DELAYS",
    help="Delay before each callback attempt (units ms/s/m/h/d), jittered by +-10 %.",
)
@click.option(
    "--callback-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds one callback attempt may take.",
)
@click.option(
    "--max-concurrent-callbacks",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Callback attempts in flight at once.",
)
@click.option(
    "--outbound",
    "outbound_mode",
    type=click.Choice(["auto", "strict"]),
    envvar="BUDAI_SERVER_OUTBOUND",
    default="auto",
    show_default=True,
    help="Outbound policy of api_call, notification and callbacks: 'strict' refuses loopback, private, "
    "link-local, multicast and reserved addresses; 'auto' also allows loopback while --host is a "
    "loopback address (env BUDAI_SERVER_OUTBOUND).",
)
@click.option(
    "--allow-outbound",
    multiple=True,
    envvar="BUDAI_SERVER_ALLOW_OUTBOUND",
    metavar="CIDR|HOST,...",
    help="Networks (e.g. 10.0.0.0/8) and host names (e.g. hooks.internal, *.corp) outbound requests "
    "may reach whatever the policy says (comma-separated, repeatable; env BUDAI_SERVER_ALLOW_OUTBOUND).",
)
@click.option(
    "--outbound-max-redirects",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Redirects an api_call or notification follows (each hop checked by the policy).",
)
@click.option(
    "--outbound-max-response-bytes",
    type=click.IntRange(min=1),
    default=1024 * 1024,
    show_default=True,
    help="Largest answer an api_call or notification reads.",
)
@click.option(
    "--limit",
    "limits",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a work limit (repeatable): " + ", ".join(sorted(LIMIT_FIELDS)) + " (docs/server.md, Limits).",
)
@click.option(
    "--retention-days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Delete ended executions (with their logs and callbacks) this many days after they ended; "
    "checked at start and hourly. Default: keep everything.",
)
@click.option(
    "--guide-fixtures",
    is_flag=True,
    default=False,
    help="Create the user guide's sample data at start (pipe_abc123, exec_abc123, model_xyz, "
    "cluster_backup, ...) so its snippets run as written.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per line; access lines carry method, path, status and request_id.",
)
def main(
    db_path: Path | None,
    host: str,
    port: int,
    api_key: str | None,
    max_concurrent_executions: int,
    action_modules: tuple[str, ...],
    recovery: str,
    long_poll_max_seconds: float,
    shutdown_grace_seconds: float,
    notification_url: str | None,
    inventory_latency: float,
    inventory_failure_rate: float,
    unhealthy_cluster: tuple[str, ...],
    inventory_seed: int | None,
    fault_503_rate: float,
    fault_429_rate: float,
    fault_drop_rate: float,
    fault_drop_after_rate: float,
    fault_retry_after: float,
    fault_route: tuple[str, ...],
    fault_seed: int | None,
    webhook_secret: str | None,
    callback_retry_schedule: str,
    callback_timeout: float,
    max_concurrent_callbacks: int,
    outbound_mode: str,
    allow_outbound: tuple[str, ...],
    outbound_max_redirects: int,
    outbound_max_response_bytes: int,
    limits: tuple[str, ...],
    retention_days: float | None,
    guide_fixtures: bool,
    log_level: str,
    log_format: LogFormat,
) -> None:
    """Run the local BudAI pipeline server."""
    configure_logging(log_level, log_format)
    if fault_503_rate + fault_429_rate + fault_drop_rate + fault_drop_after_rate > 1:
        raise click.BadParameter("the fault rates add up to more than 1", param_hint="--fault-*-rate")
    faults = FaultConfig(
        error_503_rate=fault_503_rate,
        error_429_rate=fault_429_rate,
        drop_rate=fault_drop_rate,
        drop_after_rate=fault_drop_after_rate,
        retry_after_seconds=fault_retry_after,
        seed=fault_seed,
        **({"routes": fault_route} if fault_route else {}),
    )
    try:
        schedule = parse_schedule(callback_retry_schedule)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--callback-retry-schedule") from None
    try:
        check_secret(webhook_secret or None)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--webhook-secret") from None
    try:
        parse_allow_list(allow_outbound)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow-outbound") from None
    config = ServerConfig(
        db_path=db_path or default_db_path(),
        host=host,
        port=port,
        api_key=api_key or None,
        max_concurrent_executions=max_concurrent_executions,
        action_modules=action_modules,
        recovery=recovery,
        long_poll_max_seconds=long_poll_max_seconds,
        shutdown_grace_seconds=shutdown_grace_seconds,
        notification_url=notification_url,
        inventory=InventorySettings(
            latency_seconds=inventory_latency,
            failure_rate=inventory_failure_rate,
            unhealthy_clusters=unhealthy_cluster,
            seed=inventory_seed,
        ),
        faults=faults,
        webhook_secret=webhook_secret or None,
        callback_retry_schedule=schedule,
        callback_timeout_seconds=callback_timeout,
        max_concurrent_callbacks=max_concurrent_callbacks,
        outbound_mode=outbound_mode,
        allow_outbound=allow_outbound,
        outbound_max_redirects=outbound_max_redirects,
        outbound_max_response_bytes=outbound_max_response_bytes,
        **_parse_limits(limits),
        retention_days=retention_days,
        guide_fixtures=guide_fixtures,
    )
    _tune_gc()
    try:
        asyncio.run(serve(config, log_format=log_format))
    except (OSError, ImportError, SchemaTooNewError) as exc:
        click.echo(f"budai-server: cannot start: {exc}", err=True)
        sys.exit(1)
