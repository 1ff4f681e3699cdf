"""Wire models shared by the SDK, the local server and the receiver.

Frozen, keyword-only attrs classes; `budai_async._convert.converter` turns them to and from JSON-ready
dicts. Enumerations are `str` enums that keep values they do not know (forward compatible), so
``execution.status == "completed"`` works and a new server status never breaks parsing.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

import attrs

from budai_async._model_base import WireModel

__all__ = [
    "Action",
    "ActionParam",
    "CallbackEvent",
    "Execution",
    "ExecutionStatus",
    "LogEntry",
    "LogLevel",
    "Page",
    "Pipeline",
    "Priority",
    "StepRun",
    "StepStatus",
    "ValidationIssue",
    "ValidationResult",
]

T = TypeVar("T")


class _OpenStrEnum(enum.StrEnum):
    """A str enum that keeps unknown values instead of raising, so new server values parse."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        lowered = value.lower()
        for member in cls:
            if member.value == lowered:
                return member
        pseudo = str.__new__(cls, lowered)
        pseudo._name_ = lowered.upper()
        pseudo._value_ = lowered
        return pseudo


class ExecutionStatus(_OpenStrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"

    @property
    def is_terminal(self) -> bool:
        """True once the execution can no longer change; an unknown status (the gateway's
        ``INTERRUPTED``) counts as ended, so waits never spin on a value they cannot read."""
        return self not in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)


TERMINAL_STATUSES = frozenset(
    {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED, ExecutionStatus.TIMEOUT}
)


class StepStatus(_OpenStrEnum):
    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


class Priority(_OpenStrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class LogLevel(_OpenStrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@attrs.frozen(kw_only=True, repr=False)
class Pipeline(WireModel):
    """A stored pipeline; `definition` is the JSON DAG exactly as submitted.

    `tags` is the gateway's string map (a tag sent as a plain list reads as ``{tag: ""}``).
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("id", "name", "version", "step_count")

    id: str
    name: str
    description: str | None = None
    definition: dict[str, Any] = attrs.field(factory=dict)
    tags: dict[str, str] = attrs.field(factory=dict)
    status: str = "active"
    is_active: bool = True
    icon: str | None = None
    version: int = 1
    step_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


@attrs.frozen(kw_only=True, repr=False)
class StepRun(WireModel):
    """One step's state inside an execution."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("status", "attempts", "error", "skip_reason")

    status: StepStatus = StepStatus.PENDING
    output: Any = None
    error: str | None = None
    attempts: int = 0
    skip_reason: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_seconds: float | None = None


@attrs.frozen(kw_only=True, repr=False)
class Execution(WireModel):
    """One run of a pipeline (or of an ephemeral definition when `pipeline_id` is None)."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("id", "pipeline_id", "status", "progress", "error")

    id: str
    pipeline_id: str | None = None
    status: ExecutionStatus = ExecutionStatus.PENDING
    priority: Priority = Priority.NORMAL
    params: dict[str, Any] = attrs.field(factory=dict)
    tags: list[str] = attrs.field(factory=list)
    outputs: dict[str, Any] = attrs.field(factory=dict)
    error: str | None = None
    steps: dict[str, StepRun] = attrs.field(factory=dict)
    progress: float = 0.0
    completed_steps: int = 0
    total_steps: int = 0
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_seconds: float | None = None
    cpu_seconds: float | None = None
    peak_memory_mb: float | None = None
    retry_of: str | None = None
    timeout_seconds: float | None = None
    callbacks: dict[str, str] = attrs.field(factory=dict)
    # The gateway's request fields, stored as sent and echoed (docs/compatibility.md).
    context: dict[str, Any] = attrs.field(factory=dict)
    initiator: str | None = None
    user_id: str | None = None
    callback_topics: list[str] = attrs.field(factory=list)
    subscriber_ids: str | None = None
    payload_type: str | None = None
    notification_workflow_id: str | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the execution has ended (completed, failed, cancelled or timeout)."""
        return self.status.is_terminal


@attrs.frozen(kw_only=True, repr=False)
class LogEntry(WireModel):
    """One log line of an execution; `seq` is 1, 2, 3 ... per execution and orders the stream."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("seq", "level", "step_id", "message")

    seq: int
    timestamp: datetime
    level: LogLevel = LogLevel.INFO
    message: str = ""
    step_id: str | None = None
    execution_id: str | None = None


@attrs.frozen(kw_only=True, repr=False)
class ActionParam(WireModel):
    """One param of an action in the gateway's catalogue form (derived from `params_schema`)."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("name", "type", "required")

    name: str
    type: str = "any"
    description: str | None = None
    required: bool = False
    default: Any = None
    options: list[dict[str, Any]] | None = None


@attrs.frozen(kw_only=True, repr=False)
class Action(WireModel):
    """A catalogue entry: an action type with the JSON schema of its params and its output keys.

    `name` and `params` are the gateway's catalogue fields; `params_schema` is the full JSON schema.
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("type", "category")

    type: str
    name: str = ""
    description: str = ""
    aliases: list[str] = attrs.field(factory=list)
    params_schema: dict[str, Any] = attrs.field(factory=dict)
    outputs: list[str] = attrs.field(factory=list)
    category: str = "builtin"
    params: list[ActionParam] = attrs.field(factory=list)


@attrs.frozen(kw_only=True, repr=False)
class ValidationIssue(WireModel):
    """One fault of a definition; `path` names the value, relative to the definition, in the 422 path style:
    ``steps[1].params.model_id`` (``""`` is the definition itself)."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("path", "code", "message")

    path: str
    message: str
    code: str = "invalid"


@attrs.frozen(kw_only=True)
class ValidationResult(WireModel):
    valid: bool
    errors: list[ValidationIssue] = attrs.field(factory=list)
    warnings: list[ValidationIssue] = attrs.field(factory=list)


@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of a list call."""

    items: list[T]
    total: int | None = None
    limit: int | None = None
    offset: int | None = None
    next_cursor: str | None = None


@attrs.frozen(kw_only=True, repr=False)
class CallbackEvent(WireModel):
    """The body of an `on_complete` / `on_failure` callback (DESIGN §6)."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("type", "execution_id", "status")

    type: str
    execution_id: str
    pipeline_id: str | None = None
    status: ExecutionStatus = ExecutionStatus.COMPLETED
    outputs: dict[str, Any] = attrs.field(factory=dict)
    error: str | None = None
    tags: list[str] = attrs.field(factory=list)
    params: dict[str, Any] = attrs.field(factory=dict)
    completed_at: datetime | None = None
    duration_seconds: float | None = None
