"""What keeps a `budai` user oriented while something runs: a live status line, human durations,
a note when a stream reconnects, and what to type to resume after Ctrl-C.

The resume hint is registered by a command as soon as it knows what it started (an execution id,
a batch key); `run_async` prints it when the user interrupts, then exits 130.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.text import Text

from budai_async._client import AsyncBudClient
from budai_async.errors import TimeoutError
from budai_async.models import Execution

__all__ = [
    "clear_resume_hint",
    "human_duration",
    "live_wait",
    "reconnect_notices",
    "resume_hint",
    "set_resume_hint",
    "status_line",
]

POLL_SECONDS = 0.5
_hint: Callable[[], str] | None = None


def set_resume_hint(hint: Callable[[], str]) -> None:
    """Register what to print on Ctrl-C (built at that moment, so it can name the latest position)."""
    global _hint
    _hint = hint


def clear_resume_hint() -> None:
    global _hint
    _hint = None


def resume_hint() -> str | None:
    """The registered hint's text, or None."""
    return _hint() if _hint is not None else None


def human_duration(seconds: float | None) -> str | None:
    """``850 ms``, ``12.3 s``, ``4 m 05 s``, ``2 h 03 m``; None stays None."""
    if seconds is None:
        return None
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} m {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} m"


def status_line(execution: Execution, elapsed: float) -> Text:
    """``exec_1  running  40%  step: deploy  12.3 s`` (server strings are plain text, never markup)."""
    running = [step_id for step_id, step in execution.steps.items() if step.status == "running"]
    line = Text()
    line.append(execution.id, style="bold")
    line.append("  ")
    line.append(str(execution.status), style="cyan")
    line.append(f"  {execution.progress:.0f}%")
    if running:
        line.append("  step: ")
        line.append(", ".join(running), style="magenta")
    line.append(f"  {human_duration(elapsed)}", style="dim")
    return line


async def live_wait(
    client: AsyncBudClient,
    execution: Execution,
    *,
    timeout: float | None,  # noqa: ASYNC109 - the CLI's --timeout, checked between polls
    console: Console,
) -> Execution:
    """Wait for `execution` to end, redrawing one status line on the terminal until it does.

    Raises budai_async.TimeoutError (the execution keeps running) past `timeout` seconds.
    """
    started = time.monotonic()
    with console.status(status_line(execution, 0.0)) as status:
        while not execution.is_terminal:
            elapsed = time.monotonic() - started
            if timeout is not None and elapsed >= timeout:
                raise TimeoutError(
                    f"execution {execution.id} did not end within {timeout:g} s "
                    f"(last status: {execution.status}); it keeps running",
                    execution_id=execution.id,
                )
            await asyncio.sleep(POLL_SECONDS)
            execution = await client.executions.get(execution.id)
            status.update(status_line(execution, time.monotonic() - started))
    return execution


class _ReconnectNotice(logging.Handler):
    """Prints the SDK's websocket reconnect messages (logger ``budai_async.ws``) for the user."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.INFO)
        self._console = console

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "reconnect" in message:
            self._console.print(Text(f"… {message}", style="yellow"), highlight=False, soft_wrap=True)


@contextmanager
def reconnect_notices(console: Console) -> Iterator[None]:
    """While inside, say on `console` when a log stream or status watch reconnects, and to what."""
    logger = logging.getLogger("budai_async.ws")
    handler = _ReconnectNotice(console)
    previous = logger.level
    logger.addHandler(handler)
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
