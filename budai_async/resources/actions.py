"""`client.actions`: the server's action catalogue, with each action's param schema."""

from __future__ import annotations

import builtins

from budai_async.models import Action
from budai_async.resources._base import Resource, parse, parse_page, segment

__all__ = ["ActionsResource"]


class ActionsResource(Resource):
    """Built-in and registered action types (``/budpipeline/actions``)."""

    async def list(self) -> builtins.list[Action]:
        """Every action type the server can run."""
        data = await self._client.request("GET", "/budpipeline/actions")
        return parse_page(data, Action).items

    async def get(self, action_type: str) -> Action:
        """One action type (an alias such as ``wait`` resolves to its action); raises NotFoundError."""
        path = f"/budpipeline/actions/{segment(action_type, 'action_type')}"
        return parse(await self._client.request("GET", path), Action)
