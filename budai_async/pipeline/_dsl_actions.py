"""Typed helpers for the built-in actions: ``actions.deployment_create(model_id=..., cluster_id=...)``.

One function per action in `budai_async.pipeline.action_specs`, keyword arguments named and typed after the
action's param schema (enums as `Literal`s), so mypy and editors catch a wrong key or value before
the server does. `tests/sdk/test_dsl_actions.py` keeps these signatures equal to the spec table.
Params left as None are omitted, so the action's own default applies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from budai_async.pipeline._dsl_refs import ActionCall, Condition, Ref, Value

__all__ = [
    "action",
    "api_call",
    "cluster_health",
    "condition",
    "conditional",
    "delay",
    "deployment_create",
    "deployment_delete",
    "deployment_scale",
    "fail",
    "http_request",
    "log",
    "model_add",
    "model_delete",
    "notification",
    "set_output",
    "transform",
    "wait",
]

LogLevel = Literal["debug", "info", "warning", "error"]
Operation = Literal[
    "passthrough", "uppercase", "lowercase", "keys", "values", "count", "flatten", "unique", "sort", "reverse"
]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
Channel = Literal["webhook", "slack", "email", "teams"]
Severity = Literal["info", "warning", "error", "critical"]
ModelSource = Literal["hugging_face", "url", "disk"]
HealthCheck = Literal["nodes", "gpu", "network", "storage"]


class HasId(Protocol):
    """A DSL step (anything with an `id`), usable where an action names other steps."""

    @property
    def id(self) -> str: ...


StepTarget = str | HasId | Sequence[str | HasId]


def _call(action_type: str, **values: Any) -> ActionCall:
    return ActionCall(action_type, {key: value for key, value in values.items() if value is not None})


def _listed(value: Any) -> Any:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return value


def action(action_type: str, /, **params: Any) -> ActionCall:
    """Any action by name, e.g. one your server registered; params are not checked here."""
    return ActionCall(action_type, dict(params))


def log(*, message: Value[str], level: Value[LogLevel] | None = None) -> ActionCall:
    """Write `message` to the execution log."""
    return _call("log", message=message, level=level)


def transform(*, input: Any, operation: Value[Operation] | None = None) -> ActionCall:
    """Reshape `input` (change case, keys, values, count, flatten, unique, sort, reverse)."""
    return _call("transform", input=input, operation=operation)


def set_output(*, values: Mapping[str, Any] | Ref) -> ActionCall:
    """Publish `values` as the step's output (and the execution's, at a sink)."""
    return _call("set_output", values=values)


def _targets(value: StepTarget | None) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        return [item if isinstance(item, str) else item.id for item in value]
    return value.id


def condition(
    *,
    condition: Condition | Value[bool] | str,
    on_true: StepTarget | None = None,
    on_false: StepTarget | None = None,
) -> ActionCall:
    """Evaluate `condition`; the steps of the branch not taken are skipped."""
    return _call("condition", condition=condition, on_true=_targets(on_true), on_false=_targets(on_false))


def fail(*, message: Value[str] | None = None) -> ActionCall:
    """Fail the step (to exercise failure paths)."""
    return _call("fail", message=message)


def delay(*, seconds: Value[float]) -> ActionCall:
    """Wait `seconds`."""
    return _call("delay", seconds=seconds)


def api_call(
    *,
    url: Value[str],
    method: Value[HttpMethod] | None = None,
    headers: Mapping[str, Value[str]] | Ref | None = None,
    body: Any = None,
    timeout_seconds: Value[float] | None = None,
) -> ActionCall:
    """An HTTP request; a non-2xx answer fails the step."""
    return _call(
        "api_call", url=url, method=method, headers=headers, body=body, timeout_seconds=timeout_seconds
    )


def notification(
    *,
    message: Value[str],
    channel: Value[Channel] | None = None,
    title: Value[str] | None = None,
    severity: Value[Severity] | None = None,
    recipients: Sequence[Value[str]] | Ref | None = None,
    url: Value[str] | None = None,
) -> ActionCall:
    """Send a notification (webhook, slack, email, teams)."""
    return _call(
        "notification",
        message=message,
        channel=channel,
        title=title,
        severity=severity,
        recipients=_listed(recipients),
        url=url,
    )


def model_add(
    *,
    model_uri: Value[str],
    model_source: Value[ModelSource] | None = None,
    model_name: Value[str] | None = None,
) -> ActionCall:
    """Register a model; output `model_id`, `model_name`, `status`."""
    return _call("model_add", model_uri=model_uri, model_source=model_source, model_name=model_name)


def model_delete(*, model_id: Value[str]) -> ActionCall:
    """Remove a model."""
    return _call("model_delete", model_id=model_id)


def deployment_create(
    *,
    model_id: Value[str],
    cluster_id: Value[str],
    deployment_name: Value[str] | None = None,
    replicas: Value[int] | None = None,
) -> ActionCall:
    """Deploy a model; output `deployment_id`, `endpoint_url`, `status`."""
    return _call(
        "deployment_create",
        model_id=model_id,
        cluster_id=cluster_id,
        deployment_name=deployment_name,
        replicas=replicas,
    )


def deployment_delete(*, deployment_id: Value[str]) -> ActionCall:
    """Delete a deployment."""
    return _call("deployment_delete", deployment_id=deployment_id)


def deployment_scale(*, deployment_id: Value[str], replicas: Value[int]) -> ActionCall:
    """Change a deployment's replica count."""
    return _call("deployment_scale", deployment_id=deployment_id, replicas=replicas)


def cluster_health(
    *,
    cluster_id: Value[str],
    checks: Sequence[Value[HealthCheck]] | Ref | None = None,
    fail_if_unhealthy: Value[bool] | None = None,
) -> ActionCall:
    """Check a cluster; fails (retryably) unless healthy. Output `healthy`, `status`, `issues`, `details`."""
    return _call(
        "cluster_health", cluster_id=cluster_id, checks=_listed(checks), fail_if_unhealthy=fail_if_unhealthy
    )


# The guide's names for the same actions.
conditional = condition
wait = delay
http_request = api_call
