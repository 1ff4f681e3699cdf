"""JSON Schema (2020-12, as OpenAPI 3.1 uses it) derived from the attrs wire models.

Pure: types in, schema dicts out. The document's model schemas are built here from the classes
the server unstructures with `budai_async._convert.converter`, so a field added to, removed from or
retyped in `budai_async.models` changes the document with it instead of drifting silently.
The converter writes every attribute, so every attribute is required (a nullable type says when
it may be null), and no other key appears (``additionalProperties: false``).
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

__all__ = [
    "NON_BLANK",
    "STRING",
    "Schema",
    "model_schema",
    "nullable",
    "obj",
    "one_of_fields",
    "ref",
    "type_schema",
]

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
# At least one character that is not whitespace to Python's str.strip(), which the routes use: that
# is \s plus the separators U+001C-U+001F and U+0085 (a JSON Schema pattern is a search).
NON_BLANK = r"[^\s\x1c-\x1f\x85]"

_SCALARS: dict[Any, Schema] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    datetime: {"type": "string", "format": "date-time"},
}


def ref(name: str) -> Schema:
    """A reference to a schema of the document's ``components.schemas``."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """`schema` or null: a plain ``type`` gains ``"null"`` (and an ``enum`` gains None), else anyOf."""
    kind = schema.get("type")
    if isinstance(kind, str) and "$ref" not in schema:
        widened = {**schema, "type": [kind, "null"]}
        if "enum" in schema:
            widened["enum"] = [*schema["enum"], None]
        return widened
    if isinstance(kind, list) and "null" in kind:
        return schema
    if not schema:
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


def type_schema(hint: Any, names: Mapping[type, str]) -> Schema:
    """The schema of one annotation; attrs classes listed in `names` become references.

    Raises TypeError for an annotation it cannot describe (so a new kind of field fails the build,
    and the test suite, instead of being documented wrongly).
    """
    if hint is Any or hint is object:
        return {}
    if hint in _SCALARS:
        return dict(_SCALARS[hint])
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"type": "string", "enum": [str(member.value) for member in hint]}
    if isinstance(hint, type) and hint in names:
        return ref(names[hint])
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in args if arg is not type(None)]
        if len(members) == 1 and len(members) < len(args):
            return nullable(type_schema(members[0], names))
        return {"anyOf": [type_schema(arg, names) for arg in args]}
    if origin is list and len(args) == 1:
        return {"type": "array", "items": type_schema(args[0], names)}
    if origin is dict and len(args) == 2 and args[0] is str:
        values = type_schema(args[1], names)
        return {"type": "object", "additionalProperties": values if values else True}
    raise TypeError(f"no JSON schema for the annotation {hint!r}")


def model_schema(
    cls: type[Any],
    names: Mapping[type, str],
    *,
    extra: Mapping[str, Schema] | None = None,
    descriptions: Mapping[str, str] | None = None,
) -> Schema:
    """The object schema of an attrs class as the converter writes it.

    `extra` adds properties a route writes beside the model's own (still required); `descriptions`
    annotates fields. The class docstring's first line becomes the schema's description.
    """
    hints = typing.get_type_hints(cls)
    properties: dict[str, Schema] = {}
    for field in attrs.fields(cls):
        schema = type_schema(hints[field.name], names)
        if descriptions and field.name in descriptions:
            schema = {**schema, "description": descriptions[field.name]}
        properties[field.name] = schema
    properties.update(extra or {})
    result: Schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    doc = (cls.__doc__ or "").strip().splitlines()
    if doc:
        result["description"] = doc[0]
    return result


def obj(properties: dict[str, Schema], required: tuple[str, ...] = (), **more: Any) -> Schema:
    """A closed object schema (no keys but `properties`), with `more` keywords added.

    Python keywords are spelled with a trailing underscore (``not_=...`` gives ``"not"``).
    """
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    schema.update({key.rstrip("_"): value for key, value in more.items()})
    return schema


def one_of_fields(names: tuple[str, ...]) -> list[Schema]:
    """For ``oneOf``: exactly one of `names` is present (aliases of one field)."""
    return [{"required": [name]} for name in names]
