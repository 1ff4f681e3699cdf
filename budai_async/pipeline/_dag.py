"""The parsed form of a definition (steps, branches, order) and the strict structuring of a step.

`budai_async.pipeline.definition` builds these; the engine reads them. Structuring uses one cattrs converter
that refuses coercions, and cattrs' own error walk to name the path of each fault.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import cattrs

from budai_async.models import ValidationIssue
from budai_async.pipeline._params_schema import type_name

__all__ = [
    "Branch",
    "Definition",
    "ParameterDecl",
    "RetryPolicy",
    "Step",
    "WrittenStep",
    "structure_step",
    "structuring_issues",
]


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often a failing step is attempted and how long to wait between attempts."""

    max_attempts: int = 1
    backoff_multiplier: float = 2.0
    initial_delay_seconds: float = 1.0
    max_delay_seconds: float = 60.0


@attrs.frozen(kw_only=True)
class WrittenStep:
    """A step exactly as written, before references are resolved."""

    id: str
    action: str
    params: dict[str, Any] = attrs.field(factory=dict)
    depends_on: tuple[str, ...] = ()
    condition: str | None = None
    retry: RetryPolicy | None = None
    timeout_seconds: float | None = None
    name: str | None = None


@attrs.frozen(kw_only=True)
class Step:
    """One validated step with everything the engine needs to gate and run it."""

    id: str
    action: str  # canonical type (aliases resolved)
    params: Mapping[str, Any]
    index: int
    depends_on: tuple[str, ...]  # as written
    dependencies: frozenset[str]  # written plus inferred
    condition: str | None
    status_aware: bool  # its condition reads steps.X.status: wait for deps whatever their end
    retry: RetryPolicy
    timeout_seconds: float | None
    name: str | None = None


@attrs.frozen(kw_only=True)
class Branch:
    """The targets of one `condition` action step."""

    on_true: tuple[str, ...]
    on_false: tuple[str, ...]

    def not_taken(self, result: bool) -> frozenset[str]:
        """Steps to skip when the condition came out `result` (a target of both branches runs)."""
        taken, other = (self.on_true, self.on_false) if result else (self.on_false, self.on_true)
        return frozenset(other) - frozenset(taken)


@attrs.frozen(kw_only=True)
class ParameterDecl:
    """A declared pipeline parameter (``parameters`` in the definition)."""

    name: str
    type: str | None = None
    required: bool = False
    has_default: bool = False
    default: Any = None
    description: str | None = None
    enum: tuple[Any, ...] | None = None


@attrs.frozen(kw_only=True)
class Definition:
    """A validated definition: steps in declaration order, a topological order, branches, outputs."""

    steps: Mapping[str, Step]
    order: tuple[str, ...]
    dependents: Mapping[str, tuple[str, ...]]
    branches: Mapping[str, Branch]
    outputs: Mapping[str, Any] | None
    parameters: Mapping[str, ParameterDecl]
    sinks: tuple[str, ...]


def _strict(kind: Any, name: str) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _type: Any) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise TypeError(f"expected {name}, got boolean")
        if not isinstance(value, kind):
            raise TypeError(f"expected {name}, got {type_name(value)}")
        return value

    return structure


def _make_converter() -> cattrs.Converter:
    """A converter that refuses coercions (``"3"`` is no integer, a string is no list)."""
    conv = cattrs.Converter()
    conv.register_structure_hook(str, _strict(str, "a string"))
    conv.register_structure_hook(int, _strict(int, "an integer"))
    conv.register_structure_hook(float, _strict(int | float, "a number"))
    conv.register_structure_hook_func(
        lambda t: t == dict[str, Any], lambda v, _: dict(_strict(dict, "an object")(v, None))
    )

    def step_ids(value: Any, _type: Any) -> tuple[str, ...]:
        _strict(list, "a list of step ids")(value, None)
        return tuple(conv.structure(value, list[str]))

    conv.register_structure_hook_func(lambda t: t == tuple[str, ...], step_ids)
    return conv


_converter = _make_converter()


def structuring_issues(exc: Exception, path: str) -> list[ValidationIssue]:
    """Turn a cattrs structuring failure into issues, using cattrs' own path walk."""

    def describe(error: BaseException, _type: Any) -> str:
        if isinstance(error, KeyError):
            return "missing\x1frequired field is missing"
        if isinstance(error, TypeError | ValueError) and error.args:
            return f"invalid_type\x1f{error.args[0]}"
        return f"invalid\x1f{error}"

    issues = []
    for line in cattrs.transform_error(exc, path=path, format_exception=describe):
        text, _, where = line.rpartition(" @ ")
        code, _, message = text.partition("\x1f")
        issues.append(ValidationIssue(path=where, message=message, code=code))
    return issues


def structure_step(data: Mapping[str, Any]) -> WrittenStep:
    """Structure a step's known keys strictly; raises a cattrs ClassValidationError."""
    return _converter.structure(data, WrittenStep)
