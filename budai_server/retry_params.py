"""The one rule for the params of a retried execution (`POST /budpipeline/executions/{id}/retry`).

Params sent with a retry are merged over the original execution's params, so the guide's "retry with
a different cluster" sends only ``{"cluster_id": "cluster_backup"}`` and keeps the rest. A key sent as
``null`` removes that param from the retry (so a declared default, if any, applies again); a param
cannot be retried with the value ``null`` itself. Nothing sent means the original params as they were.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["merge_retry_params"]


def merge_retry_params(original: Mapping[str, Any], sent: Mapping[str, Any] | None) -> dict[str, Any]:
    """The params of the new execution: `sent` over `original`, keys sent as None removed."""
    merged = dict(original)
    for key, value in (sent or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
