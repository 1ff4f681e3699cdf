"""`make demo`'s script end to end: its output tells the story, and no process is left behind."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _children_of_demo(marker: str) -> list[str]:
    """Command lines of live processes that mention the demo's scratch directory prefix."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(cmdline)
    return found


async def test_demo_runs_end_to_end_and_cleans_up(tmp_path: Path) -> None:
    env = {**os.environ, "DEMO_BATCH_SIZE": "20", "TMPDIR": str(tmp_path), "COLUMNS": "160"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "demo.py"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "Deploy Model -> completed" in text
    # the guide's snippets, with BudClient, on the server's --guide-fixtures
    assert "pipe_abc123: Deploy Model" in text and "Success rate: 66.7%" in text
    assert re.search(r"exec_abc123: completed, deployment deploy_\w+", text), text
    assert "model_id" in text and "deployment_id" in text
    # the followed run's log lines came live, in order, ending with the execution's end
    seqs = [int(m) for m in re.findall(r"^\s+(\d+) (?:info|debug|warning|error)", text, re.MULTILINE)]
    assert seqs and seqs == list(range(1, len(seqs) + 1))
    assert "step skipped (condition_false)" in text  # notify_failure skipped on a healthy deploy
    # 20 batch items + 2 single runs; every 10th batch item targets a missing cluster and fails
    assert re.search(r"on_complete\s*│\s*completed\s*│\s*20\b", text), text
    assert re.search(r"on_failure\s*│\s*failed\s*│\s*2\b", text), text
    assert "22/22" in text and "demo finished" in text
    assert _children_of_demo(str(tmp_path)) == []
    assert _leftover_scratch(tmp_path) == []


def _leftover_scratch(folder: Path) -> list[str]:
    """Scratch directories the demo made under `folder` and did not remove."""
    return [p.name for p in folder.iterdir() if p.name.startswith("budai-demo-")]
