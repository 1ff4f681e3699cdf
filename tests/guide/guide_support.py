"""Helpers of the guide tests: the test server's key, the two receivers, what a snippet printed."""

from __future__ import annotations

import queue
from pathlib import Path

import pytest
from aiohttp import web

from budai_server.fixtures import EXECUTIONS
from receiver import CallbackEvent, Handlers, Receiver

API_KEY = "guide-test-key"  # the guide's "your-key"
SECRET = "whsec_Z3VpZGUgdGVzdHMgc2lnbmluZyBzZWNyZXQgISEhIQ=="
FIXTURE_EXECUTIONS = [row[0] for row in EXECUTIONS]


class Webhooks:
    """The guide's ``https://api.example.com/webhook/{complete,failure}``: two real receivers."""

    def __init__(self, tmp_path: Path) -> None:
        self.events: queue.Queue[tuple[str, CallbackEvent]] = queue.Queue()
        self.receivers = {kind: self._receiver(kind, tmp_path) for kind in ("complete", "failure")}
        self.url = ""

    def _receiver(self, kind: str, tmp_path: Path) -> Receiver:
        handlers = Handlers()

        async def record(event: CallbackEvent) -> None:
            self.events.put((kind, event))

        handlers.on("execution.*", name=f"record_{kind}")(record)
        return Receiver(
            SECRET,
            store=f"sqlite:///{tmp_path}/receiver-{kind}.db",
            handlers=handlers,
            poll_interval=0.05,
            retry_base_delay=0.01,
            shutdown_timeout=1.0,
        )

    def app(self) -> web.Application:
        app = web.Application()
        for kind, receiver in self.receivers.items():
            receiver.setup(app, path=f"/webhook/{kind}")
        return app

    def next_event(self, within: float = 20.0) -> tuple[str, CallbackEvent]:
        return self.events.get(timeout=within)


def printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The lines the snippet printed."""
    return capsys.readouterr().out.splitlines()
