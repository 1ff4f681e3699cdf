"""Templates and conditions (budai_server.engine.templates): types, lookups, sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from budai_server.engine import templates
from budai_server.engine.templates import TemplateError, check, evaluate, render, truthy


def variables() -> dict[str, Any]:
    params = {"n": 3, "name": "llama", "flag": "false", "cfg": {"a": 1}, "value": 150}
    add_model = {"model_id": "model_1", "items": [1, 2], "keys": "k", "nested": {"x": None}}
    return {
        **params,
        "params": params,
        "steps": {
            "add_model": {"status": "completed", "output": add_model, "outputs": add_model},
            "deploy": {"status": "failed", "output": None, "outputs": None, "error": "boom"},
            "my-step": {"status": "completed", "output": {"v": 1}, "outputs": {"v": 1}},
        },
    }


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ params.n }}", 3),
        (" {{ params.n }} ", 3),  # the guide writes placeholders with spaces around them
        ("{{ params.cfg }}", {"a": 1}),
        ("{{ steps.add_model.output.items }}", [1, 2]),  # the key, not dict.items
        ("{{ steps.add_model.output.keys }}", "k"),
        ("{{ steps.add_model.outputs.model_id }}", "model_1"),
        ("{{ steps['my-step'].output.v }}", 1),
        ("{{ steps.add_model.output.nested.x }}", None),
        ("{{ params.n > 2 }}", True),
        ("{{ params.n * 2.5 }}", 7.5),
        ("{{ [params.n, params.name] }}", [3, "llama"]),
        ("{{ range(3) }}", [0, 1, 2]),
        ("n={{ params.n }}", "n=3"),
        ("{{ params.n }}{{ params.n }}", "33"),
        ("{% if params.n > 1 %}many{% else %}one{% endif %}", "many"),
        ("{{ params.name | upper }}", "LLAMA"),
        ("{{ params.missing | default('d') }}", "d"),
        ("no placeholders", "no placeholders"),
        ("{{ steps.deploy.status }}", "failed"),
        ("{{ value }}", 150),
    ],
)
def test_render_keeps_json_types_of_single_placeholders(source: str, expected: Any) -> None:
    result = render(source, variables())
    assert result == expected
    assert type(result) is type(expected)


def test_render_walks_nested_values_and_copies_results() -> None:
    values = variables()
    rendered = render({"a": ["{{ params.cfg }}", 5], "b": {"c": "x{{ params.n }}"}}, values)
    assert rendered == {"a": [{"a": 1}, 5], "b": {"c": "x3"}}
    rendered["a"][0]["a"] = 99
    assert values["params"]["cfg"] == {"a": 1}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ params.missing }}", "params.x: undefined value"),
        ("{{ steps.deploy.output.model_id }}", "params.x: undefined value"),
        ("{{ params.n / 0 }}", "ZeroDivisionError"),
        ("{{ params.n ", "invalid template"),
        ("{{ 1e308 * 10 }}", "JSON cannot hold"),
        ("{{ params.name.upper }}", "not a JSON value"),
    ],
)
def test_render_errors_name_the_path(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render(source, variables(), path="params.x")


def test_lenient_render_turns_undefined_into_null_or_empty() -> None:
    assert render("{{ steps.deploy.output.deployment_id }}", variables(), strict=False) is None
    assert render("id={{ params.missing }}", variables(), strict=False) == "id="


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("steps.add_model.status == 'completed'", True),
        ("{{ steps.add_model.status == 'completed' }}", True),  # braces optional
        ("{{ params.n }} > 2", True),  # braces inside a larger expression
        ("steps.deploy.status == 'failed'", True),
        ("steps.deploy.output.status == 'healthy'", False),  # missing values compare false
        ("steps.nope.output.x", None),
        ("value > 100", 150 > 100),  # params are also top-level names
        ("params.n", 3),
    ],
)
def test_evaluate_conditions(expression: str, expected: Any) -> None:
    assert evaluate(expression, variables()) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (None, False),
        (0, False),
        (2, True),
        ("false", False),
        (" False ", False),
        ("no", False),
        ("0", False),
        ("", False),
        ("none", False),
        ("yes", True),
        ("healthy", True),
        ([], False),
        ([0], True),
        ({}, False),
    ],
)
def test_truthy(value: Any, expected: bool) -> None:
    assert truthy(value) is expected


def test_conditions_refuse_statements() -> None:
    with pytest.raises(TemplateError, match="statements"):
        evaluate("{% if true %}1{% endif %}", variables())


def test_each_source_is_compiled_once() -> None:
    templates._compile.cache_clear()
    for _ in range(5):
        render("{{ params.n + 1 }}", variables())
        evaluate("params.n > 1", variables())
    info = templates._compile.cache_info()
    assert (info.misses, info.hits) == (2, 8)


# ------------------------------------------------------------------ the sandbox

ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ params.__class__ }}",
    "{{ params['__class__'] }}",
    "{{ params|attr('__class__') }}",
    "{{ params|attr('_' ~ '_class__') }}",
    "{{ steps.add_model.output.items.__globals__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler(1, 2).next() }}",
    "{{ joiner() }}",
    "{{ namespace(a=1) }}",
    "{% set ns = namespace(x=1) %}{{ ns.x }}",
    "{{ lipsum(10**6) }}",
    "{{ self }}",
    "{{ '{0.__class__}'.format(params) }}",
    "{{ '{0.__class__.__base__}'.format(1) }}",
    "{{ '{x.__class__}'.format_map({'x': 1}) }}",
    "{{ '{:999999999}'.format(1) }}",
    "{{ '{:{w}}'.format(1, w=999999999) }}",
    "{{ '%999999999d' % 1 }}",
    "{{ '%*d' % (999999999, 1) }}",
    "{{ '%999999999s' | format(1) }}",
    "{{ range(10**9) | list }}",
    "{{ range(100000) | list }}",
    "{{ 'x' * 10**9 }}",
    "{{ [0] * 10**8 }}",
    "{{ 9 ** (9 ** 9) }}",
    "{{ 2 ** (10 ** 10) }}",
    "{{ 'a' | center(999999999) }}",
    "{{ 'a'.ljust(10**9) }}",
    "{{ 'a\\tb'.expandtabs(10**9) }}",
    "{{ ('a' * 100000) | replace('a', 'b' * 100) }}",
    "{{ range(1000) | join('x' * 100000) }}",
    "{{ [1] | batch(10**9, 0) | list }}",
    "{{ [1] | slice(10**9) | list }}",
    "{{ params.cfg.update({'b': 2}) }}",
    "{{ params.cfg.clear() }}",
    "{% macro boom(n) %}{{ boom(n) }}{{ boom(n) }}{% endmacro %}{{ boom(1) }}",
    "{% for a in range(9) %}{% for b in range(9) %}{% for c in range(9) %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
    "{% include 'other' %}",
    "{% import 'other' as o %}",
    "{% extends 'base' %}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escapes_are_rejected(source: str) -> None:
    with pytest.raises(TemplateError, match=r"^unsafe template: "):
        render(source, variables())


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escapes_fail_as_conditions_too(source: str) -> None:
    expression = source.removeprefix("{{").removesuffix("}}") if source.startswith("{{") else source
    with pytest.raises(TemplateError):
        evaluate(expression, variables())


class Canary:
    """Records every attribute access that reaches it: an escape must be refused before that."""

    def __init__(self) -> None:
        self.touched: list[str] = []

    @property
    def _secret(self) -> str:
        self.touched.append("_secret")
        return "leaked"

    @property
    def visible(self) -> str:
        self.touched.append("visible")
        return "fine"


@pytest.mark.parametrize(
    "source",
    ["{{ canary._secret }}", "{{ canary['_secret'] }}", "{{ canary|attr('_secret') }}", "{{ canary[name] }}"],
)
def test_refusal_happens_before_the_object_is_touched(source: str) -> None:
    canary = Canary()
    with pytest.raises(TemplateError):
        render(source, {"canary": canary, "name": "_secret"})
    assert canary.touched == []
    assert render("{{ canary.visible }}", {"canary": canary}) == "fine"


def test_check_reports_without_running() -> None:
    assert check("{{ params.n }}", False) is None
    assert check("params.n > 1", True) is None
    assert (
        check("{{ ''.__class__ }}", False)
        == "unsafe template: access to attribute '__class__' is not allowed"
    )
    assert (check("steps.a ==", True) or "").startswith("invalid template")
    assert (check("{{ cycler }}", False) or "").endswith("'cycler' is not available in pipeline templates")


def test_source_size_is_limited() -> None:
    with pytest.raises(TemplateError, match="characters long"):
        render("{{ '" + "a" * templates.MAX_SOURCE + "' }}", {})
