"""The pipeline DSL: declare steps in Python, get the JSON definition, validate it offline.

    from budai_async.pipeline.dsl import PipelineBuilder, Retry, actions, params

    pipe = PipelineBuilder("Deploy Model")
    add = pipe.step("add_model", actions.model_add(model_uri=params.model_uri))
    deploy = pipe.step(
        "deploy",
        actions.deployment_create(model_id=add.output.model_id, cluster_id=params.cluster_id),
        retry=Retry(max_attempts=3, backoff_multiplier=2),
    )
    pipe.step("notify", actions.notification(message="Failed"), condition=deploy.status == "failed")
    pipe.output("endpoint_url", deploy.output.endpoint_url)
    pipe.validate()  # offline, raises ValidationError listing each fault
    definition = pipe.build()  # or: await client.pipelines.create(definition=pipe)

References to step outputs add `depends_on` by themselves; the definition is checked by the same
validator the server runs (`budai_async.pipeline.definition.validate`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from budai_async.errors import ValidationError
from budai_async.models import ValidationResult
from budai_async.pipeline import _dsl_actions as actions
from budai_async.pipeline._dsl_refs import (
    ActionCall,
    Condition,
    OutputRef,
    ParamRef,
    Params,
    Ref,
    StatusRef,
    Value,
    params,
)
from budai_async.pipeline.action_specs import BUILTIN_SPECS, alias_index
from budai_async.pipeline.definition import expression_refs, template_refs
from budai_async.pipeline.definition import validate as validate_definition

__all__ = [
    "ActionCall",
    "Condition",
    "OutputRef",
    "ParamRef",
    "Params",
    "PipelineBuilder",
    "Ref",
    "Retry",
    "StatusRef",
    "Step",
    "Value",
    "actions",
    "params",
]

_STEP_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$")  # as budai_async.pipeline.definition accepts
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RAW_PARAMS = {
    name: BUILTIN_SPECS[canonical].raw_params for name, canonical in alias_index(BUILTIN_SPECS).items()
}


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


_MISSING = _Missing()


@attrs.frozen(kw_only=True)
class Retry:
    """A step's retry policy; `max_attempts` counts every attempt, the first included."""

    max_attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    backoff_multiplier: float | None = None
    initial_delay_seconds: float | None = None
    max_delay_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in attrs.asdict(self).items() if value is not None}


class Step:
    """A declared step: use `.output.key` / `["key"]` for its results and `.status` in conditions."""

    def __init__(
        self,
        step_id: str,
        call: ActionCall,
        *,
        depends_on: Iterable[Step | str],
        condition: Condition | str | bool | None,
        retry: Retry | None,
        timeout_seconds: float | None,
    ) -> None:
        self._id = step_id
        self.call = call
        self._depends_on = [_step_id_of(item) for item in depends_on]
        self.condition = condition
        self.retry = retry
        self.timeout_seconds = timeout_seconds

    @property
    def id(self) -> str:
        return self._id

    @property
    def output(self) -> OutputRef:
        """This step's output: ``step.output.url`` renders ``{{ steps.<id>.output.url }}``."""
        return OutputRef(f"{self._step_expression()}.output", {self._id})

    @property
    def status(self) -> StatusRef:
        """This step's final status, for conditions such as ``deploy.status == "failed"``."""
        return StatusRef(f"{self._step_expression()}.status", {self._id})

    def __getitem__(self, key: str | int) -> OutputRef:
        return self.output[key]

    def after(self, *steps: Step | str) -> Step:
        """Add explicit dependencies (for ordering without a data reference); returns the step."""
        self._depends_on.extend(_step_id_of(item) for item in steps)
        return self

    def _step_expression(self) -> str:
        return f"steps.{self._id}" if _IDENTIFIER.match(self._id) else f"steps[{json.dumps(self._id)}]"

    def to_dict(self) -> dict[str, Any]:
        """The step as JSON, with every referenced step added to `depends_on`."""
        found: list[str] = list(self._depends_on)
        params_json = _render(dict(self.call.params), found)
        # Steps named inside hand-written strings (f-strings of references included), found the
        # way the server finds them: templates in params, expressions in raw params and conditions.
        raw = _RAW_PARAMS.get(self.call.action, ())
        found.extend(sorted(template_refs({k: v for k, v in params_json.items() if k not in raw})))
        for name in raw:
            if isinstance(params_json.get(name), str):
                found.extend(sorted(expression_refs(params_json[name])))
        step: dict[str, Any] = {"id": self._id, "action": self.call.action, "params": params_json}
        if self.condition is not None:
            step["condition"] = _render_condition(self.condition, found)
        depends = [item for item in dict.fromkeys(found) if item != self._id]
        if depends:
            step["depends_on"] = depends
        if self.retry is not None:
            step["retry"] = self.retry.to_dict()
        if self.timeout_seconds is not None:
            step["timeout_seconds"] = self.timeout_seconds
        return step

    def __repr__(self) -> str:
        return f"<Step {self._id} {self.call.action}>"


def _step_id_of(item: Step | str) -> str:
    if isinstance(item, Step):
        return item.id
    if isinstance(item, str) and item:
        return item
    raise ValidationError(f"a dependency must be a Step or a step id, got {item!r}")


def _render(value: Any, found: list[str]) -> Any:
    """JSON for a param value: references become placeholders and record the steps they read."""
    if isinstance(value, Ref):
        found.extend(sorted(value.steps))
        return value.template
    if isinstance(value, Condition):
        found.extend(sorted(value.steps))
        return value.expression
    if isinstance(value, Step):
        raise ValidationError(f"use {value.id}.output (or a key of it) as a value, not the step itself")
    if isinstance(value, Mapping):
        return {str(key): _render(item, found) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_render(item, found) for item in value]
    return value


def _render_condition(condition: Condition | str | bool | Ref, found: list[str]) -> str | bool:
    if isinstance(condition, Condition | Ref):
        found.extend(sorted(condition.steps))
        return condition.expression
    if isinstance(condition, str):
        found.extend(sorted(expression_refs(condition)))
    return condition


class PipelineBuilder:
    """Collects params, steps and outputs, and builds the JSON definition the server accepts."""

    def __init__(self, name: str | None = None, *, description: str | None = None) -> None:
        self.name = name
        self.description = description
        self._steps: dict[str, Step] = {}
        self._parameters: dict[str, dict[str, Any]] = {}
        self._outputs: dict[str, Any] = {}

    @property
    def steps(self) -> list[Step]:
        return list(self._steps.values())

    def param(
        self,
        name: str,
        *,
        type: str | None = None,
        default: Any = _MISSING,
        description: str | None = None,
        required: bool | None = None,
        enum: list[Any] | None = None,
    ) -> ParamRef:
        """Declare an execution param (documented in the definition) and return its reference."""
        spec: dict[str, Any] = {}
        if type is not None:
            spec["type"] = type
        if not isinstance(default, _Missing):
            spec["default"] = default
        if description is not None:
            spec["description"] = description
        if required is not None:
            spec["required"] = required
        if enum is not None:
            spec["enum"] = list(enum)
        self._parameters[name] = spec
        return params[name]

    def step(
        self,
        step_id: str,
        call: ActionCall,
        *,
        depends_on: Iterable[Step | str] = (),
        condition: Condition | str | bool | None = None,
        retry: Retry | None = None,
        timeout_seconds: float | None = None,
    ) -> Step:
        """Add a step running `call` (from `actions.*`); returns it for references. Ids are unique."""
        if not isinstance(step_id, str) or not _STEP_ID.match(step_id):
            raise ValidationError(
                f"step id {step_id!r} must be 1-128 letters, digits, '_' or '-', not starting with '-'"
            )
        if step_id in self._steps:
            raise ValidationError(f"step id {step_id!r} is already used in this pipeline")
        if not isinstance(call, ActionCall):
            raise ValidationError(
                f"step {step_id!r}: give an action call such as actions.log(...), got {call!r}"
            )
        created = Step(
            step_id,
            call,
            depends_on=depends_on,
            condition=condition,
            retry=retry,
            timeout_seconds=timeout_seconds,
        )
        self._steps[step_id] = created
        return created

    def output(self, name: str, value: Any) -> None:
        """Name a pipeline output (the execution's `outputs[name]`), usually a step output reference."""
        self._outputs[name] = value

    def build(self) -> dict[str, Any]:
        """The JSON definition: ``{"steps": [...], "parameters"?: {...}, "outputs"?: {...}}``."""
        definition: dict[str, Any] = {"steps": [step.to_dict() for step in self._steps.values()]}
        if self._parameters:
            definition["parameters"] = {name: dict(spec) for name, spec in self._parameters.items()}
        if self._outputs:
            definition["outputs"] = _render(self._outputs, [])
        return definition

    def validate(self) -> ValidationResult:
        """Check the definition offline with the server's own validator; returns it (with warnings).

        Raises budai_async.ValidationError whose `errors` lists each issue with its JSON path.
        """
        result = validate_definition(self.build())
        if not result.valid:
            summary = "; ".join(f"{issue.path}: {issue.message}" for issue in result.errors)
            raise ValidationError(f"invalid pipeline definition: {summary}", errors=result.errors)
        return result
