"""Typed access to the shared server objects from a request (the app keys hold them as Any)."""

from __future__ import annotations

from typing import cast

from aiohttp import web

from budai_server.actions.registry import ActionRegistry
from budai_server.appkeys import ACTIONS, CONFIG, SCHEDULER, STORE
from budai_server.config import ServerConfig
from budai_server.routes.definitions import CHECKER, DefinitionChecker
from budai_server.scheduler import Scheduler
from budai_server.store.database import Store

__all__ = ["actions_of", "checker_of", "config_of", "scheduler_of", "store_of"]


def store_of(request: web.Request) -> Store:
    return cast(Store, request.app[STORE])


def scheduler_of(request: web.Request) -> Scheduler:
    return cast(Scheduler, request.app[SCHEDULER])


def config_of(request: web.Request) -> ServerConfig:
    return request.app[CONFIG]


def checker_of(request: web.Request) -> DefinitionChecker:
    return request.app[CHECKER]


def actions_of(request: web.Request) -> ActionRegistry:
    return cast(ActionRegistry, request.app[ACTIONS])
