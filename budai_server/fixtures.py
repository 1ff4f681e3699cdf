"""The user guide's sample data (`budai-server --guide-fixtures`), so its snippets run verbatim.

The guide (spec/pipelines-sdk-guide.txt) reads ``pipe_abc123``, ``exec_abc123`` and
``pipe_batch_process`` and deploys ``model_xyz`` / ``model_xyz789`` / ``model_1..3`` on
``cluster_prod`` / ``cluster_dev`` / ``cluster_backup`` / ``cluster_1..3``. `install` creates what
is missing through the store: inventory records, the two pipelines, and a short history of
``pipe_abc123`` executions stored `pending` before the scheduler starts, so the real engine runs
them at start (real step outputs, logs and metrics; they end within milliseconds). Idempotent: a
restart on the same database adds nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from aiohttp import web

from budai_async.models import Execution, ExecutionStatus, Pipeline, Priority, StepRun
from budai_server.appkeys import CONFIG, STORE
from budai_server.progress import step_ids
from budai_server.store.database import Store
from budai_server.store.inventory import CLUSTER, MODEL

__all__ = [
    "CLUSTERS",
    "DEPLOY_MODEL",
    "EXECUTIONS",
    "MODELS",
    "PIPELINES",
    "guide_fixtures_ctx",
    "install",
]

MODELS: Final[tuple[dict[str, Any], ...]] = (
    {"id": "model_xyz", "name": "Llama-3.2-1B-Instruct", "uri": "meta-llama/Llama-3.2-1B-Instruct"},
    {"id": "model_xyz789", "name": "Mistral-7B", "uri": "mistralai/Mistral-7B"},
    *({"id": f"model_{n}", "name": f"Sample model {n}", "uri": f"samples/model-{n}"} for n in (1, 2, 3)),
)
CLUSTERS: Final[tuple[dict[str, Any], ...]] = (
    {"id": "cluster_backup", "name": "Backup", "region": "us-west-2", "nodes": 4, "gpus": 16},
    *(
        {"id": f"cluster_{n}", "name": f"Sample cluster {n}", "region": "eu-west-1", "nodes": 2, "gpus": 4}
        for n in (1, 2, 3)
    ),
)

DEPLOY_MODEL: Final[dict[str, Any]] = {
    "parameters": {
        "cluster_id": {"type": "string", "default": "cluster_prod"},
        "model_id": {"type": "string", "default": "model_xyz789"},
        "replicas": {"type": "integer", "default": 1},
        "environment": {"type": "string", "default": "production"},
        "warmup_seconds": {"type": "number", "default": 0},
    },
    "steps": [
        {"id": "start", "action": "log", "params": {"message": "Processing started", "level": "info"}},
        {
            "id": "warmup",
            "action": "delay",
            "params": {"seconds": "{{ params.warmup_seconds }}"},
            "depends_on": ["start"],
        },
        {
            "id": "health_check",
            "action": "cluster_health",
            "params": {"cluster_id": "{{ params.cluster_id }}"},
            "depends_on": ["warmup"],
        },
        {
            "id": "deploy",
            "action": "deployment_create",
            "params": {
                "model_id": "{{ params.model_id }}",
                "cluster_id": "{{ params.cluster_id }}",
                "replicas": "{{ params.replicas }}",
                "deployment_name": "{{ params.model_id }}-{{ params.environment }}",
            },
            "depends_on": ["health_check"],
        },
        {
            # the sink: its output is the execution's outputs, and only a deployment that worked has one
            "id": "report",
            "action": "set_output",
            "params": {
                "values": {
                    "deployment_id": "{{ steps.deploy.output.deployment_id }}",
                    "endpoint_url": "{{ steps.deploy.output.endpoint_url }}",
                    "status": "success",
                }
            },
            "depends_on": ["deploy"],
        },
    ],
}

BATCH_PROCESS: Final[dict[str, Any]] = {
    "parameters": {"items": {"type": "integer", "default": 100}},
    "steps": [
        {"id": "start", "action": "log", "params": {"message": "Batch processing started"}},
        {"id": "process", "action": "delay", "params": {"seconds": 0.05}, "depends_on": ["start"]},
        {
            "id": "report",
            "action": "set_output",
            "params": {"values": {"processed": "{{ params.items }}"}},
            "depends_on": ["process"],
        },
    ],
}

PIPELINES: Final[tuple[tuple[str, str, str, dict[str, Any]], ...]] = (
    ("pipe_abc123", "Deploy Model", "Automated model deployment workflow", DEPLOY_MODEL),
    ("pipe_batch_process", "Batch Process", "Nightly batch processing", BATCH_PROCESS),
)

# id, pipeline, params, tags, priority, minutes ago. exec_abc123 is the newest and completes;
# exec_abc122 fails (its model does not exist), so the history has a failure to find and retry.
EXECUTIONS: Final[tuple[tuple[str, str, dict[str, Any], list[str], Priority, int], ...]] = (
    ("exec_abc121", "pipe_abc123", {"cluster_id": "cluster_dev"}, ["staging"], Priority.NORMAL, 30),
    ("exec_abc122", "pipe_abc123", {"model_id": "model_retired"}, ["production"], Priority.NORMAL, 20),
    ("exec_batch_process", "pipe_batch_process", {"items": 250}, ["nightly"], Priority.LOW, 15),
    (
        "exec_abc123",
        "pipe_abc123",
        {
            "cluster_id": "cluster_prod",
            "model_id": "model_xyz789",
            "replicas": 2,
            "environment": "production",
        },
        ["production", "customer-123", "v1.2.0"],
        Priority.NORMAL,
        10,
    ),
)


async def install(store: Store, *, hold_seconds: Mapping[str, float] | None = None) -> list[str]:
    """Create the guide's records that are missing; returns the ids of the executions it stored.

    `hold_seconds` makes the named executions wait that long in their `warmup` step (so a test can
    cancel or follow ``exec_abc123`` while it runs). Call before the scheduler starts: the stored
    executions are `pending` and run at its start.
    """
    now = datetime.now(UTC)
    for model in MODELS:
        if await store.inventory_get(MODEL, model["id"]) is None:
            record = {**model, "source": "hugging_face", "status": "available", "created_at": _iso(now)}
            await store.inventory_put(MODEL, model["id"], record)
    for cluster in CLUSTERS:
        if await store.inventory_get(CLUSTER, cluster["id"]) is None:
            await store.inventory_put(CLUSTER, cluster["id"], {**cluster, "created_at": _iso(now)})
    definitions: dict[str, dict[str, Any]] = {}
    for pipeline_id, name, description, definition in PIPELINES:
        definitions[pipeline_id] = definition
        if await store.get_pipeline(pipeline_id) is None:
            created = now - timedelta(days=1)
            pipeline = Pipeline(
                id=pipeline_id,
                name=name,
                description=description,
                definition=definition,
                step_count=len(definition["steps"]),
                created_at=created,
                updated_at=created,
            )
            await store.insert_pipeline(pipeline)
    stored: list[str] = []
    holds = dict(hold_seconds or {})
    for execution_id, pipeline_id, params, tags, priority, minutes_ago in EXECUTIONS:
        if await store.get_execution(execution_id) is not None:
            continue
        definition = definitions[pipeline_id]
        declared = definition.get("parameters", {})
        params = {**{name: spec["default"] for name, spec in declared.items() if "default" in spec}, **params}
        if execution_id in holds:
            params["warmup_seconds"] = holds[execution_id]
        steps = step_ids(definition)
        execution = Execution(
            id=execution_id,
            pipeline_id=pipeline_id,
            status=ExecutionStatus.PENDING,
            priority=priority,
            params=dict(params),
            tags=list(tags),
            steps={step_id: StepRun() for step_id in steps},
            total_steps=len(steps),
            created_at=now - timedelta(minutes=minutes_ago),
        )
        await store.insert_execution(execution, definition)
        stored.append(execution_id)
    return stored


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def guide_fixtures_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context (after the store, before the scheduler): install the fixtures at start."""
    config = app[CONFIG]
    await install(app[STORE], hold_seconds=dict(config.guide_fixtures_hold))
    yield
