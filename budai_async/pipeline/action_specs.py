"""Param schemas, outputs and aliases of the built-in actions, as plain data.

The SDK's DSL validates definitions offline and the server serves `/budpipeline/actions` from the same
table, so it lives here (pure, no server imports). `params` is a small JSON-schema subset understood by
`budai_async.pipeline.definition.check_params`: ``type`` (a name or a list of names), ``enum``, ``minimum``,
``maximum``, ``items``, ``properties``, ``required`` and ``additionalProperties``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from budai_async.models import Action, ActionParam

__all__ = ["BUILTIN_SPECS", "ActionSpec", "alias_index"]


@attrs.frozen(kw_only=True)
class ActionSpec:
    """What an action accepts and returns.

    `raw_params` names params the action evaluates itself (the `condition` action's expression), so the
    engine passes them through untouched instead of rendering them as templates first.
    """

    type: str
    description: str = ""
    params: Mapping[str, Any] = attrs.field(factory=lambda: {"type": "object", "properties": {}})
    outputs: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    category: str = "builtin"
    raw_params: tuple[str, ...] = ()

    def to_model(self) -> Action:
        """The catalogue entry served by `GET /budpipeline/actions`."""
        return Action(
            type=self.type,
            name=self.type.replace("_", " ").title(),
            description=self.description,
            aliases=list(self.aliases),
            params_schema=_plain(self.params),
            outputs=list(self.outputs),
            category=self.category,
            params=catalogue_params(self.params),
        )


def catalogue_params(schema: Mapping[str, Any]) -> list[ActionParam]:
    """The gateway's flat param list (name, type, required, default, enum options) from a params schema."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    required = schema.get("required")
    needed = set(required) if isinstance(required, list | tuple) else set()
    params: list[ActionParam] = []
    for name, prop in properties.items():
        prop = prop if isinstance(prop, Mapping) else {}
        kind = prop.get("type", "any")
        if isinstance(kind, list | tuple):
            kind = next((str(k) for k in kind if k != "null"), "any")
        enum = prop.get("enum")
        params.append(
            ActionParam(
                name=str(name),
                type=str(kind),
                description=prop.get("description") if isinstance(prop.get("description"), str) else None,
                required=name in needed,
                default=_plain(prop.get("default")),
                options=[{"label": str(v), "value": v} for v in enum] if isinstance(enum, list) else None,
            )
        )
    return params


def _plain(value: Any) -> Any:
    """Deep-copy a schema into plain dicts and lists (JSON-ready, safe to mutate)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def _str(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


_STEP_TARGETS = {
    "type": ["string", "array"],
    "items": {"type": "string"},
    "description": "a step id or a list of step ids",
}

_SPECS: tuple[ActionSpec, ...] = (
    ActionSpec(
        type="log",
        description="Write a line to the execution log.",
        params=_obj(
            {
                "message": _str("the text to log"),
                "level": _str("log level", enum=["debug", "info", "warning", "error"], default="info"),
            },
            ("message",),
        ),
        outputs=("logged", "message", "level"),
    ),
    ActionSpec(
        type="transform",
        description="Reshape a value: change case, list keys or values, count, flatten, dedupe, sort.",
        params=_obj(
            {
                "input": {"description": "the value to transform"},
                "operation": _str(
                    "what to do with the input",
                    enum=[
                        "passthrough",
                        "uppercase",
                        "lowercase",
                        "keys",
                        "values",
                        "count",
                        "flatten",
                        "unique",
                        "sort",
                        "reverse",
                    ],
                    default="passthrough",
                ),
            },
            ("input",),
        ),
        outputs=("result",),
    ),
    ActionSpec(
        type="set_output",
        description="Publish values as this step's output (and, at a sink, the execution's outputs).",
        params=_obj({"values": {"type": "object", "description": "the values to publish"}}, ("values",)),
        outputs=(),
    ),
    ActionSpec(
        type="condition",
        description="Evaluate an expression and skip the steps of the branch not taken.",
        params=_obj(
            {
                "condition": {
                    "type": ["string", "boolean"],
                    "description": "expression over params and steps; braces optional",
                },
                "on_true": {**_STEP_TARGETS, "description": "step(s) that run when true"},
                "on_false": {**_STEP_TARGETS, "description": "step(s) that run when false"},
            },
            ("condition",),
        ),
        outputs=("result", "branch", "next_steps"),
        aliases=("conditional",),
        raw_params=("condition",),
    ),
    ActionSpec(
        type="fail",
        description="Fail the step with a message (test failure paths).",
        params=_obj({"message": _str("the error message", default="step failed")}),
        outputs=(),
    ),
    ActionSpec(
        type="delay",
        description="Wait a number of seconds.",
        params=_obj(
            {"seconds": {"type": "number", "minimum": 0, "maximum": 86400, "description": "how long"}},
            ("seconds",),
        ),
        outputs=("waited_seconds",),
        aliases=("wait",),
    ),
    ActionSpec(
        type="api_call",
        description="Make an HTTP request; a non-2xx answer fails the step.",
        params=_obj(
            {
                "url": _str("http or https URL"),
                "method": _str(
                    "HTTP method",
                    enum=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
                    default="GET",
                ),
                "headers": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "request headers",
                },
                "body": {"description": "JSON body (object, array, number) or raw text (string)"},
                "timeout_seconds": {
                    "type": "number",
                    "minimum": 0.001,
                    "maximum": 3600,
                    "description": "total request timeout (default: the server's, 30 s)",
                },
            },
            ("url",),
        ),
        outputs=("status_code", "body", "headers"),
        aliases=("http_request",),
    ),
    ActionSpec(
        type="notification",
        description="Send a notification to a webhook URL (the param or the server's), else log it.",
        params=_obj(
            {
                "channel": _str(
                    "delivery channel", enum=["webhook", "slack", "email", "teams"], default="webhook"
                ),
                "message": _str("the notification text"),
                "title": _str("a short title"),
                "severity": _str("severity", enum=["info", "warning", "error", "critical"], default="info"),
                "recipients": {"type": "array", "items": {"type": "string"}, "description": "addresses"},
                "url": _str("where to POST the notification (overrides the server setting)"),
            },
            ("message",),
        ),
        outputs=("sent", "notification_id", "channel", "delivery"),
    ),
    ActionSpec(
        type="model_add",
        description="Register a model in the platform inventory.",
        params=_obj(
            {
                "model_uri": _str("model URI, e.g. a Hugging Face repo id"),
                "model_source": _str(
                    "where the model comes from",
                    enum=["hugging_face", "url", "disk"],
                    default="hugging_face",
                ),
                "model_name": _str("display name (default: the last part of the URI)"),
            },
            ("model_uri",),
        ),
        outputs=("model_id", "model_name", "status"),
        category="platform",
    ),
    ActionSpec(
        type="model_delete",
        description="Remove a model from the platform inventory.",
        params=_obj({"model_id": _str("the model to delete")}, ("model_id",)),
        outputs=("deleted", "model_id"),
        category="platform",
    ),
    ActionSpec(
        type="deployment_create",
        description="Deploy a model on a cluster and get its endpoint URL.",
        params=_obj(
            {
                "model_id": _str("a model id from model_add"),
                "cluster_id": _str("target cluster, e.g. cluster_prod"),
                "deployment_name": _str("deployment name (default: derived from the model)"),
                "replicas": {"type": "integer", "minimum": 1, "maximum": 100, "default": 1},
            },
            ("model_id", "cluster_id"),
        ),
        outputs=("deployment_id", "endpoint_url", "status", "cluster_id", "model_id", "replicas"),
        category="platform",
    ),
    ActionSpec(
        type="deployment_delete",
        description="Delete a deployment.",
        params=_obj({"deployment_id": _str("the deployment to delete")}, ("deployment_id",)),
        outputs=("deleted", "deployment_id"),
        category="platform",
    ),
    ActionSpec(
        type="deployment_scale",
        description="Change the replica count of a deployment.",
        params=_obj(
            {
                "deployment_id": _str("the deployment to scale"),
                "replicas": {"type": "integer", "minimum": 0, "maximum": 100},
            },
            ("deployment_id", "replicas"),
        ),
        outputs=("replicas", "deployment_id", "previous_replicas"),
        category="platform",
    ),
    ActionSpec(
        type="cluster_health",
        description="Check a cluster's health; fails (retryably) unless it is healthy.",
        params=_obj(
            {
                "cluster_id": _str("the cluster to check"),
                "checks": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["nodes", "gpu", "network", "storage"]},
                    "description": "which checks to run (default: all)",
                },
                "fail_if_unhealthy": {
                    "type": "boolean",
                    "default": True,
                    "description": "fail the step (retryably) unless the cluster is healthy; "
                    "false returns the report whatever the health",
                },
            },
            ("cluster_id",),
        ),
        outputs=("healthy", "status", "issues", "details"),
        category="platform",
    ),
)

BUILTIN_SPECS: Mapping[str, ActionSpec] = MappingProxyType({spec.type: spec for spec in _SPECS})
"""The built-in actions by canonical type."""


def alias_index(specs: Mapping[str, ActionSpec]) -> dict[str, str]:
    """Map every accepted action name (canonical type or alias) to its canonical type."""
    index: dict[str, str] = {}
    for name, spec in specs.items():
        index[name] = name
        for alias in spec.aliases:
            index.setdefault(alias, name)
    return index
