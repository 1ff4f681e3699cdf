"""The gunicorn recipe (receiver.gunicorn): two aiohttp workers on one Redis store behind gunicorn, fed
signed callbacks over HTTP; each is handled exactly once whichever worker took it. Also the factory's
configuration errors."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rx_support import HANDLER_MODULE, REDIS_URL, SECRET, free_port, payload, recorded, signed, wait_for

from receiver.gunicorn import create_app, handlers_from

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]


def start_gunicorn(command: list[str], cwd: Path, env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture
def gunicorn_bin() -> str:
    path = shutil.which("gunicorn", path=os.path.dirname(sys.executable))
    if path is None:
        pytest.skip("gunicorn is not installed")
    return path


async def test_two_gunicorn_workers_on_redis_handle_each_callback_once(
    tmp_path: Path, redis_prefix: str, gunicorn_bin: str
) -> None:
    (tmp_path / "rx_handlers.py").write_text(HANDLER_MODULE)
    records = tmp_path / "records"
    records.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "BUDAI_WEBHOOK_SECRET": SECRET,
        "BUDAI_RECEIVER_STORE": f"{REDIS_URL}?prefix={redis_prefix}",
        "BUDAI_RECEIVER_HANDLERS": "rx_handlers:handlers",
        "RX_RECORD_DIR": str(records),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }
    command = [
        gunicorn_bin, "receiver.gunicorn:create_app", "--worker-class", "aiohttp.GunicornWebWorker",
        "--workers", "2", "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "5",
    ]  # fmt: skip
    with (tmp_path / "gunicorn.log").open("wb") as log:
        process = start_gunicorn(command, tmp_path, env, log)
        try:
            url = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as session:

                async def ready() -> bool:
                    assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
                    try:
                        async with session.get(f"{url}/readyz") as answer:
                            return answer.status == 200
                    except aiohttp.ClientError:
                        return False

                await wait_for(ready, within=30)
                ids = [f"exec_gunicorn_{i}" for i in range(8)]
                for execution_id in ids:
                    body = payload(execution_id)
                    headers = signed(body)
                    for _ in range(2):  # a redelivery of the same message is acknowledged, not re-run
                        async with session.post(f"{url}/webhooks", data=body, headers=headers) as answer:
                            assert answer.status in (200, 202), await answer.text()
                await wait_for(lambda: sorted(recorded(records)) == sorted(ids), within=30)
                await asyncio.sleep(0.3)  # nothing more arrives later
                assert sorted(recorded(records)) == sorted(ids)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
    assert process.returncode == 0, (tmp_path / "gunicorn.log").read_text()


async def test_the_factory_needs_a_secret_and_valid_handler_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUDAI_WEBHOOK_SECRET", raising=False)
    with pytest.raises(RuntimeError, match="BUDAI_WEBHOOK_SECRET"):
        await create_app()
    with pytest.raises(ValueError, match="not module:attribute"):
        handlers_from("nocolon")
    with pytest.raises(ValueError, match="not a Handlers"):
        handlers_from("os:sep")
    assert handlers_from("") is not None
