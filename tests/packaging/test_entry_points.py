"""Console scripts without their extra: one line naming the extra, exit 2, no traceback.

Each case runs the real entry point in a fresh interpreter whose import system refuses the modules
the extra would bring (a `sys.meta_path` blocker), as a base install without the extra would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER = "budai_async._entry:budai_server"
RECEIVER = "budai_async._entry:budai_receiver"

BLOCKER = textwrap.dedent(
    """
    import sys
    BLOCKED = set(sys.argv[1].split(","))

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Blocker())
    module, attr = sys.argv[2].split(":")
    sys.argv = [sys.argv[3], *sys.argv[4:]]
    import importlib
    getattr(importlib.import_module(module), attr)()
    """
)


def run_blocked(blocked: str, entry: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", BLOCKER, blocked, entry, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("blocked", "entry", "argv", "extra", "module"),
    [
        ("click,rich,yaml", "budai_async._entry:budai", ["budai", "--help"], "cli", "click"),
        ("yaml", "budai_async._entry:budai", ["budai", "--help"], "cli", "yaml"),
        ("platformdirs", SERVER, ["budai-server", "--help"], "server", "platformdirs"),
        ("aiosqlite", SERVER, ["budai-server"], "server", "aiosqlite"),
        ("aiosqlite", RECEIVER, ["budai-receiver", "--help"], "receiver", "aiosqlite"),
        ("platformdirs", "budai_async._entry:budai", ["budai", "serve"], "server", "platformdirs"),
    ],
)
def test_missing_extra_is_one_line_and_exit_2(
    blocked: str, entry: str, argv: list[str], extra: str, module: str
) -> None:
    result = run_blocked(blocked, entry, *argv)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"'{extra}' extra" in lines[0]
    assert f"budai-async[{extra}]" in lines[0]
    assert repr(module) in lines[0]
    assert lines[0].startswith(f"{' '.join(argv[:2]) if argv[1:2] == ['serve'] else argv[0]}:")


def test_a_missing_module_outside_the_extra_still_raises() -> None:
    """Only the extra's own modules are explained; any other missing module is a real bug."""
    result = run_blocked("cattrs", "budai_async._entry:budai", "budai", "--help")
    assert result.returncode == 1
    assert "ModuleNotFoundError" in result.stderr


def test_entry_points_run_when_the_extra_is_there() -> None:
    result = run_blocked("nothing", "budai_async._entry:budai", "budai", "serve", "--help")
    assert result.returncode == 0, result.stderr
    assert "--max-concurrent-executions" in result.stdout
    assert "Usage: budai serve" in result.stdout


def test_sdk_imports_without_any_extra() -> None:
    """The SDK itself needs none of the extras' modules."""
    code = textwrap.dedent(
        """
        import sys
        BLOCKED = {"click", "rich", "yaml", "aiosqlite", "jinja2", "platformdirs", "redis", "opentelemetry"}
        class Blocker:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] in BLOCKED:
                    raise ModuleNotFoundError(name, name=name)
        sys.meta_path.insert(0, Blocker())
        import budai_async
        from budai_async import AsyncBudClient, PipelineBuilder, actions
        import budai_async.webhooks, budai_async.pagination, budai_async.logs, budai_async.batch
        print(AsyncBudClient(base_url="http://127.0.0.1:1").base_url)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://127.0.0.1:1"


@pytest.mark.parametrize(
    ("package", "command", "extra"),
    [("budai_server", "budai-server", "server"), ("receiver", "budai-receiver", "receiver")],
)
def test_python_dash_m_without_its_extra_is_one_line(package: str, command: str, extra: str) -> None:
    """`python -m budai_server` / `python -m receiver` take the console script's path, so they explain
    the missing extra too (the receiver package imports its parts on first use, so `-m` gets there)."""
    script = BLOCKER.replace(
        "getattr(importlib.import_module(module), attr)()",
        "import runpy; runpy.run_module(module, run_name='__main__', alter_sys=True)",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script, "aiosqlite", f"{package}:-", command, "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"{command}: needs the '{extra}' extra (module 'aiosqlite' is not installed): "
        f"pip install 'budai-async[{extra}]'"
    ]


@pytest.mark.parametrize("package", ["budai_server", "receiver"])
def test_python_dash_m_with_its_extra_runs_the_command(package: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", package, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert f"Usage: python -m {package}" in result.stdout


def test_the_receiver_package_names_stay_in_step() -> None:
    """`receiver/__init__` lists its names in `__all__` (mypy checks each is imported for it) and in
    the lazy table; each must resolve, at run time, to the object in the module it is said to live in."""
    import importlib

    import receiver

    assert sorted(receiver.__all__) == sorted(receiver._HOMES)
    for name, home in receiver._HOMES.items():
        assert getattr(receiver, name) is getattr(importlib.import_module(home), name), name
