"""Built-in platform actions over the simulated inventory (`budai_server.store.inventory`)."""

from __future__ import annotations

from typing import Any

from budai_async.pipeline.action_specs import BUILTIN_SPECS
from budai_server.actions.registry import ActionContext, ActionError, ActionRegistry

__all__ = ["register"]


async def model_add(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Register the model; its new id feeds later steps (``steps.X.output.model_id``)."""
    model = await ctx.inventory.add_model(
        params["model_uri"], params["model_source"], params.get("model_name")
    )
    ctx.log.info(f"model {model['name']} registered as {model['id']}")
    return {"model_id": model["id"], "model_name": model["name"], "status": model["status"]}


async def model_delete(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    await ctx.inventory.delete_model(params["model_id"])
    return {"deleted": True, "model_id": params["model_id"]}


async def deployment_create(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Deploy a known model on a known, healthy cluster."""
    deployment = await ctx.inventory.create_deployment(
        params["model_id"], params["cluster_id"], params.get("deployment_name"), params["replicas"]
    )
    ctx.log.info(f"deployment {deployment['id']} serving at {deployment['endpoint_url']}")
    return {
        "deployment_id": deployment["id"],
        "endpoint_url": deployment["endpoint_url"],
        "status": deployment["status"],
        "cluster_id": deployment["cluster_id"],
        "model_id": deployment["model_id"],
        "replicas": deployment["replicas"],
    }


async def deployment_delete(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    await ctx.inventory.delete_deployment(params["deployment_id"])
    return {"deleted": True, "deployment_id": params["deployment_id"]}


async def deployment_scale(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    previous = await ctx.inventory.scale_deployment(params["deployment_id"], params["replicas"])
    return {
        "replicas": params["replicas"],
        "deployment_id": params["deployment_id"],
        "previous_replicas": previous,
    }


async def cluster_health(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Check the cluster and fail when it is not healthy, so the step's retry policy and the failure
    path (skipped deploy, ``steps.X.status == 'failed'`` handlers, on_failure) apply.

    A degraded cluster fails retryably (it may recover between attempts); an unknown one fails at once.
    With ``fail_if_unhealthy: false`` the report is the output whatever the health (a probe step).
    """
    cluster_id = params["cluster_id"]
    report = await ctx.inventory.cluster_health(cluster_id, params.get("checks"))
    if report["healthy"]:
        return report
    unknown = report["status"] == "unknown"
    issues = "; ".join(report["issues"])
    summary = issues if unknown else f"cluster {cluster_id} is {report['status']}: {issues}"
    if not params["fail_if_unhealthy"]:
        ctx.log.warning(summary)
        return report
    raise ActionError(summary, retryable=not unknown)


def register(registry: ActionRegistry) -> None:
    for name, handler in (
        ("model_add", model_add),
        ("model_delete", model_delete),
        ("deployment_create", deployment_create),
        ("deployment_delete", deployment_delete),
        ("deployment_scale", deployment_scale),
        ("cluster_health", cluster_health),
    ):
        registry.register(BUILTIN_SPECS[name], handler)
