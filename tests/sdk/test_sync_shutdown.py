"""A `BudClient` leaves nothing behind: closed by ``with``, by the garbage collector, or at exit.

Each script runs in a fresh interpreter with ``-W error`` (every warning, ResourceWarning
included, becomes an error printed to stderr) against the real server of this test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from threaded_server import ServerThread

WITH_BLOCK = """
import gc, threading
from budai_async import BudClient

with BudClient(max_connections=4) as client:
    pipeline = client.pipelines.create(
        name="p", definition={"steps": [{"id": "a", "action": "delay", "params": {"seconds": 0.05}}]}
    )
    execution = client.executions.create(pipeline.id, wait=True, timeout=30)
    lines = list(client.executions.logs(execution.id, follow=True))
    copy = client.with_options(timeout=5)
    copy.actions.get("log")
gc.collect()
print("done", execution.status, len(lines) > 0, threading.active_count())
"""

LEFT_OPEN = """
from budai_async import BudClient

client = BudClient()
pipeline = client.pipelines.create(
    name="p", definition={"steps": [{"id": "a", "action": "delay", "params": {"seconds": 30}}]}
)
execution = client.executions.create(pipeline.id)
stream = client.executions.logs(execution.id, follow=True)
first = next(iter(stream))  # a live websocket, never closed
pager = iter(client.pipelines.list(limit=1))
next(pager)  # a walk left half way
print("done", first.seq >= 1)
"""

COLLECTED = """
import gc, threading
from budai_async import BudClient

def use() -> None:
    client = BudClient()
    client.actions.get("log")
    client.pipelines.list()  # a pager holds the client

before = threading.active_count()
use()
gc.collect()
print("done", threading.active_count())
"""

INTERRUPTED = """
import os, signal, threading, time
from budai_async import BudClient

client = BudClient()
pipeline = client.pipelines.create(
    name="p", definition={"steps": [{"id": "a", "action": "delay", "params": {"seconds": 30}}]}
)
execution = client.executions.create(pipeline.id)

def interrupt() -> None:
    for _ in range(2000):  # once the long-poll is on the wire
        if client.connection_stats()["in_use"]:
            break
        time.sleep(0.005)
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=interrupt).start()
try:
    client.executions.wait(execution.id)
except KeyboardInterrupt:
    print("interrupted")
for _ in range(2000):  # the call was cancelled on the loop: its socket goes back or closes
    if client.connection_stats()["in_use"] == 0:
        break
    time.sleep(0.005)
print("in use", client.connection_stats()["in_use"], client.executions.cancel(execution.id).status)
client.close()
"""


def run_script(source: str, base_url: str) -> tuple[int, str, str]:
    env = {**os.environ, "BUDAI_BASE_URL": base_url, "PYTHONWARNINGS": "", "PYTHONDEVMODE": ""}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def test_a_with_block_closes_everything(server_thread: ServerThread) -> None:
    code, out, err = run_script(WITH_BLOCK, server_thread.url)
    assert (code, out.strip(), err) == (0, "done completed True 1", "")


def test_a_client_left_open_is_closed_at_exit_without_warnings(server_thread: ServerThread) -> None:
    code, out, err = run_script(LEFT_OPEN, server_thread.url)
    assert (code, out.strip(), err) == (0, "done True", "")


def test_a_dropped_client_is_closed_by_the_garbage_collector(server_thread: ServerThread) -> None:
    code, out, err = run_script(COLLECTED, server_thread.url)
    assert (code, out.strip(), err) == (0, "done 1", "")


def test_ctrl_c_while_waiting_cancels_the_call_on_the_loop(server_thread: ServerThread) -> None:
    code, out, err = run_script(INTERRUPTED, server_thread.url)
    assert (code, out.split("\n")[:2], err) == (0, ["interrupted", "in use 0 cancelled"], "")
