"""The same pipeline driven by the official SDK and by our `AsyncBudClient` gives the same results."""

from __future__ import annotations

from typing import Any

import pytest
from interop_support import OFFICIAL_DAG, STEP_IDS, Official

from budai_async import AsyncBudClient

pytest.importorskip("bud")


def _essence(status: str, outputs: dict[str, Any], steps: list[tuple[str, str, Any]]) -> dict[str, Any]:
    return {"status": status, "outputs": outputs, "steps": steps}


async def test_official_and_our_client_run_one_pipeline_alike(
    official: Official, ours: AsyncBudClient
) -> None:
    pipeline = await official("pipelines.create", OFFICIAL_DAG, name="parity", tags={"by": "official"})
    theirs = await official(
        "executions.create", pipeline.id, params={"who": "kim"}, wait=True, poll_interval=0.02
    )
    mine = await ours.executions.create(pipeline.id, params={"who": "kim"}, wait=True)

    their_view = _essence(
        str(theirs.status),
        theirs.outputs,
        [(step.id, str(step.status), step.output) for step in theirs.steps],
    )
    my_view = _essence(
        str(mine.status),
        mine.outputs,
        [(sid, str(step.status), step.output) for sid, step in mine.steps.items()],
    )
    assert their_view == my_view
    assert [step_id for step_id, _s, _o in my_view["steps"]] == STEP_IDS
    assert mine.outputs == {"loud": "KIM"}
    assert (mine.progress, mine.completed_steps, mine.total_steps) == (100.0, 3, 3)

    # Each client reads what the other created: the pipeline and the executions.
    stored = await ours.pipelines.get(pipeline.id)
    assert (stored.name, stored.tags, [s["id"] for s in stored.definition["steps"]]) == (
        "parity",
        {"by": "official"},
        STEP_IDS,
    )
    seen_by_them = await official("executions.get", mine.id)
    assert (seen_by_them.status, seen_by_them.outputs) == ("completed", {"loud": "KIM"})
    seen_by_us = await ours.executions.get(theirs.effective_id)
    assert (seen_by_us.status, seen_by_us.outputs, list(seen_by_us.steps)) == (
        "completed",
        {"loud": "KIM"},
        STEP_IDS,
    )
    assert seen_by_us.progress == 100.0
