"""`client.pipelines`: create, list, get, update, replace, delete and validate stored pipelines."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from budai_async.errors import ValidationError
from budai_async.models import Page, Pipeline, ValidationResult
from budai_async.pagination import AsyncPager
from budai_async.resources._base import DefinitionLike, Resource, definition_dict, parse, parse_page, segment

__all__ = ["PipelinesResource"]


Tags = Mapping[str, str] | Sequence[str]


def _tag_map(tags: Tags) -> dict[str, str]:
    """Pipeline tags as the gateway's string map; a list of names maps each to ""."""
    if isinstance(tags, Mapping):
        return {str(key): str(value) for key, value in tags.items()}
    return dict.fromkeys(tags, "")


def _builder_name(definition: DefinitionLike) -> str | None:
    name = getattr(definition, "name", None)
    return name if isinstance(name, str) and name else None


class PipelinesResource(Resource):
    """Stored pipelines (``/budpipeline``)."""

    async def create(
        self,
        name: str | None = None,
        definition: DefinitionLike | None = None,
        *,
        description: str | None = None,
        tags: Tags | None = None,
        icon: str | None = None,
        is_active: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Pipeline:
        """Store a pipeline; `definition` is a dict or a DSL builder (whose name is used if none given).

        Raises UnprocessableEntityError (with `details` naming each faulty field) for a bad definition.
        """
        if definition is None:
            raise ValidationError("definition is required")
        name = name or _builder_name(definition)
        if not name:
            raise ValidationError("name is required")
        body: dict[str, Any] = {"name": name, "definition": definition_dict(definition)}
        if description is None:
            description = getattr(definition, "description", None)
        if description is not None:
            body["description"] = description
        if tags is not None:
            body["tags"] = _tag_map(tags)
        if icon is not None:
            body["icon"] = icon
        if is_active is not None:
            body["is_active"] = is_active
        data = await self._client.request(
            "POST", "/budpipeline", json_body=body, idempotency_key=idempotency_key
        )
        return parse(data, Pipeline)

    def list(
        self, *, name_contains: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> AsyncPager[Pipeline]:
        """Pipelines, newest first: ``await`` for one page, ``async for`` for all of them."""
        query: builtins.list[tuple[str, str]] = []
        if name_contains:
            query.append(("name_contains", name_contains))
        return AsyncPager(self._fetch_page, query, limit=limit, offset=offset)

    async def _fetch_page(self, query: builtins.list[tuple[str, str]]) -> Page[Pipeline]:
        return parse_page(await self._client.request("GET", "/budpipeline", params=query), Pipeline)

    async def get(self, pipeline_id: str) -> Pipeline:
        """One pipeline with its definition; raises NotFoundError."""
        path = f"/budpipeline/{segment(pipeline_id, 'pipeline_id')}"
        return parse(await self._client.request("GET", path), Pipeline)

    async def update(
        self,
        pipeline_id: str,
        *,
        definition: DefinitionLike | None = None,
        name: str | None = None,
        description: str | None = None,
        tags: Tags | None = None,
        icon: str | None = None,
        is_active: bool | None = None,
    ) -> Pipeline:
        """Change the definition and/or the metadata (PATCH: fields not given stay as they are)."""
        body: dict[str, Any] = {}
        if definition is not None:
            body["definition"] = definition_dict(definition)
        if name is not None:
            body["name"] = name
        if description is not None:
            body["description"] = description
        if tags is not None:
            body["tags"] = _tag_map(tags)
        if icon is not None:
            body["icon"] = icon
        if is_active is not None:
            body["is_active"] = is_active
        if not body:
            raise ValidationError(
                "nothing to update: give definition, name, description, tags, icon or is_active"
            )
        path = f"/budpipeline/{segment(pipeline_id, 'pipeline_id')}"
        return parse(await self._client.request("PATCH", path, json_body=body), Pipeline)

    async def replace(
        self,
        pipeline_id: str,
        *,
        name: str,
        definition: DefinitionLike,
        description: str | None = None,
        tags: Tags | None = None,
    ) -> Pipeline:
        """Replace the whole pipeline (PUT): fields not given are reset."""
        body: dict[str, Any] = {"name": name, "definition": definition_dict(definition)}
        body["description"] = description
        body["tags"] = _tag_map(tags or {})
        path = f"/budpipeline/{segment(pipeline_id, 'pipeline_id')}"
        return parse(await self._client.request("PUT", path, json_body=body), Pipeline)

    async def delete(self, pipeline_id: str) -> None:
        """Delete a pipeline; its executions and what they created stay. Raises NotFoundError."""
        path = f"/budpipeline/{segment(pipeline_id, 'pipeline_id')}"
        await self._client.request("DELETE", path, missing_ok_after_retry=True)

    async def validate(self, definition: DefinitionLike) -> ValidationResult:
        """Ask the server to check a definition without storing it; never raises for an invalid one."""
        body = {"definition": definition_dict(definition)}
        data = await self._client.request("POST", "/budpipeline/validate", json_body=body)
        return parse(data, ValidationResult)
