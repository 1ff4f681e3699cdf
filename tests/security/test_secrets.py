"""Secrets stay out of stdout and the logs: the webhook secret (only its fingerprint and where it is
kept are printed) and the API key / Authorization header (never logged, even at debug level)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner

import budai_server.cli as cli
from budai_server.config import ServerConfig
from budai_server.outbox.rules import secret_fingerprint
from budai_server.outbox.store import SECRET_QUERY

KEY = "sk-very-secret-api-key-0123456789"
LISTENING = "budai-server listening on "


async def test_neither_the_webhook_secret_nor_the_api_key_reach_stdout_or_the_log(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "budai_server", "--db", str(db), "--port", "0"),
        *("--log-level", "debug", "--api-key", KEY),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    assert process.stdout is not None and process.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not seen or not seen[-1].startswith(LISTENING):
                line = (await process.stdout.readline()).decode()
                assert line, "server exited before listening"
                seen.append(line)
        url = seen[-1][len(LISTENING) :].strip()
        async with aiohttp.ClientSession() as session:
            for auth in (f"Bearer {KEY}", f"Bearer {KEY}x", KEY):
                async with session.get(f"{url}/budpipeline", headers={"Authorization": auth}) as response:
                    await response.read()
            body = {
                "pipeline_definition": {"steps": [{"id": "a", "action": "log", "params": {"message": "hi"}}]},
                "callbacks": {"on_complete": "http://127.0.0.1:9/hook"},
            }
            headers = {"Authorization": f"Bearer {KEY}"}
            async with session.post(f"{url}/budpipeline/run", json=body, headers=headers) as response:
                assert response.status == 201
                created = await response.json()
            path = f"{url}/budpipeline/executions/{created['id']}"
            async with session.get(path, params={"wait": "10"}, headers=headers) as response:
                assert (await response.json())["status"] == "completed"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        out, err = await process.communicate()
    stdout = "".join(seen) + out.decode()
    stderr = err.decode()
    with sqlite3.connect(db) as conn:
        (secret,) = conn.execute(SECRET_QUERY).fetchone()
    assert secret.startswith("whsec_")
    assert secret not in stdout and secret not in stderr
    assert secret.removeprefix("whsec_") not in stdout + stderr
    assert f"fingerprint {secret_fingerprint(secret)}" in stdout and str(db) in stdout
    assert KEY not in stdout and KEY not in stderr
    assert "GET /budpipeline" in stderr  # the access log was on, so the check above means something


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str, env: dict[str, str] | None = None) -> Any:
    """Invoke the CLI with `serve` replaced: return the ServerConfig it would have served, or the result."""
    got: list[ServerConfig] = []

    async def fake_serve(config: ServerConfig, **_kwargs: Any) -> None:
        got.append(config)

    monkeypatch.setattr(cli, "serve", fake_serve)
    monkeypatch.setattr(cli, "_tune_gc", lambda: None)
    result = CliRunner().invoke(cli.main, ["--db", "x.db", *args], env=env)
    return got[0] if got else result


def test_outbound_and_limit_flags_reach_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    config = run_cli(
        monkeypatch,
        *("--outbound", "strict", "--allow-outbound", "10.0.0.0/8,hooks.internal"),
        *("--limit", "max_params_bytes=1000", "--limit", "max_log_lines_per_second=50.5"),
        env={"BUDAI_SERVER_ALLOW_OUTBOUND": ""},
    )
    assert isinstance(config, ServerConfig), config.output
    assert config.outbound_mode == "strict"
    assert config.allow_outbound == ("10.0.0.0/8,hooks.internal",)
    assert (config.max_params_bytes, config.max_log_lines_per_second) == (1000, 50.5)
    policy = config.outbound_policy()
    assert policy.allow_loopback is False and policy.host_allowed("hooks.internal")
    from_env = run_cli(
        monkeypatch, env={"BUDAI_SERVER_OUTBOUND": "strict", "BUDAI_SERVER_ALLOW_OUTBOUND": "10.1.0.0/16"}
    )
    assert from_env.outbound_mode == "strict" and from_env.allow_outbound == ("10.1.0.0/16",)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--allow-outbound", "not a host!"], "neither a CIDR network nor a host name"),
        (["--limit", "max_nonsense=1"], "unknown limit"),
        (["--limit", "max_params_bytes=lots"], "needs a number"),
        (["--limit", "max_params_bytes=0"], "must be > 0"),
        (["--outbound", "open"], "'open' is not one of"),
    ],
)
def test_bad_flags_are_refused(monkeypatch: pytest.MonkeyPatch, args: list[str], message: str) -> None:
    result = run_cli(monkeypatch, *args)
    assert not isinstance(result, ServerConfig)
    assert result.exit_code == 2 and message in result.output
