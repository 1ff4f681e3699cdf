"""Helpers shared by the SDK tests: step builders, fast retry settings, the fixtures' factory types.

(Tests import these from here, not from `conftest`: with several test folders on one command line
`conftest` names whichever folder's was imported first.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from budai_async import AsyncBudClient, BudClient, Pipeline

ClientFactory = Callable[..., AsyncBudClient]
PipelineFactory = Callable[..., Awaitable[Pipeline]]
SyncClientFactory = Callable[..., BudClient]

FAST_RETRIES: dict[str, Any] = {"retry_initial_delay": 0.01, "retry_max_delay": 0.05}

DEPLOY_STEPS: list[dict[str, Any]] = [
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


def log_step(step_id: str, message: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "action": "log", "params": {"message": message}, **extra}


def delay_step(step_id: str, seconds: float, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "action": "delay", "params": {"seconds": seconds}, **extra}


def fail_step(step_id: str, message: str = "boom", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "action": "fail", "params": {"message": message}, **extra}


async def eventually(check: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until `check()` is true (state we can only observe by looking); TimeoutError otherwise."""
    async with asyncio.timeout(within):
        while True:
            if check():
                return
            await asyncio.sleep(0.01)
