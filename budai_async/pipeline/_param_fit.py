"""Warn where a declared pipeline parameter cannot fit the action param it feeds.

Pure, run by the definition validator: a step param written as exactly ``{{ params.NAME }}`` receives
the parameter's JSON value as it is (the engine turns it into its text only where the action wants a
string), so a parameter declared ``integer`` feeding an ``array`` param, or one whose default (its
example value, when no ``type`` is declared) is an object feeding an ``integer`` param, fails at run
time. These are warnings, not errors: an execution may pass a value of another type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from budai_async.models import ValidationIssue
from budai_async.pipeline._dag import ParameterDecl
from budai_async.pipeline._params_schema import accepts, schema_types, template_slots, type_name

__all__ = ["param_type_warnings"]

_SINGLE_PARAM = re.compile(
    r"""^\s*\{\{\s*params\s*(?:\.\s*(?P<attr>[A-Za-z_]\w*)|\[\s*(?P<q>['"])(?P<key>[^'"]*)(?P=q)\s*\])\s*\}\}\s*$"""
)


def param_type_warnings(
    steps: Iterable[tuple[str, Mapping[str, Any], Mapping[str, Any]]],
    parameters: Mapping[str, ParameterDecl],
) -> list[ValidationIssue]:
    """One warning per ``{{ params.NAME }}`` whose declared (or default-value) type the field refuses.

    `steps` yields ``(params_path, params, action_params_schema)`` for each step with a known action.
    """
    warnings: list[ValidationIssue] = []
    for params_path, params, schema in steps:
        for path, text, slot in template_slots(schema, params, params_path):
            match = _SINGLE_PARAM.match(text)
            decl = parameters.get(match.group("attr") or match.group("key")) if match else None
            kind, source = _kind(decl) if decl is not None else (None, "")
            if decl is None or kind is None or accepts(slot, kind):
                continue
            wanted = " or ".join(schema_types(slot) or ())
            warnings.append(
                ValidationIssue(
                    path=path,
                    message=f"params.{decl.name} is {kind} ({source}) but this field takes {wanted}",
                    code="param_type_mismatch",
                )
            )
    return warnings


def _kind(decl: ParameterDecl) -> tuple[str | None, str]:
    """The parameter's JSON type and where it comes from (its ``type``, else its default's type)."""
    if decl.type is not None:
        return decl.type, "its declared type"
    if decl.has_default and decl.default is not None:
        return type_name(decl.default), "the type of its default"
    return None, ""
