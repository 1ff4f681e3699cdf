"""The simulated BudAI platform the platform actions act on: clusters, models, deployments.

Records live in an `InventoryStore` (the server's SQLite store; `MemoryInventoryStore` for tests and
benchmarks), so what one execution creates the next one can use, across restarts. `InventorySettings`
adds latency and faults so demos show retries and failures: every operation waits `latency_seconds`,
then fails with probability `failure_rate` (seedable RNG); clusters named in `unhealthy_clusters`
report ``degraded`` and refuse deployments.
"""

from __future__ import annotations

import asyncio
import copy
import random
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from budai_server.config import InventorySettings
from budai_server.engine.types import InventoryStore

__all__ = [
    "CLUSTER",
    "DEPLOYMENT",
    "HEALTH_CHECKS",
    "MODEL",
    "SEED_CLUSTERS",
    "Inventory",
    "InventoryError",
    "InventorySettings",
    "MemoryInventoryStore",
]

CLUSTER, MODEL, DEPLOYMENT = "cluster", "model", "deployment"
HEALTH_CHECKS = ("nodes", "gpu", "network", "storage")

SEED_CLUSTERS: tuple[dict[str, Any], ...] = (
    {"id": "cluster_prod", "name": "Production", "region": "us-east-1", "nodes": 8, "gpus": 32},
    {"id": "cluster_staging", "name": "Staging", "region": "us-east-1", "nodes": 4, "gpus": 8},
    {"id": "cluster_dev", "name": "Development", "region": "eu-west-1", "nodes": 2, "gpus": 2},
)


class InventoryError(Exception):
    """A platform operation failed; `retryable` is False when another attempt cannot help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class MemoryInventoryStore:
    """An `InventoryStore` in a dict (copies in and out, like a real store)."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, dict[str, Any]]] = {}

    async def inventory_get(self, kind: str, item_id: str) -> dict[str, Any] | None:
        item = self._items.get(kind, {}).get(item_id)
        return copy.deepcopy(item) if item is not None else None

    async def inventory_put(self, kind: str, item_id: str, data: dict[str, Any]) -> None:
        self._items.setdefault(kind, {})[item_id] = copy.deepcopy(data)

    async def inventory_delete(self, kind: str, item_id: str) -> bool:
        return self._items.get(kind, {}).pop(item_id, None) is not None

    async def inventory_list(self, kind: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(item) for item in self._items.get(kind, {}).values()]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "model"


class Inventory:
    """Platform operations over the store, with the configured latency and faults."""

    def __init__(self, store: InventoryStore, settings: InventorySettings | None = None) -> None:
        self.store = store
        self.settings = settings or InventorySettings()
        self._rng = random.Random(self.settings.seed)
        self._seeded = False
        self._lock = asyncio.Lock()

    async def seed(self) -> None:
        """Create the seeded clusters that are missing (idempotent)."""
        for cluster in SEED_CLUSTERS:
            if await self.store.inventory_get(CLUSTER, cluster["id"]) is None:
                await self.store.inventory_put(CLUSTER, cluster["id"], {**cluster, "created_at": _now()})
        self._seeded = True

    async def _operate(self, operation: str) -> None:
        """Apply latency and fault injection before an operation."""
        if not self._seeded:
            await self.seed()
        if self.settings.latency_seconds > 0:
            await asyncio.sleep(self.settings.latency_seconds)
        if self.settings.failure_rate > 0 and self._rng.random() < self.settings.failure_rate:
            raise InventoryError(f"simulated platform fault during {operation}", retryable=True)

    async def _require(self, kind: str, item_id: str) -> dict[str, Any]:
        item = await self.store.inventory_get(kind, item_id)
        if item is None:
            raise InventoryError(f"{kind} {item_id!r} does not exist", retryable=False)
        return item

    def _unhealthy(self, cluster_id: str) -> bool:
        return cluster_id in self.settings.unhealthy_clusters

    # ---- models

    async def add_model(self, uri: str, source: str, name: str | None = None) -> dict[str, Any]:
        """Register a model and give it an id ``model_<hex>``."""
        await self._operate("model_add")
        model = {
            "id": _new_id("model"),
            "name": name or uri.rstrip("/").rsplit("/", 1)[-1] or uri,
            "uri": uri,
            "source": source,
            "status": "available",
            "created_at": _now(),
        }
        await self.store.inventory_put(MODEL, model["id"], model)
        return model

    async def delete_model(self, model_id: str) -> None:
        """Remove a model; refused while deployments use it."""
        await self._operate("model_delete")
        async with self._lock:
            await self._require(MODEL, model_id)
            users = [
                d["id"] for d in await self.store.inventory_list(DEPLOYMENT) if d.get("model_id") == model_id
            ]
            if users:
                raise InventoryError(
                    f"model {model_id!r} is used by deployment(s) {', '.join(users)}", retryable=False
                )
            await self.store.inventory_delete(MODEL, model_id)

    # ---- deployments

    async def create_deployment(
        self, model_id: str, cluster_id: str, name: str | None = None, replicas: int = 1
    ) -> dict[str, Any]:
        """Deploy a known model on a known, healthy cluster; returns the deployment with its URL."""
        await self._operate("deployment_create")
        model = await self._require(MODEL, model_id)
        await self._require(CLUSTER, cluster_id)
        if self._unhealthy(cluster_id):
            raise InventoryError(f"cluster {cluster_id!r} is unhealthy: deployment refused", retryable=True)
        deployment_id = _new_id("deploy")
        host = cluster_id.replace("_", "-")
        deployment = {
            "id": deployment_id,
            "name": name or f"{_slug(str(model['name']))}-{deployment_id[-6:]}",
            "model_id": model_id,
            "cluster_id": cluster_id,
            "replicas": replicas,
            "status": "running",
            "endpoint_url": f"https://{host}.budai.local/v1/deployments/{deployment_id}",
            "created_at": _now(),
        }
        await self.store.inventory_put(DEPLOYMENT, deployment_id, deployment)
        return deployment

    async def delete_deployment(self, deployment_id: str) -> None:
        await self._operate("deployment_delete")
        if not await self.store.inventory_delete(DEPLOYMENT, deployment_id):
            raise InventoryError(f"deployment {deployment_id!r} does not exist", retryable=False)

    async def scale_deployment(self, deployment_id: str, replicas: int) -> int:
        """Set the replica count; returns the previous one."""
        await self._operate("deployment_scale")
        async with self._lock:
            deployment = await self._require(DEPLOYMENT, deployment_id)
            previous = int(deployment.get("replicas", 1))
            deployment["replicas"] = replicas
            await self.store.inventory_put(DEPLOYMENT, deployment_id, deployment)
        return previous

    # ---- clusters

    async def cluster_health(self, cluster_id: str, checks: Sequence[str] | None = None) -> dict[str, Any]:
        """Run the named checks; an unknown cluster reports ``unknown`` (not an error)."""
        await self._operate("cluster_health")
        wanted = list(checks) if checks else list(HEALTH_CHECKS)
        cluster = await self.store.inventory_get(CLUSTER, cluster_id)
        if cluster is None:
            return {
                "healthy": False,
                "status": "unknown",
                "issues": [f"cluster {cluster_id!r} is not known"],
                "details": {},
            }
        unhealthy = self._unhealthy(cluster_id)
        details = {check: _check_result(check, cluster, unhealthy) for check in wanted}
        issues = [str(result["message"]) for result in details.values() if not result["ok"]]
        return {
            "healthy": not issues,
            "status": "healthy" if not issues else "degraded",
            "issues": issues,
            "details": details,
        }

    async def list(self, kind: str) -> list[dict[str, Any]]:
        if not self._seeded:
            await self.seed()
        return await self.store.inventory_list(kind)


def _check_result(check: str, cluster: dict[str, Any], unhealthy: bool) -> dict[str, Any]:
    nodes, gpus = int(cluster.get("nodes", 1)), int(cluster.get("gpus", 0))
    if check == "nodes":
        ready = nodes - 1 if unhealthy else nodes
        return {
            "ok": ready == nodes,
            "ready": ready,
            "total": nodes,
            "message": f"{nodes - ready} node(s) NotReady",
        }
    if check == "gpu":
        usable = gpus // 2 if unhealthy else gpus
        return {
            "ok": usable == gpus,
            "usable": usable,
            "total": gpus,
            "message": f"{gpus - usable} GPU(s) failing",
        }
    if check == "network":
        return {
            "ok": not unhealthy,
            "latency_ms": 180.0 if unhealthy else 2.0,
            "message": "network latency high",
        }
    return {"ok": True, "free_gb": 2048, "message": "storage ok"}
