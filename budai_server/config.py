"""Settings of one server process, built once by the CLI (or a test) and passed to `create_app`.

Nothing here reads the environment: `cli` turns command-line options into a `ServerConfig`,
tests build one directly, so two servers in one process never share hidden state.
"""

from __future__ import annotations

import functools
from pathlib import Path

import attrs
import platformdirs

from budai_server.limits import (
    MAX_DEFINITION_BYTES,
    MAX_LOG_LINE_CHARS,
    MAX_LOG_LINES_PER_EXECUTION,
    MAX_LOG_LINES_PER_SECOND,
    MAX_PARAMS_BYTES,
    MAX_STEPS_PER_DEFINITION,
    TEMPLATE_RENDER_MAX_SECONDS,
)
from budai_server.nesting import DEFAULT_MAX_DEPTH
from budai_server.outbound.policy import (
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_MAX_RESPONSE_BYTES,
    MODES,
    OutboundPolicy,
    make_policy,
    parse_allow_list,
)
from budai_server.outbox.rules import DEFAULT_JITTER, DEFAULT_RETRY_SCHEDULE, check_schedule, check_secret

__all__ = ["FaultConfig", "InventorySettings", "ServerConfig", "default_db_path"]


def default_db_path() -> Path:
    """The SQLite file used when `--db` is not given: under the user's data directory."""
    return Path(platformdirs.user_data_dir("budai-server", appauthor=False)) / "budai.db"


def _allow_list(
    _instance: object, _attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    parse_allow_list(value)


def _rate(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value}")


def _non_negative(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value}")


@attrs.frozen(kw_only=True)
class FaultConfig:
    """Injected faults, so client retry logic can be tested against a real server.

    Each request whose path matches one of `routes` (fnmatch patterns, e.g. ``/budpipeline*``) and
    whose method is in `methods` draws one number from a seeded RNG and gets, in this order of
    bands: a 503, a 429 with `Retry-After`, a connection dropped before the handler runs, or a
    connection dropped after the handler ran (the effect happened, the answer is lost).
    """

    error_503_rate: float = attrs.field(default=0.0, validator=_rate)
    error_429_rate: float = attrs.field(default=0.0, validator=_rate)
    drop_rate: float = attrs.field(default=0.0, validator=_rate)
    drop_after_rate: float = attrs.field(default=0.0, validator=_rate)
    retry_after_seconds: float = attrs.field(default=1.0, validator=_non_negative)
    routes: tuple[str, ...] = ("/budpipeline*",)
    methods: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
    seed: int | None = None

    @property
    def enabled(self) -> bool:
        """True when any fault has a non-zero rate."""
        return (self.error_503_rate + self.error_429_rate + self.drop_rate + self.drop_after_rate) > 0


@attrs.frozen(kw_only=True)
class InventorySettings:
    """The simulated platform: how slow it is and how often it fails (read by the inventory)."""

    latency_seconds: float = attrs.field(default=0.0, validator=_non_negative)
    failure_rate: float = attrs.field(default=0.0, validator=_rate)
    unhealthy_clusters: tuple[str, ...] = ()
    seed: int | None = None


@attrs.frozen(kw_only=True)
class ServerConfig:
    """Everything a server process needs; immutable once built."""

    db_path: Path = attrs.field(factory=default_db_path, converter=Path)
    host: str = "127.0.0.1"
    port: int = 8080
    api_key: str | None = None
    max_concurrent_executions: int = attrs.field(default=8)
    # Modules imported at start; each may register custom actions (see docs/server.md).
    action_modules: tuple[str, ...] = ()
    inventory: InventorySettings = attrs.field(factory=InventorySettings)
    faults: FaultConfig = attrs.field(factory=FaultConfig)
    # "resume": executions left running by a crash run again from their unfinished steps;
    # "fail": they end `failed` with an error saying the server restarted.
    recovery: str = attrs.field(default="resume", validator=attrs.validators.in_(("resume", "fail")))
    long_poll_max_seconds: float = attrs.field(default=60.0, validator=_non_negative)
    max_body_bytes: int = 1024 * 1024
    # Deepest nesting of arrays and objects in a JSON body (deeper: 422 before parsing).
    # Work limits (docs/server.md, Limits); over a limit: 422 naming it.
    max_steps_per_definition: int = attrs.field(
        default=MAX_STEPS_PER_DEFINITION, validator=attrs.validators.ge(1)
    )
    max_definition_bytes: int = attrs.field(default=MAX_DEFINITION_BYTES, validator=attrs.validators.ge(1))
    max_params_bytes: int = attrs.field(default=MAX_PARAMS_BYTES, validator=attrs.validators.ge(1))
    max_log_line_chars: int = attrs.field(default=MAX_LOG_LINE_CHARS, validator=attrs.validators.ge(1))
    max_log_lines_per_execution: int = attrs.field(
        default=MAX_LOG_LINES_PER_EXECUTION, validator=attrs.validators.ge(1)
    )
    max_log_lines_per_second: float = attrs.field(
        default=MAX_LOG_LINES_PER_SECOND, validator=attrs.validators.gt(0)
    )
    # Time budget of one template render or condition (engine/templates.py); over it the step fails.
    template_render_max_seconds: float = attrs.field(
        default=TEMPLATE_RENDER_MAX_SECONDS, validator=attrs.validators.gt(0)
    )
    max_json_depth: int = attrs.field(
        default=DEFAULT_MAX_DEPTH, validator=[attrs.validators.ge(1), attrs.validators.le(500)]
    )
    # Idempotency keys older than this are forgotten (checked at start and hourly; None: keep all).
    idempotency_ttl_seconds: float | None = 24 * 3600.0
    # How long SIGTERM waits for running executions before interrupting them (they resume at start).
    shutdown_grace_seconds: float = attrs.field(default=5.0, validator=_non_negative)
    # Step-state writes are coalesced for this long into one transaction (0 = write at once).
    store_flush_interval_seconds: float = attrs.field(default=0.005, validator=_non_negative)
    # Extra time past an execution's `timeout_seconds` before the scheduler itself interrupts it.
    timeout_grace_seconds: float = attrs.field(default=1.0, validator=_non_negative)
    # Where the `notification` action posts when a step gives no `url` (None: log the message).
    notification_url: str | None = None
    # Timeout of outgoing HTTP requests made by actions when a step gives none.
    http_timeout_seconds: float = 30.0
    # Callbacks (docs/callbacks.md). No secret: the one generated at the first start and kept in the
    # database is used. The schedule is the delay before each attempt (0 = at once), then jitter.
    webhook_secret: str | None = attrs.field(default=None, converter=check_secret)
    callback_retry_schedule: tuple[float, ...] = attrs.field(
        default=DEFAULT_RETRY_SCHEDULE, converter=check_schedule
    )
    callback_jitter: float = attrs.field(default=DEFAULT_JITTER, validator=_rate)
    callback_timeout_seconds: float = attrs.field(default=10.0, validator=attrs.validators.gt(0))
    max_concurrent_callbacks: int = attrs.field(default=16, validator=attrs.validators.ge(1))
    # Ended executions whose completed_at is older than this many days are deleted with their logs and
    # callbacks, at start and then every `retention_interval_seconds` (None: keep everything).
    retention_days: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.gt(0))
    )
    retention_interval_seconds: float = attrs.field(default=3600.0, validator=attrs.validators.gt(0))
    # The user guide's sample pipelines, executions, models and clusters (budai_server.fixtures).
    guide_fixtures: bool = False
    # (execution id, seconds): guide executions that wait that long before finishing (tests).
    guide_fixtures_hold: tuple[tuple[str, float], ...] = ()
    # Outbound policy (docs/server.md, Security): "auto" allows loopback targets while `host` is a
    # loopback address, "strict" never does; `allow_outbound` lists CIDR networks and host names
    # that are allowed whatever the rules say.
    outbound_mode: str = attrs.field(default="auto", validator=attrs.validators.in_(MODES))
    allow_outbound: tuple[str, ...] = attrs.field(default=(), validator=_allow_list)
    outbound_max_redirects: int = attrs.field(default=DEFAULT_MAX_REDIRECTS, validator=attrs.validators.ge(0))
    outbound_max_response_bytes: int = attrs.field(
        default=DEFAULT_MAX_RESPONSE_BYTES, validator=attrs.validators.ge(1)
    )

    def outbound_policy(self) -> OutboundPolicy:
        """The outbound policy of this server (every outbound request obeys it).

        Built once per distinct setting and shared (it is immutable): the execute, run, retry and
        batch routes ask for it on every request that carries callbacks.
        """
        return _cached_policy(
            self.outbound_mode,
            self.host,
            self.allow_outbound,
            self.outbound_max_redirects,
            self.outbound_max_response_bytes,
        )

    @max_concurrent_executions.validator
    def _check_concurrency(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if value < 1:
            raise ValueError(f"max_concurrent_executions must be >= 1, got {value}")


@functools.lru_cache(maxsize=16)
def _cached_policy(
    mode: str, host: str, allow: tuple[str, ...], max_redirects: int, max_response_bytes: int
) -> OutboundPolicy:
    return make_policy(mode, host, allow, max_redirects=max_redirects, max_response_bytes=max_response_bytes)
