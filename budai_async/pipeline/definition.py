"""Parse and validate pipeline definitions, and infer the DAG they describe.

Pure (no I/O, no Jinja): the SDK's DSL checks definitions offline with it, and the server checks them
at create/validate time and hands the parsed `Definition` to its engine. Every fault comes back as a
`ValidationIssue` with the path of the offending value relative to the definition
(``steps[1].depends_on[0]``; a 422 puts the request field in front: ``definition.steps[1]...``) and a
code, so a 422 body names exactly what to fix.

Dependencies of a step are its ``depends_on`` plus every step its templates or condition name
(``steps.X.`` or ``steps['X']``); the targets of a ``condition`` action's ``on_true``/``on_false``
depend on that condition step.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from budai_async.errors import ValidationError
from budai_async.models import ValidationIssue, ValidationResult
from budai_async.pipeline._dag import (
    Branch,
    Definition,
    ParameterDecl,
    RetryPolicy,
    Step,
    WrittenStep,
    structure_step,
    structuring_issues,
)
from budai_async.pipeline._param_fit import param_type_warnings
from budai_async.pipeline._params_schema import check_value, join_path, type_name
from budai_async.pipeline._template_refs import (
    code_of,
    expression_refs,
    param_names,
    reads_status,
    step_names,
    template_refs,
    template_strings,
)
from budai_async.pipeline.action_specs import BUILTIN_SPECS, ActionSpec, alias_index
from budai_async.pipeline.parameters import parse_parameters, resolve_params

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_DELAY_SECONDS",
    "MAX_STEPS",
    "MAX_TIMEOUT_SECONDS",
    "Branch",
    "Definition",
    "ParameterDecl",
    "RetryPolicy",
    "Step",
    "TemplateChecker",
    "analyse",
    "expression_refs",
    "parse_definition",
    "reads_status",
    "resolve_params",
    "template_refs",
    "validate",
]

MAX_STEPS = 1000
MAX_ATTEMPTS = 100
MAX_DELAY_SECONDS = 86_400.0
MAX_TIMEOUT_SECONDS = 7 * 86_400.0

TemplateChecker = Callable[[str, bool], str | None]
"""``(source, is_expression) -> error message or None``: lets the server add a Jinja syntax and
sandbox check to validation without this module importing Jinja."""

_TOP_KEYS = frozenset({"steps", "parameters", "outputs", "name", "edges", "description", "version"})
_STEP_KEYS = frozenset(
    {"id", "name", "action", "params", "depends_on", "condition", "retry", "timeout_seconds"}
)
_STEP_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$")

# --------------------------------------------------------------------------- analysis


@attrs.define
class _Edges:
    """Dependencies found so far: dependent -> {dependency: path where it was declared}."""

    by_step: dict[str, dict[str, str]] = attrs.field(factory=dict)

    def add(self, step: str, dependency: str, path: str) -> None:
        self.by_step.setdefault(step, {}).setdefault(dependency, path)


class _Analyser:
    """Collects issues while walking one definition; `run` returns the Definition when clean."""

    def __init__(self, actions: Mapping[str, ActionSpec], check_template: TemplateChecker | None) -> None:
        self.actions = actions
        self.names = alias_index(actions)
        self.check_template = check_template
        self.errors: list[ValidationIssue] = []
        self.warnings: list[ValidationIssue] = []
        self.param_refs: list[tuple[str, str]] = []  # (path, name) of every params.X read
        self.broken_ids: set[str] = set()  # ids of steps that failed structuring (no cascade errors)

    def error(self, path: str, message: str, code: str) -> None:
        self.errors.append(ValidationIssue(path=path, message=message, code=code))

    def run(self, data: Any) -> Definition | None:
        if not isinstance(data, Mapping):
            self.error("", f"a definition must be an object, got {type_name(data)}", "invalid_type")
            return None
        for key in data:
            if key not in _TOP_KEYS:
                self.error(join_path("", str(key)), f"unknown key {key!r}", "unknown_key")
        written = self._steps(data.get("steps"), "steps" in data)
        parameters = parse_parameters(data.get("parameters"), self.error)
        outputs = self._outputs(data["outputs"]) if data.get("outputs") is not None else None
        if written is None:
            return None
        ids = {step.id for _index, step in written} | self.broken_ids
        edges = _Edges()
        branches: dict[str, Branch] = {}
        status_aware: set[str] = set()
        for index, step in written:
            self._references(index, step, ids, edges, branches, status_aware)
        if outputs is not None:
            for path, text in template_strings(outputs, "outputs"):
                self._template(path, text, ids, expression=False)
        self._warn_undeclared_params(parameters, "parameters" in data)
        self.warnings.extend(param_type_warnings(self._param_slots(written), parameters))
        if self.errors:
            return None
        order = self._order(written, edges)
        if order is None:
            return None
        return _build(written, order, edges, branches, status_aware, outputs, parameters, self.names)

    # ---- steps

    def _steps(self, raw: Any, present: bool) -> list[tuple[int, WrittenStep]] | None:
        if not present:
            self.error("steps", "a definition needs a 'steps' list", "missing")
            return None
        if not isinstance(raw, list):
            self.error("steps", f"expected a list of steps, got {type_name(raw)}", "invalid_type")
            return None
        if not raw:
            self.error("steps", "a pipeline needs at least one step", "empty")
            return None
        if len(raw) > MAX_STEPS:
            self.error("steps", f"at most {MAX_STEPS} steps, got {len(raw)}", "too_many")
            return None
        written: list[tuple[int, WrittenStep]] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(raw):
            step_id = item.get("id") if isinstance(item, Mapping) else None
            if isinstance(step_id, str):
                if step_id in seen:
                    self.error(
                        f"steps[{index}].id",
                        f"step id {step_id!r} is already used by steps[{seen[step_id]}]",
                        "duplicate_id",
                    )
                    continue
                seen[step_id] = index
            step = self._step(index, item)
            if step is None:
                if isinstance(step_id, str):
                    self.broken_ids.add(step_id)
                continue
            written.append((index, step))
        return written

    def _step(self, index: int, item: Any) -> WrittenStep | None:
        path = f"steps[{index}]"
        if not isinstance(item, Mapping):
            self.error(path, f"a step must be an object, got {type_name(item)}", "invalid_type")
            return None
        known = {key: value for key, value in item.items() if key in _STEP_KEYS}
        for key in item:
            if key not in _STEP_KEYS:
                self.error(join_path(path, str(key)), f"unknown step key {key!r}", "unknown_key")
        retry = known.get("retry")
        if retry is not None:
            if not isinstance(retry, Mapping):
                self.error(f"{path}.retry", f"expected an object, got {type_name(retry)}", "invalid_type")
                known.pop("retry")
            else:
                fields = {field.name for field in attrs.fields(RetryPolicy)}
                for key in retry:
                    if key not in fields:
                        self.error(
                            join_path(f"{path}.retry", str(key)), f"unknown retry key {key!r}", "unknown_key"
                        )
                known["retry"] = {key: value for key, value in retry.items() if key in fields}
        try:
            step = structure_step(known)
        except Exception as exc:  # cattrs raises ClassValidationError (an ExceptionGroup)
            self.errors.extend(structuring_issues(exc, path))
            self._check_params(path, known.get("action"), known.get("params"))
            return None
        if not _STEP_ID.match(step.id):
            self.error(
                f"{path}.id",
                "a step id is 1-128 letters, digits, '_' or '-', not starting with '-'",
                "invalid_id",
            )
            return None
        self._limits(path, step)
        return step

    def _limits(self, path: str, step: WrittenStep) -> None:
        if step.timeout_seconds is not None and not 0 < step.timeout_seconds <= MAX_TIMEOUT_SECONDS:
            self.error(
                f"{path}.timeout_seconds",
                f"must be > 0 and <= {MAX_TIMEOUT_SECONDS:g}, got {step.timeout_seconds}",
                "out_of_range",
            )
        retry = step.retry
        if retry is None:
            return
        checks = (
            ("max_attempts", retry.max_attempts, 1, MAX_ATTEMPTS),
            ("backoff_multiplier", retry.backoff_multiplier, 1, 100),
            ("initial_delay_seconds", retry.initial_delay_seconds, 0, MAX_DELAY_SECONDS),
            ("max_delay_seconds", retry.max_delay_seconds, 0, MAX_DELAY_SECONDS),
        )
        for name, value, low, high in checks:
            if not low <= value <= high:
                self.error(
                    f"{path}.retry.{name}", f"must be between {low} and {high:g}, got {value}", "out_of_range"
                )

    # ---- references, templates, params

    def _references(
        self,
        index: int,
        step: WrittenStep,
        ids: set[str],
        edges: _Edges,
        branches: dict[str, Branch],
        status_aware: set[str],
    ) -> None:
        path = f"steps[{index}]"
        edges.by_step.setdefault(step.id, {})
        for position, dep in enumerate(step.depends_on):
            dep_path = f"{path}.depends_on[{position}]"
            if dep not in ids:
                self.error(dep_path, f"depends on unknown step {dep!r}", "unknown_step")
            else:
                edges.add(step.id, dep, dep_path)
        if step.condition is not None:
            for ref in self._template(f"{path}.condition", step.condition, ids, expression=True):
                edges.add(step.id, ref, f"{path}.condition")
            if reads_status(step.condition):
                status_aware.add(step.id)
        action = self.names.get(step.action)
        if action is None:
            known = ", ".join(sorted(self.names))
            self.error(f"{path}.action", f"unknown action {step.action!r} (known: {known})", "unknown_action")
            raw_params: tuple[str, ...] = ()
        else:
            raw_params = self.actions[action].raw_params
            self._check_params(path, step.action, step.params)
        for name, value in step.params.items():
            value_path = join_path(f"{path}.params", name)
            if name in raw_params and isinstance(value, str):
                refs = self._template(value_path, value, ids, expression=True)
                if reads_status(value):
                    status_aware.add(step.id)
            else:
                refs = set()
                for text_path, text in template_strings(value, value_path):
                    refs |= self._template(text_path, text, ids, expression=False)
            for ref in refs:
                edges.add(step.id, ref, value_path)
        if action == "condition":
            branches[step.id] = Branch(
                on_true=self._targets(step, path, "on_true", ids, edges),
                on_false=self._targets(step, path, "on_false", ids, edges),
            )

    def _check_params(self, path: str, action: Any, params: Any) -> None:
        """Check params against the action's schema (templates stand for any value until run time)."""
        name = self.names.get(action) if isinstance(action, str) else None
        if name is not None and isinstance(params, Mapping):
            schema = self.actions[name].params
            self.errors.extend(check_value(schema, params, f"{path}.params", allow_templates=True))

    def _param_slots(
        self, written: list[tuple[int, WrittenStep]]
    ) -> list[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
        """``(params path, params, action schema)`` of every step whose action is known."""
        slots: list[tuple[str, Mapping[str, Any], Mapping[str, Any]]] = []
        for index, step in written:
            name = self.names.get(step.action)
            if name is not None:
                spec = self.actions[name]
                params = {k: v for k, v in step.params.items() if k not in spec.raw_params}
                slots.append((f"steps[{index}].params", params, spec.params))
        return slots

    def _template(self, path: str, text: str, ids: set[str], *, expression: bool) -> set[str]:
        """Check one template or expression; return the known step ids it names."""
        code = code_of(text, expression=expression)
        self.param_refs.extend((path, name) for name in param_names(code))
        refs = step_names(code)
        for ref in sorted(refs - ids):
            self.error(path, f"references unknown step {ref!r}", "unknown_step")
        if self.check_template is not None:
            problem = self.check_template(text, expression)
            if problem is not None:
                self.error(path, problem, "template")
        return refs & ids

    def _targets(
        self, step: WrittenStep, path: str, key: str, ids: set[str], edges: _Edges
    ) -> tuple[str, ...]:
        value = step.params.get(key)
        if value is None:
            return ()
        listed = [value] if isinstance(value, str) else value
        if not isinstance(listed, list):
            return ()  # the params schema already reported the type
        targets = []
        for position, target in enumerate(listed):
            target_path = (
                f"{path}.params.{key}" if isinstance(value, str) else f"{path}.params.{key}[{position}]"
            )
            if not isinstance(target, str):
                continue
            if target not in ids:
                self.error(
                    target_path, f"branch target {target!r} is not a step of this pipeline", "unknown_step"
                )
                continue
            edges.add(target, step.id, target_path)
            targets.append(target)
        return tuple(targets)

    # ---- parameters and outputs

    def _outputs(self, raw: Any) -> dict[str, Any] | None:
        if not isinstance(raw, Mapping):
            self.error(
                "outputs", f"expected an object of name: template, got {type_name(raw)}", "invalid_type"
            )
            return None
        return dict(raw)

    def _warn_undeclared_params(self, parameters: Mapping[str, ParameterDecl], declared: bool) -> None:
        if not declared:
            return
        for path, name in self.param_refs:
            if name not in parameters:
                self.warnings.append(
                    ValidationIssue(
                        path=path,
                        message=f"params.{name} is not declared in parameters",
                        code="undeclared_param",
                    )
                )

    # ---- order

    def _order(self, written: list[tuple[int, WrittenStep]], edges: _Edges) -> tuple[str, ...] | None:
        """Kahn's algorithm, ties broken by declaration order; report a cycle at the edge closing it."""
        position = {step.id: index for index, step in written}
        waiting = {step_id: len(deps) for step_id, deps in edges.by_step.items()}
        dependents: dict[str, list[str]] = {}
        for step_id, deps in edges.by_step.items():
            for dep in deps:
                dependents.setdefault(dep, []).append(step_id)
        ready = [(position[step_id], step_id) for step_id, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _pos, step_id = heapq.heappop(ready)
            order.append(step_id)
            for child in dependents.get(step_id, ()):
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, (position[child], child))
        if len(order) == len(written):
            return tuple(order)
        self._report_cycle({step_id for step_id, count in waiting.items() if count > 0}, edges, position)
        return None

    def _report_cycle(self, stuck: set[str], edges: _Edges, position: Mapping[str, int]) -> None:
        start = min(stuck, key=position.__getitem__)
        path = [start]
        seen = {start: 0}
        current = start
        while True:
            current = min((dep for dep in edges.by_step[current] if dep in stuck), key=position.__getitem__)
            if current in seen:
                loop = [*path[seen[current] :], current]
                closing = edges.by_step[path[-1]][current]
                self.error(
                    closing, f"dependency cycle: {' -> '.join(loop)} (each step depends on the next)", "cycle"
                )
                return
            seen[current] = len(path)
            path.append(current)


def _build(
    written: list[tuple[int, WrittenStep]],
    order: tuple[str, ...],
    edges: _Edges,
    branches: dict[str, Branch],
    status_aware: set[str],
    outputs: Mapping[str, Any] | None,
    parameters: Mapping[str, ParameterDecl],
    names: Mapping[str, str],
) -> Definition:
    steps = {
        raw.id: Step(
            id=raw.id,
            action=names[raw.action],
            params=raw.params,
            index=index,
            depends_on=raw.depends_on,
            dependencies=frozenset(edges.by_step.get(raw.id, {})),
            condition=raw.condition,
            status_aware=raw.id in status_aware,
            retry=raw.retry or RetryPolicy(),
            timeout_seconds=raw.timeout_seconds,
            name=raw.name,
        )
        for index, raw in written
    }
    dependents: dict[str, list[str]] = {step_id: [] for step_id in order}
    for step_id in order:
        for dep in steps[step_id].dependencies:
            dependents[dep].append(step_id)
    return Definition(
        steps=steps,
        order=order,
        dependents={step_id: tuple(children) for step_id, children in dependents.items()},
        branches=branches,
        outputs=outputs,
        parameters=parameters,
        sinks=tuple(step_id for step_id in order if not dependents[step_id]),
    )


# --------------------------------------------------------------------------- public API


def analyse(
    definition: Any,
    actions: Mapping[str, ActionSpec] = BUILTIN_SPECS,
    *,
    check_template: TemplateChecker | None = None,
) -> tuple[ValidationResult, Definition | None]:
    """Validate a definition and, when it is valid, return its parsed form too."""
    analyser = _Analyser(actions, check_template)
    parsed = analyser.run(definition)
    result = ValidationResult(valid=not analyser.errors, errors=analyser.errors, warnings=analyser.warnings)
    return result, parsed if result.valid else None


def validate(
    definition: Any,
    actions: Mapping[str, ActionSpec] = BUILTIN_SPECS,
    *,
    check_template: TemplateChecker | None = None,
) -> ValidationResult:
    """Return every fault of a definition (``valid`` is False when there is any error)."""
    return analyse(definition, actions, check_template=check_template)[0]


def parse_definition(
    definition: Any,
    actions: Mapping[str, ActionSpec] = BUILTIN_SPECS,
    *,
    check_template: TemplateChecker | None = None,
) -> Definition:
    """Parse a definition for execution.

    Raises `budai_async.errors.ValidationError` (with ``.errors`` the list of issues) when invalid.
    """
    result, parsed = analyse(definition, actions, check_template=check_template)
    if parsed is None:
        first = result.errors[0]
        more = f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
        where = first.path or "the top level"
        raise ValidationError(f"invalid definition: {first.message} at {where}{more}", result.errors)
    return parsed
