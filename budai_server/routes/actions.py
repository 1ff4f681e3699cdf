"""The action catalogue: every action this server can run, with its param schema and outputs.

Served from the live registry (built-ins plus custom actions loaded with `--actions` or entry
points); an alias (``wait``, ``http_request`` ...) resolves to its action's entry.
"""

from __future__ import annotations

from aiohttp import web

from budai_async._convert import to_json_dict
from budai_server.routes.context import actions_of
from budai_server.routes.errors import ApiError, json_response

__all__ = ["setup"]


async def list_actions(request: web.Request) -> web.Response:
    """GET /budpipeline/actions -> {actions, total}, sorted by type (the gateway's `actions` key)."""
    items = actions_of(request).catalogue()
    return json_response({"actions": to_json_dict(items), "total": len(items)})


async def get_action(request: web.Request) -> web.Response:
    """GET /budpipeline/actions/{action_type} (an alias works too)."""
    name = request.match_info["action_type"]
    action = actions_of(request).resolve(name)
    if action is None:
        raise ApiError.not_found("action", name)
    return json_response(to_json_dict(action.spec.to_model()))


def setup(app: web.Application) -> None:
    app.router.add_get("/budpipeline/actions", list_actions)
    app.router.add_get("/budpipeline/actions/{action_type}", get_action)
