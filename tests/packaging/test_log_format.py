"""`--log-format json` on `budai-server` and `budai-receiver`: every stderr line is a JSON object, and
access lines carry method, path, status and the request id. The processes run for real."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from budai_async.logformat import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def get(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return int(answer.status)


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # raises if any line is not JSON


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=30)
    return err


def test_server_json_logs_with_request_ids_in_access_lines(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "budai_server", "--db", str(tmp_path / "db.sqlite"), "--port", "0",
         "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = ""
        for line in process.stdout:
            if line.startswith("budai-server listening on "):
                url = line.split(" on ", 1)[1].strip()
                break
        assert url
        assert get(f"{url}/budpipeline", {"X-Request-ID": "req_from_the_test"}) == 200
    finally:
        err = stop(process)
    records = json_lines(err)
    access = [r for r in records if r["logger"] == "aiohttp.access"]
    assert access, err
    line = next(r for r in access if r["path"] == "/budpipeline")
    assert (line["method"], line["status"], line["request_id"]) == ("GET", 200, "req_from_the_test")
    assert line["level"] == "info" and isinstance(line["duration_ms"], float)
    assert any(r["logger"] == "budai_server" for r in records)


def test_receiver_json_access_lines(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "receiver", "--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
         "--store", f"sqlite:///{tmp_path / 'rx.db'}", "--port", str(port), "--access-log",
         "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert get(f"http://127.0.0.1:{port}/healthz", {"X-Request-ID": "req_rx"}) == 200
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        err = stop(process)
    records = json_lines(err)
    line = next(r for r in records if r["logger"] == "aiohttp.access" and r["path"] == "/healthz")
    assert (line["status"], line["request_id"]) == (200, "req_rx")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("exc", [False, True])
def test_json_formatter_keeps_extra_fields_and_exceptions(exc: bool) -> None:
    import logging

    record = logging.makeLogRecord({"name": "x", "levelname": "WARNING", "msg": "a %s", "args": ("b",)})
    record.request_id = "req_1"
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            record.exc_info = sys.exc_info()
    data = json.loads(JsonFormatter().format(record))
    assert (data["message"], data["level"], data["request_id"]) == ("a b", "warning", "req_1")
    assert ("ValueError: boom" in data["exception"]) if exc else ("exception" not in data)
