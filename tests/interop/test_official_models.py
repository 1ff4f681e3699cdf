"""Every answer of the routes the official SDK calls validates against the official pydantic models.

Table-driven: one row per route and answer part; the raw JSON comes from the real server (no client
of ours in between), so what is checked is the wire itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from interop_support import DEFINITION, STEP_IDS

pytest.importorskip("bud")
from bud.models.action import ActionDefinition
from bud.models.execution import Execution, ExecutionEvent, ExecutionProgress, ExecutionStep
from bud.models.pipeline import Pipeline, ValidationResult

Client = TestClient[web.Request, web.Application]
Ids = dict[str, str]


def one(data: Any) -> list[Any]:
    return [data]


def items(key: str) -> Callable[[Any], list[Any]]:
    def pick(data: Any) -> list[Any]:
        found: list[Any] = data[key]
        assert found, f"no {key} to check"
        return found

    return pick


# (route, method, path, body, official model, the parts of the answer that model must read)
ROUTES: list[tuple[str, str, str, Any, type[Any], Callable[[Any], list[Any]]]] = [
    ("create pipeline", "POST", "/budpipeline", "pipeline_body", Pipeline, one),
    ("list pipelines", "GET", "/budpipeline?page=1&per_page=20", None, Pipeline, items("items")),
    ("get pipeline", "GET", "/budpipeline/{pipeline}", None, Pipeline, one),
    (
        "patch pipeline",
        "PATCH",
        "/budpipeline/{pipeline}",
        {"is_active": False, "tags": {"a": "b"}},
        Pipeline,
        one,
    ),
    ("put pipeline", "PUT", "/budpipeline/{pipeline}", "pipeline_body", Pipeline, one),
    ("validate", "POST", "/budpipeline/validate", {"dag": DEFINITION}, ValidationResult, one),
    ("execute", "POST", "/budpipeline/{pipeline}/execute", "execute_body", Execution, one),
    ("run", "POST", "/budpipeline/run", "run_body", Execution, one),
    ("list executions", "GET", "/budpipeline/executions?page=1&per_page=5", None, Execution, items("items")),
    ("get execution", "GET", "/budpipeline/executions/{done}", None, Execution, one),
    ("progress", "GET", "/budpipeline/executions/{done}/progress", None, ExecutionProgress, one),
    (
        "progress execution",
        "GET",
        "/budpipeline/executions/{done}/progress",
        None,
        Execution,
        lambda d: [d["execution"]],
    ),
    ("steps", "GET", "/budpipeline/executions/{done}/steps", None, ExecutionStep, items("items")),
    ("events", "GET", "/budpipeline/executions/{done}/events", None, ExecutionEvent, items("items")),
    ("cancel", "POST", "/budpipeline/executions/{slow}/cancel", {}, Execution, one),
    ("retry", "POST", "/budpipeline/executions/{done}/retry", {}, Execution, one),
    ("list actions", "GET", "/budpipeline/actions", None, ActionDefinition, items("actions")),
    ("get action", "GET", "/budpipeline/actions/cluster_health", None, ActionDefinition, one),
]

BODIES: dict[str, Any] = {
    # Exactly what the official SDK sends (pipelines.create / executions.create / run_ephemeral).
    "pipeline_body": {"name": "models", "description": "", "dag": DEFINITION, "tags": {"env": "test"}},
    "execute_body": {"params": {"who": "x"}, "context": {}, "callback_topics": ["t"], "initiator": "api"},
    "run_body": {"pipeline_definition": DEFINITION, "params": {"who": "y"}, "user_id": "u1"},
}


async def _json(api: Client, method: str, path: str, body: Any = None) -> Any:
    response = await api.request(method, path, json=body)
    assert response.status < 300, f"{method} {path} -> {response.status}: {await response.text()}"
    return await response.json()


@pytest.fixture
async def ids(api: Client) -> Ids:
    pipeline = await _json(api, "POST", "/budpipeline", BODIES["pipeline_body"])
    run = await _json(api, "POST", f"/budpipeline/{pipeline['id']}/execute", {"params": {"who": "z"}})
    done = await _json(api, "GET", f"/budpipeline/executions/{run['id']}?wait=10")
    assert done["status"] == "completed"
    slow = await _json(
        api,
        "POST",
        "/budpipeline/run",
        {"pipeline_definition": {"steps": [{"id": "nap", "action": "delay", "params": {"seconds": 30}}]}},
    )
    return {"pipeline": pipeline["id"], "done": done["id"], "slow": slow["id"]}


@pytest.mark.parametrize(
    ("route", "method", "path", "body", "model", "parts"), ROUTES, ids=[r[0] for r in ROUTES]
)
async def test_answers_validate_against_the_official_models(
    api: Client,
    ids: Ids,
    route: str,
    method: str,
    path: str,
    body: Any,
    model: type[Any],
    parts: Callable[[Any], list[Any]],
) -> None:
    payload = BODIES.get(body, body) if isinstance(body, str) else body
    data = await _json(api, method, path.format(**ids), payload)
    for part in parts(data):
        parsed = model.model_validate(part)
        if model is Execution:
            assert parsed.effective_id.startswith("exec_")
            assert [step.id for step in parsed.steps] == STEP_IDS or [s.id for s in parsed.steps] == ["nap"]
            assert parsed.progress is not None and parsed.progress.total_steps == len(parsed.steps)
        elif model is Pipeline:
            assert parsed.id.startswith("pipe_") and isinstance(parsed.tags, dict)
            if route in ("get pipeline", "patch pipeline", "put pipeline"):
                assert parsed.id == ids["pipeline"]
        elif model is ExecutionStep:
            assert parsed.id in STEP_IDS and parsed.status == "completed"
        elif model is ExecutionProgress:
            assert (parsed.total_steps, parsed.completed_steps, parsed.percent_complete) == (3, 3, 100.0)
        elif model is ActionDefinition:
            assert parsed.name and parsed.type


def test_every_route_the_official_sdk_calls_is_in_the_table() -> None:
    paths = {(method, path.split("?")[0]) for _r, method, path, *_rest in ROUTES}
    expected = {
        ("POST", "/budpipeline"),
        ("GET", "/budpipeline"),
        ("GET", "/budpipeline/{pipeline}"),
        ("PATCH", "/budpipeline/{pipeline}"),
        ("POST", "/budpipeline/validate"),
        ("POST", "/budpipeline/{pipeline}/execute"),
        ("POST", "/budpipeline/run"),
        ("GET", "/budpipeline/executions"),
        ("GET", "/budpipeline/executions/{done}"),
        ("GET", "/budpipeline/executions/{done}/progress"),
        ("GET", "/budpipeline/executions/{done}/steps"),
        ("GET", "/budpipeline/executions/{done}/events"),
        ("POST", "/budpipeline/executions/{slow}/cancel"),
        ("POST", "/budpipeline/executions/{done}/retry"),
        ("GET", "/budpipeline/actions"),
    }
    assert expected <= paths
