"""Every example runs as a script against a fresh real server and prints what the guide promises.

The server is this test's in-process app (`bud_url`); the example is a separate interpreter with
``-W error`` and BUDAI_BASE_URL set, so a leaked session or a stray warning fails it too.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest
from examples_support import EXAMPLES_WEBHOOK_SECRET

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# example file -> patterns its output must contain (regular expressions, searched in order)
EXPECTED: dict[str, list[str]] = {
    "create_pipeline.py": [
        r"Pipeline created: pipe_\w+",
        r"Steps: 2",
        r"Run exec_\w+: completed, endpoint https://",
    ],
    "create_pipeline_error_handling.py": [
        r"Resilient Deployment \(broken\): failed",
        r"deploy: failed model 'model_missing' does not exist",
        r"notify_failure: completed",
        r"Resilient Deployment: completed",
        r"notify_failure: skipped condition_false",
    ],
    "actions.py": [
        r"14 action types",
        r"log outputs: \['logged', 'message', 'level'\]",
        r"common action types valid: True",
        r"branch taken: on_true",
        r"path_b: skipped \(branch_not_taken\)",
    ],
    "schedules_and_triggers.py": [
        r"schedule cron '0 2 \* \* 1-5': next 2 runs in UTC",
        r"webhook answered 202: started exec_",
        r"train: completed, model from-ci-v2",
        r"deploy: completed, deployed from-ci-v2",
    ],
    "list_pipelines.py": [
        r"total: 3",
        r"matching 'deploy': \['deploy llama', 'deploy mistral'\]",
        r"page of 2 \(of 3\)",
        r"walked 3 pipelines",
    ],
    "get_pipeline.py": [r"Name: Deploy Model", r"Created: \d{4}-\d\d-\d\d", r"Steps: 2", r"Status: active"],
    "update_pipeline.py": [r"version 2: 2 steps", r"version 3: 'New Pipeline Name' - Updated description"],
    "cleanup.py": [
        r"deleted exec_\w+",
        r"not while running: execution_not_finished",
        r"failed executions that would go: 2",
        r"deleted failed: 2",
        r"deleted older than the cutoff: 2",
        r"left: \['running'\]",
    ],
    "delete_pipeline.py": [
        r"deleted pipe_\w+",
        r"pipeline gone: pipeline 'pipe_\w+' not found",
        r"execution exec_\w+ still there: completed",
    ],
    "execute_sync.py": [r"Success! Output: \{'deployment_id': 'deploy_"],
    "execute_async.py": [
        r"Execution started: exec_\w+",
        r"Status: (pending|running)",
        r"Final status: completed",
    ],
    "execute_with_params.py": [
        r"'replicas': 3, 'environment': 'production'",
        r"outputs: \{'target': 'cluster_prod', 'replicas': 3, "
        r"'summary': 'model_xyz789 x3 in production'\}",
    ],
    "execution_priority.py": [
        r"urgent: exec_\w+ priority=high",
        r"background: exec_\w+ priority=low",
        r"high: completed",
        r"low: completed",
    ],
    "list_executions.py": [
        r"all: 3 of 3",
        r"runs of ok: 2",
        r"failed: \[\"step 'a' failed: boom\"\]",
        r"since 2024: 3, last hour: 3",
        r"walked: \['completed', 'completed', 'failed'\]",
    ],
    "poll_execution.py": [r"Status: running \(\d+%\)", r"Final status: completed"],
    "execution_details.py": [
        r"Pipeline: pipe_\w+",
        r"Status: completed",
        r"Started: \d{4}",
        r"Completed: \d{4}",
        r"Duration: 0\.\d+s",
    ],
    "execution_outputs.py": [
        r"'endpoint_url': 'https://",
        r"'status': 'success'",
        r"deployment_id: deploy_\w+",
        r"add_model:\n  Status: completed\n  Output: \{'model_id'",
        r"deploy:\n  Status: completed",
    ],
    "execution_logs.py": [
        r"live: Processing started",
        r"ALERT: cluster unreachable, using backup",
        r"\[info\] Processing started",
        r"errors: \['cluster unreachable, using backup'\]",
        r"deploy step: [1-9]\d* line\(s\)",
        r"last 5 minutes: [1-9]\d* line\(s\)",
    ],
    "cancel_execution.py": [r"^cancelled$", r"second cancel refused: execution 'exec_\w+' already ended"],
    "retry_execution.py": [
        r"first run: failed \(step 'check' failed: cluster 'cluster_unknown' is not known\)",
        r"retry of exec_\w+ with \{'cluster_id': 'cluster_unknown'\}",
        r"retry on cluster_prod: completed",
    ],
    "callbacks.py": [
        r"callbacks registered: \['on_complete', 'on_failure'\]",
        r"callback at /webhook/complete: exec_\w+ completed",
    ],
    "tags.py": [
        r"tags: \['production', 'customer-123', 'v1.2.0'\]",
        r"customer-123 runs: True",
        r"production runs: 2",
    ],
    "ephemeral.py": [r"exec_\w+: completed, pipeline_id=None", r"endpoint: https://"],
    "templates.py": [
        r"meta-llama/Llama-3.2-1B -> cluster_prod: completed",
        r"mistralai/Mistral-7B -> cluster_dev: completed",
    ],
    "batch.py": [
        r"completed \{'cluster': 'cluster_1', 'model': 'model_1'\}",
        r"completed \{'cluster': 'cluster_2', 'model': 'model_2'\}",
        r"completed \{'cluster': 'cluster_3', 'model': 'model_3'\}",
    ],
    "metrics.py": [
        r"Duration: 0\.\d+s",
        r"Steps completed: 1/2",
        r"CPU time: [\d.e-]+s",
        r"Memory peak: [\d.]+MB",
        r"Success rate: 75\.0%",
    ],
    "error_handling.py": [
        r"Execution timed out",
        r"still running",
        r"Pipeline not found \(HTTP 404, request req_\w+\)",
        r"rejected: \['definition\.steps\[0\]\.params\.message'\]",
        r"server unreachable \(after retries\)",
    ],
    "receiver_app.py": [
        r"ran exec_\w+: completed, exec_\w+: failed",
        r"on_(complete|failure): exec_\w+ (completed https://|failed .*model_missing)",
        r"on_(complete|failure): exec_\w+ (completed https://|failed .*model_missing)",
    ],
    "sync_client.py": [
        r"Pipeline created: pipe_\w+",
        r"Status: completed",
        r"live: Processing started",
        r"live: all done",
        r"runs: 2 \(",
        r"threads: 4 completed",
        r"not found: HTTP 404",
    ],
    "sync_batch.py": [
        r"created: 3",
        r"ended: cluster_\w+ (completed|failed)",
        r"in input order: \['completed', 'completed', 'failed'\]",
    ],
    "dsl.py": [
        r"valid: True",
        r'"condition": "steps\.health_check\.output\.status == \'healthy\'"',
        r"Resilient Deployment \(DSL\): completed",
        r"endpoint: https://",
    ],
}


def test_every_example_is_covered() -> None:
    scripts = {path.name for path in EXAMPLES.glob("*.py") if not path.name.startswith("_")}
    # `make demo` (demo.py and its handler module) starts its own server and receiver
    scripts -= {"demo.py", "demo_handlers.py"}
    assert scripts == set(EXPECTED)


@pytest.mark.parametrize("script", sorted(EXPECTED))
async def test_example(script: str, bud_url: str) -> None:
    env = {
        **os.environ,
        "BUDAI_BASE_URL": bud_url,
        "BUDAI_WEBHOOK_SECRET": EXAMPLES_WEBHOOK_SECRET,
        "PYTHONWARNINGS": "",
        "PYTHONDEVMODE": "",
    }
    env.pop("BUDAI_API_KEY", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        str(EXAMPLES / script),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out_bytes, err_bytes = await asyncio.wait_for(process.communicate(), timeout=90)
    out, err = out_bytes.decode(), err_bytes.decode()
    assert process.returncode == 0, f"{script} exited {process.returncode}\n{out}\n{err}"
    assert err == "", err
    position = 0
    for pattern in EXPECTED[script]:
        match = re.compile(pattern, re.MULTILINE).search(out, position)
        assert match is not None, f"{script}: {pattern!r} not found in order in:\n{out}"
        position = match.end()
