"""The values of the pipeline DSL: references to params and step results, conditions, action calls.

A reference renders to the template the server understands (``{{ steps.deploy.output.url }}``) and
remembers which steps it reads, so the builder can add `depends_on` for the user. Comparing a
reference builds a `Condition` (``deploy.status == "failed"``), rendered as a Jinja expression.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias, TypeVar

import attrs

__all__ = [
    "ActionCall",
    "Condition",
    "OutputRef",
    "ParamRef",
    "Params",
    "Ref",
    "StatusRef",
    "Value",
    "literal",
    "params",
]

T = TypeVar("T")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _member(path: str, key: str | int) -> str:
    """Jinja member access: ``a.b`` for identifiers, ``a["odd-key"]`` / ``a[0]`` otherwise."""
    if isinstance(key, str) and _IDENTIFIER.match(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def literal(value: Any) -> str:
    """A Python value as a Jinja literal (strings quoted, None as none); references as their expression."""
    if isinstance(value, Ref):
        return value.expression
    if isinstance(value, Condition):
        return f"({value.expression})"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + json.dumps(value)[1:-1].replace("'", "\\'") + "'"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    raise TypeError(f"cannot use a {type(value).__name__} in a condition")


class Ref:
    """A value known only at run time; `expression` is its Jinja form, `steps` the steps it reads."""

    __slots__ = ("_expression", "_steps")

    def __init__(self, expression: str, steps: Iterable[str] = ()) -> None:
        self._expression = expression
        self._steps = frozenset(steps)

    @property
    def expression(self) -> str:
        return self._expression

    @property
    def steps(self) -> frozenset[str]:
        """Ids of the steps this reference reads (its dependencies)."""
        return self._steps

    @property
    def template(self) -> str:
        """The placeholder put into params: a value that is exactly one placeholder keeps its type."""
        return "{{ " + self._expression + " }}"

    def __str__(self) -> str:
        return self.template

    def __format__(self, spec: str) -> str:
        return format(self.template, spec)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._expression}>"

    def _compare(self, op: str, other: Any) -> Condition:
        steps = self._steps | (other.steps if isinstance(other, Ref | Condition) else frozenset())
        return Condition(f"{self._expression} {op} {literal(other)}", steps)

    def __eq__(self, other: object) -> Condition:  # type: ignore[override]
        return self._compare("==", other)

    def __ne__(self, other: object) -> Condition:  # type: ignore[override]
        return self._compare("!=", other)

    def __lt__(self, other: Any) -> Condition:
        return self._compare("<", other)

    def __le__(self, other: Any) -> Condition:
        return self._compare("<=", other)

    def __gt__(self, other: Any) -> Condition:
        return self._compare(">", other)

    def __ge__(self, other: Any) -> Condition:
        return self._compare(">=", other)

    __hash__ = None  # type: ignore[assignment]

    def is_in(self, values: Iterable[Any]) -> Condition:
        """Condition: the value is one of `values`."""
        return self._compare("in", list(values))

    def truthy(self) -> Condition:
        """Condition: the value is true (non-empty, non-zero)."""
        return Condition(self._expression, self._steps)

    def __bool__(self) -> bool:
        raise TypeError("a DSL reference has no truth value until run time; use .truthy() in a condition")


_P = TypeVar("_P", bound="_Path")


class _Path(Ref):
    """A reference whose members are references too: ``ref.a.b`` and ``ref["odd key"]``."""

    __slots__ = ()

    def __getattr__(self: _P, name: str) -> _P:
        if name.startswith("_"):
            raise AttributeError(name)  # keep copy/pickle/introspection working
        return self[name]

    def __getitem__(self: _P, key: str | int) -> _P:
        return type(self)(_member(self.expression, key), self.steps)


class ParamRef(_Path):
    """``params.cluster_id``: an execution param."""

    __slots__ = ()


class OutputRef(_Path):
    """``deploy.output.endpoint_url``: a value from a step's output (adds the dependency)."""

    __slots__ = ()


class StatusRef(Ref):
    """``deploy.status``: a step's final status; a condition on it runs even after that step failed."""

    __slots__ = ()


class Params:
    """The namespace of execution params: ``params.model_uri`` or ``params["model-uri"]``."""

    def __getattr__(self, name: str) -> ParamRef:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> ParamRef:
        return ParamRef(_member("params", name))


params = Params()


class Condition:
    """A boolean expression over params and step results; combine with ``&``, ``|`` and ``~``."""

    __slots__ = ("_expression", "_steps")

    def __init__(self, expression: str, steps: Iterable[str] = ()) -> None:
        self._expression = expression
        self._steps = frozenset(steps)

    @property
    def expression(self) -> str:
        return self._expression

    @property
    def steps(self) -> frozenset[str]:
        return self._steps

    def __and__(self, other: Condition) -> Condition:
        return Condition(f"({self._expression}) and ({other.expression})", self._steps | other.steps)

    def __or__(self, other: Condition) -> Condition:
        return Condition(f"({self._expression}) or ({other.expression})", self._steps | other.steps)

    def __invert__(self) -> Condition:
        return Condition(f"not ({self._expression})", self._steps)

    def __bool__(self) -> bool:
        raise TypeError("combine DSL conditions with & | ~ (not and/or/not): they are evaluated at run time")

    def __str__(self) -> str:
        return self._expression

    def __repr__(self) -> str:
        return f"<Condition {self._expression}>"


Value: TypeAlias = T | Ref
"""A param value: a literal of type T, or a reference resolved at run time."""


@attrs.frozen
class ActionCall:
    """An action with its params, ready to become a step; made by the typed helpers in `dsl.actions`."""

    action: str
    params: Mapping[str, Any] = attrs.field(factory=dict)
