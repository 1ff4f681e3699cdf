"""Typed edges of the SDK: `Literal` parameters that mypy checks, `to_dict()` / `to_json()` on models in
the wire shape, and short model reprs. The mypy cases run mypy's API on small snippets."""

from __future__ import annotations

import json
import re

import pytest
from mypy import api as mypy_api
from sdk_support import log_step

from budai_async import AsyncBudClient, Execution, ExecutionStatus, Pipeline, StepRun, StepStatus

BAD = [
    'await client.executions.create("p", priority="urgent")',
    'client.executions.list(status="done")',
    'client.executions.list(status=["failed", "nope"])',
    'client.executions.list(sort_by="name")',
    'client.executions.list(sort_order="up")',
    'await client.executions.run_ephemeral({}, priority="asap")',
]
GOOD = [
    'await client.executions.create("p", priority="high")',
    'await client.executions.create("p", priority=Priority.LOW)',
    'client.executions.list(status=["failed", "completed"], sort_by="duration_seconds", sort_order="asc")',
    'client.executions.list(status=ExecutionStatus.RUNNING, sort_by="status")',
]
HEADER = (
    "from budai_async import AsyncBudClient, ExecutionStatus, Priority\n\n\n"
    "async def main(client: AsyncBudClient) -> None:\n"
)


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    """One mypy run over a snippet holding every case, one per line: line number -> its errors."""
    tmp = tmp_path_factory.mktemp("mypy")
    path = tmp / "snippet.py"
    path.write_text(HEADER + "".join(f"    {line}\n" for line in [*BAD, *GOOD]))
    out, err, _status = mypy_api.run(["--strict", "--cache-dir", str(tmp / ".cache"), str(path)])
    errors: dict[int, str] = {}
    for row in out.splitlines():
        match = re.match(rf"{re.escape(str(path))}:(\d+): error: (.*)", row)
        if match:
            errors[int(match.group(1))] = errors.get(int(match.group(1)), "") + match.group(2)
    assert errors or not BAD, out + err
    return errors


FIRST_LINE = HEADER.count("\n") + 1


@pytest.mark.slow
@pytest.mark.parametrize(("index", "line"), list(enumerate(BAD)))
def test_mypy_rejects_values_outside_the_literals(mypy_errors: dict[int, str], index: int, line: str) -> None:
    error = mypy_errors.get(FIRST_LINE + index, "")
    assert "[arg-type]" in error or "[list-item]" in error, (line, mypy_errors)


@pytest.mark.slow
@pytest.mark.parametrize(("index", "line"), list(enumerate(GOOD)))
def test_mypy_accepts_the_literals_and_the_enums(mypy_errors: dict[int, str], index: int, line: str) -> None:
    assert FIRST_LINE + len(BAD) + index not in mypy_errors, (line, mypy_errors)


async def test_to_dict_and_to_json_give_the_wire_shape(bud_client: AsyncBudClient) -> None:
    pipeline = await bud_client.pipelines.create(name="dict", definition={"steps": [log_step("a")]})
    execution = await bud_client.executions.create(pipeline.id, wait=True, timeout=30)
    data = execution.to_dict()
    assert data["id"] == execution.id and data["status"] == "completed"
    assert isinstance(data["created_at"], str) and data["created_at"].endswith("Z")
    assert [(step["id"], step["status"]) for step in data["steps"]] == [("a", "completed")]  # the wire's list
    assert json.loads(execution.to_json()) == data
    assert json.loads(pipeline.to_json(indent=2))["definition"] == pipeline.definition
    raw = await bud_client.request("GET", f"/budpipeline/executions/{execution.id}")
    assert {k: data[k] for k in raw if k in data} == {k: raw[k] for k in raw if k in data}


def test_reprs_are_short_and_name_what_matters() -> None:
    big = {"steps": [{"id": f"s{i}", "action": "log", "params": {"message": "x" * 100}} for i in range(50)]}
    pipeline = Pipeline(id="pipe_1", name="deploy", definition=big, step_count=50)
    assert repr(pipeline) == "Pipeline(id='pipe_1', name='deploy', version=1, step_count=50)"
    execution = Execution(
        id="exec_1",
        pipeline_id="pipe_1",
        status=ExecutionStatus.FAILED,
        progress=50.0,
        error="boom",
        steps={f"s{i}": StepRun(status=StepStatus.COMPLETED, output="y" * 1000) for i in range(50)},
    )
    assert repr(execution) == (
        "Execution(id='exec_1', pipeline_id='pipe_1', status='failed', progress=50.0, error='boom')"
    )
    assert repr(StepRun(status=StepStatus.SKIPPED, skip_reason="cond")) == (
        "StepRun(status='skipped', attempts=0, skip_reason='cond')"
    )
