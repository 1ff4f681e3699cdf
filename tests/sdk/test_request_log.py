"""Request logging on the `budai_async` logger, against the real server: one line per attempt, retries
with their wait, websocket connects with the resume point, credentials redacted, and nothing built when
logging is off. The client's own X-Request-ID is echoed and logged."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from typing import Any

import pytest
from sdk_support import ClientFactory, log_step

import budai_async._client as client_module
from budai_async import APIConnectionError, AsyncBudClient, InternalServerError
from budai_async._request_log import REDACTED, configure_from_env, redact_headers
from budai_server.config import FaultConfig

SECRET = "sk-very-secret-key"


async def test_one_info_line_per_request_with_status_request_id_and_attempt(
    make_bud_server: Any, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = await make_bud_server(api_key=SECRET)
    client = make_client(str(server.make_url("")).rstrip("/"), api_key=SECRET)
    with caplog.at_level(logging.INFO, logger="budai_async"):
        pipeline = await client.pipelines.create(name="logged", definition={"steps": [log_step("a")]})
        await client.pipelines.get(pipeline.id)
    lines = [r.getMessage() for r in caplog.records if r.name == "budai_async"]
    assert len(lines) == 2
    assert re.fullmatch(
        r"POST /budpipeline 20\d in [\d.]+ ms request_id=req_[0-9a-f]{24} attempt=1", lines[0]
    )
    assert re.fullmatch(
        rf"GET /budpipeline/{pipeline.id} 200 in [\d.]+ ms request_id=req_[0-9a-f]{{24}} attempt=1", lines[1]
    )
    assert SECRET not in caplog.text


async def test_debug_shows_headers_with_authorization_redacted(
    make_bud_server: Any, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = await make_bud_server(api_key=SECRET)
    client = make_client(str(server.make_url("")).rstrip("/"), api_key=SECRET)
    with caplog.at_level(logging.DEBUG, logger="budai_async"):
        await client.pipelines.list()
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 1
    assert f"'Authorization': '{REDACTED}'" in debug[0]
    assert "'X-Request-ID': 'req_" in debug[0]
    assert SECRET not in caplog.text


def test_redaction_table() -> None:
    headers = {"authorization": "Bearer x", "Proxy-Authorization": "Basic y", "Cookie": "c", "Accept": "a"}
    assert redact_headers(headers) == {
        "authorization": REDACTED,
        "Proxy-Authorization": REDACTED,
        "Cookie": REDACTED,
        "Accept": "a",
    }


async def test_each_attempt_and_the_retry_wait_are_logged(
    make_bud_server: Any, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = await make_bud_server(faults=FaultConfig(error_503_rate=1.0, methods=("GET",), seed=1))
    client = make_client(str(server.make_url("")).rstrip("/"), max_retries=1)
    with caplog.at_level(logging.INFO, logger="budai_async"), pytest.raises(InternalServerError):
        await client.pipelines.list()
    lines = [r.getMessage() for r in caplog.records if r.name == "budai_async"]
    assert lines[0].startswith("GET /budpipeline 503 in ")
    assert lines[0].endswith("attempt=1")
    assert re.match(r"retrying GET /budpipeline in [\d.]+s after attempt 1 failed", lines[1])
    assert lines[2].startswith("GET /budpipeline 503 in ") and lines[2].endswith("attempt=2")
    ids = {re.search(r"request_id=(\S+)", line).group(1) for line in (lines[0], lines[2])}  # type: ignore[union-attr]
    assert len(ids) == 1  # one id per logical call, attempts numbered


async def test_connection_failures_are_logged_too(
    make_client: ClientFactory, unused_tcp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(f"http://127.0.0.1:{unused_tcp_port}", max_retries=0)
    with caplog.at_level(logging.INFO, logger="budai_async"), pytest.raises(APIConnectionError):
        await client.pipelines.list()
    assert re.match(
        r"GET /budpipeline failed in [\d.]+ ms request_id=req_\w+ attempt=1: ",
        next(r for r in caplog.records if r.name == "budai_async").getMessage(),
    )


async def test_the_server_echoes_the_clients_request_id(
    bud_client: AsyncBudClient, caplog: pytest.LogCaptureFixture
) -> None:
    raw = await bud_client.with_raw_response.pipelines.list()
    sent = raw.responses[-1].sent_request_id
    assert sent is not None and sent.startswith("req_")
    assert raw.request_id == sent == raw.headers["X-Request-ID"]


async def test_no_logger_wrapper_is_built_when_logging_is_off(
    bud_client: AsyncBudClient, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("RequestLogger built while logging is off")

    monkeypatch.setattr(client_module, "RequestLogger", refuse)
    logger = logging.getLogger("budai_async")
    previous = logger.level
    logger.setLevel(logging.WARNING)  # setLevel, not the attribute: it clears the logger's level cache
    request.addfinalizer(lambda: logger.setLevel(previous))
    assert not logger.isEnabledFor(logging.INFO)
    assert list(await bud_client.pipelines.list()) == []


async def test_websocket_connect_is_logged_with_its_resume_point(
    bud_client: AsyncBudClient, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = await bud_client.pipelines.create(name="ws", definition={"steps": [log_step("a")]})
    execution = await bud_client.executions.create(pipeline.id, wait=True, timeout=30)
    with caplog.at_level(logging.INFO, logger="budai_async.ws"):
        async with bud_client.executions.logs(execution.id, follow=True, after_seq=1) as lines:
            async for _line in lines:
                pass
    ws = [r.getMessage() for r in caplog.records if r.name == "budai_async.ws"]
    assert ws == [
        f"connecting log stream {bud_client.base_url.replace('http', 'ws')}"
        f"/budpipeline/executions/{execution.id}/logs/stream resuming after seq 1"
    ]


def test_budai_log_env_sets_the_level_and_a_stderr_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    logger = logging.getLogger("budai_async")
    monkeypatch.setattr(logger, "level", logging.NOTSET)
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr("budai_async._request_log._handler", None)
    configure_from_env({"BUDAI_LOG": "nonsense"})
    assert logger.level == logging.NOTSET and logger.handlers == []
    configure_from_env({"BUDAI_LOG": "DEBUG"})
    assert logger.level == logging.DEBUG
    assert len(logger.handlers) == 1
    configure_from_env({"BUDAI_LOG": "info"})
    assert logger.level == logging.INFO and len(logger.handlers) == 1


async def test_budai_log_info_prints_request_lines_on_stderr(bud_url: str) -> None:
    code = (
        "import asyncio\nfrom budai_async import AsyncBudClient\n"
        "async def main():\n"
        f"    async with AsyncBudClient(base_url={bud_url!r}, api_key={SECRET!r}) as c:\n"
        "        await c.pipelines.list()\n"
        "asyncio.run(main())\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        env={**os.environ, "BUDAI_LOG": "debug"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    text = err.decode()
    assert proc.returncode == 0, text
    assert out == b""
    assert "budai_async INFO GET /budpipeline 200 in " in text
    assert f"'Authorization': '{REDACTED}'" in text
    assert SECRET not in text
