"""budai_async: the asyncio SDK for BudAI pipelines.

``async with AsyncBudClient() as client: await client.executions.create(pipeline_id, wait=True)``

`RetryPolicy` is how the client retries HTTP calls; `Retry` is a pipeline step's retry in the DSL
(`PipelineBuilder`, `actions`, `params`).
"""

from budai_async._client import AsyncBudClient
from budai_async._http import Timeout
from budai_async._retry import RetryPolicy
from budai_async._version import __version__
from budai_async.batch.result import (
    BatchCounts,
    BatchEntry,
    BatchError,
    BatchItem,
    BatchProgress,
    BatchResult,
    ItemError,
)
from budai_async.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BudError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TimeoutError,
    UnprocessableEntityError,
    ValidationError,
)
from budai_async.models import (
    Action,
    CallbackEvent,
    Execution,
    ExecutionStatus,
    LogEntry,
    LogLevel,
    Pipeline,
    Priority,
    StepRun,
    StepStatus,
    ValidationIssue,
    ValidationResult,
)
from budai_async.pagination import AsyncPager, PageList
from budai_async.pipeline.dsl import PipelineBuilder, Retry, actions, params
from budai_async.trigger_models import (
    EventFiring,
    EventTrigger,
    EventType,
    Schedule,
    ScheduleRun,
    ScheduleStatus,
    ScheduleTiming,
    WebhookSecret,
    WebhookTrigger,
    WebhookTriggerResult,
)
from budai_async.webhooks import WebhookVerificationError

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "Action",
    "AsyncBudClient",
    "AsyncPager",
    "AuthenticationError",
    "BadRequestError",
    "BatchCounts",
    "BatchEntry",
    "BatchError",
    "BatchItem",
    "BatchProgress",
    "BatchResult",
    "BudError",
    "CallbackEvent",
    "ConflictError",
    "EventFiring",
    "EventTrigger",
    "EventType",
    "Execution",
    "ExecutionStatus",
    "InternalServerError",
    "ItemError",
    "LogEntry",
    "LogLevel",
    "NotFoundError",
    "PageList",
    "PermissionDeniedError",
    "Pipeline",
    "PipelineBuilder",
    "Priority",
    "RateLimitError",
    "Retry",
    "RetryPolicy",
    "Schedule",
    "ScheduleRun",
    "ScheduleStatus",
    "ScheduleTiming",
    "StepRun",
    "StepStatus",
    "Timeout",
    "TimeoutError",
    "UnprocessableEntityError",
    "ValidationError",
    "ValidationIssue",
    "ValidationResult",
    "WebhookSecret",
    "WebhookTrigger",
    "WebhookTriggerResult",
    "WebhookVerificationError",
    "__version__",
    "actions",
    "params",
]
