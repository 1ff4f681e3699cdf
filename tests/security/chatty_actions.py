"""A custom action that logs in a tight loop (loaded with ``action_modules=("chatty_actions",)``)."""

from __future__ import annotations

from typing import Any

from budai_server.actions.registry import ActionContext, ActionRegistry


def register(registry: ActionRegistry) -> None:
    @registry.action("chatty", params={"type": "object", "properties": {"lines": {"type": "integer"}}})
    async def chatty(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        for index in range(int(params.get("lines", 10))):
            ctx.log.info(f"line {index} " + "x" * 100)
        return {"done": True}
