"""`budai executions delete` and `budai executions prune` against the real server."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from test_budai_cli import budai, budai_json, create_pipeline

from budai_async.cli import main
from budai_async.cli.cleanup import parse_age


async def _runs(url: str, pipeline_id: str, count: int, *extra: str) -> list[str]:
    ids = []
    for _ in range(count):
        run = await budai_json(url, "run", pipeline_id, "--wait", "-p", "who=ada", *extra)
        ids.append(str(run["id"]))
    return ids


async def test_delete_by_id_then_not_found(bud_url: str, tmp_path: Path) -> None:
    pipeline_id = await create_pipeline(bud_url, tmp_path)
    first, second = await _runs(bud_url, pipeline_id, 2)
    result = await budai(bud_url, "executions", "delete", first, second)
    assert result.exit_code == 0, result.output
    assert f"deleted {first}" in result.output and f"deleted {second}" in result.output
    missing = await budai(bud_url, "executions", "get", first)
    assert missing.exit_code == 4


async def test_prune_counts_asks_and_deletes(bud_url: str, tmp_path: Path) -> None:
    pipeline_id = await create_pipeline(bud_url, tmp_path)
    await _runs(bud_url, pipeline_id, 3, "--tag", "old")
    kept = await _runs(bud_url, pipeline_id, 1)
    dry = await budai_json(bud_url, "executions", "prune", "--tag", "old", "--dry-run")
    assert dry == {"deleted": 3, "dry_run": True}
    refused = await budai(bud_url, "executions", "prune", "--tag", "old")  # no terminal: confirm says no
    assert refused.exit_code == 1
    assert await budai_json(bud_url, "executions", "prune", "--tag", "old", "--yes") == {
        "deleted": 3,
        "dry_run": False,
    }
    assert await budai_json(bud_url, "executions", "prune", "--older-than", "1d", "--yes") == {
        "deleted": 0,
        "dry_run": True,
    }
    left = await budai_json(bud_url, "executions", "list")
    assert [e["id"] for e in left] == kept
    no_filter = await budai(bud_url, "executions", "prune", "--yes")
    assert no_filter.exit_code == 2 and "at least one of" in no_filter.output


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("12h", 43_200), ("30d", 2_592_000), ("2w", 1_209_600), ("1.5h", 5400)],
)
def test_parse_age(text: str, seconds: float) -> None:
    assert parse_age(text).total_seconds() == seconds


def test_parse_age_refuses_other_text() -> None:
    args = ["--base-url", "http://127.0.0.1:9", "executions", "prune", "--older-than", "soon"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "expected a number and a unit" in result.output
