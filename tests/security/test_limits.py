"""Bounded work: each configurable limit answers 422/413 naming it, and logs are clipped and rate-limited."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from security_support import Client, json_of, run, step

from budai_server.logs.budget import LineBudget, Verdict, clip

LOG = step("a", "log", message="x")


async def small_server(make_bud_server: Any, aiohttp_client: Any, **limits: Any) -> Client:
    client: Client = await aiohttp_client(await make_bud_server(**limits))
    return client


async def test_steps_per_definition(make_bud_server: Any, aiohttp_client: Any) -> None:
    client = await small_server(make_bud_server, aiohttp_client, max_steps_per_definition=3)
    steps = [step(f"s{i}", "log", message="x") for i in range(4)]
    answer = await json_of(
        client, "POST", "/budpipeline", json={"name": "p", "definition": {"steps": steps}}, expect=422
    )
    (detail,) = answer["error"]["details"]
    assert detail["path"] == "definition.steps" and detail["code"] == "too_many"
    assert "max_steps_per_definition" in detail["message"]
    checked = await json_of(
        client, "POST", "/budpipeline/validate", json={"definition": {"steps": steps}}, expect=200
    )
    assert checked["valid"] is False and checked["errors"][0]["code"] == "too_many"
    await json_of(
        client, "POST", "/budpipeline", json={"name": "p", "definition": {"steps": steps[:3]}}, expect=201
    )


async def test_definition_and_params_size(make_bud_server: Any, aiohttp_client: Any) -> None:
    client = await small_server(
        make_bud_server, aiohttp_client, max_definition_bytes=2000, max_params_bytes=100
    )
    big = {"steps": [step("a", "log", message="y" * 3000)]}
    answer = await json_of(client, "POST", "/budpipeline/run", json={"pipeline_definition": big}, expect=422)
    (detail,) = answer["error"]["details"]
    assert (detail["path"], detail["code"]) == ("pipeline_definition", "too_large")
    assert "max_definition_bytes" in detail["message"]

    body = {"pipeline_definition": {"steps": [LOG]}, "params": {"blob": "z" * 200}}
    answer = await json_of(client, "POST", "/budpipeline/run", json=body, expect=422)
    (detail,) = answer["error"]["details"]
    assert (detail["path"], detail["code"]) == ("params", "too_large")
    assert "max_params_bytes" in detail["message"]


async def test_body_size_names_the_limit(make_bud_server: Any, aiohttp_client: Any) -> None:
    client = await small_server(make_bud_server, aiohttp_client, max_body_bytes=1024)
    answer = await json_of(client, "POST", "/budpipeline", data=b"x" * 5000, expect=413)
    assert answer["error"]["details"] == {"limit": "max_body_bytes", "max_bytes": 1024}
    assert "1024 bytes (max_body_bytes)" in answer["error"]["message"]


async def test_list_limit_is_named(api: Client) -> None:
    answer = await json_of(api, "GET", "/budpipeline/executions", params={"limit": "100000"}, expect=422)
    assert answer["error"]["details"][0]["path"] == "limit"


async def test_log_lines_are_clipped_and_rate_limited(make_bud_server: Any, aiohttp_client: Any) -> None:
    client = await small_server(
        make_bud_server,
        aiohttp_client,
        action_modules=("chatty_actions",),
        max_log_line_chars=50,
        max_log_lines_per_second=20,
        max_log_lines_per_execution=1000,
    )
    done = await run(client, {"steps": [step("talk", "chatty", lines=500)]})
    assert done["status"] == "completed", done
    path = f"/budpipeline/executions/{done['id']}/logs"
    lines = (await json_of(client, "GET", path, params={"limit": "10000"}, expect=200))["items"]
    talk = [line for line in lines if line["message"].startswith("line ")]
    assert 0 < len(talk) < 500
    assert all(len(line["message"]) <= 50 + 80 for line in lines)
    assert talk[0]["message"].endswith("more characters cut: max_log_line_chars=50]")
    notices = [line for line in lines if "max_log_lines_per_second" in line["message"]]
    assert len(notices) >= 1 and notices[0]["level"] == "warning"


@pytest.mark.parametrize(
    ("total", "times", "verdicts"),
    [
        (9, [0, 0, 0, 0], ["admit", "admit", "notice_rate", "drop"]),
        (9, [0, 0, 0, 1.0, 1.0, 1.0], ["admit", "admit", "notice_rate", "admit", "admit", "drop"]),
        (
            9,
            [0, 0, 0, 0.5, 0.5, 10.0, 10.0],
            ["admit", "admit", "notice_rate", "admit", "drop", "admit", "admit"],
        ),
        (9, [0, 0, 0, 10.0, 10.0, 10.0], ["admit", "admit", "notice_rate", "admit", "admit", "notice_rate"]),
        (3, [0, 0.5, 1.0, 1.5, 2.0, 2.5], ["admit", "admit", "admit", "notice_total", "drop", "drop"]),
    ],
)
def test_line_budget(total: int, times: list[float], verdicts: list[str]) -> None:
    budget = LineBudget(per_second=2, total=total)
    assert [budget.admit(now).value for now in times] == verdicts
    assert "max_log_lines" in budget.notice(Verdict.NOTICE_RATE)


def test_clip() -> None:
    assert clip("abc", 3) == "abc"
    assert clip("abcdef", 3) == "abc… [3 more characters cut: max_log_line_chars=3]"


@given(st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=200))
def test_line_budget_never_admits_more_than_a_burst_plus_the_rate(gaps: list[float]) -> None:
    """The rate keeps the token-bucket bound over every window [t_i, t_j] (Hypothesis found a
    lazy refill that admitted four lines in one instant with a burst of three)."""
    budget = LineBudget(per_second=3, total=10_000)
    times = list(itertools.accumulate(gaps))
    admitted = [now for now in times if budget.admit(now) is Verdict.ADMIT]
    for i, start in enumerate(admitted):
        for count, end in enumerate(admitted[i:], start=1):
            assert count <= 3 + 3 * (end - start) + 1e-9
