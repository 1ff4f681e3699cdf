"""The pipeline DSL offline: references, dependencies, conditions, build output, local validation."""

from __future__ import annotations

import copy
import json

import pytest

from budai_async import ValidationError
from budai_async.pipeline.definition import validate
from budai_async.pipeline.dsl import Condition, PipelineBuilder, Retry, actions, params


def test_references_render_to_templates_and_add_dependencies() -> None:
    pipe = PipelineBuilder("Deploy")
    add = pipe.step("add_model", actions.model_add(model_uri=params.model_uri, model_source="hugging_face"))
    deploy = pipe.step(
        "deploy",
        actions.deployment_create(model_id=add.output.model_id, cluster_id=params.cluster_id, replicas=2),
    )
    built = pipe.build()
    assert built["steps"][0] == {
        "id": "add_model",
        "action": "model_add",
        "params": {"model_uri": "{{ params.model_uri }}", "model_source": "hugging_face"},
    }
    assert built["steps"][1] == {
        "id": "deploy",
        "action": "deployment_create",
        "params": {
            "model_id": "{{ steps.add_model.output.model_id }}",
            "cluster_id": "{{ params.cluster_id }}",
            "replicas": 2,
        },
        "depends_on": ["add_model"],
    }
    assert deploy.output.endpoint_url.template == "{{ steps.deploy.output.endpoint_url }}"
    assert deploy["endpoint_url"].template == deploy.output.endpoint_url.template


def test_nested_and_odd_keys() -> None:
    pipe = PipelineBuilder()
    step = pipe.step("my-step", actions.log(message="x"))
    assert step.output.a.b[0].template == '{{ steps["my-step"].output.a.b[0] }}'
    assert step.output["odd key"].template == '{{ steps["my-step"].output["odd key"] }}'
    assert params["my-param"].template == '{{ params["my-param"] }}'
    with pytest.raises(AttributeError):
        _ = step.output._private
    assert copy.copy(params.x).expression == "params.x"  # dunder lookups are not references


def test_fstring_references_and_nested_values_add_dependencies() -> None:
    pipe = PipelineBuilder()
    deploy = pipe.step("deploy", actions.deployment_create(model_id="m", cluster_id="c"))
    health = pipe.step("health", actions.cluster_health(cluster_id="c"))
    note = pipe.step(
        "note",
        actions.api_call(
            url=f"https://hooks.example.com/{deploy.output.deployment_id}",
            method="POST",
            body={"items": [health.output.status, {"n": 1}]},
        ),
    )
    built = pipe.build()["steps"][2]
    assert built["params"]["url"] == "https://hooks.example.com/{{ steps.deploy.output.deployment_id }}"
    assert built["params"]["body"] == {"items": ["{{ steps.health.output.status }}", {"n": 1}]}
    assert set(built["depends_on"]) == {"deploy", "health"}
    assert note.id == "note"


def test_conditions_render_as_expressions() -> None:
    pipe = PipelineBuilder()
    health = pipe.step("health_check", actions.cluster_health(cluster_id="cluster_prod"))
    deploy = pipe.step(
        "deploy",
        actions.deployment_create(model_id="m", cluster_id="cluster_prod"),
        condition=health.output.status == "healthy",
    )
    pipe.step(
        "notify", actions.notification(message="failed", channel="slack"), condition=deploy.status == "failed"
    )
    steps = pipe.build()["steps"]
    assert steps[1]["condition"] == "steps.health_check.output.status == 'healthy'"
    assert steps[1]["depends_on"] == ["health_check"]
    assert steps[2]["condition"] == "steps.deploy.status == 'failed'"
    assert steps[2]["depends_on"] == ["deploy"]


@pytest.mark.parametrize(
    ("condition", "expression"),
    [
        (params.n > 3, "params.n > 3"),
        (params.n >= 3.5, "params.n >= 3.5"),
        (params.n < 0, "params.n < 0"),
        (params.n <= 0, "params.n <= 0"),
        (params.flag == True, "params.flag == true"),  # noqa: E712 - builds an expression
        (params.x != None, "params.x != none"),  # noqa: E711 - builds an expression
        (params.env == "it's", "params.env == 'it\\'s'"),
        (params.env.is_in(["a", "b"]), "params.env in ['a', 'b']"),
        ((params.a == 1) & (params.b == 2), "(params.a == 1) and (params.b == 2)"),
        ((params.a == 1) | ~(params.b == 2), "(params.a == 1) or (not (params.b == 2))"),
        (params.ready.truthy(), "params.ready"),
        (params.a == params.b, "params.a == params.b"),
    ],
)
def test_condition_expressions(condition: Condition, expression: str) -> None:
    assert condition.expression == expression


def test_references_refuse_truth_tests() -> None:
    with pytest.raises(TypeError, match="truthy"):
        bool(params.x)
    with pytest.raises(TypeError, match="&"):
        bool(params.x == 1)
    with pytest.raises(TypeError):
        hash(params.x)


def test_condition_action_targets_take_steps_or_ids() -> None:
    pipe = PipelineBuilder()
    path_a = pipe.step("path_a", actions.log(message="a"))
    check = pipe.step(
        "check_status",
        actions.condition(condition=params.value > 100, on_true=path_a, on_false=["path_b"]),
    )
    pipe.step("path_b", actions.log(message="b"))
    built = pipe.build()
    assert built["steps"][1]["params"] == {
        "condition": "params.value > 100",
        "on_true": "path_a",
        "on_false": ["path_b"],
    }
    assert check.output.branch.template == "{{ steps.check_status.output.branch }}"
    pipe.validate()


def test_retry_timeout_outputs_parameters_and_explicit_dependencies() -> None:
    pipe = PipelineBuilder("p", description="d")
    cluster = pipe.param("cluster_id", type="string", default="cluster_prod", description="where")
    first = pipe.step("first", actions.log(message="go", level="info"))
    second = pipe.step(
        "second",
        actions.cluster_health(cluster_id=cluster, checks=["nodes", "gpu"]),
        retry=Retry(max_attempts=3, backoff_multiplier=2, initial_delay_seconds=0.01),
        timeout_seconds=5,
        depends_on=[first],
    )
    pipe.output("healthy", second.output.healthy)
    built = pipe.build()
    assert built["parameters"] == {
        "cluster_id": {"type": "string", "default": "cluster_prod", "description": "where"}
    }
    assert built["steps"][1]["retry"] == {
        "max_attempts": 3,
        "backoff_multiplier": 2,
        "initial_delay_seconds": 0.01,
    }
    assert built["steps"][1]["timeout_seconds"] == 5
    assert built["steps"][1]["depends_on"] == ["first"]
    assert built["outputs"] == {"healthy": "{{ steps.second.output.healthy }}"}
    assert json.loads(json.dumps(built)) == built  # plain JSON
    assert pipe.validate().valid
    assert validate(built).valid


def test_after_adds_ordering() -> None:
    pipe = PipelineBuilder()
    a = pipe.step("a", actions.log(message="a"))
    pipe.step("b", actions.log(message="b")).after(a, "a")
    assert pipe.build()["steps"][1]["depends_on"] == ["a"]


def test_builder_rejects_bad_steps() -> None:
    pipe = PipelineBuilder()
    pipe.step("a", actions.log(message="a"))
    with pytest.raises(ValidationError, match="already used"):
        pipe.step("a", actions.log(message="again"))
    with pytest.raises(ValidationError, match="step id"):
        pipe.step("-bad", actions.log(message="x"))
    with pytest.raises(ValidationError, match="action call"):
        pipe.step("c", {"action": "log"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="dependency"):
        pipe.step("d", actions.log(message="x"), depends_on=[3])  # type: ignore[list-item]


def test_validate_raises_with_paths() -> None:
    pipe = PipelineBuilder()
    pipe.step("a", actions.action("no_such_action", x=1))
    pipe.step("b", actions.deployment_create(model_id="m", cluster_id="c", replicas=0))
    with pytest.raises(ValidationError) as caught:
        pipe.validate()
    paths = {issue.path for issue in caught.value.errors}
    assert "steps[0].action" in paths
    assert "steps[1].params.replicas" in paths
    assert "steps[0].action" in str(caught.value)


def test_reference_to_a_step_of_another_pipeline_is_reported() -> None:
    other = PipelineBuilder()
    ghost = other.step("ghost", actions.log(message="x"))
    pipe = PipelineBuilder()
    pipe.step("a", actions.log(message=ghost.output.message))
    with pytest.raises(ValidationError, match="ghost"):
        pipe.validate()


def test_step_used_as_value_is_refused() -> None:
    pipe = PipelineBuilder()
    a = pipe.step("a", actions.log(message="x"))
    pipe.step("b", actions.transform(input=a))
    with pytest.raises(ValidationError, match=r"a\.output"):
        pipe.build()


def test_aliases_are_the_same_helpers() -> None:
    assert actions.wait(seconds=1) == actions.delay(seconds=1)
    assert actions.http_request(url="http://x") == actions.api_call(url="http://x")
    assert actions.conditional(condition=True) == actions.condition(condition=True)
