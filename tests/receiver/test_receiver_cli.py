"""The ``budai-receiver`` command: dead-letters, replay, and serve's refusals."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from rx_support import SECRET, payload

from receiver.cli import main
from receiver.stores import SQLiteStore


def _seed(path: Path) -> None:
    async def seed() -> None:
        async with SQLiteStore(path) as store:
            for n in range(2):
                await store.claim(f"msg_{n}", payload(f"exec_{n}", "execution.failed"), received_at=1.7e9)
                await store.finish(f"msg_{n}", failures={"notify": f"RuntimeError: boom {n}"}, at=1.7e9 + n)
            await store.claim("msg_ok", payload("exec_ok"), received_at=1.7e9)
            await store.finish("msg_ok", failures={}, at=1.7e9)

    asyncio.run(seed())


def _states(path: Path, ids: list[str]) -> list[str | None]:
    async def read() -> list[str | None]:
        async with SQLiteStore(path) as store:
            return [await store.state(i) for i in ids]

    return asyncio.run(read())


def test_dead_letters_json_and_table(tmp_path: Path) -> None:
    db = tmp_path / "rx.db"
    _seed(db)
    result = CliRunner().invoke(main, ["dead-letters", "--store", f"sqlite:///{db}", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["id"], r["type"], r["execution_id"], r["failures"]) for r in rows] == [
        ("msg_0", "execution.failed", "exec_0", {"notify": "RuntimeError: boom 0"}),
        ("msg_1", "execution.failed", "exec_1", {"notify": "RuntimeError: boom 1"}),
    ]
    table = CliRunner().invoke(main, ["dead-letters", "--store", f"sqlite:///{db}"], env={"COLUMNS": "200"})
    assert table.exit_code == 0
    assert "2 dead letter(s)" in table.output and "msg_1" in table.output and "boom 1" in table.output


def test_replay_one_then_report_what_cannot_be_replayed(tmp_path: Path) -> None:
    db = tmp_path / "rx.db"
    _seed(db)
    url = f"sqlite:///{db}"
    result = CliRunner().invoke(main, ["replay", "msg_0", "--store", url])
    assert result.exit_code == 0 and "replayed msg_0" in result.output
    assert _states(db, ["msg_0", "msg_1"]) == ["pending", "dead"]
    again = CliRunner().invoke(main, ["replay", "msg_0", "msg_ok", "msg_nope", "--store", url])
    assert again.exit_code == 1
    assert (
        "state is pending" in again.output
        and "state is done" in again.output
        and "unknown id" in again.output
    )


def test_replay_all_uses_env_store(tmp_path: Path) -> None:
    db = tmp_path / "rx.db"
    _seed(db)
    result = CliRunner().invoke(main, ["replay", "--all"], env={"BUDAI_RECEIVER_STORE": f"sqlite:///{db}"})
    assert result.exit_code == 0, result.output
    assert _states(db, ["msg_0", "msg_1", "msg_ok"]) == ["pending", "pending", "done"]


def test_replay_needs_an_id() -> None:
    result = CliRunner().invoke(main, ["replay", "--store", "sqlite:///x.db"])
    assert result.exit_code == 2 and "--all" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "refuses to start without a webhook secret"),
        (["--secret", "not!base64"], "malformed webhook secret"),
        (["--secret", SECRET, "--handlers", "nocolon"], "module:attribute"),
        (["--secret", SECRET, "--handlers", "no_such_module_xyz:h"], "cannot import"),
        (["--secret", SECRET, "--handlers", "json:nothing"], "has no attribute"),
        (["--secret", SECRET, "--handlers", "json:dumps"], "neither a Receiver nor a Handlers"),
        (["--secret", SECRET, "--store", "ftp://x"], "unsupported store URL"),
    ],
)
def test_serve_refuses_bad_configuration(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args, env={"BUDAI_WEBHOOK_SECRET": None})
    assert result.exit_code != 0
    assert message in result.output


def test_help_lists_subcommands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("serve", "dead-letters", "replay"):
        assert name in result.output


def test_serve_reports_an_unreachable_store(tmp_path: Path) -> None:
    args = ["--secret", SECRET, "--store", "redis://127.0.0.1:1/0", "--port", "0"]
    result = CliRunner().invoke(main, args, env={"BUDAI_WEBHOOK_SECRET": None})
    assert result.exit_code == 1
    assert "cannot start" in result.output and "127.0.0.1:1" in result.output
