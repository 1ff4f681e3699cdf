"""Identifiers handed to clients: a readable prefix plus 128 random bits."""

from __future__ import annotations

import uuid

__all__ = ["new_execution_id", "new_pipeline_id"]


def new_pipeline_id() -> str:
    return f"pipe_{uuid.uuid4().hex}"


def new_execution_id() -> str:
    return f"exec_{uuid.uuid4().hex}"
