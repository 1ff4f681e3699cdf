"""The one cattrs converter for wire models, and the mapping from the real BudAI gateway's shapes.

The local server answers in our own shape; a real BudAI deployment answers with uppercase statuses,
`execution_id`, `workflow_id`, `final_outputs`, `error_info` and plain-list pages. `normalize_*` turn
those into our shape before structuring, so every caller sees one model whichever server answered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn

from budai_async._fastpath import fast_callback_event, fast_execution, fast_step, parse_datetime
from budai_async._model_base import install_unstructure
from budai_async._wire import (
    error_text,
    execution_wire,
    pipeline_wire,
    progress_from_wire,
    steps_from_wire,
    tags_from_wire,
)
from budai_async.models import (
    Action,
    ActionParam,
    CallbackEvent,
    Execution,
    LogEntry,
    Page,
    Pipeline,
    StepRun,
    ValidationIssue,
    ValidationResult,
)

__all__ = [
    "converter",
    "make_converter",
    "normalize_execution",
    "normalize_pipeline",
    "parse_datetime",
    "structure_execution",
    "structure_page",
    "to_json_dict",
]

T = TypeVar("T")

_MODELS: tuple[type[Any], ...] = (
    Action,
    ActionParam,
    CallbackEvent,
    Execution,
    LogEntry,
    Pipeline,
    StepRun,
    ValidationIssue,
    ValidationResult,
)


def format_datetime(value: datetime) -> str:
    """ISO-8601 in UTC with a trailing ``Z``, the form the server writes."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def make_converter(*, fast_paths: bool = True) -> cattrs.Converter:
    """Build the converter: datetimes as ISO strings, unknown keys ignored, None-safe optionals.

    `fast_paths=False` leaves out the hand-compiled hooks for our server's shape: the reference
    converter that tests hold the fast path to.
    """
    conv = cattrs.Converter()
    conv.register_structure_hook(datetime, lambda value, _type: parse_datetime(value))
    conv.register_unstructure_hook(datetime, format_datetime)
    for model in _MODELS:
        conv.register_structure_hook(model, make_dict_structure_fn(model, conv))
        conv.register_unstructure_hook(model, make_dict_unstructure_fn(model, conv))
    generic_execution = _structure_via(normalize_execution, Execution, conv)
    conv.register_structure_hook(Execution, generic_execution)
    if fast_paths:
        conv.register_structure_hook(StepRun, _fast_or(fast_step, make_dict_structure_fn(StepRun, conv)))
        conv.register_structure_hook(Execution, _fast_or(fast_execution, generic_execution))
        generic_event = make_dict_structure_fn(CallbackEvent, conv)
        conv.register_structure_hook(CallbackEvent, _fast_or(fast_callback_event, generic_event))
    conv.register_structure_hook(Pipeline, _structure_via(normalize_pipeline, Pipeline, conv))
    conv.register_unstructure_hook(Execution, _unstructure_via(execution_wire, Execution, conv))
    conv.register_unstructure_hook(Pipeline, _unstructure_via(pipeline_wire, Pipeline, conv))
    return conv


def _fast_or(fast: Callable[[Any], T | None], generic: Callable[[Any, Any], T]) -> Callable[[Any, Any], T]:
    """The hand-compiled hook for our server's shape; the generic one for every other shape."""

    def structure(value: Any, type_: Any) -> T:
        model = fast(value)
        return model if model is not None else generic(value, type_)

    return structure


def _unstructure_via(
    rewrite: Callable[[dict[str, Any]], dict[str, Any]], model: type[T], conv: cattrs.Converter
) -> Callable[[T], dict[str, Any]]:
    """Unstructure with the generated function, then rewrite into the gateway-typed wire (`_wire`)."""
    base = make_dict_unstructure_fn(model, conv)

    def unstructure(value: T) -> dict[str, Any]:
        return rewrite(base(value))

    return unstructure


def _structure_via(
    normalize: Callable[[Mapping[str, Any]], dict[str, Any]], model: type[T], conv: cattrs.Converter
) -> Callable[[Any, Any], T]:
    base = make_dict_structure_fn(model, conv)

    def structure(value: Any, _type: Any) -> T:
        return base(normalize(value), model)

    return structure


def normalize_execution(data: Mapping[str, Any]) -> dict[str, Any]:
    """Map a gateway execution (or a progress view) onto our field names; ours pass through."""
    if "execution" in data and isinstance(data["execution"], Mapping):  # GET .../progress
        merged = normalize_execution(data["execution"])
        if isinstance(data.get("steps"), list):
            merged["steps"] = steps_from_wire(data["steps"])
        agg = data.get("aggregated_progress")
        if isinstance(agg, Mapping):
            merged.setdefault("completed_steps", agg.get("completed_steps", 0))
            merged.setdefault("total_steps", agg.get("total_steps", 0))
        return merged
    out = dict(data)
    if "id" not in out and "execution_id" in out:
        out["id"] = out["execution_id"]
    if "pipeline_id" not in out:
        definition = out.get("pipeline_definition")
        workflow = out.get("workflow_id") or (
            definition.get("workflow_id") if isinstance(definition, Mapping) else None
        )
        out["pipeline_id"] = workflow
    if "outputs" not in out and "final_outputs" in out:
        out["outputs"] = out["final_outputs"]
    if out.get("outputs") is None:
        out["outputs"] = {}
    if "error" not in out and "error_info" in out:
        out["error"] = out["error_info"]
    out["error"] = error_text(out.get("error"))
    if "started_at" not in out and "start_time" in out:
        out["started_at"] = out["start_time"]
    if "completed_at" not in out and "end_time" in out:
        out["completed_at"] = out["end_time"]
    out["progress"] = progress_from_wire(out)
    if isinstance(out.get("steps"), list):
        out["steps"] = steps_from_wire(out["steps"])
    if out.get("params") is None:
        definition = out.get("pipeline_definition")
        out["params"] = definition.get("params", {}) if isinstance(definition, Mapping) else {}
    for key in ("tags", "steps", "callbacks", "context", "callback_topics"):
        if out.get(key) is None:
            out.pop(key, None)
    if out.get("priority") is None:
        out.pop("priority", None)
    return out


def normalize_pipeline(data: Mapping[str, Any]) -> dict[str, Any]:
    """Map a gateway pipeline (`dag`, string version) onto ours."""
    out = dict(data)
    if "definition" not in out and "dag" in out:
        out["definition"] = out["dag"]
    if out.get("definition") is None:
        out["definition"] = {}
    try:
        out["version"] = int(out.get("version", 1))
    except (TypeError, ValueError):
        out["version"] = 1
    tags = tags_from_wire(out.get("tags"))
    if tags is None:
        out.pop("tags", None)
    else:
        out["tags"] = tags
    if out.get("is_active") is None:
        out.pop("is_active", None)
    if not out.get("step_count"):
        steps = out["definition"].get("steps") if isinstance(out["definition"], Mapping) else None
        out["step_count"] = len(steps) if isinstance(steps, list) else 0
    return out


def make_page_reader(conv: cattrs.Converter) -> Callable[[Any, type[T]], Page[T]]:
    """Read a page in our shape, the gateway's `{executions, pagination}`, or a plain JSON list."""

    def read(data: Any, item_type: type[T]) -> Page[T]:
        if isinstance(data, list):
            items = [conv.structure(item, item_type) for item in data]
            return Page(items=items, total=None, limit=None, offset=None)
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a page object, got {type(data).__name__}")
        raw_items = data.get("items")
        if raw_items is None:
            raw_items = next((v for k, v in data.items() if isinstance(v, list) and k != "errors"), [])
        items = [conv.structure(item, item_type) for item in raw_items]
        pagination = data.get("pagination") if isinstance(data.get("pagination"), Mapping) else None
        if pagination is not None:
            size = pagination.get("page_size")
            page = pagination.get("page", 1)
            return Page(
                items=items,
                total=pagination.get("total_count"),
                limit=size,
                offset=(page - 1) * size if isinstance(size, int) and isinstance(page, int) else None,
            )
        return Page(
            items=items,
            total=data.get("total"),
            limit=data.get("limit"),
            offset=data.get("offset"),
            next_cursor=data.get("next_cursor"),
        )

    return read


converter = make_converter()
structure_page = make_page_reader(converter)


def structure_execution(data: Any) -> Execution:
    """Structure one execution in either shape."""
    return converter.structure(data, Execution)


def to_json_dict(model: Any) -> Any:
    """Unstructure a model (or list of models) into JSON-ready data."""
    return converter.unstructure(model)


install_unstructure(to_json_dict)  # `Model.to_dict()` (budai_async._model_base)
