"""Pipeline parameter declarations: parse the `parameters` block, and merge an execution's params
with their defaults and check them against the declarations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from budai_async.models import ValidationIssue
from budai_async.pipeline._dag import ParameterDecl
from budai_async.pipeline._params_schema import check_value, join_path, type_name

__all__ = ["ErrorSink", "parse_parameters", "resolve_params"]

_PARAM_DECL_KEYS = frozenset({"name", "type", "default", "description", "required", "enum"})
_PARAM_TYPES = frozenset({"string", "integer", "number", "boolean", "object", "array"})


class _HasParameters(Protocol):
    """A parsed `Definition` as far as params go."""

    @property
    def parameters(self) -> Mapping[str, ParameterDecl]: ...


ErrorSink = Callable[[str, str, str], None]
"""Takes (path, message, code) of one fault."""


def parse_parameters(raw: Any, error: ErrorSink) -> dict[str, ParameterDecl]:
    """The `parameters` block (an object by name or a list of declarations), faults sent to `error`."""
    if raw is None:
        return {}
    entries: list[tuple[str, str, Any]] = []
    if isinstance(raw, Mapping):
        entries = [(str(name), join_path("parameters", str(name)), decl) for name, decl in raw.items()]
    elif isinstance(raw, list):
        for index, decl in enumerate(raw):
            name = decl.get("name") if isinstance(decl, Mapping) else None
            if not isinstance(name, str) or not name:
                error(f"parameters[{index}].name", "a parameter needs a string 'name'", "missing")
                continue
            entries.append((name, f"parameters[{index}]", decl))
    else:
        error("parameters", f"expected an object or a list, got {type_name(raw)}", "invalid_type")
        return {}
    return {decl.name: decl for decl in (_parameter(*entry, error) for entry in entries) if decl is not None}


def _parameter(name: str, path: str, decl: Any, error: ErrorSink) -> ParameterDecl | None:
    if not isinstance(decl, Mapping):
        error(path, f"a parameter declaration must be an object, got {type_name(decl)}", "invalid_type")
        return None
    ok = True
    for key in decl:
        if key not in _PARAM_DECL_KEYS:
            error(join_path(path, str(key)), f"unknown parameter key {key!r}", "unknown_key")
            ok = False
    kind = decl.get("type")
    if kind is not None and (not isinstance(kind, str) or kind not in _PARAM_TYPES):
        allowed = ", ".join(sorted(_PARAM_TYPES))
        error(f"{path}.type", f"must be one of {allowed}, got {kind!r}", "enum")
        ok = False
    required = decl.get("required", False)
    if not isinstance(required, bool):
        error(f"{path}.required", f"expected boolean, got {type_name(required)}", "invalid_type")
        ok = False
    enum = decl.get("enum")
    if enum is not None and not isinstance(enum, list):
        error(f"{path}.enum", f"expected array, got {type_name(enum)}", "invalid_type")
        ok = False
    description = decl.get("description")
    if description is not None and not isinstance(description, str):
        error(f"{path}.description", f"expected string, got {type_name(description)}", "invalid_type")
        ok = False
    if not ok:
        return None
    return ParameterDecl(
        name=name,
        type=kind,
        required=required,
        has_default="default" in decl,
        default=decl.get("default"),
        description=description,
        enum=tuple(enum) if enum is not None else None,
    )


def resolve_params(
    definition: _HasParameters, params: Mapping[str, Any]
) -> tuple[dict[str, Any], list[ValidationIssue]]:
    """Merge execution params with the declared defaults and check them against the declarations.

    Returns the merged params and the issues (paths ``params.NAME``); undeclared params pass through.
    """
    merged = dict(params)
    issues: list[ValidationIssue] = []
    for name, decl in definition.parameters.items():
        path = join_path("params", name)
        if name not in merged:
            if decl.has_default:
                merged[name] = decl.default
            elif decl.required:
                issues.append(
                    ValidationIssue(
                        path=path, message=f"required parameter {name!r} is missing", code="required"
                    )
                )
            continue
        schema: dict[str, Any] = {}
        if decl.type is not None:
            schema["type"] = decl.type
        if decl.enum is not None:
            schema["enum"] = list(decl.enum)
        issues.extend(check_value(schema, merged[name], path, allow_templates=False))
    return merged, issues
