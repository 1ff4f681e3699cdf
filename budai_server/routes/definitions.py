"""Definition checks shared by the routes: validation against the live action catalogue, params.

Wraps the pure `budai_async.pipeline.definition` functions with the server's action specs (built-ins plus
custom actions) and the engine's template checker, and turns their issues into 422 details whose
paths start at the request field that carried the definition (``definition.steps[1].params``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
from aiohttp import web

from budai_async.models import ValidationIssue, ValidationResult
from budai_async.pipeline.action_specs import ActionSpec
from budai_async.pipeline.definition import Definition, TemplateChecker, analyse, resolve_params
from budai_server.limits import MAX_DEFINITION_BYTES, MAX_PARAMS_BYTES, MAX_STEPS_PER_DEFINITION
from budai_server.routes.errors import ApiError, dump_json

__all__ = ["CHECKER", "DefinitionChecker", "DefinitionLimits", "issue_json", "rebase"]


@attrs.frozen(kw_only=True)
class DefinitionLimits:
    """How much work one definition or one set of params may ask for (ServerConfig fills it)."""

    max_steps: int = MAX_STEPS_PER_DEFINITION
    max_definition_bytes: int = MAX_DEFINITION_BYTES
    max_params_bytes: int = MAX_PARAMS_BYTES


def _json_size(value: Any) -> int:
    try:
        return len(dump_json(value).encode())
    except (TypeError, ValueError):
        return 0  # not JSON-shaped: the definition checks name the fault


def rebase(path: str, field: str) -> str:
    """Put the request field in front: ``steps[0]`` -> ``definition.steps[0]``, ``""`` -> ``definition``.

    With an empty field the path stays as it is (``params.x``).
    """
    if not field or not path:
        return field or path
    return f"{field}{path}" if path.startswith("[") else f"{field}.{path}"


def issue_json(issue: ValidationIssue, field: str | None = None) -> dict[str, Any]:
    path = issue.path if field is None else rebase(issue.path, field)
    return {"path": path, "message": issue.message, "code": issue.code}


class DefinitionChecker:
    """Validates definitions and execution params against what this server can run."""

    def __init__(
        self,
        specs: Callable[[], Mapping[str, ActionSpec]],
        check_template: TemplateChecker | None = None,
        limits: DefinitionLimits | None = None,
    ) -> None:
        self._specs = specs
        self._check_template = check_template
        self.limits = limits or DefinitionLimits()

    def specs(self) -> Mapping[str, ActionSpec]:
        """The action specs definitions are checked against (read live: custom actions may change)."""
        return self._specs()

    def validate(self, definition: Any) -> tuple[ValidationResult, Definition | None]:
        """The validation result (for POST /budpipeline/validate) and the parsed form when valid.

        A definition over a work limit (steps, size) is invalid before it is analysed.
        """
        over = self._over_limits(definition)
        if over:
            return ValidationResult(valid=False, errors=over), None
        return analyse(definition, self._specs(), check_template=self._check_template)

    def _over_limits(self, definition: Any) -> list[ValidationIssue]:
        limits = self.limits
        steps = definition.get("steps") if isinstance(definition, Mapping) else None
        if isinstance(steps, list) and len(steps) > limits.max_steps:
            message = (
                f"at most {limits.max_steps} steps per definition (max_steps_per_definition), "
                f"got {len(steps)}"
            )
            return [ValidationIssue(path="steps", message=message, code="too_many")]
        size = _json_size(definition)
        if size > limits.max_definition_bytes:
            message = (
                f"the definition is {size} bytes of JSON; at most {limits.max_definition_bytes} "
                "(max_definition_bytes)"
            )
            return [ValidationIssue(path="", message=message, code="too_large")]
        return []

    def require_valid(self, definition: Any, field: str) -> Definition:
        """The parsed definition, or a 422 whose details name each fault under `field`."""
        result, parsed = self.validate(definition)
        if parsed is None:
            details = [issue_json(issue, field) for issue in result.errors]
            raise ApiError(
                422,
                f"invalid pipeline definition in '{field}': {len(details)} problem(s)",
                code="invalid_definition",
                details=details,
            )
        return parsed

    def resolve_params(self, parsed: Definition, params: Mapping[str, Any]) -> dict[str, Any]:
        """Params merged with declared defaults; 422 naming each missing or mistyped param, or the
        size limit when the params are too large."""
        size = _json_size(params)
        if size > self.limits.max_params_bytes:
            message = (
                f"params are {size} bytes of JSON; at most {self.limits.max_params_bytes} (max_params_bytes)"
            )
            raise ApiError.invalid([{"path": "params", "message": message, "code": "too_large"}], message)
        merged, issues = resolve_params(parsed, params)
        if issues:
            raise ApiError.invalid([issue_json(issue, "") for issue in issues], "invalid execution params")
        return merged


CHECKER: web.AppKey[DefinitionChecker] = web.AppKey("budai_definition_checker", DefinitionChecker)
