"""`WireModel`: what every wire model can do besides hold data: `to_dict()`, `to_json()`, a short repr.

The converter lives in `budai_async._convert`, which imports the models; it installs its unstructure
function here when it loads (`install_unstructure`), so the models never import it back.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from typing import Any, ClassVar

__all__ = ["WireModel", "install_unstructure"]

_unstructure: Callable[[Any], Any] | None = None


def install_unstructure(function: Callable[[Any], Any]) -> None:
    """Called once by `budai_async._convert`: the function that turns a model into JSON-ready data."""
    global _unstructure
    _unstructure = function


def _short(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return repr(str(value.value))
    return repr(value)


class WireModel:
    """Base of the frozen attrs models: the wire form as a dict or JSON text, and a readable repr.

    The repr names the fields in `_repr_fields` that are set (not None), so printing an execution
    shows its id, status and progress rather than every step's output.
    """

    __slots__ = ()
    _repr_fields: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """The model as the JSON-ready dict the server sends (datetimes as ISO strings, enums as text)."""
        if _unstructure is None:  # pragma: no cover - budai_async/__init__ loads the converter
            raise RuntimeError("budai_async._convert is not loaded")
        data: dict[str, Any] = _unstructure(self)
        return data

    def to_json(self, *, indent: int | None = None) -> str:
        """`to_dict()` as JSON text; `indent` as for `json.dumps`."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def __repr__(self) -> str:
        shown = ((name, getattr(self, name)) for name in self._repr_fields)
        inner = ", ".join(f"{name}={_short(value)}" for name, value in shown if value is not None)
        return f"{type(self).__name__}({inner})"
