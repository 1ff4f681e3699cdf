"""`GET /openapi.json`: the server's OpenAPI document (no API key needed, like /health).

The document is built once per app, at setup, and served as the same JSON text afterwards.
"""

from __future__ import annotations

from aiohttp import web

from budai_server import openapi
from budai_server.routes.errors import dump_json

__all__ = ["setup"]

_DOCUMENT: web.AppKey[str] = web.AppKey("budai_openapi_document", str)


async def get_document(request: web.Request) -> web.Response:
    return web.Response(text=request.app[_DOCUMENT], content_type="application/json")


def setup(app: web.Application) -> None:
    app[_DOCUMENT] = dump_json(openapi.build_document())
    app.router.add_get(openapi.DOCUMENT_PATH, get_document)
