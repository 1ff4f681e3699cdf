"""Check action params against the JSON-schema subset of `budai_async.pipeline.action_specs`.

Pure and shared: the definition validator runs it at create time (template strings pass, since their
value is only known at run time) and the engine runs it again on the rendered params.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from budai_async.models import ValidationIssue

__all__ = [
    "accepts",
    "apply_defaults",
    "check_value",
    "coerce_to_strings",
    "is_template",
    "join_path",
    "json_text",
    "template_slots",
    "type_name",
]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_TYPE_CHECKS: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, Mapping),
    "array": lambda v: isinstance(v, list | tuple),
    "null": lambda v: v is None,
}


def is_template(value: Any) -> bool:
    """True when a value is a string holding a Jinja placeholder or statement."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def json_text(value: Any) -> str:
    """The text a value becomes where a string is wanted: strings as they are, anything else as JSON.

    ``7`` → ``"7"``, ``True`` → ``"true"``, ``None`` → ``"null"``, ``{"a": 1}`` → ``'{"a": 1}'``; the
    engine uses it for placeholders feeding a string param and for values inside longer templates.
    """
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def schema_types(schema: Mapping[str, Any]) -> list[str] | None:
    """The type names a schema accepts, or None when it does not constrain the type."""
    types = schema.get("type")
    if types is None:
        return None
    return [types] if isinstance(types, str) else [str(name) for name in types]


def accepts(schema: Mapping[str, Any], kind: str) -> bool:
    """True when a value of JSON type `kind` can feed `schema`: its type, an integer where a number is
    wanted, or anything where a string is wanted (it becomes its `json_text`)."""
    types = schema_types(schema)
    if types is None:
        return True
    return kind in types or "string" in types or (kind == "integer" and "number" in types)


def coerce_to_strings(schema: Mapping[str, Any], written: Any, rendered: Any) -> Any:
    """Turn rendered single-placeholder values into their text where the schema asks for a string.

    `written` is the value as the definition wrote it, `rendered` the same value after templating. A
    template that rendered to a non-string keeps its JSON type when the schema accepts that type;
    when it does not but accepts a string, the value becomes its `json_text` (``"{{ params.n }}"``
    with n = 7 feeding ``message`` gives ``"7"``). Literal values are never converted.
    """
    if is_template(written):
        types = schema_types(schema)
        if types is None or isinstance(rendered, str) or "string" not in types:
            return rendered
        if any(_TYPE_CHECKS[name](rendered) for name in types if name in _TYPE_CHECKS):
            return rendered
        return json_text(rendered)
    if isinstance(written, Mapping) and isinstance(rendered, dict):
        return {
            key: coerce_to_strings(_property(schema, key), written[key], item) if key in written else item
            for key, item in rendered.items()
        }
    if isinstance(written, list) and isinstance(rendered, list) and len(written) == len(rendered):
        items = schema.get("items")
        sub = items if isinstance(items, Mapping) else {}
        return [coerce_to_strings(sub, w, r) for w, r in zip(written, rendered, strict=True)]
    return rendered


def template_slots(
    schema: Mapping[str, Any], value: Any, path: str
) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """Yield ``(path, template, schema)`` for every template string inside `value`, with the schema
    of the field it feeds (``{}`` where the schema says nothing)."""
    if is_template(value):
        yield path, value, schema
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from template_slots(_property(schema, str(key)), item, join_path(path, str(key)))
    elif isinstance(value, list | tuple):
        items = schema.get("items")
        sub = items if isinstance(items, Mapping) else {}
        for index, item in enumerate(value):
            yield from template_slots(sub, item, join_path(path, index))


def _property(schema: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The schema of an object's property `key` (``additionalProperties`` when it is not listed)."""
    properties = schema.get("properties")
    if isinstance(properties, Mapping) and isinstance(properties.get(key), Mapping):
        return properties[key]  # type: ignore[no-any-return]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else {}


def join_path(path: str, key: str | int) -> str:
    """Extend a path: ``a`` + ``b`` → ``a.b``, + ``0`` → ``a[0]``, odd keys quoted; ``""`` is the root."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"


def type_name(value: Any) -> str:
    """The JSON name of a value's type, for error messages."""
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPE_CHECKS[name](value):
            return name
    return type(value).__name__


def check_value(
    schema: Mapping[str, Any], value: Any, path: str, *, allow_templates: bool
) -> list[ValidationIssue]:
    """Return every way `value` breaks `schema`, each with its JSON path.

    With `allow_templates`, a string holding a placeholder stands for any value (checked at run time).
    """
    if allow_templates and is_template(value):
        return []
    types = schema.get("type")
    if types is not None:
        wanted = [types] if isinstance(types, str) else list(types)
        if not any(_TYPE_CHECKS[name](value) for name in wanted if name in _TYPE_CHECKS):
            expected = " or ".join(wanted)
            return [_issue(path, f"expected {expected}, got {type_name(value)}", "type")]
    issues: list[ValidationIssue] = []
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(repr(item) for item in schema["enum"])
        issues.append(_issue(path, f"must be one of {allowed}, got {value!r}", "enum"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        issues.extend(_check_range(schema, value, path))
    if isinstance(value, list | tuple) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            issues.extend(
                check_value(schema["items"], item, join_path(path, index), allow_templates=allow_templates)
            )
    if isinstance(value, Mapping):
        issues.extend(_check_object(schema, value, path, allow_templates=allow_templates))
    return issues


def _check_range(schema: Mapping[str, Any], value: float, path: str) -> list[ValidationIssue]:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and value < low:
        return [_issue(path, f"must be at least {low}, got {value}", "out_of_range")]
    if high is not None and value > high:
        return [_issue(path, f"must be at most {high}, got {value}", "out_of_range")]
    return []


def _check_object(
    schema: Mapping[str, Any], value: Mapping[str, Any], path: str, *, allow_templates: bool
) -> list[ValidationIssue]:
    properties: Mapping[str, Any] = schema.get("properties") or {}
    extra = schema.get("additionalProperties", True)
    issues = [
        _issue(join_path(path, name), f"required param {name!r} is missing", "required")
        for name in schema.get("required", ())
        if name not in value
    ]
    for key, item in value.items():
        item_path = join_path(path, str(key))
        if key in properties:
            issues.extend(check_value(properties[key], item, item_path, allow_templates=allow_templates))
        elif extra is False:
            known = ", ".join(sorted(properties)) or "none"
            issues.append(_issue(item_path, f"unknown param {key!r} (known: {known})", "unknown_param"))
        elif isinstance(extra, Mapping):
            issues.extend(check_value(extra, item, item_path, allow_templates=allow_templates))
    return issues


def apply_defaults(schema: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Return `params` with each missing property that has a ``default`` filled in."""
    merged = dict(params)
    for name, prop in (schema.get("properties") or {}).items():
        if name not in merged and isinstance(prop, Mapping) and "default" in prop:
            merged[name] = prop["default"]
    return merged


def _issue(path: str, message: str, code: str) -> ValidationIssue:
    return ValidationIssue(path=path, message=message, code=code)
