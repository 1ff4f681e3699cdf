"""Template renders have a time budget (`template_render_max_seconds`): a long render fails the step
naming the limit instead of blocking the server's event loop."""

from __future__ import annotations

from typing import Any

import pytest
from security_support import Client, run, step

from budai_server.engine import templates

# A million filter chains: every bound of the sandbox (ranges, nesting, sizes) is respected.
LONG = (
    "{% for i in range(1000) %}{% for j in range(1000) %}"
    '{{ "ab" | upper | lower | replace("a", "b") | trim }}'
    "{% endfor %}{% endfor %}"
)
LONG_CONDITION = "range(1000) | map('string') | join | length > 0 and " + " and ".join(
    ["(range(1000) | map('string') | map('upper') | list | length > 0)"] * 60
)


async def test_a_long_render_fails_the_step_naming_the_limit(
    make_bud_server: Any, aiohttp_client: Any
) -> None:
    client: Client = await aiohttp_client(await make_bud_server(template_render_max_seconds=0.05))
    execution = await run(client, {"steps": [step("a", "log", message=LONG)]})
    assert execution["status"] == "failed"
    (state,) = execution["steps"]
    error = state["error"]
    assert "params.message" in error and "limit template_render_max_seconds" in error, error
    assert "0.05 s" in error

    execution = await run(
        client,
        {"steps": [{**step("b", "log", message="{{ 'short' | upper }}"), "condition": LONG_CONDITION}]},
    )
    assert execution["status"] == "failed"
    assert "limit template_render_max_seconds" in execution["steps"][0]["error"]

    # an ordinary template renders well within the same budget
    execution = await run(client, {"steps": [step("c", "log", message="{{ 'short' | upper }}")]})
    assert execution["status"] == "completed"


def test_the_budget_covers_the_whole_value_and_conditions() -> None:
    with pytest.raises(templates.TemplateError, match=r"params\.x\[1\]: .*template_render_max_seconds"):
        templates.render({"x": ["{{ 1 }}", LONG]}, {}, path="params", max_seconds=0.01)
    with pytest.raises(templates.TemplateError, match="template_render_max_seconds"):
        templates.evaluate(LONG_CONDITION, {}, max_seconds=0.01)
    assert templates.render({"x": ["{{ 1 }}", "{{ 'a' | upper }}"]}, {}, max_seconds=0.5) == {"x": [1, "A"]}
