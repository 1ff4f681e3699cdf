"""Guide: Managing Pipelines (list, get, update, delete), run as written on the guide's fixtures."""

from __future__ import annotations

import pytest
from guide_support import printed

from budai_async import BudClient, NotFoundError


def test_listing_pipelines(client: BudClient, capsys: pytest.CaptureFixture[str]) -> None:
    # Get all pipelines
    pipelines = client.pipelines.list()
    for pipeline in pipelines:
        print(f"{pipeline.id}: {pipeline.name}")
    assert sorted(printed(capsys)) == ["pipe_abc123: Deploy Model", "pipe_batch_process: Batch Process"]

    # Filter by name
    pipelines = client.pipelines.list(name_contains="deploy")
    assert [p.id for p in pipelines] == ["pipe_abc123"]

    # Pagination
    pipelines = client.pipelines.list(limit=50, offset=0)
    assert len(pipelines) == 2  # every item from offset 0, 50 per request
    assert pipelines.first_page().total == 2


def test_listing_walks_past_one_page(client: BudClient) -> None:
    for n in range(3):
        client.pipelines.create(
            name=f"deploy {n}",
            definition={"steps": [{"id": "a", "action": "log", "params": {"message": "x"}}]},
        )
    pipelines = client.pipelines.list(limit=2)
    assert len([pipeline.id for pipeline in pipelines]) == len(pipelines) == 5


def test_getting_pipeline_details(client: BudClient, capsys: pytest.CaptureFixture[str]) -> None:
    pipeline = client.pipelines.get("pipe_abc123")
    print(f"Name: {pipeline.name}")
    print(f"Created: {pipeline.created_at}")
    print(f"Steps: {len(pipeline.definition['steps'])}")
    print(f"Status: {pipeline.status}")

    lines = printed(capsys)
    assert lines[0] == "Name: Deploy Model"
    assert lines[1].startswith("Created: 20")
    assert lines[2:] == ["Steps: 5", "Status: active"]


def test_updating_pipelines(client: BudClient) -> None:
    # Update pipeline definition
    updated = client.pipelines.update(
        pipeline_id="pipe_abc123",
        definition={
            "steps": [
                # Updated step definitions (guide placeholder, filled with real steps)
                {"id": "start", "action": "log", "params": {"message": "Processing started"}},
                {
                    "id": "deploy",
                    "action": "deployment_create",
                    "params": {"model_id": "model_xyz", "cluster_id": "cluster_prod"},
                    "depends_on": ["start"],
                },
            ]
        },
    )
    assert (updated.version, updated.step_count) == (2, 2)

    # Update metadata only
    updated = client.pipelines.update(
        pipeline_id="pipe_abc123", name="New Pipeline Name", description="Updated description"
    )
    assert (updated.name, updated.description, updated.version) == (
        "New Pipeline Name",
        "Updated description",
        3,
    )
    assert updated.step_count == 2  # the definition stayed
    assert client.executions.create("pipe_abc123", wait=True, timeout=60).status == "completed"


def test_deleting_pipelines(client: BudClient) -> None:
    client.pipelines.delete(pipeline_id="pipe_abc123")

    with pytest.raises(NotFoundError):
        client.pipelines.get("pipe_abc123")
    # "Deleting a pipeline does not affect existing executions"
    execution = client.executions.get("exec_abc123")
    assert (execution.pipeline_id, execution.status) == ("pipe_abc123", "completed")
