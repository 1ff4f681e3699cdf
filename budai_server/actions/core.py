"""Built-in control actions: log, transform, set_output, condition, fail, delay."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from budai_async.pipeline.action_specs import BUILTIN_SPECS
from budai_server.actions.registry import ActionContext, ActionError, ActionRegistry
from budai_server.engine.templates import truthy

__all__ = ["register", "transform_value"]


async def log_action(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Write the message to the execution log at the given level."""
    message, level = str(params["message"]), params["level"]
    ctx.log.emit(level, message)
    return {"logged": True, "message": message, "level": level}


async def set_output(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Publish the values as the step's output."""
    return dict(params["values"])


async def fail(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Always fail (retried like any action error)."""
    raise ActionError(str(params["message"]))


async def delay(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Sleep; report how long the wait really took."""
    started = time.monotonic()
    await asyncio.sleep(float(params["seconds"]))
    return {"waited_seconds": round(time.monotonic() - started, 6)}


async def condition(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Evaluate the condition; the engine skips the targets of the branch not taken."""
    expression = params["condition"]
    result = expression if isinstance(expression, bool) else truthy(ctx.evaluate(expression))
    branch = "on_true" if result else "on_false"
    targets = params.get(branch)
    ctx.log.info(f"condition is {str(result).lower()}: taking {branch}")
    next_steps = [targets] if isinstance(targets, str) else list(targets or [])
    return {"result": result, "branch": branch, "next_steps": next_steps}


# --------------------------------------------------------------------------- transform


def _case(convert: Callable[[str], str]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        if isinstance(value, str):
            return convert(value)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return [convert(item) for item in value]
        raise TypeError("needs a string or a list of strings")

    return apply


def _mapping_part(part: str) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError("needs an object")
        return list(value.keys() if part == "keys" else value.values())

    return apply


def _count(value: Any) -> int:
    if isinstance(value, str | list | Mapping):
        return len(value)
    raise TypeError("needs a string, a list or an object")


def _flatten(value: Any) -> Any:
    """One level for lists (``[[1], 2] -> [1, 2]``); dotted keys for nested objects."""
    if isinstance(value, list):
        flat: list[Any] = []
        for item in value:
            flat.extend(item if isinstance(item, list) else [item])
        return flat
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, Mapping) and item:
                out.update({f"{key}.{sub}": leaf for sub, leaf in _flatten(item).items()})
            else:
                out[str(key)] = item
        return out
    raise TypeError("needs a list or an object")


def _unique(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("needs a list")
    seen: set[str] = set()
    out = []
    for item in value:
        key = json.dumps(item, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _sort(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: value[key] for key in sorted(value)}
    if isinstance(value, list):
        return sorted(value)
    raise TypeError("needs a list or an object")


def _reverse(value: Any) -> Any:
    if isinstance(value, str):
        return value[::-1]
    if isinstance(value, list):
        return value[::-1]
    raise TypeError("needs a string or a list")


_OPERATIONS: dict[str, Callable[[Any], Any]] = {
    "passthrough": lambda value: value,
    "uppercase": _case(str.upper),
    "lowercase": _case(str.lower),
    "keys": _mapping_part("keys"),
    "values": _mapping_part("values"),
    "count": _count,
    "flatten": _flatten,
    "unique": _unique,
    "sort": _sort,
    "reverse": _reverse,
}


def transform_value(operation: str, value: Any) -> Any:
    """Apply one transform operation; raises ActionError (not retryable) on a wrong input type."""
    try:
        return _OPERATIONS[operation](value)
    except KeyError:
        raise ActionError(f"unknown transform operation {operation!r}", retryable=False) from None
    except TypeError as exc:
        raise ActionError(f"transform {operation!r} {exc}", retryable=False) from None


async def transform(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Transform the input."""
    return {"result": transform_value(params["operation"], params["input"])}


def register(registry: ActionRegistry) -> None:
    for name, handler in (
        ("log", log_action),
        ("transform", transform),
        ("set_output", set_output),
        ("condition", condition),
        ("fail", fail),
        ("delay", delay),
    ):
        registry.register(BUILTIN_SPECS[name], handler)
