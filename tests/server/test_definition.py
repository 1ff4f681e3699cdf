"""Definition parsing and validation (budai_async.pipeline.definition): pure, table-driven."""

from __future__ import annotations

from typing import Any

import pytest
from guide_pipelines import DEPLOY_MODEL, resilient

from budai_async.errors import ValidationError
from budai_async.pipeline._params_schema import check_value
from budai_async.pipeline.action_specs import BUILTIN_SPECS, ActionSpec
from budai_async.pipeline.definition import (
    expression_refs,
    parse_definition,
    reads_status,
    resolve_params,
    template_refs,
    validate,
)


def log(step_id: str, message: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "action": "log", "params": {"message": message}, **extra}


BRANCHING = {
    "steps": [
        {
            "id": "check",
            "action": "conditional",
            "params": {"condition": "params.value > 100", "on_true": "path_a", "on_false": ["path_b"]},
        },
        log("path_a"),
        log("path_b"),
        log("join", depends_on=["path_a", "path_b"]),
    ]
}


# ------------------------------------------------------------------ valid definitions


def test_deploy_model_parses_with_its_dependency() -> None:
    parsed = parse_definition(DEPLOY_MODEL)
    assert parsed.order == ("add_model", "deploy")
    assert parsed.steps["deploy"].dependencies == {"add_model"}
    assert parsed.sinks == ("deploy",)
    assert parsed.steps["deploy"].retry.max_attempts == 1


def test_dependencies_are_inferred_from_templates_and_conditions() -> None:
    parsed = parse_definition(resilient())
    assert parsed.steps["deploy"].dependencies == {"health_check"}
    # no depends_on: the condition names deploy
    assert parsed.steps["notify_failure"].dependencies == {"deploy"}
    assert parsed.steps["notify_failure"].status_aware is True
    assert parsed.steps["deploy"].status_aware is False
    assert parsed.order == ("health_check", "deploy", "notify_failure")
    assert parsed.steps["health_check"].retry.max_attempts == 3


def test_template_reference_without_depends_on_orders_the_steps() -> None:
    definition = {"steps": [log("b", "{{ steps['a'].output.message }}"), log("a")]}
    parsed = parse_definition(definition)
    assert parsed.order == ("a", "b")
    assert parsed.steps["b"].depends_on == ()
    assert parsed.steps["b"].dependencies == {"a"}


def test_condition_action_targets_depend_on_it_and_aliases_resolve() -> None:
    parsed = parse_definition(BRANCHING)
    assert parsed.steps["check"].action == "condition"
    assert parsed.branches["check"].on_true == ("path_a",)
    assert parsed.branches["check"].on_false == ("path_b",)
    assert parsed.steps["path_a"].dependencies == {"check"}
    assert parsed.steps["join"].dependencies == {"path_a", "path_b"}
    assert parsed.branches["check"].not_taken(True) == {"path_b"}
    assert parsed.branches["check"].not_taken(False) == {"path_a"}


def test_gateway_keys_are_known() -> None:
    definition = {
        "name": "Deploy Model",
        "description": "d",
        "version": "1",
        "edges": [],
        "steps": [{**log("a"), "name": "A step"}],
    }
    assert validate(definition).valid


def test_outputs_and_parameters_parse() -> None:
    definition = {
        "steps": [log("a", "{{ params.who }}")],
        "parameters": [{"name": "who", "type": "string", "default": "world"}],
        "outputs": {"said": "{{ steps.a.output.message }}"},
    }
    parsed = parse_definition(definition)
    assert parsed.outputs == {"said": "{{ steps.a.output.message }}"}
    assert parsed.parameters["who"].has_default
    merged, issues = resolve_params(parsed, {})
    assert merged == {"who": "world"} and issues == []


def test_topological_order_keeps_declaration_order_among_ready_steps() -> None:
    definition = {"steps": [log("z"), log("y"), log("x", depends_on=["z"]), log("w")]}
    assert parse_definition(definition).order == ("z", "y", "x", "w")


def test_undeclared_param_is_a_warning_not_an_error() -> None:
    definition = {"steps": [log("a", "{{ params.other }}")], "parameters": {"who": {"type": "string"}}}
    result = validate(definition)
    assert result.valid
    assert [(w.path, w.code) for w in result.warnings] == [("steps[0].params.message", "undeclared_param")]


def test_extra_action_specs_validate_custom_actions() -> None:
    spec = ActionSpec(
        type="greet",
        params={"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
    )
    definition = {"steps": [{"id": "g", "action": "greet", "params": {"name": "x"}}]}
    assert not validate(definition).valid
    assert validate(definition, {**BUILTIN_SPECS, "greet": spec}).valid


# ------------------------------------------------------------------ bad definitions: exact paths

BAD: list[tuple[str, Any, str, str]] = [
    ("not an object", [], "", "invalid_type"),
    ("no steps", {}, "steps", "missing"),
    ("steps not a list", {"steps": {}}, "steps", "invalid_type"),
    ("empty steps", {"steps": []}, "steps", "empty"),
    ("unknown top key", {"steps": [log("a")], "stesp": 1}, "stesp", "unknown_key"),
    ("step not an object", {"steps": ["a"]}, "steps[0]", "invalid_type"),
    ("missing id", {"steps": [{"action": "log", "params": {"message": "x"}}]}, "steps[0].id", "missing"),
    ("missing action", {"steps": [{"id": "a"}]}, "steps[0].action", "missing"),
    ("id not a string", {"steps": [{"id": 3, "action": "log"}]}, "steps[0].id", "invalid_type"),
    ("bad id", {"steps": [log("has space")]}, "steps[0].id", "invalid_id"),
    (
        "unknown step key",
        {"steps": [{**log("a"), "dependsOn": ["b"]}]},
        "steps[0].dependsOn",
        "unknown_key",
    ),
    ("duplicate id", {"steps": [log("a"), log("b"), log("a")]}, "steps[2].id", "duplicate_id"),
    (
        "depends_on a string",
        {"steps": [log("a"), log("b", depends_on="a")]},
        "steps[1].depends_on",
        "invalid_type",
    ),
    (
        "depends_on item not a string",
        {"steps": [log("a"), log("b", depends_on=["a", 7])]},
        "steps[1].depends_on[1]",
        "invalid_type",
    ),
    (
        "unknown dependency",
        {"steps": [log("a"), log("b", depends_on=["x"])]},
        "steps[1].depends_on[0]",
        "unknown_step",
    ),
    (
        "unknown step in template",
        {"steps": [log("a", "{{ steps.nope.output.x }}")]},
        "steps[0].params.message",
        "unknown_step",
    ),
    (
        "unknown step in nested template",
        {
            "steps": [
                {"id": "s", "action": "set_output", "params": {"values": {"k": ["{{ steps.q.output }}"]}}}
            ]
        },
        "steps[0].params.values.k[0]",
        "unknown_step",
    ),
    (
        "unknown step in condition",
        {"steps": [log("a", condition="steps.ghost.status == 'failed'")]},
        "steps[0].condition",
        "unknown_step",
    ),
    (
        "unknown branch target",
        {"steps": [{"id": "c", "action": "condition", "params": {"condition": "true", "on_true": "nope"}}]},
        "steps[0].params.on_true",
        "unknown_step",
    ),
    (
        "unknown branch target in a list",
        {
            "steps": [
                log("a"),
                {"id": "c", "action": "condition", "params": {"condition": "true", "on_false": ["a", "zz"]}},
            ]
        },
        "steps[1].params.on_false[1]",
        "unknown_step",
    ),
    ("self dependency", {"steps": [log("a", depends_on=["a"])]}, "steps[0].depends_on[0]", "cycle"),
    (
        "two-step cycle",
        {"steps": [log("a", depends_on=["b"]), log("b", depends_on=["a"])]},
        "steps[1].depends_on[0]",
        "cycle",
    ),
    (
        "cycle through a template",
        {"steps": [log("a", "{{ steps.c.output }}"), log("b", depends_on=["a"]), log("c", depends_on=["b"])]},
        "steps[1].depends_on[0]",
        "cycle",
    ),
    (
        "branch target upstream of its condition",
        {
            "steps": [
                {"id": "c", "action": "condition", "params": {"condition": "steps.a.output", "on_true": "a"}},
                log("a"),
            ]
        },
        "steps[0].params.on_true",
        "cycle",
    ),
    (
        "unknown action",
        {"steps": [{"id": "a", "action": "teleport", "params": {}}]},
        "steps[0].action",
        "unknown_action",
    ),
    (
        "missing required param",
        {"steps": [{"id": "a", "action": "log", "params": {}}]},
        "steps[0].params.message",
        "required",
    ),
    (
        "unknown param",
        {"steps": [{**log("a"), "params": {"message": "x", "lvl": "info"}}]},
        "steps[0].params.lvl",
        "unknown_param",
    ),
    (
        "param of wrong type",
        {"steps": [{"id": "a", "action": "delay", "params": {"seconds": "soon"}}]},
        "steps[0].params.seconds",
        "type",
    ),
    (
        "boolean is no integer",
        {
            "steps": [
                {"id": "a", "action": "deployment_scale", "params": {"deployment_id": "d", "replicas": True}}
            ]
        },
        "steps[0].params.replicas",
        "type",
    ),
    (
        "param outside its enum",
        {"steps": [{**log("a"), "params": {"message": "x", "level": "loud"}}]},
        "steps[0].params.level",
        "enum",
    ),
    (
        "param out of range",
        {"steps": [{"id": "a", "action": "delay", "params": {"seconds": -1}}]},
        "steps[0].params.seconds",
        "out_of_range",
    ),
    (
        "array item outside its enum",
        {
            "steps": [
                {
                    "id": "a",
                    "action": "cluster_health",
                    "params": {"cluster_id": "c", "checks": ["nodes", "vibes"]},
                }
            ]
        },
        "steps[0].params.checks[1]",
        "enum",
    ),
    (
        "params not an object",
        {"steps": [{"id": "a", "action": "log", "params": ["x"]}]},
        "steps[0].params",
        "invalid_type",
    ),
    ("condition not a string", {"steps": [log("a", condition=5)]}, "steps[0].condition", "invalid_type"),
    ("retry not an object", {"steps": [log("a", retry=3)]}, "steps[0].retry", "invalid_type"),
    (
        "unknown retry key",
        {"steps": [log("a", retry={"attempts": 3})]},
        "steps[0].retry.attempts",
        "unknown_key",
    ),
    (
        "max_attempts a string",
        {"steps": [log("a", retry={"max_attempts": "3"})]},
        "steps[0].retry.max_attempts",
        "invalid_type",
    ),
    (
        "max_attempts a float",
        {"steps": [log("a", retry={"max_attempts": 2.5})]},
        "steps[0].retry.max_attempts",
        "invalid_type",
    ),
    (
        "max_attempts zero",
        {"steps": [log("a", retry={"max_attempts": 0})]},
        "steps[0].retry.max_attempts",
        "out_of_range",
    ),
    (
        "max_attempts huge",
        {"steps": [log("a", retry={"max_attempts": 1000})]},
        "steps[0].retry.max_attempts",
        "out_of_range",
    ),
    (
        "shrinking backoff",
        {"steps": [log("a", retry={"backoff_multiplier": 0.5})]},
        "steps[0].retry.backoff_multiplier",
        "out_of_range",
    ),
    (
        "negative delay",
        {"steps": [log("a", retry={"initial_delay_seconds": -1})]},
        "steps[0].retry.initial_delay_seconds",
        "out_of_range",
    ),
    (
        "negative max delay",
        {"steps": [log("a", retry={"max_delay_seconds": -2})]},
        "steps[0].retry.max_delay_seconds",
        "out_of_range",
    ),
    ("zero timeout", {"steps": [log("a", timeout_seconds=0)]}, "steps[0].timeout_seconds", "out_of_range"),
    (
        "boolean timeout",
        {"steps": [log("a", timeout_seconds=True)]},
        "steps[0].timeout_seconds",
        "invalid_type",
    ),
    ("outputs not an object", {"steps": [log("a")], "outputs": ["x"]}, "outputs", "invalid_type"),
    (
        "unknown step in outputs",
        {"steps": [log("a")], "outputs": {"x": "{{ steps.b.output }}"}},
        "outputs.x",
        "unknown_step",
    ),
    ("parameters of wrong shape", {"steps": [log("a")], "parameters": "x"}, "parameters", "invalid_type"),
    (
        "parameter type unknown",
        {"steps": [log("a")], "parameters": {"n": {"type": "float"}}},
        "parameters.n.type",
        "enum",
    ),
    (
        "parameter key unknown",
        {"steps": [log("a")], "parameters": {"n": {"dflt": 1}}},
        "parameters.n.dflt",
        "unknown_key",
    ),
    (
        "list parameter without a name",
        {"steps": [log("a")], "parameters": [{"type": "string"}]},
        "parameters[0].name",
        "missing",
    ),
]


@pytest.mark.parametrize(("case", "definition", "path", "code"), BAD, ids=[case[0] for case in BAD])
def test_bad_definition_is_rejected_at_the_exact_path(
    case: str, definition: Any, path: str, code: str
) -> None:
    result = validate(definition)
    assert not result.valid
    assert (path, code) in [(issue.path, issue.code) for issue in result.errors], result.errors


@pytest.mark.parametrize(("case", "definition", "path", "code"), BAD, ids=[case[0] for case in BAD])
def test_parse_definition_raises_with_every_issue(case: str, definition: Any, path: str, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_definition(definition)
    assert path in str(caught.value) or any(issue.path == path for issue in caught.value.errors)


def test_every_fault_is_reported_at_once() -> None:
    definition = {
        "steps": [
            {
                "id": "a",
                "action": "log",
                "params": {"message": 1, "bogus": 2},
                "retry": {"max_attempts": "3"},
            },
            {"id": "a", "action": "nope"},
            log("b", "{{ steps.q.output }}", depends_on=["c"]),
        ],
        "extra": 1,
    }
    paths = {issue.path for issue in validate(definition).errors}
    assert paths == {
        "extra",
        "steps[0].retry.max_attempts",
        "steps[0].params.message",
        "steps[0].params.bogus",
        "steps[1].id",
        "steps[2].depends_on[0]",
        "steps[2].params.message",
    }


def test_a_broken_step_causes_no_unknown_step_cascade() -> None:
    definition = {
        "steps": [
            {"id": "a", "action": "log", "params": {"message": "x"}, "timeout_seconds": "x"},
            log("b", depends_on=["a"]),
        ]
    }
    assert [issue.path for issue in validate(definition).errors] == ["steps[0].timeout_seconds"]


def test_template_checker_reports_at_the_template_path() -> None:
    def checker(source: str, is_expression: bool) -> str | None:
        return "bad syntax" if "}}}" in source or (is_expression and source.endswith("==")) else None

    definition = {"steps": [log("a", "{{ params.x }}}"), log("b", condition="params.y ==")]}
    issues = [(i.path, i.code, i.message) for i in validate(definition, check_template=checker).errors]
    assert issues == [
        ("steps[0].params.message", "template", "bad syntax"),
        ("steps[1].condition", "template", "bad syntax"),
    ]


def test_validation_does_not_mutate_the_definition() -> None:
    definition = resilient()
    parse_definition(definition)
    assert definition == resilient()


# ------------------------------------------------------------------ references

REFS = [
    ("{{ steps.a.output.x }}", {"a"}),
    ("{{ steps['b-1'].output }} and {{ steps.c.outputs.y }}", {"b-1", "c"}),
    ('{{ steps["d"].status }}', {"d"}),
    ("steps.a.output outside braces", set()),
    ("{{ 'steps.fake' ~ steps.real.output }}", {"real"}),
    ("{{ mysteps.a }} {{ x.steps.b }}", set()),
    ("{% if steps.e.output %}yes{% endif %}", {"e"}),
    ("plain text", set()),
]


@pytest.mark.parametrize(("template", "expected"), REFS)
def test_template_refs(template: str, expected: set[str]) -> None:
    assert template_refs({"nested": [template]}) == expected


@pytest.mark.parametrize(
    ("expression", "refs", "status"),
    [
        ("steps.deploy.status == 'failed'", {"deploy"}, True),
        ("steps['deploy']['status'] == 'failed'", {"deploy"}, True),
        ("{{ steps.h.output.status }} == 'healthy'", {"h"}, False),
        ("steps.a.output.status_code == 200", {"a"}, False),
        ("value > 100", set(), False),
        ("params.name == 'steps.x.status'", set(), False),
    ],
)
def test_expression_refs_and_status_reads(expression: str, refs: set[str], status: bool) -> None:
    assert expression_refs(expression) == refs
    assert reads_status(expression) is status


# ------------------------------------------------------------------ params


@pytest.mark.parametrize(
    ("schema", "value", "templates_ok", "expected"),
    [
        ({"type": "integer"}, 3, False, []),
        ({"type": "integer"}, 3.0, False, [("$", "type")]),
        ({"type": "number"}, True, False, [("$", "type")]),
        ({"type": ["string", "array"], "items": {"type": "string"}}, ["a", 1], False, [("$[1]", "type")]),
        ({"type": "integer"}, "{{ params.n }}", True, []),
        ({"type": "integer"}, "{{ params.n }}", False, [("$", "type")]),
        ({"enum": ["a"]}, "{% if x %}a{% endif %}", True, []),
        ({"type": "integer", "maximum": 5}, 6, False, [("$", "out_of_range")]),
        (
            {"type": "object", "properties": {"a b": {"type": "string"}}, "additionalProperties": False},
            {"a b": 1, "c": 2},
            False,
            [("$['a b']", "type"), ("$.c", "unknown_param")],
        ),
        ({"type": "object", "additionalProperties": {"type": "string"}}, {"h": 1}, False, [("$.h", "type")]),
    ],
)
def test_check_value(
    schema: dict[str, Any], value: Any, templates_ok: bool, expected: list[tuple[str, str]]
) -> None:
    issues = check_value(schema, value, "$", allow_templates=templates_ok)
    assert [(issue.path, issue.code) for issue in issues] == expected


def test_resolve_params_checks_declarations() -> None:
    definition = {
        "steps": [log("a")],
        "parameters": {
            "replicas": {"type": "integer", "default": 1},
            "cluster_id": {"type": "string", "required": True},
            "env": {"enum": ["prod", "dev"]},
        },
    }
    parsed = parse_definition(definition)
    merged, issues = resolve_params(parsed, {"env": "qa", "extra": True})
    assert merged == {"env": "qa", "extra": True, "replicas": 1}
    assert [(i.path, i.code) for i in issues] == [
        ("params.cluster_id", "required"),
        ("params.env", "enum"),
    ]
    merged, issues = resolve_params(parsed, {"cluster_id": "c", "replicas": "3"})
    assert [(i.path, i.code) for i in issues] == [("params.replicas", "type")]
