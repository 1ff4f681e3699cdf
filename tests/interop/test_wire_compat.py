"""Our SDK reads every wire it may meet: ours now, ours before the gateway types, the gateway's own.
And the project never imports the official SDK (it is a test peer only). No `bud` needed here."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from budai_async._convert import converter, structure_page, to_json_dict
from budai_async._wire import GATEWAY_STEP_STATUS
from budai_async.models import Action, Execution, Pipeline, StepRun, StepStatus

ROOT = Path(__file__).resolve().parents[2]
# The recorded gateway shapes (spec/bud-gateway-shapes.json with its placeholders filled in).
SHAPES: dict[str, Any] = json.loads(
    (ROOT / "tests" / "contract" / "data" / "gateway_shapes.json").read_text()
)

# An execution as this server answered before the gateway types (steps a map, progress a number).
OLD_EXECUTION: dict[str, Any] = {
    "id": "exec_1",
    "pipeline_id": "pipe_1",
    "status": "failed",
    "priority": "normal",
    "params": {},
    "tags": ["t"],
    "outputs": {},
    "error": "step b timed out",
    "steps": {
        "a": {"status": "completed", "output": {"x": 1}, "error": None, "attempts": 1},
        "b": {"status": "timeout", "output": None, "error": "timed out", "attempts": 2},
    },
    "progress": 100.0,
    "completed_steps": 1,
    "total_steps": 2,
    "created_at": "2026-03-14T10:00:00Z",
}


def test_an_older_answer_of_our_server_still_parses() -> None:
    execution = converter.structure(OLD_EXECUTION, Execution)
    assert (execution.progress, list(execution.steps)) == (100.0, ["a", "b"])
    assert execution.steps["b"] == StepRun(status=StepStatus.TIMEOUT, error="timed out", attempts=2)
    old_pipeline = {"id": "pipe_1", "name": "p", "definition": {"steps": []}, "tags": ["ml", "prod"]}
    assert converter.structure(old_pipeline, Pipeline).tags == {"ml": "", "prod": ""}
    old_actions = {"items": [{"type": "log", "description": "d"}], "total": 1}
    assert [a.type for a in structure_page(old_actions, Action).items] == ["log"]


def test_the_new_wire_carries_gateway_types_and_reads_back_to_our_model() -> None:
    execution = converter.structure(OLD_EXECUTION, Execution)
    wire = to_json_dict(execution)
    assert [(s["id"], s["status"], s["run_status"]) for s in wire["steps"]] == [
        ("a", "completed", "completed"),
        ("b", "failed", "timeout"),
    ]
    assert wire["progress"]["percent_complete"] == 100.0 and wire["progress_percentage"] == "100.00"
    assert (wire["progress"]["completed_steps"], wire["progress"]["failed_steps"]) == (1, 1)
    assert converter.structure(json.loads(json.dumps(wire)), Execution) == execution
    new_actions = {"actions": [{"type": "log", "name": "Log"}], "total": 1}
    assert [a.name for a in structure_page(new_actions, Action).items] == ["Log"]


@pytest.mark.parametrize("status", list(StepStatus))
def test_every_step_status_has_a_coarse_gateway_value(status: StepStatus) -> None:
    assert GATEWAY_STEP_STATUS[str(status)] in {"pending", "running", "completed", "failed", "skipped"}


def test_recorded_gateway_shapes_still_parse() -> None:
    view = converter.structure(SHAPES["execution_progress"] | {"execution": _gateway_execution()}, Execution)
    assert (view.status, view.steps["deploy"].status, view.steps["deploy"].output) == (
        "failed",
        "completed",
        {"deployment_id": "dep_1"},
    )
    assert view.progress == 50.0
    pipeline = converter.structure(SHAPES["pipeline"], Pipeline)
    assert (pipeline.tags, pipeline.definition["steps"][0]["id"]) == ({}, "add_model")


def _gateway_execution() -> dict[str, Any]:
    return {k: v for k, v in SHAPES["execution_get"].items() if not k.startswith("_")}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", ["budai_async", "budai_server", "receiver"])
def test_project_packages_never_import_the_official_sdk(package: str) -> None:
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / package).rglob("*.py")
        if any(name == "bud" or name.startswith("bud.") for name in _imports(path))
    )
    assert offenders == []
    assert list((ROOT / package).rglob("*.py")), "the package was not found"


@pytest.mark.parametrize("ci", ["true", ""])
def test_without_the_official_sdk_ci_fails_loudly_and_a_laptop_skips(ci: str) -> None:
    """Hide `bud` in a child pytest: under CI=true the interop suite errors, elsewhere it is skipped."""
    hide_bud = (
        "import sys; sys.modules['bud'] = None; import pytest; "
        "sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', 'tests/interop']))"
    )
    env = {**os.environ, "CI": ci, "PYTHONPATH": str(ROOT)}
    child = subprocess.run(
        [sys.executable, "-c", hide_bud], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if ci:
        assert child.returncode != 0
        assert "CI=true but the official BudAI SDK" in child.stdout + child.stderr
    else:
        assert child.returncode == 0, child.stdout + child.stderr
        assert "test_official_" not in child.stdout and "test_wire_compat.py" in child.stdout
