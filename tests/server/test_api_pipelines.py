"""Pipeline routes against the real app: create, list, get, PATCH, PUT, DELETE, validate."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import LOG_DEFINITION, Client, create_pipeline, execute, json_of, step, wait_done

GUIDE_DEPLOY = {
    "steps": [
        {
            "id": "add_model",
            "action": "model_add",
            "params": {"model_uri": "meta-llama/Llama-3.2-1B-Instruct", "model_source": "hugging_face"},
        },
        {
            "id": "deploy",
            "action": "deployment_create",
            "params": {
                "model_id": "{{ steps.add_model.output.model_id }}",
                "cluster_id": "cluster_prod",
                "deployment_name": "llama-deployment",
            },
            "depends_on": ["add_model"],
        },
    ]
}


async def test_create_then_get_returns_the_definition_as_submitted(api: Client) -> None:
    created = await create_pipeline(
        api, GUIDE_DEPLOY, name="Deploy Model", description="Automated model deployment", tags=["ml"]
    )
    assert created["id"].startswith("pipe_")
    assert created["definition"] == GUIDE_DEPLOY
    assert (created["name"], created["description"], created["tags"]) == (
        "Deploy Model",
        "Automated model deployment",
        {"ml": ""},
    )
    assert (created["version"], created["step_count"], created["status"]) == (1, 2, "active")
    assert created["created_at"].endswith("Z")
    fetched = await json_of(api, "GET", f"/budpipeline/{created['id']}", expect=200)
    assert fetched == created


async def test_the_gateway_dag_alias_and_its_name_are_accepted(api: Client) -> None:
    dag = {"name": "From DAG", **LOG_DEFINITION}
    created = await json_of(api, "POST", "/budpipeline", json={"dag": dag}, expect=201)
    assert created["name"] == "From DAG"
    assert created["definition"] == dag


async def test_list_filters_by_name_and_pages_with_totals(api: Client) -> None:
    for name in ("Deploy Model", "deploy canary", "Cleanup", "Redeploy"):
        await create_pipeline(api, LOG_DEFINITION, name=name)
    page = await json_of(api, "GET", "/budpipeline", params={"name_contains": "DEPLOY"}, expect=200)
    assert page["total"] == 3
    assert [item["name"] for item in page["items"]] == ["Redeploy", "deploy canary", "Deploy Model"]
    page = await json_of(api, "GET", "/budpipeline", params={"limit": "2", "offset": "1"}, expect=200)
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)
    assert [item["name"] for item in page["items"]] == ["Cleanup", "deploy canary"]


async def test_patch_changes_only_what_is_sent_and_bumps_the_version(api: Client) -> None:
    created = await create_pipeline(
        api, LOG_DEFINITION, name="old", description="keep me", tags={"a": "1"}, icon="rocket"
    )
    patched = await json_of(api, "PATCH", f"/budpipeline/{created['id']}", json={"name": "new"}, expect=200)
    assert (patched["name"], patched["description"], patched["tags"]) == ("new", "keep me", {"a": "1"})
    assert (patched["icon"], patched["is_active"]) == ("rocket", True)
    patched = await json_of(
        api, "PATCH", f"/budpipeline/{created['id']}", json={"is_active": False, "tags": {}}, expect=200
    )
    assert (patched["is_active"], patched["tags"], patched["version"]) == (False, {}, 3)
    assert patched["definition"] == LOG_DEFINITION
    new_definition = {"steps": [step("only", "log", message="hi")]}
    patched = await json_of(
        api, "PATCH", f"/budpipeline/{created['id']}", json={"definition": new_definition}, expect=200
    )
    assert (patched["definition"], patched["step_count"], patched["version"]) == (new_definition, 1, 4)
    assert patched["dag"] == new_definition
    assert await json_of(api, "GET", f"/budpipeline/{created['id']}", expect=200) == patched


async def test_put_replaces_everything(api: Client) -> None:
    created = await create_pipeline(
        api, LOG_DEFINITION, name="old", description="gone", tags=["a"], icon="x", is_active=False
    )
    replaced = await json_of(
        api,
        "PUT",
        f"/budpipeline/{created['id']}",
        json={"name": "new", "definition": GUIDE_DEPLOY},
        expect=200,
    )
    assert (replaced["name"], replaced["description"], replaced["tags"]) == ("new", None, {})
    assert (replaced["icon"], replaced["is_active"]) == (None, True)
    assert (replaced["definition"], replaced["version"]) == (GUIDE_DEPLOY, 2)
    error = await json_of(api, "PUT", f"/budpipeline/{created['id']}", json={"name": "x"}, expect=422)
    assert [d["path"] for d in error["error"]["details"]] == ["definition"]


async def test_delete_keeps_the_executions(api: Client) -> None:
    created = await create_pipeline(api, LOG_DEFINITION)
    execution = await execute(api, created["id"], params={"who": "bud"})
    await wait_done(api, execution["id"])
    response = await api.delete(f"/budpipeline/{created['id']}")
    assert response.status == 204
    await json_of(api, "GET", f"/budpipeline/{created['id']}", expect=404)
    await json_of(api, "DELETE", f"/budpipeline/{created['id']}", expect=404)
    kept = await json_of(api, "GET", f"/budpipeline/executions/{execution['id']}", expect=200)
    assert (kept["pipeline_id"], kept["status"]) == (created["id"], "completed")
    listed = await json_of(
        api, "GET", "/budpipeline/executions", params={"pipeline_id": created["id"]}, expect=200
    )
    assert [item["id"] for item in listed["items"]] == [execution["id"]]


async def test_validate_reports_every_fault_with_its_path(api: Client) -> None:
    ok = await json_of(api, "POST", "/budpipeline/validate", json={"definition": GUIDE_DEPLOY}, expect=200)
    assert ok == {"valid": True, "errors": [], "warnings": ok["warnings"]}
    bad = {
        "steps": [
            step("a", "log", message="x"),
            {**step("b", "no_such_action"), "depends_on": ["ghost"]},
            step("a", "log", message="dup"),
        ]
    }
    result = await json_of(api, "POST", "/budpipeline/validate", json={"definition": bad}, expect=200)
    assert result["valid"] is False
    paths = {error["path"] for error in result["errors"]}
    assert "steps[1].action" in paths
    assert "steps[1].depends_on[0]" in paths
    assert any(path.startswith("steps[2]") for path in paths)


async def test_an_invalid_definition_is_refused_with_field_paths(api: Client) -> None:
    bad = {"steps": [{**step("deploy", "deployment_create", replicas="three"), "depends_on": ["nope"]}]}
    error = await json_of(api, "POST", "/budpipeline", json={"name": "x", "definition": bad}, expect=422)
    assert error["error"]["code"] == "invalid_definition"
    paths = [detail["path"] for detail in error["error"]["details"]]
    assert "definition.steps[0].depends_on[0]" in paths
    assert all(path.startswith("definition.steps[0]") for path in paths)
    listed = await json_of(api, "GET", "/budpipeline", expect=200)
    assert listed["total"] == 0


async def test_unknown_pipeline_is_404_everywhere(api: Client) -> None:
    for method, path, body in [
        ("GET", "/budpipeline/pipe_missing", None),
        ("PATCH", "/budpipeline/pipe_missing", {"name": "x"}),
        ("PUT", "/budpipeline/pipe_missing", {"name": "x", "definition": LOG_DEFINITION}),
        ("DELETE", "/budpipeline/pipe_missing", None),
        ("POST", "/budpipeline/pipe_missing/execute", {}),
    ]:
        error = await json_of(api, method, path, json=body, expect=404)
        assert error["error"]["code"] == "not_found"
        assert error["error"]["details"]["id"] == "pipe_missing"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"definition": LOG_DEFINITION}, "name"),
        ({"name": "", "definition": LOG_DEFINITION}, "name"),
        ({"name": 5, "definition": LOG_DEFINITION}, "name"),
        ({"name": "x" * 201, "definition": LOG_DEFINITION}, "name"),
        ({"name": "x"}, "definition"),
        ({"name": "x", "definition": []}, "definition"),
        ({"name": "x", "definition": "steps"}, "definition"),
        ({"name": "x", "definition": LOG_DEFINITION, "dag": LOG_DEFINITION}, "dag"),
        ({"name": "x", "definition": LOG_DEFINITION, "tags": "prod"}, "tags"),
        ({"name": "x", "definition": LOG_DEFINITION, "tags": ["ok", 3]}, "tags[1]"),
        ({"name": "x", "definition": LOG_DEFINITION, "tags": {"env": 3}}, "tags.env"),
        ({"name": "x", "definition": LOG_DEFINITION, "is_active": "yes"}, "is_active"),
        ({"name": "x", "definition": LOG_DEFINITION, "status": "deleted"}, "status"),
        ({"name": "x", "definition": LOG_DEFINITION, "descriptio": "typo"}, "descriptio"),
        ({"name": "x", "definition": {"steps": [], "stepz": []}}, "definition.stepz"),
        (
            {"name": "x", "definition": {"steps": [{"id": "a", "action": "log", "parms": {}}]}},
            "definition.steps[0]",
        ),
    ],
)
async def test_bad_create_bodies_name_the_field(api: Client, body: dict[str, Any], field: str) -> None:
    error = await json_of(api, "POST", "/budpipeline", json=body, expect=422)
    paths = [detail["path"] for detail in error["error"]["details"]]
    assert any(path == field or path.startswith(field + ".") for path in paths), paths


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"offset": "-5"}, "offset"),
    ],
)
async def test_bad_list_parameters_name_the_field(api: Client, params: dict[str, str], field: str) -> None:
    error = await json_of(api, "GET", "/budpipeline", params=params, expect=422)
    assert [detail["path"] for detail in error["error"]["details"]] == [field]


async def test_patch_needs_at_least_one_field(api: Client) -> None:
    created = await create_pipeline(api, LOG_DEFINITION)
    error = await json_of(api, "PATCH", f"/budpipeline/{created['id']}", json={}, expect=422)
    assert error["error"]["details"][0]["code"] == "empty"
