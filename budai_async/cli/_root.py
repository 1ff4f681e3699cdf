"""What the trigger command groups read from the root `budai` options: a client and the output format."""

from __future__ import annotations

import click

from budai_async._client import AsyncBudClient

__all__ = ["client_of", "wants_json"]


def client_of(ctx: click.Context) -> AsyncBudClient:
    root = ctx.find_root().params
    return AsyncBudClient(base_url=root.get("base_url"), api_key=root.get("api_key"))


def wants_json(ctx: click.Context) -> bool:
    return ctx.find_root().params.get("output") == "json"
