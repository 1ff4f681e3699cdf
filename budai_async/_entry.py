"""Console-script entry points that survive a missing extra.

The base install is the SDK alone; `budai`, `budai-server` and `budai-receiver` need an extra each.
Without it, the command prints one line naming the extra and exits 2, instead of a traceback about
some module the user never heard of. Only a missing module that belongs to the extra is caught.

All three scripts live here, because importing the `receiver` package itself already needs its
extra; the server and receiver are loaded by name on call, so the SDK keeps no import arrow into them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any, Final, NoReturn

__all__ = ["EXTRA_MODULES", "budai", "budai_receiver", "budai_server", "missing_extra", "run_entry_point"]

EXIT_MISSING_EXTRA: Final = 2

# Top-level import names each extra brings (the SDK's own dependencies are never missing).
EXTRA_MODULES: Final[dict[str, frozenset[str]]] = {
    "cli": frozenset({"click", "rich", "yaml"}),
    "server": frozenset({"click", "aiosqlite", "jinja2", "platformdirs", "prometheus_client"}),
    "receiver": frozenset({"click", "rich", "aiosqlite", "prometheus_client"}),
    "redis": frozenset({"redis"}),
    "otel": frozenset({"opentelemetry"}),
}


def missing_extra(error: ModuleNotFoundError, extra: str) -> str | None:
    """The missing top-level module when `error` is about one the `extra` provides, else None."""
    top = (error.name or "").partition(".")[0]
    return top if top in EXTRA_MODULES.get(extra, frozenset()) else None


def exit_missing_extra(command: str, extra: str, module: str) -> NoReturn:
    """Print the one line that names the extra to install, and exit 2."""
    sys.stderr.write(
        f"{command}: needs the '{extra}' extra (module {module!r} is not installed): "
        f"pip install 'budai-async[{extra}]'\n"
    )
    sys.stderr.flush()
    raise SystemExit(EXIT_MISSING_EXTRA)


def load_main(module: str, attr: str, *, command: str, extra: str) -> Callable[..., Any]:
    """Import `module.attr`, turning a missing extra into the one-line message and exit 2."""
    try:
        target: Callable[..., Any] = getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as error:
        name = missing_extra(error, extra)
        if name is None:
            raise
        exit_missing_extra(command, extra, name)
    return target


def run_entry_point(module: str, attr: str, *, command: str, extra: str) -> None:
    """Load and run a click entry point named `command` that needs `extra`."""
    load_main(module, attr, command=command, extra=extra)()


def budai() -> None:
    """The `budai` command (extra `cli`)."""
    run_entry_point("budai_async.cli", "main", command="budai", extra="cli")


def budai_server() -> None:
    """The `budai-server` command (extra `server`)."""
    run_entry_point("budai_server.cli", "main", command="budai-server", extra="server")


def budai_receiver() -> None:
    """The `budai-receiver` command (extra `receiver`)."""
    run_entry_point("receiver.cli", "main", command="budai-receiver", extra="receiver")
