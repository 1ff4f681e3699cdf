"""Receiver handlers used by `examples/demo.py`: each callback is appended to a JSON-lines file.

Run by the demo as ``budai-receiver serve --handlers demo_handlers:receiver`` with this folder on
PYTHONPATH; `DEMO_EVENTS_FILE` names the file the demo reads back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from receiver import CallbackEvent, Handlers

receiver = Handlers()


def _record(handler: str, event: CallbackEvent) -> None:
    path = Path(os.environ.get("DEMO_EVENTS_FILE", "demo-events.jsonl"))
    line = {
        "handler": handler,
        "type": event.type,
        "execution_id": event.execution_id,
        "status": str(event.status),
        "outputs": event.outputs,
        "error": event.error,
    }
    with path.open("a") as out:
        out.write(json.dumps(line) + "\n")


@receiver.on_complete
async def deployment_done(event: CallbackEvent) -> None:
    """A finished deployment: here a real service would update its records."""
    _record("on_complete", event)


@receiver.on_failure
async def deployment_failed(event: CallbackEvent) -> None:
    """A failed deployment: here a real service would page someone."""
    _record("on_failure", event)
