"""/health, /ready, /metrics and the action catalogue."""

from __future__ import annotations

import re
from typing import Any

from api_support import LOG_DEFINITION, Client, json_of, run, step


async def test_health_and_ready(api: Client) -> None:
    assert await json_of(api, "GET", "/health", expect=200) == {"status": "ok"}
    ready = await json_of(api, "GET", "/ready", expect=200)
    assert ready == {"status": "ready", "checks": {"store": "ok", "scheduler": "ok"}}


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (labels in any order)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)", line)
        assert match, f"not a Prometheus sample line: {line!r}"
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if match.group(1) == name and found == labels:
            return float(match.group(4))
    raise AssertionError(f"no sample {name}{labels}")


async def test_metrics_count_executions_steps_queue_and_requests(api: Client) -> None:
    await run(api, LOG_DEFINITION, params={"who": "m"})
    await run(api, {"steps": [step("boom", "fail", message="x")]})
    response = await api.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await response.text()
    assert sample(text, "budai_executions", status="completed") == 1
    assert sample(text, "budai_executions", status="failed") == 1
    assert sample(text, "budai_executions", status="running") == 0
    assert sample(text, "budai_queue_depth") == 0
    assert sample(text, "budai_max_concurrent_executions") == 4
    assert sample(text, "budai_executions_finished_total", status="failed") == 1
    assert sample(text, "budai_step_duration_seconds_count", action="transform", status="completed") == 1
    assert (
        sample(text, "budai_step_duration_seconds_bucket", action="log", status="completed", le="+Inf") == 1
    )
    assert sample(text, "budai_step_duration_seconds_count", action="fail", status="failed") == 1
    assert (
        sample(text, "budai_http_requests_total", method="POST", route="/budpipeline/run", status="201") == 2
    )
    assert "# TYPE budai_step_duration_seconds histogram" in text


async def test_action_catalogue(api: Client) -> None:
    catalogue = await json_of(api, "GET", "/budpipeline/actions", expect=200)
    types = [item["type"] for item in catalogue["actions"]]
    assert catalogue["total"] == len(types)
    assert types == sorted(types)
    for expected in ("log", "transform", "condition", "delay", "api_call", "model_add", "cluster_health"):
        assert expected in types
    delay: dict[str, Any] = await json_of(api, "GET", "/budpipeline/actions/delay", expect=200)
    assert "seconds" in delay["params_schema"]["properties"]
    assert delay["outputs"] == ["waited_seconds"]
    alias = await json_of(api, "GET", "/budpipeline/actions/wait", expect=200)
    assert alias == delay
    error = await json_of(api, "GET", "/budpipeline/actions/teleport", expect=404)
    assert error["error"]["code"] == "not_found"


async def test_metrics_parse_as_prometheus_text_with_process_and_gc_families(api: Client) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    await run(api, LOG_DEFINITION)
    response = await api.get("/metrics")
    families = {family.name: family for family in text_string_to_metric_families(await response.text())}
    assert {"budai_executions", "budai_http_requests", "budai_step_duration_seconds"} <= set(families)
    assert families["budai_http_requests"].type == "counter"
    assert {"python_gc_objects_collected", "python_info", "process_cpu_seconds"} <= set(families)
