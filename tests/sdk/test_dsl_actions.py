"""The typed action helpers stay equal to the action spec table (names, required params, enums)."""

from __future__ import annotations

import inspect
import typing
from typing import Any

import pytest

from budai_async.pipeline import _dsl_actions as helpers
from budai_async.pipeline._dsl_refs import ActionCall, Ref
from budai_async.pipeline.action_specs import BUILTIN_SPECS


def _literal_values(annotation: Any) -> set[Any] | None:
    """The values of the Literal inside an annotation such as ``Value[Literal[...]] | None``."""
    if typing.get_origin(annotation) is typing.Literal:
        return set(typing.get_args(annotation))
    for arg in typing.get_args(annotation):
        found = _literal_values(arg)
        if found is not None:
            return found
    return None


@pytest.mark.parametrize("action_type", sorted(BUILTIN_SPECS))
def test_helper_matches_spec(action_type: str) -> None:
    spec = BUILTIN_SPECS[action_type]
    helper = getattr(helpers, action_type)
    signature = inspect.signature(helper)
    properties = spec.params["properties"]
    assert set(signature.parameters) == set(properties), action_type
    required = set(spec.params.get("required", ()))
    for name, parameter in signature.parameters.items():
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        assert (parameter.default is inspect.Parameter.empty) == (name in required), (action_type, name)
    hints = typing.get_type_hints(helper)
    for name, schema in properties.items():
        enum = schema.get("enum") or schema.get("items", {}).get("enum")
        if enum is not None:
            assert _literal_values(hints[name]) == set(enum), (action_type, name)


@pytest.mark.parametrize("action_type", sorted(BUILTIN_SPECS))
def test_helper_builds_its_action_and_drops_unset_params(action_type: str) -> None:
    spec = BUILTIN_SPECS[action_type]
    helper = getattr(helpers, action_type)
    required = spec.params.get("required", ())
    call = helper(**{name: Ref("params.x") for name in required})
    assert isinstance(call, ActionCall)
    assert call.action == action_type
    assert set(call.params) == set(required)


def test_helpers_cover_every_builtin_action() -> None:
    exported = set(helpers.__all__)
    assert set(BUILTIN_SPECS) <= exported
