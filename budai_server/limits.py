"""Input limits shared by the routes, the batch item parser and the OpenAPI document (pure data)."""

from __future__ import annotations

MAX_TAGS = 50
MAX_TAG_LENGTH = 100
